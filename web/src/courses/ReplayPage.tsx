// 课程回放: the recorded live class in a <video> that seeks (the replay endpoint answers HTTP Range
// requests and the session cookie authenticates the <video>'s own requests). How far the resident
// played is reported now and then; 90 % completes the lesson (docs/courses.md).
import { useEffect, useRef, type ReactNode } from "react";
import { Link, useParams } from "react-router";

import { http } from "../api/http";
import { courses } from "../strings";
import { Loading, Page, useLoad } from "../ui/kit";
import { CourseError } from "./parts";
import { type CourseDetail } from "./types";
import "./courses.css";

// Progress goes to the server at most this often while playing (and at pause and end).
const REPORT_EVERY_S = 10;

export default function ReplayPage(): ReactNode {
  const { id = "", lessonId = "" } = useParams();
  const [detail, error] = useLoad(() => http.get<CourseDetail>(`/courses/${id}`), [id]);
  const video = useRef<HTMLVideoElement>(null);
  const lesson = detail?.lessons.find((l) => l.id === lessonId);
  const url = lesson?.recording_url ?? null;
  useEffect(() => {
    const element = video.current;
    if (!element || !url) return undefined;
    let furthest = 0;
    let reported = 0;
    const report = (): void => {
      if (furthest <= reported) return;
      const before = reported;
      reported = furthest;
      // A report that did not arrive is sent again with the next one.
      void http.post(`/course-lessons/${lessonId}/watched`, { watched_ms: Math.round(furthest * 1000) }).catch(() => {
        reported = Math.min(reported, before);
      });
    };
    const progress = (): void => {
      furthest = Math.max(furthest, element.currentTime);
      if (furthest - reported >= REPORT_EVERY_S) report();
    };
    const settle = (): void => {
      furthest = Math.max(furthest, element.currentTime);
      report();
    };
    element.addEventListener("timeupdate", progress);
    element.addEventListener("pause", settle);
    element.addEventListener("ended", settle);
    return () => {
      element.removeEventListener("timeupdate", progress);
      element.removeEventListener("pause", settle);
      element.removeEventListener("ended", settle);
      report();
    };
  }, [url, lessonId]);
  if (error) {
    return (
      <Page title={courses.replayTitle}>
        <CourseError error={error} />
      </Page>
    );
  }
  if (!detail) return <Loading />;
  return (
    <Page title={lesson ? `${courses.replayTitle}：${lesson.title}` : courses.replayTitle} actions={<Link to={`/courses/${id}`}>{courses.back}</Link>}>
      {url ? (
        <>
          <video ref={video} className="course-video" src={url} controls playsInline preload="metadata" aria-label={courses.replayTitle} data-testid="replay-video" />
          <p className="small muted">{courses.replayHint}</p>
        </>
      ) : (
        <p className="muted">{courses.noReplay}</p>
      )}
    </Page>
  );
}
