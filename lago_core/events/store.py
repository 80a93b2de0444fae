"""SQL of weekend events: the events, their registrations (seats and the waiting list), check-ins
and links. Writes that move seats take the caller's connection: the service runs them inside one
transaction under the event's row lock."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from lago_core.ledger.store import Conn

__all__ = ["EventStore"]

_EVENT = """e.id, e.community_id, e.created_by, e.title, e.place, e.programme, e.starts_at,
    e.ends_at, e.signup_opens_at, e.signup_closes_at, e.capacity, e.confirmed_count, e.status,
    e.cancel_reason, e.created_at, e.updated_at,
    (SELECT count(*) FROM event_registrations w
     WHERE w.event_id = e.id AND w.status = 'waitlisted') AS waitlist_count,
    (SELECT count(*) FROM event_registrations c
     WHERE c.event_id = e.id AND c.checked_in_at IS NOT NULL) AS checked_in_count"""

# The queue position of a waiting registration: how many wait ahead of it, plus one.
_POSITION = """CASE WHEN r.status = 'waitlisted' THEN (
        SELECT count(*) + 1 FROM event_registrations q
        WHERE q.event_id = r.event_id AND q.status = 'waitlisted'
          AND (q.priority, -q.seq) > (r.priority, -r.seq)) END AS waitlist_position"""

_REGISTRATION = f"""r.id, r.event_id, r.user_id, r.status, r.seq, r.priority, r.ticket_nonce,
    r.created_at, r.updated_at, r.confirmed_at, r.cancelled_at, r.checked_in_at, r.checked_in_by,
    u.display_name, {_POSITION}"""

_EDITABLE = frozenset(
    {
        "title",
        "place",
        "programme",
        "starts_at",
        "ends_at",
        "signup_opens_at",
        "signup_closes_at",
        "capacity",
    }
)


class EventStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    # --- events ----------------------------------------------------------------------------------

    async def insert(self, fields: dict[str, Any]) -> asyncpg.Record:
        columns = list(fields)
        placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
        await self.pool.execute(
            f"INSERT INTO events ({', '.join(columns)}) VALUES ({placeholders})",
            *fields.values(),
        )
        row = await self.get(fields["id"])
        assert row is not None
        return row

    async def get(self, event_id: UUID, conn: Conn | None = None) -> asyncpg.Record | None:
        return await (conn or self.pool).fetchrow(
            f"SELECT {_EVENT} FROM events e WHERE e.id = $1", event_id
        )

    @staticmethod
    async def lock(conn: Conn, event_id: UUID) -> asyncpg.Record | None:
        """The event, locked until the transaction ends: every move of a seat takes this lock
        first, so sign-ups, cancellations and promotions of one event happen one at a time."""
        return await conn.fetchrow("SELECT * FROM events WHERE id = $1 FOR UPDATE", event_id)

    @staticmethod
    async def update(
        conn: Conn, event_id: UUID, changes: dict[str, Any], now: datetime
    ) -> asyncpg.Record:
        unknown = set(changes) - _EDITABLE - {"status", "cancel_reason"}
        assert not unknown, unknown
        sets = ", ".join(f"{name} = ${i}" for i, name in enumerate(changes, start=2))
        row = await conn.fetchrow(
            f"""UPDATE events SET {sets}, updated_at = ${len(changes) + 2}
                WHERE id = $1 RETURNING *""",
            event_id,
            *changes.values(),
            now,
        )
        assert row is not None
        return row

    async def of_community(
        self, community_id: UUID, statuses: list[str], user_id: UUID, limit: int = 100
    ) -> list[asyncpg.Record]:
        """With ``my_status``: the registration of ``user_id`` in each (null: none)."""
        return await self.pool.fetch(
            f"""SELECT {_EVENT}, m.status AS my_status FROM events e
                LEFT JOIN event_registrations m ON m.event_id = e.id AND m.user_id = $3
                WHERE e.community_id = $1 AND e.status = ANY($2::text[])
                ORDER BY e.starts_at DESC, e.id LIMIT $4""",
            community_id,
            statuses,
            user_id,
            limit,
        )

    async def ended_and_published(self, ended_before: datetime, limit: int = 500) -> list[UUID]:
        """Published events that ended before ``ended_before``, the oldest first (at most
        ``limit``: a job's run; the next run takes the rest)."""
        rows = await self.pool.fetch(
            """SELECT id FROM events WHERE status = 'published' AND ends_at < $1
               ORDER BY ends_at LIMIT $2""",
            ended_before,
            limit,
        )
        return [r["id"] for r in rows]

    @staticmethod
    async def add_confirmed(conn: Conn, event_id: UUID, delta: int) -> None:
        await conn.execute(
            "UPDATE events SET confirmed_count = confirmed_count + $2 WHERE id = $1",
            event_id,
            delta,
        )

    # --- registrations ---------------------------------------------------------------------------

    async def registration(
        self, event_id: UUID, user_id: UUID, conn: Conn | None = None
    ) -> asyncpg.Record | None:
        return await (conn or self.pool).fetchrow(
            f"""SELECT {_REGISTRATION} FROM event_registrations r JOIN users u ON u.id = r.user_id
                WHERE r.event_id = $1 AND r.user_id = $2""",
            event_id,
            user_id,
        )

    async def registration_by_id(
        self, registration_id: UUID, conn: Conn | None = None
    ) -> asyncpg.Record | None:
        return await (conn or self.pool).fetchrow(
            f"""SELECT {_REGISTRATION} FROM event_registrations r JOIN users u ON u.id = r.user_id
                WHERE r.id = $1""",
            registration_id,
        )

    async def registrations(self, event_id: UUID) -> list[asyncpg.Record]:
        """Confirmed first (in the order they got their seat), then the queue, then cancelled."""
        return await self.pool.fetch(
            f"""SELECT {_REGISTRATION} FROM event_registrations r JOIN users u ON u.id = r.user_id
                WHERE r.event_id = $1
                ORDER BY CASE r.status WHEN 'confirmed' THEN 0 WHEN 'waitlisted' THEN 1 ELSE 2 END,
                         r.priority DESC, r.seq""",
            event_id,
        )

    @staticmethod
    async def register(
        conn: Conn,
        *,
        registration_id: UUID,
        event_id: UUID,
        user_id: UUID,
        status: str,
        priority: bool,
        entitlement_id: UUID | None,
        nonce: str,
        now: datetime,
    ) -> UUID:
        """A new registration, or a cancelled one taken up again (at the back of the queue, with
        a new nonce); returns its id."""
        return await conn.fetchval(  # type: ignore[no-any-return]
            """
            INSERT INTO event_registrations AS r (id, event_id, user_id, status, seq, priority,
                entitlement_id, ticket_nonce, created_at, updated_at, confirmed_at)
            VALUES ($1, $2, $3, $4, nextval('event_registration_seq'), $5, $6, $7, $8, $8,
                    CASE WHEN $4 = 'confirmed' THEN $8::timestamptz END)
            ON CONFLICT (event_id, user_id) DO UPDATE SET
                status = EXCLUDED.status, seq = EXCLUDED.seq, priority = EXCLUDED.priority,
                entitlement_id = EXCLUDED.entitlement_id, ticket_nonce = EXCLUDED.ticket_nonce,
                updated_at = EXCLUDED.updated_at, confirmed_at = EXCLUDED.confirmed_at,
                cancelled_at = NULL, cancelled_by = NULL
            WHERE r.status = 'cancelled'
            RETURNING r.id
            """,
            registration_id,
            event_id,
            user_id,
            status,
            priority,
            entitlement_id,
            nonce,
            now,
        )

    @staticmethod
    async def cancel_registration(
        conn: Conn, registration_id: UUID, by: UUID, now: datetime
    ) -> asyncpg.Record | None:
        """Cancel a registration not checked in; None when it is not (any longer) active."""
        return await conn.fetchrow(
            """UPDATE event_registrations AS r SET status = 'cancelled', cancelled_at = $3,
                   cancelled_by = $2, updated_at = $3
               FROM event_registrations old
               WHERE r.id = $1 AND old.id = r.id AND r.status IN ('confirmed', 'waitlisted')
                 AND r.checked_in_at IS NULL
               RETURNING r.*, old.status AS old_status""",
            registration_id,
            by,
            now,
        )

    @staticmethod
    async def promote_next(conn: Conn, event_id: UUID, now: datetime) -> asyncpg.Record | None:
        """Give the free seat to the head of the queue (privileged first, then by arrival)."""
        return await conn.fetchrow(
            """UPDATE event_registrations SET status = 'confirmed', confirmed_at = $2,
                   updated_at = $2
               WHERE id = (SELECT id FROM event_registrations
                           WHERE event_id = $1 AND status = 'waitlisted'
                           ORDER BY priority DESC, seq LIMIT 1)
               RETURNING *""",
            event_id,
            now,
        )

    @staticmethod
    async def active_user_ids(conn: Conn, event_id: UUID) -> list[UUID]:
        rows = await conn.fetch(
            """SELECT user_id FROM event_registrations
               WHERE event_id = $1 AND status IN ('confirmed', 'waitlisted')""",
            event_id,
        )
        return [r["user_id"] for r in rows]

    @staticmethod
    async def check_in(
        conn: Conn, registration_id: UUID, nonce: str, by: UUID, now: datetime
    ) -> asyncpg.Record | None:
        """Mark a confirmed registration checked in, once; None when it is not confirmed with
        this nonce or was checked in already."""
        return await conn.fetchrow(
            """UPDATE event_registrations SET checked_in_at = $4, checked_in_by = $3,
                   updated_at = $4
               WHERE id = $1 AND ticket_nonce = $2 AND status = 'confirmed'
                 AND checked_in_at IS NULL
               RETURNING *""",
            registration_id,
            nonce,
            by,
            now,
        )

    async def display_name(self, user_id: UUID) -> str | None:
        return await self.pool.fetchval(  # type: ignore[no-any-return]
            "SELECT display_name FROM users WHERE id = $1", user_id
        )

    # --- points privileges (points_entitlements, docs/points.md) ---------------------------------

    @staticmethod
    async def take_privilege(conn: Conn, user_id: UUID, now: datetime) -> UUID | None:
        """Consume the resident's oldest unused privilege; None when they hold none."""
        return await conn.fetchval(  # type: ignore[no-any-return]
            """UPDATE points_entitlements SET used_at = $2
               WHERE id = (SELECT id FROM points_entitlements
                           WHERE user_id = $1 AND used_at IS NULL
                           ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
               RETURNING id""",
            user_id,
            now,
        )

    @staticmethod
    async def forget_privilege(conn: Conn, registration_id: UUID) -> UUID | None:
        """Detach the privilege of a registration (to give it back); its id, if it had one."""
        return await conn.fetchval(  # type: ignore[no-any-return]
            """UPDATE event_registrations r SET entitlement_id = NULL FROM event_registrations old
               WHERE old.id = r.id AND r.id = $1 RETURNING old.entitlement_id""",
            registration_id,
        )

    @staticmethod
    async def give_back_privileges(conn: Conn, entitlement_ids: list[UUID]) -> None:
        """A privilege spent on a place that never became a seat is the resident's again."""
        if entitlement_ids:
            await conn.execute(
                "UPDATE points_entitlements SET used_at = NULL WHERE id = ANY($1::uuid[])",
                entitlement_ids,
            )

    @staticmethod
    async def release_privileges(conn: Conn, event_id: UUID, *, waiting_only: bool) -> int:
        """Give back the privileges spent on this event's registrations: of everyone still
        waiting (the event is over), or of everyone (it is cancelled). Returns how many."""
        rows = await conn.fetch(
            """UPDATE event_registrations r SET entitlement_id = NULL
               FROM event_registrations old
               WHERE old.id = r.id AND r.event_id = $1 AND r.entitlement_id IS NOT NULL
                 AND (NOT $2 OR r.status = 'waitlisted')
               RETURNING old.entitlement_id""",
            event_id,
            waiting_only,
        )
        await EventStore.give_back_privileges(conn, [r["entitlement_id"] for r in rows])
        return len(rows)

    async def unused_privileges(self, user_id: UUID) -> int:
        return int(
            await self.pool.fetchval(
                """SELECT count(*) FROM points_entitlements
                   WHERE user_id = $1 AND used_at IS NULL""",
                user_id,
            )
        )

    # --- links -----------------------------------------------------------------------------------

    @staticmethod
    async def link_target_community(conn: Conn, kind: str, target_id: UUID) -> UUID | None:
        table = {"live": "live_announcements", "draw": "lottery_draws", "group_buy": "group_buys"}
        return await conn.fetchval(  # type: ignore[no-any-return]
            f"SELECT community_id FROM {table[kind]} WHERE id = $1", target_id
        )

    async def add_link(
        self, event_id: UUID, kind: str, target_id: UUID, by: UUID, now: datetime
    ) -> bool:
        row = await self.pool.fetchrow(
            """INSERT INTO event_links (event_id, kind, target_id, created_by, created_at)
               VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING 1""",
            event_id,
            kind,
            target_id,
            by,
            now,
        )
        return row is not None

    async def remove_link(self, event_id: UUID, kind: str, target_id: UUID) -> bool:
        row = await self.pool.fetchrow(
            """DELETE FROM event_links WHERE event_id = $1 AND kind = $2 AND target_id = $3
               RETURNING 1""",
            event_id,
            kind,
            target_id,
        )
        return row is not None

    async def links(self, event_id: UUID) -> list[asyncpg.Record]:
        """Each link with what a page shows of its target (a deleted target shows no title)."""
        return await self.pool.fetch(
            """
            SELECT l.kind, l.target_id, l.created_at,
                   COALESCE(a.title, d.prize, c.title) AS title,
                   COALESCE(a.starts_at, d.draw_at, g.expires_at) AS at,
                   CASE WHEN a.id IS NOT NULL THEN
                            CASE WHEN a.cancelled_at IS NULL THEN 'scheduled' ELSE 'cancelled' END
                        WHEN d.id IS NOT NULL THEN
                            CASE WHEN r.draw_id IS NULL THEN 'open' ELSE 'drawn' END
                        ELSE g.status END AS status
            FROM event_links l
            LEFT JOIN live_announcements a ON l.kind = 'live' AND a.id = l.target_id
            LEFT JOIN lottery_draws d ON l.kind = 'draw' AND d.id = l.target_id
            LEFT JOIN lottery_results r ON r.draw_id = d.id
            LEFT JOIN group_buys g ON l.kind = 'group_buy' AND g.id = l.target_id
            LEFT JOIN group_buy_campaigns c ON c.id = g.campaign_id
            WHERE l.event_id = $1
            ORDER BY l.kind, l.created_at
            """,
            event_id,
        )
