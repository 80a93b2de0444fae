// 直播课堂: an enrolled resident watches the lesson live through the node's relay. The node checks
// the enrolment before it builds the connection; a refusal is shown as its sentence.
import { useEffect, useRef, useState, type ReactNode } from "react";
import { Link, useParams } from "react-router";

import { ApiError } from "../api/http";
import { realtime } from "../api/realtime";
import { courses } from "../strings";
import { Page } from "../ui/kit";
import { CourseError } from "./parts";
import { ClassViewer } from "./rtc";
import "./courses.css";

const RETRY_MS = 1000;
const RETRIES = 30;

export default function ClassLivePage(): ReactNode {
  const { id = "", lessonId = "" } = useParams();
  const video = useRef<HTMLVideoElement>(null);
  const [error, setError] = useState<unknown>(null);
  const [playing, setPlaying] = useState(false);
  const [muted, setMuted] = useState(true);
  useEffect(() => {
    let viewer: ClassViewer | null = null;
    let stopped = false;
    let timer = 0;
    const attempt = async (left: number): Promise<void> => {
      viewer?.close();
      viewer = new ClassViewer(realtime(), lessonId);
      try {
        const stream = await viewer.watch();
        if (stopped) return;
        if (video.current) video.current.srcObject = stream;
        setPlaying(true);
        setError(null);
      } catch (e) {
        if (stopped) return;
        // The teacher's first frames may still be on their way.
        if (e instanceof ApiError && e.code === "stream_not_ready" && left > 0) {
          timer = window.setTimeout(() => void attempt(left - 1), RETRY_MS);
          return;
        }
        setError(e);
      }
    };
    void attempt(RETRIES);
    return () => {
      stopped = true;
      window.clearTimeout(timer);
      viewer?.leave();
    };
  }, [lessonId]);
  return (
    <Page title={courses.liveTitle} actions={<Link to={`/courses/${id}`}>{courses.back}</Link>}>
      <video ref={video} className="course-video" autoPlay playsInline muted={muted} aria-label={courses.liveTitle} data-testid="class-video" />
      {!playing && !error ? <p className="muted" role="status">{courses.liveWaiting}</p> : null}
      {playing && muted ? (
        <button type="button" className="secondary" onClick={() => setMuted(false)}>
          {courses.unmute}
        </button>
      ) : null}
      <CourseError error={error} />
    </Page>
  );
}
