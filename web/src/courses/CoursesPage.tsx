// 课程: the published courses, newest first, filtered by category (the filter is in the address so
// the back button keeps it). A lazily loaded route (ResidentApp.tsx).
import { type ReactNode } from "react";
import { Link, useSearchParams } from "react-router";

import { http, query } from "../api/http";
import { courses } from "../strings";
import { Empty, Loading, Page, useLoad } from "../ui/kit";
import { CourseCard, CourseError } from "./parts";
import { CATEGORIES, type Category, type Course } from "./types";
import "./courses.css";

export default function CoursesPage(): ReactNode {
  const [params, setParams] = useSearchParams();
  const asked = params.get("category");
  const category: Category | null = CATEGORIES.find((c) => c === asked) ?? null;
  const [page, error] = useLoad(
    () => http.get<{ items: Course[] }>(`/courses${query(category ? { category, limit: 50 } : { limit: 50 })}`),
    [category],
  );
  return (
    <Page title={courses.title} actions={<Link to="/me/courses">{courses.meLink}</Link>}>
      <div className="course-tabs" role="group" aria-label={courses.categoryLabel}>
        <button type="button" aria-pressed={category === null} className={category === null ? "primary" : "secondary"} onClick={() => setParams({})}>
          {courses.all}
        </button>
        {CATEGORIES.map((c) => (
          <button key={c} type="button" aria-pressed={category === c} className={category === c ? "primary" : "secondary"} onClick={() => setParams({ category: c })}>
            {courses.categories[c]}
          </button>
        ))}
      </div>
      <CourseError error={error} />
      {page === undefined && !error ? <Loading /> : null}
      {page && page.items.length === 0 ? <Empty>{courses.empty}</Empty> : null}
      <ul className="list" aria-label={courses.title}>
        {page?.items.map((c) => <CourseCard key={c.id} course={c} />)}
      </ul>
    </Page>
  );
}
