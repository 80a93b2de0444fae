// Pieces the course screens share: the error line (course codes first), a course's card, price.
import { type ReactNode } from "react";
import { Link } from "react-router";

import { ApiError } from "../api/http";
import { common, courses } from "../strings";
import { ErrorNote } from "../ui/kit";
import { type Course } from "./types";

export function CourseError({ error }: { error: unknown }): ReactNode {
  if (error instanceof ApiError && error.code in courses.errors) {
    return (
      <p className="error" role="alert">
        {courses.errors[error.code]}
      </p>
    );
  }
  return <ErrorNote error={error} />;
}

export function priceText(fen: number): string {
  return fen === 0 ? courses.free : common.yuan(fen);
}

export function ratingText(course: Course): string {
  return course.rating_average === null ? courses.noRating : courses.rating(course.rating_average, course.rating_count);
}

export function CourseCard({ course, children }: { course: Course; children?: ReactNode }): ReactNode {
  const headingId = `course-${course.id}`;
  return (
    <li className="card course-card" aria-labelledby={headingId} data-course-id={course.id}>
      <div className="course-body">
        <h2 id={headingId}>
          <Link to={`/courses/${course.id}`}>{course.title}</Link>
        </h2>
        <span className="small">
          <span className="badge">{courses.categories[course.category] ?? course.category}</span> {courses.instructor(course.instructor)}
        </span>
        <span className="small muted">
          {ratingText(course)} · {course.capacity ? courses.capacity(course.enrolled_count, course.capacity) : courses.enrolled(course.enrolled_count)}
        </span>
        {children}
      </div>
      <strong className="course-price">{priceText(course.price_fen)}</strong>
    </li>
  );
}
