"""Courses (children's classes): publishing, enrolments paid through the provider, live classes
and their recordings, progress, ratings and favourites (docs/courses.md).

- A course belongs to a merchant (its owner and staff manage it; an admin may too) or to the
  platform (admins). Its price is integer fen; 0 is free.
- A free enrolment is active at once. A paid one is ``pending_payment`` until a payment of
  reference type ``course_enrolment`` is captured: the capture hook activates it in the capture's
  transaction; a capture the enrolment cannot take (already active, closed, the course full) is
  refunded in full by the payments service. The merchant's payable gets the price less commission,
  as for other merchant sales.
- Cancelling before the first class has begun (by its schedule or by going live) refunds a paid
  enrolment in full; afterwards it is refused (``refund_window_closed``).
- A live class is watched by active enrolments and the course's hosts only; the real-time node
  asks :meth:`CourseService.require_viewer` before it builds a viewer's connection.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg
from prometheus_client import Counter

from lago_core.clock import Clock
from lago_core.courses.store import CourseStore
from lago_core.errors import Conflict, Forbidden, InvalidInput, NotFound
from lago_core.ledger import Party, PartyKind
from lago_core.ledger.store import Conn
from lago_core.logging import get_logger
from lago_core.merchants import MerchantService
from lago_core.notifications import Notice, NotificationService
from lago_core.payments import Demand, PaymentService, PaymentSpec, PaymentView, Refuse
from lago_core.payments.service import AfterCommit
from lago_core.ratelimit import RateLimiter
from lago_core.security.roles import Principal

__all__ = [
    "CATEGORIES",
    "REFERENCE_TYPE",
    "REPLAY_COMPLETE_RATIO",
    "CourseService",
    "CourseSpec",
    "Enrolment",
    "LessonSpec",
]

log = get_logger(__name__)

REFERENCE_TYPE = "course_enrolment"
CATEGORIES = ("lego", "stem", "art", "music", "sports", "other")
# A replay watched this far counts the lesson as attended.
REPLAY_COMPLETE_RATIO = 0.9
# Per resident: enrolling (each may create a provider intent), reporting replay progress (a
# player reports every few seconds at most), rating.
ENROL_LIMIT = "20/hour"
WATCHED_LIMIT = "60/minute"
RATING_LIMIT = "30/hour"

# "直播课开始了" notices that could not be written; the class goes on without them.
NOTIFY_FAILURES = Counter(
    "lago_course_notify_failures_total", "class-start notifications that could not be sent"
)


@dataclass(frozen=True, slots=True)
class CourseSpec:
    title: str
    category: str
    instructor: str
    price_fen: int
    merchant_id: UUID | None = None  # None: a platform course (admins)
    instructor_id: UUID | None = None
    description: str = ""
    cover_url: str | None = None
    capacity: int | None = None


@dataclass(frozen=True, slots=True)
class LessonSpec:
    title: str
    starts_at: datetime
    duration_min: int


@dataclass(frozen=True, slots=True)
class Enrolment:
    row: asyncpg.Record
    payment: PaymentView | None  # the payment to complete, for a paid enrolment


class CourseService:
    def __init__(
        self,
        store: CourseStore,
        *,
        merchants: MerchantService,
        payments: PaymentService,
        limiter: RateLimiter,
        clock: Clock,
        notifications: NotificationService | None = None,
    ) -> None:
        self._notifications = notifications
        self.store = store
        self._merchants = merchants
        self._payments = payments
        self._limiter = limiter
        self._clock = clock

    def wire(self) -> None:
        """Own payments of reference type ``course_enrolment`` (called where Core is built)."""
        self._payments.register_reference(
            REFERENCE_TYPE, demand=self._demand, on_capture=self._on_captured
        )

    # --- permissions -----------------------------------------------------------------------------

    async def _course(self, course_id: UUID) -> asyncpg.Record:
        row = await self.store.course(course_id)
        if row is None:
            raise NotFound("course not found", code="course_not_found")
        return row

    async def manages(self, actor: Principal, course: asyncpg.Record) -> bool:
        if actor.is_admin:
            return True
        if course["merchant_id"] is None:
            return False
        return await self._merchants.role_of(actor.user_id, course["merchant_id"]) is not None

    async def _require_manager(self, actor: Principal, course_id: UUID) -> asyncpg.Record:
        course = await self._course(course_id)
        if not await self.manages(actor, course):
            raise Forbidden(
                "only the course's merchant (owner or staff) or a platform admin may do this",
                code="not_course_manager",
            )
        return course

    async def hosts(self, actor: Principal, course: asyncpg.Record) -> bool:
        """May ``actor`` teach the course's live classes: its managers and its instructor."""
        return course["instructor_id"] == actor.user_id or await self.manages(actor, course)

    async def readable(self, actor: Principal, course_id: UUID) -> asyncpg.Record:
        """A published course for anyone signed in; drafts and archived ones for managers."""
        course = await self._course(course_id)
        if course["status"] != "published" and not await self.manages(actor, course):
            raise NotFound("course not found", code="course_not_found")
        return course

    # --- courses ---------------------------------------------------------------------------------

    async def create_course(self, actor: Principal, spec: CourseSpec) -> asyncpg.Record:
        if spec.merchant_id is not None:
            await self._merchants.get(spec.merchant_id)
            if not actor.is_admin:
                await self._merchants.require_member(actor, spec.merchant_id)
            if not await self._merchants.is_approved(spec.merchant_id):
                raise Conflict("the merchant is not approved yet", code="merchant_not_approved")
        elif not actor.is_admin:
            raise Forbidden("only platform admins publish platform courses", code="not_admin")
        self._check(spec.category, spec.price_fen, spec.merchant_id)
        now = self._clock.now()
        return await self.store.insert_course(
            {
                "id": uuid4(),
                "owner_kind": "merchant" if spec.merchant_id else "platform",
                "merchant_id": spec.merchant_id,
                "created_by": actor.user_id,
                "title": spec.title,
                "category": spec.category,
                "instructor": spec.instructor,
                "instructor_id": spec.instructor_id,
                "description": spec.description,
                "cover_url": spec.cover_url,
                "price_fen": spec.price_fen,
                "capacity": spec.capacity,
                "created_at": now,
                "updated_at": now,
            }
        )

    @staticmethod
    def _check(category: str | None, price_fen: int | None, merchant_id: UUID | None) -> None:
        if category is not None and category not in CATEGORIES:
            raise InvalidInput(f"category is one of {', '.join(CATEGORIES)}", code="bad_category")
        if price_fen is not None and price_fen > 0 and merchant_id is None:
            # Paid platform courses need a platform revenue flow in the ledger (docs/courses.md).
            raise InvalidInput("platform courses are free", code="platform_course_paid")

    async def update_course(
        self, actor: Principal, course_id: UUID, changes: dict[str, Any]
    ) -> asyncpg.Record:
        """Change fields of a course; a new price applies to enrolments made after it."""
        course = await self._require_manager(actor, course_id)
        self._check(changes.get("category"), changes.get("price_fen"), course["merchant_id"])
        capacity = changes.get("capacity")
        if capacity is not None and capacity < course["enrolled_count"]:
            raise Conflict(
                "the capacity is below the enrolments already made", code="capacity_too_low"
            )
        if not changes:
            return course
        return await self.store.update_course(course_id, changes, self._clock.now())

    async def published(
        self, category: str | None, after: tuple[datetime, UUID] | None, limit: int
    ) -> list[asyncpg.Record]:
        self._check(category, None, None)
        return await self.store.published(category, after, limit)

    async def of_merchant(self, actor: Principal, merchant_id: UUID) -> list[asyncpg.Record]:
        if not actor.is_admin:
            await self._merchants.require_member(actor, merchant_id)
        return await self.store.of_merchant(merchant_id)

    async def of_platform(self, actor: Principal) -> list[asyncpg.Record]:
        if not actor.is_admin:
            raise Forbidden("platform admins only", code="not_admin")
        return await self.store.of_platform()

    async def detail(self, actor: Principal, course_id: UUID) -> dict[str, Any]:
        """The course, its lessons and the caller's relation to it (enrolment, favourite,
        rating, whether they may host its classes)."""
        course = await self.readable(actor, course_id)
        enrolment = await self.store.enrolment(course_id, actor.user_id)
        return {
            "course": course,
            "lessons": await self.store.lessons(course_id),
            "enrolment": enrolment,
            "favourite": await self.store.is_favourite(actor.user_id, course_id),
            "can_host": await self.hosts(actor, course),
            "can_manage": await self.manages(actor, course),
        }

    # --- lessons ---------------------------------------------------------------------------------

    async def add_lesson(
        self, actor: Principal, course_id: UUID, spec: LessonSpec
    ) -> asyncpg.Record:
        await self._require_manager(actor, course_id)
        if await self.store.count_lessons(course_id) >= 500:
            raise Conflict("a course has at most 500 lessons", code="too_many_lessons")
        return await self.store.insert_lesson(
            {
                "id": uuid4(),
                "course_id": course_id,
                "title": spec.title,
                "starts_at": spec.starts_at,
                "duration_min": spec.duration_min,
                "created_at": self._clock.now(),
            }
        )

    async def change_lesson(
        self, actor: Principal, lesson_id: UUID, changes: dict[str, Any]
    ) -> asyncpg.Record:
        """Reschedule or rename a lesson that has not been taught yet (the course's managers)."""
        lesson = await self.lesson(lesson_id)
        await self._require_manager(actor, lesson["course_id"])
        if not changes:
            return lesson
        row = await self.store.update_lesson(lesson_id, changes)
        if row is None:
            raise Conflict("a lesson taught live is not changed", code="lesson_not_scheduled")
        return row

    async def lesson(self, lesson_id: UUID) -> asyncpg.Record:
        row = await self.store.lesson(lesson_id)
        if row is None:
            raise NotFound("lesson not found", code="lesson_not_found")
        return row

    # --- enrolments ------------------------------------------------------------------------------

    async def enrol(self, actor: Principal, course_id: UUID, key: str) -> Enrolment:
        """Enrol the caller: free courses at once; paid ones answer the payment to complete
        (created once per ``key``; paying it activates the enrolment)."""
        course = await self._course(course_id)
        if course["status"] != "published":
            raise Conflict("the course is not open for enrolment", code="course_not_open")
        await self._limiter.hit_or_raise(ENROL_LIMIT, "course-enrol", str(actor.user_id))
        now = self._clock.now()
        async with self.store.pool.acquire() as conn, conn.transaction():
            row = await self.store.open_enrolment(
                conn, uuid4(), course_id, actor.user_id, course["price_fen"], now
            )
            if row["status"] == "active":
                raise Conflict("already enrolled", code="already_enrolled")
            if row["price_fen"] == 0:
                locked = await self.store.lock_course(conn, course_id)
                assert locked is not None
                if _full(locked):
                    raise Conflict("the course is full", code="course_full")
                return Enrolment(await self.store.activate(conn, row["id"], None, now), None)
            if _full(course):
                raise Conflict("the course is full", code="course_full")
        assert course["merchant_id"] is not None  # paid courses are merchants' (a CHECK)
        payment = await self._payments.create(
            actor,
            key,
            PaymentSpec(
                reference_type=REFERENCE_TYPE,
                reference_id=row["id"],
                amount_fen=row["price_fen"],
                payee=Party(PartyKind.MERCHANT, course["merchant_id"]),
                description=f"课程:{course['title']}"[:100],
            ),
        )
        return Enrolment(row, payment)

    async def _demand(self, conn: Conn, enrolment_id: UUID) -> Demand | None:
        row = await self.store.enrolment_by_id(conn, enrolment_id)
        if row is None:
            return None
        course = await self.store.course(row["course_id"], conn)
        assert course is not None
        if course["merchant_id"] is None:
            return None
        return Demand(
            payer_id=row["user_id"],
            payee=Party(PartyKind.MERCHANT, course["merchant_id"]),
            amount_fen=row["price_fen"],
        )

    async def _on_captured(
        self, conn: Conn, payment_id: UUID, enrolment_id: UUID
    ) -> AfterCommit | Refuse | None:
        row = await self.store.lock_enrolment(conn, enrolment_id)
        if row is None:
            return Refuse("reference_not_found")
        if row["status"] == "active":
            return Refuse("already_enrolled")
        if row["status"] != "pending_payment":
            return Refuse("enrolment_closed")
        course = await self.store.lock_course(conn, row["course_id"])
        assert course is not None
        if _full(course):
            return Refuse("course_full")
        await self.store.activate(conn, enrolment_id, payment_id, self._clock.now())
        return None

    async def cancel(self, actor: Principal, course_id: UUID) -> asyncpg.Record:
        """Leave a course. Before its first class begins a paid enrolment is refunded in full;
        after, it is refused. Retrying after a crash finishes the same refund (one key)."""
        row = await self.store.enrolment(course_id, actor.user_id)
        if row is None or row["status"] not in ("active", "pending_payment"):
            raise NotFound("not enrolled in this course", code="not_enrolled")
        now = self._clock.now()
        paid = row["status"] == "active" and row["payment_id"] is not None
        if paid:
            async with self.store.pool.acquire() as conn:
                if await self.store.class_begun(conn, course_id, now):
                    raise Conflict(
                        "the first class has begun: enrolments are no longer refunded",
                        code="refund_window_closed",
                    )
            # The platform acts on the course's rule (actor None); the key makes a retry the
            # same refund.
            await self._payments.refund(
                None,
                f"course-enrolment:{row['id']}:refund",
                row["payment_id"],
                row["price_fen"],
                "课程退课",
            )
        async with self.store.pool.acquire() as conn, conn.transaction():
            locked = await self.store.lock_enrolment(conn, row["id"])
            assert locked is not None
            if locked["status"] not in ("active", "pending_payment"):
                return locked
            return await self.store.close_enrolment(
                conn,
                row["id"],
                "refunded" if paid else "cancelled",
                locked["status"] == "active",
                now,
            )

    async def enrolments(self, actor: Principal, course_id: UUID) -> list[asyncpg.Record]:
        await self._require_manager(actor, course_id)
        return await self.store.enrolments_of_course(course_id)

    async def my_courses(self, actor: Principal) -> list[asyncpg.Record]:
        return await self.store.my_courses(actor.user_id)

    async def _require_enrolled(self, actor: Principal, course_id: UUID) -> asyncpg.Record:
        row = await self.store.enrolment(course_id, actor.user_id)
        if row is None or row["status"] != "active":
            raise Forbidden(
                "only residents enrolled in this course may do this", code="not_enrolled"
            )
        return row

    # --- live classes ----------------------------------------------------------------------------

    async def require_host(self, actor: Principal, lesson_id: UUID) -> asyncpg.Record:
        lesson = await self.lesson(lesson_id)
        course = await self._course(lesson["course_id"])
        if not await self.hosts(actor, course):
            raise Forbidden(
                "only the course's instructor, merchant or a platform admin teaches live",
                code="not_a_host",
            )
        return lesson

    async def require_viewer(self, actor: Principal, lesson_id: UUID) -> asyncpg.Record:
        """The lesson, when ``actor`` may watch it (live or replayed): an active enrolment or a
        host. Anyone else: Forbidden ``not_enrolled``."""
        lesson = await self.lesson(lesson_id)
        course = await self._course(lesson["course_id"])
        enrolment = await self.store.enrolment(course["id"], actor.user_id)
        if enrolment is not None and enrolment["status"] == "active":
            return lesson
        if await self.hosts(actor, course):
            return lesson
        raise Forbidden("only residents enrolled in this course may watch", code="not_enrolled")

    async def go_live(
        self, actor: Principal, lesson_id: UUID, session_id: str, node: str
    ) -> asyncpg.Record:
        await self.require_host(actor, lesson_id)
        row = await self.store.go_live(
            lesson_id, session_id, node, actor.user_id, self._clock.now()
        )
        if row is None:
            raise Conflict("this lesson is live or over already", code="lesson_not_scheduled")
        await self._announce(row)
        return row

    async def _announce(self, lesson: asyncpg.Record) -> None:
        """Tell the enrolled residents the class is live (in-app and live, once per lesson)."""
        if self._notifications is None:
            return
        try:
            course = await self._course(lesson["course_id"])
            learners = await self.store.active_learners(course["id"])
            await self._notifications.notify(
                learners,
                Notice(
                    "course_live",
                    f"course-lesson:{lesson['id']}:live",
                    "直播课开始了",
                    f"「{course['title']}」{lesson['title']} 正在直播，进入课程页观看",
                    {"course_id": str(course["id"]), "lesson_id": str(lesson["id"])},
                ),
            )
        except Exception:
            NOTIFY_FAILURES.inc()
            log.exception("course.notify_failed", lesson_id=str(lesson["id"]))

    async def end_live(self, lesson_id: UUID, session_id: str) -> asyncpg.Record | None:
        return await self.store.end_live(lesson_id, session_id, self._clock.now())

    async def attach_recording(
        self, lesson_id: UUID, key: str, size: int, duration_ms: int, frames: int
    ) -> asyncpg.Record | None:
        return await self.store.set_recording(lesson_id, key, size, duration_ms, frames)

    async def attended(self, actor: Principal, lesson: Mapping[str, Any] | asyncpg.Record) -> None:
        """A viewer joined the live class: the lesson is complete for them."""
        enrolment = await self.store.enrolment(lesson["course_id"], actor.user_id)
        if enrolment is None or enrolment["status"] != "active":
            return  # hosts watching their own class make no progress
        await self.store.record_progress(
            actor.user_id, lesson, attended=True, watched_ms=0, complete=True, now=self._clock.now()
        )

    async def recording(self, actor: Principal, lesson_id: UUID) -> asyncpg.Record:
        lesson = await self.require_viewer(actor, lesson_id)
        if lesson["recording_key"] is None:
            raise NotFound("this lesson has no recording (yet)", code="no_recording")
        return lesson

    async def watched(self, actor: Principal, lesson_id: UUID, watched_ms: int) -> asyncpg.Record:
        """How far the caller watched the replay; ≥ 90 % of it completes the lesson."""
        lesson = await self.lesson(lesson_id)
        await self._require_enrolled(actor, lesson["course_id"])
        await self._limiter.hit_or_raise(WATCHED_LIMIT, "course-watched", str(actor.user_id))
        total = lesson["recording_ms"]
        if total is None:
            raise NotFound("this lesson has no recording (yet)", code="no_recording")
        watched_ms = min(watched_ms, total)
        return await self.store.record_progress(
            actor.user_id,
            lesson,
            attended=False,
            watched_ms=watched_ms,
            complete=watched_ms >= REPLAY_COMPLETE_RATIO * total,
            now=self._clock.now(),
        )

    async def progress(self, actor: Principal, course_id: UUID) -> dict[str, Any]:
        await self._require_enrolled(actor, course_id)
        lessons = await self.store.lessons(course_id)
        rows: dict[UUID, dict[str, Any]] = {
            r["lesson_id"]: dict(r) for r in await self.store.progress(actor.user_id, course_id)
        }
        done = [lid for lid, r in rows.items() if r["completed_at"] is not None]
        return {
            "course_id": course_id,
            "total": len(lessons),
            "completed": len(done),
            "lessons": [
                {
                    "lesson_id": lesson["id"],
                    "completed": lesson["id"] in done,
                    "attended_live": bool(rows.get(lesson["id"], {}).get("attended_live", False)),
                    "watched_ms": int(rows.get(lesson["id"], {}).get("watched_ms", 0)),
                }
                for lesson in lessons
            ],
        }

    # --- ratings and favourites ------------------------------------------------------------------

    async def rate(
        self, actor: Principal, course_id: UUID, stars: int, comment: str
    ) -> asyncpg.Record:
        """One rating per enrolled resident, which they may change."""
        await self._course(course_id)
        await self._require_enrolled(actor, course_id)
        if not 1 <= stars <= 5:
            raise InvalidInput("stars are 1–5", code="bad_stars")
        await self._limiter.hit_or_raise(RATING_LIMIT, "course-rating", str(actor.user_id))
        return await self.store.rate(course_id, actor.user_id, stars, comment, self._clock.now())

    async def ratings(self, actor: Principal, course_id: UUID) -> list[asyncpg.Record]:
        await self.readable(actor, course_id)
        return await self.store.ratings(course_id)

    async def favourite(self, actor: Principal, course_id: UUID, on: bool) -> None:
        await self.readable(actor, course_id)
        await self.store.favourite(actor.user_id, course_id, on, self._clock.now())

    async def favourites(self, actor: Principal) -> list[asyncpg.Record]:
        return await self.store.favourites(actor.user_id)


def _full(course: asyncpg.Record) -> bool:
    return course["capacity"] is not None and course["enrolled_count"] >= course["capacity"]
