"""Courses (children's classes) over REST: publishing, enrolling and paying, progress, ratings,
favourites and the replay of recorded live classes (docs/courses.md).

Live classes themselves run over the socket (``class:*`` events, lago_rt/gateway/courses.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, TypeVar
from uuid import UUID

from aiohttp import web
from pydantic import Field

from lago_core.courses import CourseSpec, LessonSpec
from lago_core.security.roles import Principal
from lago_rest.api import Api
from lago_rest.context import Services
from lago_rest.media import serve_private
from lago_rest.routes.payments import IdempotencyKey, Payment
from lago_rest.schemas import Page, PageQuery, Schema, keyset_after, page_of

api = Api()
TAGS = ("courses",)

Category = Literal["lego", "stem", "art", "music", "sports", "other"]
RECORDING_TYPE = "video/webm"


class CourseIn(Schema):
    merchant_id: UUID | None = Field(
        default=None, description="the merchant's course; omit for a platform course (admins)"
    )
    title: str = Field(min_length=1, max_length=100)
    category: Category
    instructor: str = Field(min_length=1, max_length=60)
    instructor_id: UUID | None = Field(
        default=None, description="the user who may teach the live classes besides the staff"
    )
    description: str = Field(default="", max_length=4000)
    cover_url: str | None = Field(default=None, max_length=500, pattern=r"^(https?://|/)\S+$")
    price_fen: int = Field(ge=0, le=100_000_000, description="0: free")
    capacity: int | None = Field(default=None, ge=1, le=100_000)


class CourseChangeIn(Schema):
    title: str | None = Field(default=None, min_length=1, max_length=100)
    category: Category | None = None
    instructor: str | None = Field(default=None, min_length=1, max_length=60)
    description: str | None = Field(default=None, max_length=4000)
    cover_url: str | None = Field(default=None, max_length=500, pattern=r"^(https?://|/)\S+$")
    price_fen: int | None = Field(default=None, ge=0, le=100_000_000)
    capacity: int | None = Field(default=None, ge=1, le=100_000)
    status: Literal["draft", "published", "archived"] | None = None


class Course(Schema):
    id: UUID
    owner_kind: Literal["merchant", "platform"]
    merchant_id: UUID | None
    title: str
    category: Category
    instructor: str
    instructor_id: UUID | None
    description: str
    cover_url: str | None
    price_fen: int
    capacity: int | None
    status: Literal["draft", "published", "archived"]
    enrolled_count: int
    rating_count: int
    rating_average: float | None
    created_at: datetime


class LessonIn(Schema):
    title: str = Field(min_length=1, max_length=100)
    starts_at: datetime
    duration_min: int = Field(ge=1, le=600)


class Lesson(Schema):
    id: UUID
    course_id: UUID
    title: str
    starts_at: datetime
    duration_min: int
    live_status: Literal["scheduled", "live", "ended"]
    live_started_at: datetime | None
    live_ended_at: datetime | None
    has_recording: bool
    recording_ms: int | None
    recording_url: str | None = Field(description="the replay (enrolled residents and hosts)")


EnrolmentStatus = Literal["pending_payment", "active", "cancelled", "refunded"]


class EnrolmentOut(Schema):
    id: UUID
    course_id: UUID
    user_id: UUID
    status: EnrolmentStatus
    price_fen: int
    payment_id: UUID | None
    created_at: datetime
    activated_at: datetime | None


class CourseDetail(Schema):
    course: Course
    lessons: list[Lesson]
    enrolment: EnrolmentOut | None
    favourite: bool
    can_host: bool = Field(description="the caller may teach its live classes")
    can_manage: bool


class EnrolResult(Schema):
    enrolment: EnrolmentOut
    payment: Payment | None = Field(description="a paid course: pay it to activate the enrolment")


class Enrolled(EnrolmentOut):
    name: str
    completed: int = Field(description="lessons completed")


class MyCourse(Course):
    enrolment_id: UUID
    enrolment_status: EnrolmentStatus
    lessons: int
    completed: int


class LessonProgress(Schema):
    lesson_id: UUID
    completed: bool
    attended_live: bool
    watched_ms: int


class Progress(Schema):
    course_id: UUID
    total: int
    completed: int
    lessons: list[LessonProgress]


class RatingIn(Schema):
    stars: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=500)


class Rating(Schema):
    course_id: UUID
    user_id: UUID
    stars: int
    comment: str
    updated_at: datetime


class RatingWithName(Rating):
    name: str


class WatchedIn(Schema):
    watched_ms: int = Field(ge=0, le=86_400_000, description="the furthest point played")


class CourseQuery(PageQuery):
    category: Category | None = None


M = TypeVar("M", bound=Schema)


def _as(model: type[M], row: Any, **extra: Any) -> M:
    data = {**dict(row), **extra}
    return model.model_validate({k: data[k] for k in model.model_fields if k in data})


def _lesson(row: Any) -> Lesson:
    has = row["recording_key"] is not None
    url = f"{api.prefix}/course-lessons/{row['id']}/recording" if has else None
    return _as(Lesson, row, has_recording=has, recording_url=url)


def _after(cursor: str | None) -> tuple[datetime, UUID] | None:
    return keyset_after(cursor, datetime.fromisoformat, UUID)


@api.post("/courses", status=201, tags=TAGS)
async def create_course(body: CourseIn, user: Principal, svc: Services) -> Course:
    """Publish a course: a merchant's owner or staff (an approved merchant), or a platform
    admin (``merchant_id`` omitted: a platform course, free)."""
    row = await svc.courses.create_course(user, CourseSpec(**body.model_dump()))
    return _as(Course, row)


@api.get("/courses", tags=TAGS)
async def list_courses(query: CourseQuery, user: Principal, svc: Services) -> Page[Course]:
    """Published courses, newest first, optionally of one category."""
    rows = await svc.courses.published(query.category, _after(query.cursor), query.limit + 1)
    items = [_as(Course, r) for r in rows]
    return page_of(Page[Course], items, query.limit, lambda c: (c.created_at, c.id))


@api.get("/courses/{course_id}", tags=TAGS)
async def get_course(course_id: UUID, user: Principal, svc: Services) -> CourseDetail:
    """A course with its schedule and the caller's enrolment, favourite and rights."""
    detail = await svc.courses.detail(user, course_id)
    enrolment = detail["enrolment"]
    return CourseDetail(
        course=_as(Course, detail["course"]),
        lessons=[_lesson(r) for r in detail["lessons"]],
        enrolment=_as(EnrolmentOut, enrolment) if enrolment is not None else None,
        favourite=detail["favourite"],
        can_host=detail["can_host"],
        can_manage=detail["can_manage"],
    )


@api.patch("/courses/{course_id}", tags=TAGS)
async def change_course(
    course_id: UUID, body: CourseChangeIn, user: Principal, svc: Services
) -> Course:
    """Change a course (its merchant's people or an admin); only the fields sent change."""
    # Only the cover and the capacity may be cleared (null); other nulls change nothing.
    changes = {
        k: v
        for k, v in body.model_dump(exclude_unset=True).items()
        if v is not None or k in ("cover_url", "capacity")
    }
    return _as(Course, await svc.courses.update_course(user, course_id, changes))


@api.post("/courses/{course_id}/lessons", status=201, tags=TAGS)
async def add_lesson(course_id: UUID, body: LessonIn, user: Principal, svc: Services) -> Lesson:
    """Schedule a lesson (the course's managers)."""
    spec = LessonSpec(body.title, body.starts_at, body.duration_min)
    return _lesson(await svc.courses.add_lesson(user, course_id, spec))


class LessonChangeIn(Schema):
    title: str | None = Field(default=None, min_length=1, max_length=100)
    starts_at: datetime | None = None
    duration_min: int | None = Field(default=None, ge=1, le=600)


@api.patch("/course-lessons/{lesson_id}", tags=TAGS)
async def change_lesson(
    lesson_id: UUID, body: LessonChangeIn, user: Principal, svc: Services
) -> Lesson:
    """Rename or reschedule a lesson not taught yet (the course's managers); only the fields
    sent change; a lesson taught live answers ``lesson_not_scheduled``."""
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
    return _lesson(await svc.courses.change_lesson(user, lesson_id, changes))


@api.post("/courses/{course_id}/enrol", status=201, tags=TAGS)
async def enrol(
    course_id: UUID, idempotency_key: IdempotencyKey, user: Principal, svc: Services
) -> EnrolResult:
    """Enrol (``Idempotency-Key`` header). A free course: active at once. A paid one: the
    enrolment waits for the payment returned here; paying it through the provider activates it
    (a payment that arrives when the course is full, or twice, is refunded in full)."""
    result = await svc.courses.enrol(user, course_id, idempotency_key)
    payment = result.payment
    return EnrolResult(
        enrolment=_as(EnrolmentOut, result.row),
        payment=Payment.model_validate(payment, from_attributes=True) if payment else None,
    )


@api.post("/courses/{course_id}/cancel", tags=TAGS)
async def cancel_enrolment(course_id: UUID, user: Principal, svc: Services) -> EnrolmentOut:
    """Leave the course. Before its first class begins, a paid enrolment is refunded in full;
    afterwards ``refund_window_closed``."""
    return _as(EnrolmentOut, await svc.courses.cancel(user, course_id))


@api.get("/courses/{course_id}/enrolments", tags=TAGS)
async def course_enrolments(course_id: UUID, user: Principal, svc: Services) -> list[Enrolled]:
    """Who enrolled, with their progress (the course's managers)."""
    return [_as(Enrolled, r) for r in await svc.courses.enrolments(user, course_id)]


@api.get("/courses/{course_id}/progress", tags=TAGS)
async def course_progress(course_id: UUID, user: Principal, svc: Services) -> Progress:
    """The caller's progress: lessons attended live or replayed to 90 % are complete."""
    return Progress.model_validate(await svc.courses.progress(user, course_id))


@api.put("/courses/{course_id}/rating", tags=TAGS)
async def rate_course(course_id: UUID, body: RatingIn, user: Principal, svc: Services) -> Rating:
    """Rate the course (enrolled residents; one rating each, which they may change)."""
    return _as(Rating, await svc.courses.rate(user, course_id, body.stars, body.comment))


@api.get("/courses/{course_id}/ratings", tags=TAGS)
async def course_ratings(course_id: UUID, user: Principal, svc: Services) -> list[RatingWithName]:
    return [_as(RatingWithName, r) for r in await svc.courses.ratings(user, course_id)]


@api.put("/courses/{course_id}/favourite", status=204, tags=TAGS)
async def favourite(course_id: UUID, user: Principal, svc: Services) -> None:
    await svc.courses.favourite(user, course_id, True)


@api.delete("/courses/{course_id}/favourite", status=204, tags=TAGS)
async def unfavourite(course_id: UUID, user: Principal, svc: Services) -> None:
    await svc.courses.favourite(user, course_id, False)


@api.get("/me/courses", tags=TAGS)
async def my_courses(user: Principal, svc: Services) -> list[MyCourse]:
    """The caller's courses (active or awaiting payment) with their progress."""
    return [_as(MyCourse, r) for r in await svc.courses.my_courses(user)]


@api.get("/me/course-favourites", tags=TAGS)
async def my_favourites(user: Principal, svc: Services) -> list[Course]:
    return [_as(Course, r) for r in await svc.courses.favourites(user)]


@api.get("/merchants/{merchant_id}/courses", tags=TAGS)
async def merchant_courses(merchant_id: UUID, user: Principal, svc: Services) -> list[Course]:
    """Every course of the merchant, drafts too (its owner and staff, admins)."""
    return [_as(Course, r) for r in await svc.courses.of_merchant(user, merchant_id)]


@api.get("/platform/courses", tags=TAGS)
async def platform_courses(user: Principal, svc: Services) -> list[Course]:
    """Every platform course (admins)."""
    return [_as(Course, r) for r in await svc.courses.of_platform(user)]


@api.get("/course-lessons/{lesson_id}/recording", tags=TAGS)
async def lesson_recording(
    lesson_id: UUID, request: web.Request, user: Principal, svc: Services
) -> web.StreamResponse:
    """The recorded live class (WebM), for enrolled residents and the course's hosts, with HTTP
    Range support (206) so a ``<video>`` seeks. The browser's session cookie authenticates a
    ``<video src>``. Others: 403 ``not_enrolled``."""
    lesson = await svc.courses.recording(user, lesson_id)
    return await serve_private(request, svc.storage, lesson["recording_key"], RECORDING_TYPE)


@api.post("/course-lessons/{lesson_id}/watched", tags=TAGS)
async def lesson_watched(
    lesson_id: UUID, body: WatchedIn, user: Principal, svc: Services
) -> LessonProgress:
    """How far the caller played the replay; 90 % completes the lesson."""
    row = await svc.courses.watched(user, lesson_id, body.watched_ms)
    return LessonProgress(
        lesson_id=row["lesson_id"],
        completed=row["completed_at"] is not None,
        attended_live=row["attended_live"],
        watched_ms=row["watched_ms"],
    )
