// A course: what it is, its schedule (live now → the classroom; recorded → the replay), enrolling
// (free at once; paid through the provider's sandbox page, then wait for the capture), leaving
// before the first class (refunded in full), the favourite, and the enrolled resident's rating.
import { useId, useState, type FormEvent, type ReactNode } from "react";
import { Link, useParams } from "react-router";

import { http } from "../api/http";
import { common, courses } from "../strings";
import { Loading, Page, useAction, useLoad } from "../ui/kit";
import { usePoll } from "../resident/usePoll";
import { CourseError, priceText, ratingText } from "./parts";
import { type CourseDetail, type Lesson, type Payment, type Rating } from "./types";
import "./courses.css";

export default function CourseDetailPage(): ReactNode {
  const { id = "" } = useParams();
  const [detail, error, reload] = useLoad(() => http.get<CourseDetail>(`/courses/${id}`), [id]);
  const [payment, setPayment] = useState<Payment | null>(null);
  // One key per visit to this page: a retried tap is the same enrolment and payment.
  const [key] = useState(() => crypto.randomUUID());
  const [paid, setPaid] = useState(false);
  const status = detail?.enrolment?.status;
  usePoll(paid && status !== "active", reload);
  const [enrol, enrolling, enrolError] = useAction(async () => {
    const result = await http.postOnce<{ payment: Payment | null }>(`/courses/${id}/enrol`, key);
    setPayment(result.payment);
    reload();
  });
  const [pay, paying, payError] = useAction(async () => {
    if (!payment?.provider_intent_id || !payment.client_secret) return;
    await http.post(`/sandbox/intents/${encodeURIComponent(payment.provider_intent_id)}/pay`, {
      client_secret: payment.client_secret,
      outcome: "succeed",
    });
    setPaid(true);
  });
  const [cancel, cancelling, cancelError] = useAction(async () => {
    if (!window.confirm(courses.cancelConfirm)) return;
    await http.post(`/courses/${id}/cancel`);
    setPayment(null);
    reload();
  });
  const [toggle, toggling, toggleError] = useAction(async () => {
    if (detail?.favourite) await http.delete(`/courses/${id}/favourite`);
    else await http.put(`/courses/${id}/favourite`);
    reload();
  });
  if (error) {
    return (
      <Page title={courses.title}>
        <CourseError error={error} />
      </Page>
    );
  }
  if (!detail) return <Loading />;
  const { course, lessons } = detail;
  const active = status === "active";
  const pending = status === "pending_payment";
  return (
    <Page
      title={course.title}
      actions={
        <button type="button" className="secondary" aria-pressed={detail.favourite} disabled={toggling} onClick={() => void toggle()}>
          {detail.favourite ? courses.unfavourite : courses.favourite}
        </button>
      }
    >
      <div className="card course-summary">
        <span>
          <span className="badge">{courses.categories[course.category] ?? course.category}</span> {courses.instructor(course.instructor)}
        </span>
        <strong className="course-price" data-testid="course-price">
          {priceText(course.price_fen)}
        </strong>
        <span className="small muted">{ratingText(course)}</span>
        {course.description ? <p className="course-description">{course.description}</p> : null}
        <p className="small muted">{courses.refundRule}</p>
        {active ? (
          <p className="course-state">
            <span className="badge verified">{courses.active}</span>{" "}
            <button type="button" className="secondary" disabled={cancelling} onClick={() => void cancel()}>
              {courses.cancel}
            </button>
          </p>
        ) : payment && pending ? (
          <div className="course-pay" role="group" aria-label={courses.payTitle}>
            <p>
              {courses.payTitle}：<strong>{common.yuan(payment.total_fen)}</strong>
            </p>
            {paid ? (
              <p className="muted" role="status">
                {courses.waitingPayment}
              </p>
            ) : (
              <button type="button" className="primary" disabled={paying} onClick={() => void pay()}>
                {courses.paySandbox}
              </button>
            )}
          </div>
        ) : (
          <button type="button" className="primary" disabled={enrolling} onClick={() => void enrol()}>
            {course.price_fen === 0 ? courses.enrol : courses.enrolPaid(common.yuan(course.price_fen))}
          </button>
        )}
        <CourseError error={enrolError ?? payError ?? cancelError ?? toggleError} />
      </div>
      <h2>{courses.schedule}</h2>
      {lessons.length === 0 ? <p className="muted">{courses.noLessons}</p> : null}
      <ol className="list lesson-list" aria-label={courses.schedule}>
        {lessons.map((l) => (
          <LessonRow key={l.id} courseId={course.id} lesson={l} open={active || detail.can_host} />
        ))}
      </ol>
      {active ? <RatingForm courseId={course.id} onSaved={reload} /> : null}
      <Ratings courseId={course.id} />
    </Page>
  );
}

function LessonRow({ courseId, lesson, open }: { courseId: string; lesson: Lesson; open: boolean }): ReactNode {
  const when = new Date(lesson.starts_at).toLocaleString("zh-CN", { dateStyle: "medium", timeStyle: "short" });
  return (
    <li className="card lesson-row">
      <span className="grow">
        <strong>{lesson.title}</strong>
        <br />
        <span className="small muted">
          {when} · {courses.minutes(lesson.duration_min)} · {courses.lessonStatus[lesson.live_status]}
        </span>
      </span>
      {open && lesson.live_status === "live" ? (
        <Link className="button-link primary" to={`/courses/${courseId}/lessons/${lesson.id}/live`}>
          {courses.watchLive}
        </Link>
      ) : null}
      {open && lesson.has_recording ? (
        <Link className="button-link secondary" to={`/courses/${courseId}/lessons/${lesson.id}/replay`}>
          {courses.replay}
        </Link>
      ) : null}
      {open && lesson.live_status === "ended" && !lesson.has_recording ? <span className="small muted">{courses.noReplay}</span> : null}
    </li>
  );
}

function RatingForm({ courseId, onSaved }: { courseId: string; onSaved: () => void }): ReactNode {
  const id = useId();
  const [stars, setStars] = useState(5);
  const [comment, setComment] = useState("");
  const [saved, setSaved] = useState(false);
  const [save, saving, error] = useAction(async () => {
    await http.put(`/courses/${courseId}/rating`, { stars, comment: comment.trim() });
    setSaved(true);
    onSaved();
  });
  const submit = (event: FormEvent): void => {
    event.preventDefault();
    void save();
  };
  return (
    <form className="card form" aria-labelledby={`${id}-h`} onSubmit={submit}>
      <h2 id={`${id}-h`}>{courses.rateTitle}</h2>
      <div className="field">
        <label htmlFor={`${id}-stars`}>{courses.stars}</label>
        <select id={`${id}-stars`} value={stars} onChange={(e) => setStars(Number(e.target.value))}>
          {[5, 4, 3, 2, 1].map((n) => (
            <option key={n} value={n}>
              {courses.starOption(n)}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor={`${id}-comment`}>{courses.comment}</label>
        <textarea id={`${id}-comment`} maxLength={500} value={comment} onChange={(e) => setComment(e.target.value)} />
      </div>
      <button type="submit" className="primary" disabled={saving}>
        {courses.rateSubmit}
      </button>
      {saved ? <p role="status">{courses.rateSaved}</p> : null}
      <CourseError error={error} />
    </form>
  );
}

function Ratings({ courseId }: { courseId: string }): ReactNode {
  const [ratings] = useLoad(() => http.get<Rating[]>(`/courses/${courseId}/ratings`), [courseId]);
  if (!ratings || ratings.length === 0) return null;
  return (
    <>
      <h2>{courses.ratings}</h2>
      <ul className="list" aria-label={courses.ratings}>
        {ratings.map((r) => (
          <li key={r.user_id} className="card">
            <span className="grow">
              <strong>{r.name}</strong> {courses.starOption(r.stars)}
              {r.comment ? (
                <>
                  <br />
                  <span className="small">{r.comment}</span>
                </>
              ) : null}
            </span>
          </li>
        ))}
      </ul>
    </>
  );
}
