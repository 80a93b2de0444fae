"""SQL of the notification centre: notifications, their SMS/e-mail deliveries, announcements."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from lago_core.ledger.store import Conn

__all__ = ["NOTIFICATION_COLUMNS", "NotificationStore"]

NOTIFICATION_COLUMNS = "id, user_id, kind, title, body, data, created_at, read_at"
_ANNOUNCEMENT_COLUMNS = """id, author_id, title, body, audience, community_id, role, status,
    recipients, created_at, finished_at"""
# Which users an announcement reaches, by audience; every query yields distinct active user ids
# greater than $1 in id order (the fan-out's keyset), at most $2, with the audience's value in $3.
_AUDIENCE_SQL: dict[str, str] = {
    "all": "SELECT id FROM users WHERE status = 'active' AND id > $1 AND $3::text IS NULL",
    "community": """SELECT m.user_id FROM community_members m JOIN users u ON u.id = m.user_id
        WHERE m.community_id = $3::uuid AND m.status = 'verified' AND u.status = 'active'
          AND m.user_id > $1""",
    "resident": """SELECT DISTINCT m.user_id FROM community_members m JOIN users u ON u.id = m.user_id
        WHERE m.status = 'verified' AND u.status = 'active' AND m.user_id > $1
          AND $3::text IS NULL""",
    "merchant": """SELECT DISTINCT m.user_id FROM merchant_members m JOIN users u ON u.id = m.user_id
        WHERE u.status = 'active' AND m.user_id > $1 AND $3::text IS NULL""",
    "property_staff": """SELECT DISTINCT s.user_id FROM property_staff s
        JOIN users u ON u.id = s.user_id
        WHERE u.status = 'active' AND s.user_id > $1 AND $3::text IS NULL""",
    "platform_role": """SELECT id FROM users
        WHERE status = 'active' AND platform_role = $3::text AND id > $1""",
}
_NIL = UUID(int=0)


def _lock_key(notification_id: UUID) -> int:
    """A signed 64-bit advisory-lock key for a notification (collisions only make a job wait)."""
    return (notification_id.int & ((1 << 63) - 1)) - (1 << 62)


class NotificationStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    # --- writing notifications -----------------------------------------------------------------

    async def insert(
        self,
        conn: Conn,
        user_ids: Sequence[UUID],
        kind: str,
        key: str,
        title: str,
        body: str,
        data: dict[str, Any],
        now: datetime,
        *,
        hold: bool,
    ) -> list[asyncpg.Record]:
        """One row per user not yet told under ``key``; the rows inserted (none on a retry).

        With ``hold``, each new row's advisory lock is held until the caller's transaction ends: the delivery
        job takes the same lock first, so a job that starts before the commit waits for it
        instead of finding nothing (:meth:`wait_for_writer`)."""
        if not user_ids:
            return []
        rows = await conn.fetch(
            f"""INSERT INTO notifications (id, user_id, kind, dedupe_key, title, body, data,
                                           created_at)
                SELECT u.id_new, u.user_id, $3, $4, $5, $6, $7::jsonb, $8
                  FROM unnest($1::uuid[], $2::uuid[]) AS u (id_new, user_id)
                ON CONFLICT (user_id, dedupe_key) DO NOTHING
                RETURNING {NOTIFICATION_COLUMNS}""",
            [uuid4() for _ in user_ids],
            list(user_ids),
            kind,
            key,
            title,
            body,
            data,
            now,
        )
        if hold:
            for row in rows:
                await conn.execute("SELECT pg_advisory_xact_lock($1)", _lock_key(row["id"]))
        return rows

    async def add_deliveries(
        self, conn: Conn, deliveries: Sequence[tuple[UUID, str, str]], now: datetime
    ) -> None:
        """(notification id, channel, address) rows, due at once."""
        if deliveries:
            await conn.executemany(
                """INSERT INTO notification_deliveries
                       (notification_id, channel, address, next_attempt_at)
                   VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING""",
                [(n, c, a, now) for n, c, a in deliveries],
            )

    async def wait_for_writer(self, notification_id: UUID) -> None:
        """Wait until the transaction that inserted the notification (if any still runs) ended."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SET LOCAL lock_timeout = '30s'")
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _lock_key(notification_id))

    # --- reading -------------------------------------------------------------------------------

    async def get(self, notification_id: UUID) -> asyncpg.Record | None:
        return await self.pool.fetchrow(
            f"SELECT {NOTIFICATION_COLUMNS}, pushed_at FROM notifications WHERE id = $1",
            notification_id,
        )

    async def page(
        self, user_id: UUID, before: tuple[datetime, UUID] | None, limit: int
    ) -> list[asyncpg.Record]:
        """Newest first, strictly older than ``before`` (created_at, id)."""
        if before is None:
            return await self.pool.fetch(
                f"""SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE user_id = $1
                    ORDER BY created_at DESC, id DESC LIMIT $2""",
                user_id,
                limit,
            )
        return await self.pool.fetch(
            f"""SELECT {NOTIFICATION_COLUMNS} FROM notifications
                WHERE user_id = $1 AND (created_at, id) < ($2, $3)
                ORDER BY created_at DESC, id DESC LIMIT $4""",
            user_id,
            before[0],
            before[1],
            limit,
        )

    async def unread_count(self, user_id: UUID) -> int:
        count: int = await self.pool.fetchval(
            "SELECT count(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL", user_id
        )
        return count

    async def unread_counts(self, user_ids: Sequence[UUID]) -> dict[UUID, int]:
        rows = await self.pool.fetch(
            """SELECT user_id, count(*) AS n FROM notifications
               WHERE user_id = ANY($1::uuid[]) AND read_at IS NULL GROUP BY user_id""",
            list(user_ids),
        )
        return {r["user_id"]: r["n"] for r in rows}

    # --- reading state -------------------------------------------------------------------------

    async def mark_read(self, user_id: UUID, notification_id: UUID, now: datetime) -> bool | None:
        """True when it was unread, False when already read, None when not the user's."""
        row = await self.pool.fetchrow(
            """WITH target AS (SELECT id, read_at FROM notifications WHERE id = $1 AND user_id = $2),
                    changed AS (UPDATE notifications n SET read_at = $3 FROM target
                                 WHERE n.id = target.id AND target.read_at IS NULL RETURNING n.id)
               SELECT (SELECT count(*) FROM target) AS found, (SELECT count(*) FROM changed) AS n""",
            notification_id,
            user_id,
            now,
        )
        assert row is not None
        if row["found"] == 0:
            return None
        return bool(row["n"])

    async def mark_all_read(self, user_id: UUID, now: datetime) -> int:
        result: str = await self.pool.execute(
            "UPDATE notifications SET read_at = $2 WHERE user_id = $1 AND read_at IS NULL",
            user_id,
            now,
        )
        return int(result.split()[-1])

    # --- live push -----------------------------------------------------------------------------

    async def claim_pushes(self, ids: Sequence[UUID], now: datetime) -> list[asyncpg.Record]:
        """The notifications among ``ids`` not pushed yet, now marked pushed (at most once)."""
        return await self.pool.fetch(
            f"""UPDATE notifications SET pushed_at = $2
                WHERE id = ANY($1::uuid[]) AND pushed_at IS NULL
                RETURNING {NOTIFICATION_COLUMNS}""",
            list(ids),
            now,
        )

    async def unpushed(self, older_than: datetime, limit: int) -> list[UUID]:
        rows = await self.pool.fetch(
            """SELECT id FROM notifications WHERE pushed_at IS NULL AND created_at <= $1
               ORDER BY created_at LIMIT $2""",
            older_than,
            limit,
        )
        return [r["id"] for r in rows]

    # --- deliveries ----------------------------------------------------------------------------

    async def claim_delivery(
        self, notification_id: UUID, channel: str, now: datetime, lease_until: datetime
    ) -> asyncpg.Record | None:
        """Take a due attempt: one worker at a time sends it, another finds it leased."""
        return await self.pool.fetchrow(
            """UPDATE notification_deliveries SET attempts = attempts + 1,
                      next_attempt_at = $4
               WHERE notification_id = $1 AND channel = $2 AND status = 'pending'
                 AND next_attempt_at <= $3
               RETURNING notification_id, channel, address, attempts""",
            notification_id,
            channel,
            now,
            lease_until,
        )

    async def deliveries_of(self, notification_id: UUID) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            """SELECT notification_id, channel, address, status, attempts, next_attempt_at,
                      last_error, sent_at
               FROM notification_deliveries WHERE notification_id = $1 ORDER BY channel""",
            notification_id,
        )

    async def delivery_sent(self, notification_id: UUID, channel: str, now: datetime) -> None:
        await self.pool.execute(
            """UPDATE notification_deliveries SET status = 'sent', sent_at = $3, last_error = NULL
               WHERE notification_id = $1 AND channel = $2""",
            notification_id,
            channel,
            now,
        )

    async def delivery_failed(
        self, notification_id: UUID, channel: str, error: str, retry_at: datetime | None
    ) -> None:
        """Another attempt at ``retry_at``, or given up (``failed``) when None."""
        await self.pool.execute(
            """UPDATE notification_deliveries
               SET status = CASE WHEN $4::timestamptz IS NULL THEN 'failed' ELSE 'pending' END,
                   next_attempt_at = COALESCE($4, next_attempt_at), last_error = $3
               WHERE notification_id = $1 AND channel = $2""",
            notification_id,
            channel,
            error[:500],
            retry_at,
        )

    async def due_deliveries(self, now: datetime, limit: int) -> list[UUID]:
        rows = await self.pool.fetch(
            """SELECT DISTINCT notification_id FROM (
                   SELECT notification_id FROM notification_deliveries
                   WHERE status = 'pending' AND next_attempt_at <= $1
                   ORDER BY next_attempt_at LIMIT $2) due""",
            now,
            limit,
        )
        return [r["notification_id"] for r in rows]

    # --- people --------------------------------------------------------------------------------

    async def phones(self, conn: Conn, user_ids: Sequence[UUID]) -> dict[UUID, str]:
        rows = await conn.fetch(
            "SELECT id, phone FROM users WHERE id = ANY($1::uuid[])", list(user_ids)
        )
        return {r["id"]: r["phone"] for r in rows}

    async def merchant_members(
        self, conn: Conn | asyncpg.Pool, merchant_id: UUID
    ) -> list[asyncpg.Record]:
        """Owner first, then staff."""
        return await conn.fetch(
            """SELECT user_id, role FROM merchant_members WHERE merchant_id = $1
               ORDER BY role = 'owner' DESC, user_id""",
            merchant_id,
        )

    async def merchant_contact(
        self, conn: Conn | asyncpg.Pool, merchant_id: UUID
    ) -> asyncpg.Record | None:
        return await conn.fetchrow(
            "SELECT name, contact_phone, contact_email FROM merchants WHERE id = $1", merchant_id
        )

    # --- announcements -------------------------------------------------------------------------

    async def insert_announcement(self, values: dict[str, Any]) -> asyncpg.Record:
        names = list(values)
        row = await self.pool.fetchrow(
            f"""INSERT INTO announcements ({", ".join(names)})
                VALUES ({", ".join(f"${i}" for i in range(1, len(names) + 1))})
                RETURNING {_ANNOUNCEMENT_COLUMNS}""",
            *values.values(),
        )
        assert row is not None
        return row

    async def announcement(self, conn: Conn, announcement_id: UUID) -> asyncpg.Record | None:
        return await conn.fetchrow(
            f"SELECT {_ANNOUNCEMENT_COLUMNS}, last_user_id FROM announcements WHERE id = $1",
            announcement_id,
        )

    async def lock_announcement(self, conn: Conn, announcement_id: UUID) -> asyncpg.Record | None:
        return await conn.fetchrow(
            f"""SELECT {_ANNOUNCEMENT_COLUMNS}, last_user_id FROM announcements
                WHERE id = $1 FOR UPDATE""",
            announcement_id,
        )

    async def audience_batch(
        self, conn: Conn, query: str, after: UUID | None, value: str | None, limit: int
    ) -> list[UUID]:
        rows = await conn.fetch(
            f"SELECT * FROM ({_AUDIENCE_SQL[query]}) a ORDER BY 1 LIMIT $2",
            after or _NIL,
            limit,
            value,
        )
        return [r[0] for r in rows]

    async def announcement_progress(
        self,
        conn: Conn,
        announcement_id: UUID,
        last_user_id: UUID | None,
        added: int,
        finished_at: datetime | None,
    ) -> None:
        await conn.execute(
            """UPDATE announcements SET last_user_id = COALESCE($2, last_user_id),
                      recipients = recipients + $3,
                      status = CASE WHEN $4::timestamptz IS NULL THEN status ELSE 'sent' END,
                      finished_at = $4
               WHERE id = $1""",
            announcement_id,
            last_user_id,
            added,
            finished_at,
        )

    async def announcements(
        self, before: tuple[datetime, UUID] | None, limit: int
    ) -> list[asyncpg.Record]:
        if before is None:
            return await self.pool.fetch(
                f"""SELECT {_ANNOUNCEMENT_COLUMNS} FROM announcements
                    ORDER BY created_at DESC, id DESC LIMIT $1""",
                limit,
            )
        return await self.pool.fetch(
            f"""SELECT {_ANNOUNCEMENT_COLUMNS} FROM announcements
                WHERE (created_at, id) < ($1, $2) ORDER BY created_at DESC, id DESC LIMIT $3""",
            before[0],
            before[1],
            limit,
        )

    async def sending_announcements(self, older_than: datetime) -> list[UUID]:
        rows = await self.pool.fetch(
            "SELECT id FROM announcements WHERE status = 'sending' AND created_at <= $1",
            older_than,
        )
        return [r["id"] for r in rows]

    async def community_exists(self, community_id: UUID) -> bool:
        found: bool = await self.pool.fetchval(
            "SELECT EXISTS (SELECT 1 FROM communities WHERE id = $1)", community_id
        )
        return found
