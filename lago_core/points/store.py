"""SQL of points: accounts, the journal, daily caps, lots and their draws, notices, invitations,
the catalogue and redemptions (sql/022_points.sql)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

import asyncpg

from lago_core.ledger.store import Conn

__all__ = ["PointsStore"]

_ENTRY = (
    "id, user_id, kind, rule, delta, requested, source_key, note, local_day, created_at, expires_at"
)
_PRODUCT = (
    "id, kind, name, description, points_cost, stock, pickup, coupon_template_id, status, "
    "created_at, updated_at"
)
_REDEMPTION = (
    "id, user_id, product_id, kind, name, points, status, coupon_id, pickup, pickup_code,"
    " created_at, picked_up_at"
)


class PointsStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    # --- accounts --------------------------------------------------------------------------------

    @staticmethod
    async def lock_account(conn: Conn, user_id: UUID, now: datetime) -> asyncpg.Record:
        """The user's account, opened on first use, locked until the transaction ends."""
        await conn.execute(
            """INSERT INTO points_accounts (user_id, updated_at) VALUES ($1, $2)
               ON CONFLICT (user_id) DO NOTHING""",
            user_id,
            now,
        )
        row = await conn.fetchrow(
            "SELECT * FROM points_accounts WHERE user_id = $1 FOR UPDATE", user_id
        )
        assert row is not None
        return row

    async def account(self, user_id: UUID) -> asyncpg.Record | None:
        return await self.pool.fetchrow("SELECT * FROM points_accounts WHERE user_id = $1", user_id)

    @staticmethod
    async def move_balance(
        conn: Conn, user_id: UUID, column: str, amount: int, now: datetime
    ) -> None:
        """Add ``amount`` to the total ``column`` and move the balance with it (the CHECK in
        the table keeps balance = earned - spent - expired - taken back)."""
        assert column in ("earned_total", "spent_total", "expired_total", "taken_back_total")
        sign = "+" if column == "earned_total" else "-"
        await conn.execute(
            f"""UPDATE points_accounts
                SET {column} = {column} + $2, balance = balance {sign} $2, updated_at = $3
                WHERE user_id = $1""",
            user_id,
            amount,
            now,
        )

    @staticmethod
    async def set_streak(conn: Conn, user_id: UUID, day: date, streak: int, now: datetime) -> None:
        await conn.execute(
            """UPDATE points_accounts SET last_check_in = $2, streak_days = $3, updated_at = $4
               WHERE user_id = $1""",
            user_id,
            day,
            streak,
            now,
        )

    # --- the journal -----------------------------------------------------------------------------

    @staticmethod
    async def entry_by_source(conn: Conn, source_key: str) -> asyncpg.Record | None:
        return await conn.fetchrow(
            f"SELECT {_ENTRY} FROM points_journal WHERE source_key = $1", source_key
        )

    @staticmethod
    async def insert_entry(conn: Conn, fields: dict[str, Any]) -> asyncpg.Record | None:
        """The new entry; None when its source key was used already."""
        columns = list(fields)
        placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
        return await conn.fetchrow(
            f"""INSERT INTO points_journal ({", ".join(columns)}) VALUES ({placeholders})
                ON CONFLICT (source_key) DO NOTHING RETURNING {_ENTRY}""",
            *fields.values(),
        )

    async def history(
        self, user_id: UUID, before: datetime | None, limit: int
    ) -> list[asyncpg.Record]:
        """Entries newest first. A page never splits entries of one instant (a check-in and its
        bonus): the last instant of a page is returned whole, so ``before`` = its time is exact."""
        rows = await self.pool.fetch(
            f"""SELECT {_ENTRY} FROM points_journal
                WHERE user_id = $1 AND ($2::timestamptz IS NULL OR created_at < $2)
                ORDER BY created_at DESC, n DESC LIMIT $3""",
            user_id,
            before,
            limit,
        )
        if len(rows) < limit:
            return list(rows)
        last = rows[-1]["created_at"]
        rest = await self.pool.fetch(
            f"""SELECT {_ENTRY} FROM points_journal WHERE user_id = $1 AND created_at = $2
                ORDER BY n DESC""",
            user_id,
            last,
        )
        seen = {row["id"] for row in rows}
        return [*rows, *(row for row in rest if row["id"] not in seen)]

    async def earned_on(self, user_id: UUID, day: date) -> dict[str, int]:
        rows = await self.pool.fetch(
            "SELECT rule, earned FROM points_daily WHERE user_id = $1 AND local_day = $2",
            user_id,
            day,
        )
        return {row["rule"]: row["earned"] for row in rows}

    # --- daily caps ------------------------------------------------------------------------------

    @staticmethod
    async def take_from_cap(
        conn: Conn, user_id: UUID, rule: str, day: date, wanted: int, cap: int
    ) -> int:
        """Count up to ``wanted`` points against the day's cap; how many fitted. The caller holds
        the account's lock, so the read and the update see no concurrent earning."""
        earned = await conn.fetchval(
            """INSERT INTO points_daily (user_id, rule, local_day, earned, cap)
               VALUES ($1, $2, $3, 0, $4)
               ON CONFLICT (user_id, rule, local_day) DO UPDATE SET cap = EXCLUDED.cap
               RETURNING earned""",
            user_id,
            rule,
            day,
            cap,
        )
        granted = max(0, min(wanted, cap - int(earned)))
        if granted:
            await conn.execute(
                """UPDATE points_daily SET earned = earned + $4
                   WHERE user_id = $1 AND rule = $2 AND local_day = $3""",
                user_id,
                rule,
                day,
                granted,
            )
        return granted

    # --- lots ------------------------------------------------------------------------------------

    @staticmethod
    async def insert_lot(
        conn: Conn,
        lot_id: UUID,
        user_id: UUID,
        entry_id: UUID,
        amount: int,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        await conn.execute(
            """INSERT INTO points_lots (id, user_id, entry_id, amount, remaining, earned_at,
                                        expires_at)
               VALUES ($1, $2, $3, $4, $4, $5, $6)""",
            lot_id,
            user_id,
            entry_id,
            amount,
            now,
            expires_at,
        )

    @staticmethod
    async def lot_of_entry(conn: Conn, entry_id: UUID) -> asyncpg.Record | None:
        return await conn.fetchrow(
            "SELECT * FROM points_lots WHERE entry_id = $1 FOR UPDATE", entry_id
        )

    @staticmethod
    async def live_lots(conn: Conn, user_id: UUID, now: datetime) -> list[asyncpg.Record]:
        """The user's lots with points left that have not expired, in the order they are spent:
        soonest expiry first (which is oldest first, every lot living one year)."""
        return list(
            await conn.fetch(
                """SELECT * FROM points_lots
                   WHERE user_id = $1 AND remaining > 0 AND expires_at > $2
                   ORDER BY expires_at, earned_at, id FOR UPDATE""",
                user_id,
                now,
            )
        )

    @staticmethod
    async def due_lots(conn: Conn, user_id: UUID, now: datetime) -> list[asyncpg.Record]:
        return list(
            await conn.fetch(
                """SELECT * FROM points_lots
                   WHERE user_id = $1 AND remaining > 0 AND expires_at <= $2
                   ORDER BY expires_at, id FOR UPDATE""",
                user_id,
                now,
            )
        )

    async def users_with_due_lots(self, now: datetime, limit: int) -> list[UUID]:
        rows = await self.pool.fetch(
            """SELECT DISTINCT user_id FROM (
                   SELECT user_id FROM points_lots WHERE remaining > 0 AND expires_at <= $1
                   ORDER BY expires_at LIMIT $2) due""",
            now,
            limit,
        )
        return [row["user_id"] for row in rows]

    @staticmethod
    async def draw(
        conn: Conn, entry_id: UUID, lot_id: UUID, amount: int, expired_at: datetime | None
    ) -> None:
        await conn.execute(
            """UPDATE points_lots SET remaining = remaining - $2,
                      expired_at = COALESCE($3, expired_at)
               WHERE id = $1""",
            lot_id,
            amount,
            expired_at,
        )
        await conn.execute(
            "INSERT INTO points_draws (entry_id, lot_id, amount) VALUES ($1, $2, $3)",
            entry_id,
            lot_id,
            amount,
        )

    async def expiring(self, user_id: UUID, now: datetime, until: datetime) -> asyncpg.Record:
        row = await self.pool.fetchrow(
            """SELECT COALESCE(sum(remaining), 0)::bigint AS points, min(expires_at) AS first
               FROM points_lots
               WHERE user_id = $1 AND remaining > 0 AND expires_at > $2 AND expires_at <= $3""",
            user_id,
            now,
            until,
        )
        assert row is not None
        return row

    # --- expiry notices --------------------------------------------------------------------------

    async def record_notices(self, now: datetime, until: datetime, zone: str) -> int:
        """One notice per user and local expiry day for points expiring before ``until``."""
        status = await self.pool.execute(
            """INSERT INTO points_expiry_notices (user_id, expiry_day, points, created_at)
               SELECT user_id, (expires_at AT TIME ZONE $3)::date, sum(remaining), $1
               FROM points_lots
               WHERE remaining > 0 AND expires_at > $1 AND expires_at <= $2
               GROUP BY user_id, (expires_at AT TIME ZONE $3)::date
               ON CONFLICT (user_id, expiry_day) DO NOTHING""",
            now,
            until,
            zone,
        )
        return int(status.split()[-1])

    async def unsent_notices(self, limit: int) -> list[asyncpg.Record]:
        return list(
            await self.pool.fetch(
                """SELECT n.user_id, n.expiry_day, n.points, u.phone
                   FROM points_expiry_notices n JOIN users u ON u.id = n.user_id
                   WHERE n.sent_at IS NULL ORDER BY n.created_at LIMIT $1""",
                limit,
            )
        )

    async def notice_sent(self, user_id: UUID, expiry_day: date, now: datetime) -> None:
        await self.pool.execute(
            """UPDATE points_expiry_notices SET sent_at = $3
               WHERE user_id = $1 AND expiry_day = $2 AND sent_at IS NULL""",
            user_id,
            expiry_day,
            now,
        )

    # --- sources the jobs scan -------------------------------------------------------------------

    async def posts_between(
        self, after: datetime, until: datetime, limit: int
    ) -> list[asyncpg.Record]:
        """Channel posts archived in (after, until] that moderation has not deleted and whose
        author has no publishing entry for them yet."""
        return list(
            await self.pool.fetch(
                """SELECT e.community_id, e.seq, e.user_id, e.created_at
                   FROM channel_events e
                   WHERE e.type = 'chat.message' AND e.user_id IS NOT NULL
                     AND e.created_at > $1 AND e.created_at <= $2 AND e.deleted_at IS NULL
                     AND NOT EXISTS (SELECT 1 FROM points_journal j WHERE j.source_key =
                         'publishing:post:' || e.community_id || ':' || e.seq)
                     AND EXISTS (SELECT 1 FROM users u WHERE u.id = e.user_id)
                   ORDER BY e.created_at LIMIT $3""",
                after,
                until,
                limit,
            )
        )

    async def draw_entries_since(self, after: datetime, limit: int) -> list[asyncpg.Record]:
        """Entries of draws with a result since ``after`` where entering took an act (watching,
        or sending the keyword): a draw among all verified members is no taking part."""
        return list(
            await self.pool.fetch(
                """SELECT r.draw_id, r.drawn_at, entry.user_id::uuid AS user_id
                   FROM lottery_results r
                   JOIN lottery_draws d ON d.id = r.draw_id
                   CROSS JOIN LATERAL jsonb_array_elements_text(r.entries) AS entry(user_id)
                   WHERE r.drawn_at > $1 AND d.eligibility <> 'members'
                     AND entry.user_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                     AND NOT EXISTS (SELECT 1 FROM points_journal j WHERE j.source_key =
                         'activity:lottery:' || r.draw_id || ':' || entry.user_id)
                     AND EXISTS (SELECT 1 FROM users u WHERE u.id = entry.user_id::uuid)
                   ORDER BY r.drawn_at LIMIT $2""",
                after,
                limit,
            )
        )

    # --- invitations -----------------------------------------------------------------------------

    async def invitation_code(self, user_id: UUID) -> str | None:
        code: str | None = await self.pool.fetchval(
            "SELECT code FROM points_invitation_codes WHERE user_id = $1", user_id
        )
        return code

    async def insert_invitation_code(self, user_id: UUID, code: str, now: datetime) -> bool:
        """False when the code is taken (by anyone) or the user has one already."""
        try:
            status = await self.pool.execute(
                """INSERT INTO points_invitation_codes (user_id, code, created_at)
                   VALUES ($1, $2, $3) ON CONFLICT (user_id) DO NOTHING""",
                user_id,
                code,
                now,
            )
        except asyncpg.UniqueViolationError:
            return False
        return status.endswith(" 1")

    @staticmethod
    async def inviter_of_code(conn: Conn, code: str) -> asyncpg.Record | None:
        return await conn.fetchrow(
            """SELECT u.id, u.phone FROM points_invitation_codes c JOIN users u ON u.id = c.user_id
               WHERE c.code = $1 AND u.status = 'active'""",
            code,
        )

    @staticmethod
    async def invites_up_the_chain(conn: Conn, start: UUID, target: UUID) -> bool:
        """Whether ``target`` is ``start`` or anyone who (transitively) invited ``start``."""
        found = await conn.fetchval(
            """WITH RECURSIVE chain(user_id, depth) AS (
                   SELECT $1::uuid, 0
                   UNION
                   SELECT i.inviter_id, c.depth + 1 FROM points_invitations i
                   JOIN chain c ON i.invitee_id = c.user_id WHERE c.depth < 1000
               )
               SELECT EXISTS (SELECT 1 FROM chain WHERE user_id = $2)""",
            start,
            target,
        )
        return bool(found)

    @staticmethod
    async def insert_invitation(
        conn: Conn, invitee_id: UUID, inviter_id: UUID, now: datetime
    ) -> bool:
        status = await conn.execute(
            """INSERT INTO points_invitations (invitee_id, inviter_id, created_at)
               VALUES ($1, $2, $3) ON CONFLICT (invitee_id) DO NOTHING""",
            invitee_id,
            inviter_id,
            now,
        )
        return status.endswith(" 1")

    @staticmethod
    async def mark_invitee_verified(
        conn: Conn, invitee_id: UUID, now: datetime
    ) -> asyncpg.Record | None:
        """The invitation, once, when its invitee is verified in some community."""
        return await conn.fetchrow(
            """UPDATE points_invitations SET verified_at = $2
               WHERE invitee_id = $1 AND verified_at IS NULL
                 AND EXISTS (SELECT 1 FROM community_members m
                             WHERE m.user_id = $1 AND m.status = 'verified')
               RETURNING invitee_id, inviter_id, verified_at""",
            invitee_id,
            now,
        )

    @staticmethod
    async def verified_invitation(conn: Conn, invitee_id: UUID) -> asyncpg.Record | None:
        return await conn.fetchrow(
            """SELECT invitee_id, inviter_id, verified_at FROM points_invitations
               WHERE invitee_id = $1 AND verified_at IS NOT NULL""",
            invitee_id,
        )

    async def pending_verified_invitees(self, limit: int) -> list[UUID]:
        """Invitees verified somewhere whose invitation has not been credited yet."""
        rows = await self.pool.fetch(
            """SELECT i.invitee_id FROM points_invitations i
               WHERE (i.verified_at IS NULL AND EXISTS (
                          SELECT 1 FROM community_members m
                          WHERE m.user_id = i.invitee_id AND m.status = 'verified'))
                  OR (i.verified_at IS NOT NULL AND NOT EXISTS (
                          SELECT 1 FROM points_journal j
                          WHERE j.source_key = 'invitation:' || i.invitee_id))
               ORDER BY i.created_at LIMIT $1""",
            limit,
        )
        return [row["invitee_id"] for row in rows]

    async def invited_by(self, inviter_id: UUID) -> list[asyncpg.Record]:
        return list(
            await self.pool.fetch(
                """SELECT u.phone, i.created_at, i.verified_at, j.delta
                   FROM points_invitations i JOIN users u ON u.id = i.invitee_id
                   LEFT JOIN points_journal j ON j.source_key = 'invitation:' || i.invitee_id
                   WHERE i.inviter_id = $1 ORDER BY i.created_at DESC LIMIT 200""",
                inviter_id,
            )
        )

    async def earned_by_rule(self, user_id: UUID, rule: str) -> int:
        value = await self.pool.fetchval(
            """SELECT COALESCE(sum(delta), 0) FROM points_journal
               WHERE user_id = $1 AND rule = $2 AND kind = 'earn'""",
            user_id,
            rule,
        )
        return int(value)

    # --- the catalogue ---------------------------------------------------------------------------

    async def insert_product(self, fields: dict[str, Any]) -> asyncpg.Record:
        columns = list(fields)
        placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
        row = await self.pool.fetchrow(
            f"""INSERT INTO points_products ({", ".join(columns)}) VALUES ({placeholders})
                RETURNING {_PRODUCT}""",
            *fields.values(),
        )
        assert row is not None
        return row

    async def update_product(
        self, product_id: UUID, fields: dict[str, Any], now: datetime
    ) -> asyncpg.Record | None:
        sets = ", ".join(f"{name} = ${i}" for i, name in enumerate(fields, start=3))
        return await self.pool.fetchrow(
            f"""UPDATE points_products SET updated_at = $2{", " if sets else ""}{sets}
                WHERE id = $1 RETURNING {_PRODUCT}""",
            product_id,
            now,
            *fields.values(),
        )

    async def product(self, product_id: UUID, conn: Conn | None = None) -> asyncpg.Record | None:
        return await (conn or self.pool).fetchrow(
            f"SELECT {_PRODUCT} FROM points_products WHERE id = $1", product_id
        )

    async def products(self, *, active_only: bool) -> list[asyncpg.Record]:
        return list(
            await self.pool.fetch(
                f"""SELECT {_PRODUCT} FROM points_products
                    WHERE NOT $1 OR status = 'active'
                    ORDER BY points_cost, created_at LIMIT 500""",
                active_only,
            )
        )

    @staticmethod
    async def take_product(conn: Conn, product_id: UUID, now: datetime) -> asyncpg.Record | None:
        """The product, one unit of stock taken (if it counts stock); None when it is not
        active or has none left."""
        return await conn.fetchrow(
            f"""UPDATE points_products
                SET stock = CASE WHEN stock IS NULL THEN NULL ELSE stock - 1 END, updated_at = $2
                WHERE id = $1 AND status = 'active' AND (stock IS NULL OR stock > 0)
                RETURNING {_PRODUCT}""",
            product_id,
            now,
        )

    @staticmethod
    async def insert_redemption(conn: Conn, fields: dict[str, Any]) -> asyncpg.Record:
        columns = list(fields)
        placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
        row = await conn.fetchrow(
            f"""INSERT INTO points_redemptions ({", ".join(columns)}) VALUES ({placeholders})
                RETURNING {_REDEMPTION}""",
            *fields.values(),
        )
        assert row is not None
        return row

    @staticmethod
    async def insert_entitlement(conn: Conn, fields: dict[str, Any]) -> None:
        columns = list(fields)
        placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
        await conn.execute(
            f"INSERT INTO points_entitlements ({', '.join(columns)}) VALUES ({placeholders})",
            *fields.values(),
        )

    async def redemptions_of(self, user_id: UUID) -> list[asyncpg.Record]:
        return list(
            await self.pool.fetch(
                f"""SELECT {_REDEMPTION} FROM points_redemptions WHERE user_id = $1
                    ORDER BY created_at DESC LIMIT 200""",
                user_id,
            )
        )

    async def gift_by_code(self, code: str) -> asyncpg.Record | None:
        """A gift's redemption by its pickup code, with the resident's phone."""
        return await self.pool.fetchrow(
            f"""SELECT {", ".join("r." + c.strip() for c in _REDEMPTION.split(","))}, u.phone
                  FROM points_redemptions r JOIN users u ON u.id = r.user_id
                 WHERE r.pickup_code = $1""",
            code,
        )

    async def hands_over_for(self, staff_id: UUID, resident_id: UUID) -> bool:
        """Whether ``staff_id`` is property staff of a community ``resident_id`` is verified in."""
        return bool(
            await self.pool.fetchval(
                """SELECT EXISTS (
                       SELECT 1 FROM community_members m
                         JOIN communities c ON c.id = m.community_id
                         JOIN property_staff s ON s.company_id = c.property_company_id
                        WHERE m.user_id = $2 AND m.status = 'verified' AND s.user_id = $1)""",
                staff_id,
                resident_id,
            )
        )

    async def hand_over(
        self, redemption_id: UUID, staff_id: UUID, now: datetime
    ) -> asyncpg.Record | None:
        """Mark a gift picked up; None when it was picked up already (two counters at once)."""
        return await self.pool.fetchrow(
            f"""UPDATE points_redemptions
                   SET status = 'picked_up', picked_up_at = $3, handed_over_by = $2
                 WHERE id = $1 AND status = 'awaiting_pickup'
                RETURNING {_REDEMPTION}""",
            redemption_id,
            staff_id,
            now,
        )
