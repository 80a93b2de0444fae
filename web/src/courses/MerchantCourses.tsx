// 课程管理 (merchant back office, desktop) and the console's 平台课程 (admins, free platform
// courses): publish a course, schedule its lessons, go live for a lesson (the camera to the node's
// relay, which records it for the replay), end the class, see who enrolled and how far they are.
// API: /merchants/{id}/courses, /platform/courses, /courses/*, `class:*` events.
import { useEffect, useId, useRef, useState, type FormEvent, type ReactNode } from "react";
import { Link } from "react-router";

import { http } from "../api/http";
import { realtime } from "../api/realtime";
import { fenToYuanText } from "../merchant/api";
import { useMerchant } from "../merchant/context";
import { wholeNumber } from "../merchant/groupbuys";
import { fenOf } from "../resident/money";
import { common, courses } from "../strings";
import { Empty, Loading, Page, useAction, useLoad } from "../ui/kit";
import { CourseError, priceText } from "./parts";
import { ClassPublisher } from "./rtc";
import { CATEGORIES, type Category, type Course, type CourseDetail, type Enrolled, type Lesson } from "./types";
import "./courses.css";

const t = courses.office;

export default function MerchantCoursesPage(): ReactNode {
  const { merchant } = useMerchant();
  return <CoursesOffice merchantId={merchant.id} />;
}

/** The console's 平台课程 (platform admins): the same screen for the platform's own, free, courses. */
export function PlatformCoursesPage(): ReactNode {
  return <CoursesOffice merchantId={null} />;
}

function CoursesOffice({ merchantId }: { merchantId: string | null }): ReactNode {
  const [list, error, reload] = useLoad(
    () => http.get<Course[]>(merchantId ? `/merchants/${merchantId}/courses` : "/platform/courses"),
    [merchantId],
  );
  const [open, setOpen] = useState<string | null>(null);
  return (
    <Page title={merchantId ? t.title : t.platformTitle}>
      <div className="course-office">
        <p className="muted">{merchantId ? t.intro : t.platformIntro}</p>
        <CourseForm merchantId={merchantId} onCreated={(c) => { reload(); setOpen(c.id); }} />
        <CourseError error={error} />
        {list === undefined && !error ? <Loading /> : null}
        {list && list.length === 0 ? <Empty>{courses.empty}</Empty> : null}
        <ul className="list" aria-label={merchantId ? t.title : t.platformTitle}>
          {list?.map((c) => (
            <li key={c.id} className="card" data-course-id={c.id}>
              <div className="grow">
                <strong>{c.title}</strong> <span className="badge">{courses.categories[c.category]}</span>{" "}
                <span className="badge">{t.statuses[c.status]}</span>
                <br />
                <span className="small muted">
                  {courses.instructor(c.instructor)} · {priceText(c.price_fen)} · {courses.enrolled(c.enrolled_count)}
                </span>
                {open === c.id ? <CourseManager courseId={c.id} onChanged={reload} /> : null}
              </div>
              <button type="button" className="secondary" aria-expanded={open === c.id} onClick={() => setOpen(open === c.id ? null : c.id)}>
                {t.manage} {c.title}
              </button>
            </li>
          ))}
        </ul>
      </div>
    </Page>
  );
}

interface Draft {
  title: string;
  category: Category;
  instructor: string;
  description: string;
  price: string;
  capacity: string;
}

function CourseForm({ merchantId, onCreated }: { merchantId: string | null; onCreated: (course: Course) => void }): ReactNode {
  const id = useId();
  const empty: Draft = { title: "", category: "lego", instructor: "", description: "", price: "0", capacity: "" };
  const [draft, setDraft] = useState<Draft>(empty);
  const [problem, setProblem] = useState<string | null>(null);
  const [create, busy, error] = useAction(async (body: Record<string, unknown>) => {
    const course = await http.post<Course>("/courses", body);
    setDraft(empty);
    onCreated(course);
  });
  const submit = (event: FormEvent): void => {
    event.preventDefault();
    // 0 is a free course; a platform course is always free.
    const price = merchantId ? fenOf(draft.price) : 0;
    const capacity = draft.capacity.trim() ? wholeNumber(draft.capacity, 1, 100_000) : undefined;
    const bad = !draft.title.trim() ? t.invalid.title : !draft.instructor.trim() ? t.invalid.instructor : price === null ? t.invalid.price : capacity === null ? t.invalid.capacity : null;
    setProblem(bad);
    if (bad || price === null) return;
    void create({
      // A platform course (no merchant) is free.
      ...(merchantId ? { merchant_id: merchantId, price_fen: price } : { price_fen: 0 }),
      title: draft.title.trim(),
      category: draft.category,
      instructor: draft.instructor.trim(),
      description: draft.description.trim(),
      ...(capacity ? { capacity } : {}),
    });
  };
  const set = (field: keyof Draft) => (e: { target: { value: string } }) => setDraft({ ...draft, [field]: e.target.value });
  return (
    <form className="card form" aria-labelledby={`${id}-h`} onSubmit={submit} noValidate>
      <h2 id={`${id}-h`}>{t.newCourse}</h2>
      <div className="course-office-grid">
        <div className="field">
          <label htmlFor={`${id}-title`}>{t.form.title}</label>
          <input id={`${id}-title`} maxLength={100} value={draft.title} onChange={set("title")} />
        </div>
        <div className="field">
          <label htmlFor={`${id}-category`}>{t.form.category}</label>
          <select id={`${id}-category`} value={draft.category} onChange={set("category")}>
            {CATEGORIES.map((c) => (
              <option key={c} value={c}>
                {courses.categories[c]}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={`${id}-instructor`}>{t.form.instructor}</label>
          <input id={`${id}-instructor`} maxLength={60} value={draft.instructor} onChange={set("instructor")} />
        </div>
        {merchantId ? (
          <div className="field">
            <label htmlFor={`${id}-price`}>{t.form.price}</label>
            <input id={`${id}-price`} inputMode="decimal" value={draft.price} onChange={set("price")} />
          </div>
        ) : null}
        <div className="field">
          <label htmlFor={`${id}-capacity`}>{t.form.capacity}</label>
          <input id={`${id}-capacity`} inputMode="numeric" value={draft.capacity} onChange={set("capacity")} />
        </div>
      </div>
      <div className="field">
        <label htmlFor={`${id}-description`}>{t.form.description}</label>
        <textarea id={`${id}-description`} maxLength={4000} value={draft.description} onChange={set("description")} />
      </div>
      {problem ? (
        <p className="error" role="alert">
          {problem}
        </p>
      ) : null}
      <CourseError error={error} />
      <button type="submit" className="primary" disabled={busy}>
        {t.form.submit}
      </button>
    </form>
  );
}

function CourseManager({ courseId, onChanged }: { courseId: string; onChanged: () => void }): ReactNode {
  const [detail, error, reload] = useLoad(() => http.get<CourseDetail>(`/courses/${courseId}`), [courseId]);
  const [enrolled] = useLoad(() => http.get<Enrolled[]>(`/courses/${courseId}/enrolments`), [courseId]);
  const [setStatus, busy, statusError] = useAction(async (status: Course["status"]) => {
    await http.patch(`/courses/${courseId}`, { status });
    reload();
    onChanged();
  });
  if (error) return <CourseError error={error} />;
  if (!detail) return <Loading />;
  const published = detail.course.status === "published";
  return (
    <div className="course-manager">
      <p>
        <button type="button" className="secondary" disabled={busy} onClick={() => void setStatus(published ? "archived" : "published")}>
          {published ? t.unpublish : t.republish}
        </button>{" "}
        <Link to={`/courses/${courseId}`}>{courses.title}</Link>
      </p>
      <CourseError error={statusError} />
      <EditCourse course={detail.course} onSaved={() => { reload(); onChanged(); }} />
      <h3>{t.lessons}</h3>
      <ul className="list">
        {detail.lessons.map((l) => (
          <LessonItem key={l.id} lesson={l} onChanged={reload} />
        ))}
      </ul>
      <LessonForm courseId={courseId} onAdded={reload} />
      <h3>{t.enrolments}</h3>
      {enrolled && enrolled.length === 0 ? <Empty>{t.noEnrolments}</Empty> : null}
      {enrolled && enrolled.length > 0 ? (
        <table aria-label={t.enrolments}>
          <tbody>
            {enrolled.map((e) => (
              <tr key={e.id}>
                <td>{e.name}</td>
                <td>{t.enrolmentStatus[e.status]}</td>
                <td>{e.price_fen ? common.yuan(e.price_fen) : courses.free}</td>
                <td>{t.completed(e.completed)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </div>
  );
}

function LessonForm({ courseId, onAdded }: { courseId: string; onAdded: () => void }): ReactNode {
  const id = useId();
  const [title, setTitle] = useState("");
  const [startsAt, setStartsAt] = useState("");
  const [duration, setDuration] = useState("45");
  const [problem, setProblem] = useState(false);
  const [add, busy, error] = useAction(async () => {
    await http.post(`/courses/${courseId}/lessons`, {
      title: title.trim(),
      starts_at: new Date(startsAt).toISOString(),
      duration_min: wholeNumber(duration, 1, 600),
    });
    setTitle("");
    onAdded();
  });
  const submit = (event: FormEvent): void => {
    event.preventDefault();
    const bad = !title.trim() || !startsAt || Number.isNaN(new Date(startsAt).getTime()) || wholeNumber(duration, 1, 600) === null;
    setProblem(bad);
    if (!bad) void add();
  };
  return (
    <form className="form" aria-label={t.lessonForm.submit} onSubmit={submit} noValidate>
      <div className="course-office-grid">
        <div className="field">
          <label htmlFor={`${id}-title`}>{t.lessonForm.title}</label>
          <input id={`${id}-title`} maxLength={100} value={title} onChange={(e) => setTitle(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor={`${id}-at`}>{t.lessonForm.startsAt}</label>
          <input id={`${id}-at`} type="datetime-local" value={startsAt} onChange={(e) => setStartsAt(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor={`${id}-duration`}>{t.lessonForm.duration}</label>
          <input id={`${id}-duration`} inputMode="numeric" value={duration} onChange={(e) => setDuration(e.target.value)} />
        </div>
      </div>
      {problem ? (
        <p className="error" role="alert">
          {t.invalidLesson}
        </p>
      ) : null}
      <CourseError error={error} />
      <button type="submit" className="secondary" disabled={busy}>
        {t.lessonForm.submit}
      </button>
    </form>
  );
}

/** A lesson in the back office; a scheduled one can go live here (the studio). */
function LessonItem({ lesson, onChanged }: { lesson: Lesson; onChanged: () => void }): ReactNode {
  const [studio, setStudio] = useState(false);
  return (
    <li className="card lesson-row">
      <span className="grow">
        <strong>{lesson.title}</strong>{" "}
        <span className="small muted">
          {new Date(lesson.starts_at).toLocaleString("zh-CN")} · {courses.lessonStatus[lesson.live_status]}
          {lesson.has_recording ? ` · ${courses.replay}` : ""}
        </span>
      </span>
      {lesson.live_status === "scheduled" && !studio ? (
        <button type="button" className="primary" onClick={() => setStudio(true)}>
          {t.goLive}
        </button>
      ) : null}
      {studio ? <Studio lessonId={lesson.id} onLive={onChanged} onEnded={() => { setStudio(false); onChanged(); }} /> : null}
    </li>
  );
}

/** The camera to the relay: `class:start`, then `class:publish`; `class:stop` ends and saves. */
function Studio({ lessonId, onLive, onEnded }: { lessonId: string; onLive: () => void; onEnded: () => void }): ReactNode {
  const video = useRef<HTMLVideoElement>(null);
  const [state, setState] = useState<"camera" | "live" | "stopped">("camera");
  const [error, setError] = useState<unknown>(null);
  const publisher = useRef<ClassPublisher | null>(null);
  const media = useRef<MediaStream | null>(null);
  useEffect(() => {
    let stopped = false;
    void (async () => {
      try {
        const stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
        media.current = stream;
        if (stopped) return;
        if (video.current) video.current.srcObject = stream;
        const rt = realtime();
        await rt.request("class:start", { lesson_id: lessonId });
        publisher.current = new ClassPublisher(rt, lessonId, stream);
        await publisher.current.publish();
        if (!stopped) {
          setState("live");
          onLive();
        }
      } catch (e) {
        if (!stopped) setError(e);
      }
    })();
    return () => {
      stopped = true;
      publisher.current?.close();
      for (const track of media.current?.getTracks() ?? []) track.stop();
    };
  }, [lessonId]);
  const [stop, stopping, stopError] = useAction(async () => {
    if (!window.confirm(t.stopConfirm)) return;
    await realtime().request("class:stop", { lesson_id: lessonId }, 60_000);
    publisher.current?.close();
    for (const track of media.current?.getTracks() ?? []) track.stop();
    setState("stopped");
    onEnded();
  });
  return (
    <div className="course-studio" role="group" aria-label={t.studio}>
      <video ref={video} className="course-video" autoPlay muted playsInline aria-label={t.studio} />
      <p role="status">{state === "camera" ? t.camera : state === "live" ? t.onAir : t.stopped}</p>
      {state === "live" ? (
        <button type="button" className="danger" disabled={stopping} onClick={() => void stop()}>
          {t.stopLive}
        </button>
      ) : null}
      <CourseError error={error ?? stopError} />
    </div>
  );
}

/** Change a course's name, price, capacity and description (a new price applies to new enrolments). */
function EditCourse({ course, onSaved }: { course: Course; onSaved: () => void }): ReactNode {
  const id = useId();
  const [title, setTitle] = useState(course.title);
  const [price, setPrice] = useState(fenToYuanText(course.price_fen));
  const [capacity, setCapacity] = useState(course.capacity === null ? "" : String(course.capacity));
  const [description, setDescription] = useState(course.description);
  const [problem, setProblem] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const [save, busy, error] = useAction(async (body: Record<string, unknown>) => {
    await http.patch(`/courses/${course.id}`, body);
    setSaved(true);
    onSaved();
  });
  const submit = (event: FormEvent): void => {
    event.preventDefault();
    setSaved(false);
    const fen = course.owner_kind === "merchant" ? fenOf(price) : 0;
    const cap = capacity.trim() ? wholeNumber(capacity, 1, 100_000) : null;
    const bad = !title.trim() ? t.invalid.title : fen === null ? t.invalid.price : capacity.trim() && cap === null ? t.invalid.capacity : null;
    setProblem(bad);
    if (bad || fen === null) return;
    void save({
      title: title.trim(),
      ...(course.owner_kind === "merchant" ? { price_fen: fen } : {}),
      capacity: cap,
      description: description.trim(),
    });
  };
  return (
    <form className="form" aria-labelledby={`${id}-h`} onSubmit={submit} noValidate>
      <h3 id={`${id}-h`}>{t.edit}</h3>
      <div className="course-office-grid">
        <div className="field">
          <label htmlFor={`${id}-title`}>{t.form.title}</label>
          <input id={`${id}-title`} maxLength={100} value={title} onChange={(e) => setTitle(e.target.value)} />
        </div>
        {course.owner_kind === "merchant" ? (
          <div className="field">
            <label htmlFor={`${id}-price`}>{t.form.price}</label>
            <input id={`${id}-price`} inputMode="decimal" value={price} onChange={(e) => setPrice(e.target.value)} />
          </div>
        ) : null}
        <div className="field">
          <label htmlFor={`${id}-capacity`}>{t.form.capacity}</label>
          <input id={`${id}-capacity`} inputMode="numeric" value={capacity} onChange={(e) => setCapacity(e.target.value)} />
        </div>
      </div>
      <div className="field">
        <label htmlFor={`${id}-description`}>{t.form.description}</label>
        <textarea id={`${id}-description`} maxLength={4000} value={description} onChange={(e) => setDescription(e.target.value)} />
      </div>
      {problem ? (
        <p className="error" role="alert">
          {problem}
        </p>
      ) : null}
      <CourseError error={error} />
      <button type="submit" className="secondary" disabled={busy}>
        {t.save}
      </button>
      {saved ? <p role="status">{t.saved}</p> : null}
    </form>
  );
}
