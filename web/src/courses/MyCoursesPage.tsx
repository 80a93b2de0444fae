// 我的课程: the resident's courses with their progress (lessons attended live or replayed to 90 %).
import { type ReactNode } from "react";
import { Link } from "react-router";

import { http } from "../api/http";
import { courses } from "../strings";
import { Empty, Loading, Page, useLoad } from "../ui/kit";
import { CourseCard, CourseError } from "./parts";
import { type MyCourse } from "./types";
import "./courses.css";

export default function MyCoursesPage(): ReactNode {
  const [mine, error] = useLoad(() => http.get<MyCourse[]>("/me/courses"), []);
  return (
    <Page title={courses.myTitle} actions={<Link to="/courses">{courses.title}</Link>}>
      <CourseError error={error} />
      {mine === undefined && !error ? <Loading /> : null}
      {mine && mine.length === 0 ? <Empty>{courses.myEmpty}</Empty> : null}
      <ul className="list" aria-label={courses.myTitle}>
        {mine?.map((c) => (
          <CourseCard key={c.id} course={c}>
            {c.enrolment_status === "pending_payment" ? (
              <span className="badge pending">{courses.pending}</span>
            ) : (
              <span className="course-progress">
                <progress max={Math.max(c.lessons, 1)} value={c.completed} aria-label={`${courses.progressLabel} ${c.title}`} />
                <span className="small">{courses.progress(c.completed, c.lessons)}</span>
              </span>
            )}
          </CourseCard>
        ))}
      </ul>
    </Page>
  );
}
