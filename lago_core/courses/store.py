"""SQL of courses. Functions that take ``conn`` run inside the caller's transaction.

Lock order, the same on every path: the enrolment row, then the course row.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from lago_core.ledger.store import Conn

__all__ = ["CourseStore"]

# What a course shows with its average rating computed once, here.
_COURSE = (
    "c.*, CASE WHEN c.rating_count > 0 "
    "THEN round(c.rating_sum::numeric / c.rating_count, 1)::float8 END AS rating_average"
)


class CourseStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    # --- courses ---------------------------------------------------------------------------------

    async def insert_course(self, fields: dict[str, Any]) -> asyncpg.Record:
        columns = list(fields)
        await self.pool.execute(
            f"INSERT INTO courses ({', '.join(columns)}) "
            f"VALUES ({', '.join(f'${i + 1}' for i in range(len(columns)))})",
            *fields.values(),
        )
        row = await self.course(fields["id"])
        assert row is not None
        return row

    async def update_course(
        self, course_id: UUID, changes: dict[str, Any], now: datetime
    ) -> asyncpg.Record:
        sets = ", ".join(f"{k} = ${i + 2}" for i, k in enumerate(changes))
        await self.pool.execute(
            f"UPDATE courses SET {sets}, updated_at = ${len(changes) + 2} WHERE id = $1",
            course_id,
            *changes.values(),
            now,
        )
        row = await self.course(course_id)
        assert row is not None
        return row

    async def course(self, course_id: UUID, conn: Conn | None = None) -> asyncpg.Record | None:
        return await (conn or self.pool).fetchrow(
            f"SELECT {_COURSE} FROM courses c WHERE c.id = $1", course_id
        )

    async def lock_course(self, conn: Conn, course_id: UUID) -> asyncpg.Record | None:
        return await conn.fetchrow("SELECT * FROM courses WHERE id = $1 FOR UPDATE", course_id)

    async def published(
        self, category: str | None, after: tuple[datetime, UUID] | None, limit: int
    ) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            f"SELECT {_COURSE} FROM courses c WHERE c.status = 'published' "
            "AND ($1::text IS NULL OR c.category = $1) "
            "AND ($2::timestamptz IS NULL OR (c.created_at, c.id) < ($2, $3)) "
            "ORDER BY c.created_at DESC, c.id DESC LIMIT $4",
            category,
            after[0] if after else None,
            after[1] if after else None,
            limit,
        )

    async def of_merchant(self, merchant_id: UUID) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            f"SELECT {_COURSE} FROM courses c WHERE c.merchant_id = $1 "
            "ORDER BY c.created_at DESC, c.id DESC LIMIT 200",
            merchant_id,
        )

    async def of_platform(self) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            f"SELECT {_COURSE} FROM courses c WHERE c.owner_kind = 'platform' "
            "ORDER BY c.created_at DESC, c.id DESC LIMIT 200"
        )

    # --- lessons ---------------------------------------------------------------------------------

    async def insert_lesson(self, fields: dict[str, Any]) -> asyncpg.Record:
        columns = list(fields)
        row = await self.pool.fetchrow(
            f"INSERT INTO course_lessons ({', '.join(columns)}) "
            f"VALUES ({', '.join(f'${i + 1}' for i in range(len(columns)))}) RETURNING *",
            *fields.values(),
        )
        assert row is not None
        return row

    async def update_lesson(
        self, lesson_id: UUID, changes: dict[str, Any]
    ) -> asyncpg.Record | None:
        sets = ", ".join(f"{k} = ${i + 2}" for i, k in enumerate(changes))
        return await self.pool.fetchrow(
            f"UPDATE course_lessons SET {sets} WHERE id = $1 AND live_status = 'scheduled' "
            "RETURNING *",
            lesson_id,
            *changes.values(),
        )

    async def lesson(self, lesson_id: UUID) -> asyncpg.Record | None:
        return await self.pool.fetchrow("SELECT * FROM course_lessons WHERE id = $1", lesson_id)

    async def lessons(self, course_id: UUID) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            "SELECT * FROM course_lessons WHERE course_id = $1 ORDER BY starts_at, id LIMIT 500",
            course_id,
        )

    async def count_lessons(self, course_id: UUID) -> int:
        count = await self.pool.fetchval(
            "SELECT count(*) FROM course_lessons WHERE course_id = $1", course_id
        )
        return int(count)

    async def class_begun(self, conn: Conn, course_id: UUID, now: datetime) -> bool:
        """Whether the course's first class has begun (by the schedule or by going live)."""
        return bool(
            await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM course_lessons WHERE course_id = $1 "
                "AND (starts_at <= $2 OR live_status <> 'scheduled'))",
                course_id,
                now,
            )
        )

    async def go_live(
        self, lesson_id: UUID, session_id: str, node: str, host_id: UUID, now: datetime
    ) -> asyncpg.Record | None:
        """Scheduled → live; None when the lesson is live or over already."""
        return await self.pool.fetchrow(
            "UPDATE course_lessons SET live_status = 'live', live_session_id = $2, "
            "live_node = $3, live_host_id = $4, live_started_at = $5 "
            "WHERE id = $1 AND live_status = 'scheduled' RETURNING *",
            lesson_id,
            session_id,
            node,
            host_id,
            now,
        )

    async def end_live(
        self, lesson_id: UUID, session_id: str, now: datetime
    ) -> asyncpg.Record | None:
        return await self.pool.fetchrow(
            "UPDATE course_lessons SET live_status = 'ended', live_ended_at = $3 "
            "WHERE id = $1 AND live_session_id = $2 AND live_status = 'live' RETURNING *",
            lesson_id,
            session_id,
            now,
        )

    async def set_recording(
        self, lesson_id: UUID, key: str, size: int, duration_ms: int, frames: int
    ) -> asyncpg.Record | None:
        return await self.pool.fetchrow(
            "UPDATE course_lessons SET recording_key = $2, recording_bytes = $3, "
            "recording_ms = $4, recording_frames = $5 WHERE id = $1 RETURNING *",
            lesson_id,
            key,
            size,
            duration_ms,
            frames,
        )

    # --- enrolments ------------------------------------------------------------------------------

    async def enrolment(
        self, course_id: UUID, user_id: UUID, conn: Conn | None = None
    ) -> asyncpg.Record | None:
        return await (conn or self.pool).fetchrow(
            "SELECT * FROM course_enrolments WHERE course_id = $1 AND user_id = $2",
            course_id,
            user_id,
        )

    async def lock_enrolment(self, conn: Conn, enrolment_id: UUID) -> asyncpg.Record | None:
        return await conn.fetchrow(
            "SELECT * FROM course_enrolments WHERE id = $1 FOR UPDATE", enrolment_id
        )

    async def enrolment_by_id(self, conn: Conn, enrolment_id: UUID) -> asyncpg.Record | None:
        return await conn.fetchrow("SELECT * FROM course_enrolments WHERE id = $1", enrolment_id)

    async def open_enrolment(
        self,
        conn: Conn,
        enrolment_id: UUID,
        course_id: UUID,
        user_id: UUID,
        price: int,
        now: datetime,
    ) -> asyncpg.Record:
        """A pending enrolment for the user, reopening a cancelled or refunded one; an active or
        pending one is returned as it is."""
        row = await conn.fetchrow(
            "INSERT INTO course_enrolments (id, course_id, user_id, status, price_fen, created_at) "
            "VALUES ($1, $2, $3, 'pending_payment', $4, $5) "
            "ON CONFLICT (course_id, user_id) DO UPDATE SET "
            "  status = CASE WHEN course_enrolments.status IN ('cancelled', 'refunded') "
            "    THEN 'pending_payment' ELSE course_enrolments.status END, "
            "  price_fen = CASE WHEN course_enrolments.status IN ('cancelled', 'refunded') "
            "    THEN EXCLUDED.price_fen ELSE course_enrolments.price_fen END, "
            "  payment_id = CASE WHEN course_enrolments.status IN ('cancelled', 'refunded') "
            "    THEN NULL ELSE course_enrolments.payment_id END "
            "RETURNING *",
            enrolment_id,
            course_id,
            user_id,
            price,
            now,
        )
        assert row is not None
        return row

    async def activate(
        self, conn: Conn, enrolment_id: UUID, payment_id: UUID | None, now: datetime
    ) -> asyncpg.Record:
        row = await conn.fetchrow(
            "UPDATE course_enrolments SET status = 'active', payment_id = $2, activated_at = $3, "
            "ended_at = NULL WHERE id = $1 RETURNING *",
            enrolment_id,
            payment_id,
            now,
        )
        assert row is not None
        await conn.execute(
            "UPDATE courses SET enrolled_count = enrolled_count + 1 WHERE id = $1",
            row["course_id"],
        )
        return row

    async def close_enrolment(
        self, conn: Conn, enrolment_id: UUID, status: str, was_active: bool, now: datetime
    ) -> asyncpg.Record:
        row = await conn.fetchrow(
            "UPDATE course_enrolments SET status = $2, ended_at = $3 WHERE id = $1 RETURNING *",
            enrolment_id,
            status,
            now,
        )
        assert row is not None
        if was_active:
            await conn.execute(
                "UPDATE courses SET enrolled_count = enrolled_count - 1 WHERE id = $1",
                row["course_id"],
            )
        return row

    async def active_learners(self, course_id: UUID) -> list[UUID]:
        rows = await self.pool.fetch(
            "SELECT user_id FROM course_enrolments WHERE course_id = $1 AND status = 'active' "
            "ORDER BY created_at LIMIT 10000",
            course_id,
        )
        return [r["user_id"] for r in rows]

    async def enrolments_of_course(self, course_id: UUID) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            "SELECT e.*, u.display_name AS name, "
            "  (SELECT count(*) FROM course_lesson_progress p "
            "   WHERE p.user_id = e.user_id AND p.course_id = e.course_id "
            "     AND p.completed_at IS NOT NULL) AS completed "
            "FROM course_enrolments e JOIN users u ON u.id = e.user_id "
            "WHERE e.course_id = $1 ORDER BY e.created_at, e.id LIMIT 1000",
            course_id,
        )

    async def my_courses(self, user_id: UUID) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            f"SELECT {_COURSE}, e.status AS enrolment_status, e.id AS enrolment_id, "
            "  (SELECT count(*) FROM course_lessons l WHERE l.course_id = c.id) AS lessons, "
            "  (SELECT count(*) FROM course_lesson_progress p WHERE p.user_id = e.user_id "
            "     AND p.course_id = c.id AND p.completed_at IS NOT NULL) AS completed "
            "FROM course_enrolments e JOIN courses c ON c.id = e.course_id "
            "WHERE e.user_id = $1 AND e.status IN ('active', 'pending_payment') "
            "ORDER BY e.created_at DESC LIMIT 200",
            user_id,
        )

    # --- progress --------------------------------------------------------------------------------

    async def record_progress(
        self,
        user_id: UUID,
        lesson: Mapping[str, Any] | asyncpg.Record,
        *,
        attended: bool,
        watched_ms: int,
        complete: bool,
        now: datetime,
    ) -> asyncpg.Record:
        row = await self.pool.fetchrow(
            "INSERT INTO course_lesson_progress AS p "
            "  (user_id, lesson_id, course_id, attended_live, watched_ms, completed_at, updated_at) "
            "VALUES ($1, $2, $3, $4, $5, CASE WHEN $6 THEN $7::timestamptz END, $7) "
            "ON CONFLICT (user_id, lesson_id) DO UPDATE SET "
            "  attended_live = p.attended_live OR EXCLUDED.attended_live, "
            "  watched_ms = GREATEST(p.watched_ms, EXCLUDED.watched_ms), "
            "  completed_at = COALESCE(p.completed_at, EXCLUDED.completed_at), "
            "  updated_at = EXCLUDED.updated_at "
            "RETURNING *",
            user_id,
            lesson["id"],
            lesson["course_id"],
            attended,
            watched_ms,
            complete,
            now,
        )
        assert row is not None
        return row

    async def progress(self, user_id: UUID, course_id: UUID) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            "SELECT * FROM course_lesson_progress WHERE user_id = $1 AND course_id = $2",
            user_id,
            course_id,
        )

    # --- ratings and favourites ------------------------------------------------------------------

    async def rate(
        self, course_id: UUID, user_id: UUID, stars: int, comment: str, now: datetime
    ) -> asyncpg.Record:
        async with self.pool.acquire() as conn, conn.transaction():
            await self.lock_course(conn, course_id)
            before = await conn.fetchval(
                "SELECT stars FROM course_ratings WHERE course_id = $1 AND user_id = $2",
                course_id,
                user_id,
            )
            row = await conn.fetchrow(
                "INSERT INTO course_ratings (course_id, user_id, stars, comment, created_at, "
                "updated_at) VALUES ($1, $2, $3, $4, $5, $5) "
                "ON CONFLICT (course_id, user_id) DO UPDATE SET stars = EXCLUDED.stars, "
                "comment = EXCLUDED.comment, updated_at = EXCLUDED.updated_at RETURNING *",
                course_id,
                user_id,
                stars,
                comment,
                now,
            )
            await conn.execute(
                "UPDATE courses SET rating_count = rating_count + $2, "
                "rating_sum = rating_sum + $3 WHERE id = $1",
                course_id,
                0 if before is not None else 1,
                stars - (before or 0),
            )
            assert row is not None
            return row

    async def ratings(self, course_id: UUID) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            "SELECT r.*, u.display_name AS name FROM course_ratings r "
            "JOIN users u ON u.id = r.user_id WHERE r.course_id = $1 "
            "ORDER BY r.updated_at DESC LIMIT 100",
            course_id,
        )

    async def favourite(self, user_id: UUID, course_id: UUID, on: bool, now: datetime) -> None:
        if on:
            await self.pool.execute(
                "INSERT INTO course_favourites (user_id, course_id, created_at) "
                "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                user_id,
                course_id,
                now,
            )
        else:
            await self.pool.execute(
                "DELETE FROM course_favourites WHERE user_id = $1 AND course_id = $2",
                user_id,
                course_id,
            )

    async def is_favourite(self, user_id: UUID, course_id: UUID) -> bool:
        return bool(
            await self.pool.fetchval(
                "SELECT EXISTS (SELECT 1 FROM course_favourites "
                "WHERE user_id = $1 AND course_id = $2)",
                user_id,
                course_id,
            )
        )

    async def favourites(self, user_id: UUID) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            f"SELECT {_COURSE} FROM course_favourites f JOIN courses c ON c.id = f.course_id "
            "WHERE f.user_id = $1 ORDER BY f.created_at DESC LIMIT 200",
            user_id,
        )
