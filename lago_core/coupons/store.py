"""SQL of coupon templates and the coupons residents hold.

Every race is settled by one conditional UPDATE: issuing takes a unit of the template's count
(``issued_count < total_count``) and holds the template row until the issue commits, so the
per-user count read after it cannot be overtaken; locking a coupon to an order moves it
``available → locked`` only while it is the buyer's and unexpired; a merchant coupon's discount
is added to ``discount_given_fen`` only while it stays within the budget. CHECKs in
``sql/023_coupons.sql`` are the last guard of each.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from lago_core.ledger.store import Conn

__all__ = ["TEMPLATE_COLUMNS", "CouponStore"]

TEMPLATE_COLUMNS = """t.id, t.name, t.kind, t.amount_off_fen, t.percent_off_bps, t.max_discount_fen,
    t.threshold_fen, t.categories, t.listing_ids, t.merchant_id, t.funded_by, t.total_count,
    t.issued_count, t.used_count, t.per_user_limit, t.valid_days, t.claimable, t.new_user,
    t.budget_fen, t.discount_given_fen, t.status, t.starts_at, t.ends_at, t.created_at"""
_T = TEMPLATE_COLUMNS

# A coupon with its template's terms; an available coupon past its expiry reads as expired.
_COUPON = """c.id, c.template_id, c.user_id, t.name, t.kind, t.amount_off_fen, t.percent_off_bps,
    t.max_discount_fen, t.threshold_fen, t.categories, t.listing_ids, t.funded_by, t.merchant_id,
    m.name AS merchant_name,
    CASE WHEN c.status = 'available' AND c.expires_at <= $1 THEN 'expired' ELSE c.status END
        AS status,
    c.issued_at, c.expires_at, c.holder_id AS order_id, c.holder_type, c.discount_fen, c.source,
    t.budget_fen, t.discount_given_fen"""
_FROM = """user_coupons c JOIN coupon_templates t ON t.id = c.template_id
    LEFT JOIN merchants m ON m.id = t.merchant_id"""


class CouponStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    # --- templates -------------------------------------------------------------------------------

    async def insert_template(self, values: dict[str, Any]) -> asyncpg.Record:
        columns = list(values)
        row = await self.pool.fetchrow(
            f"""INSERT INTO coupon_templates AS t ({", ".join(columns)})
                VALUES ({", ".join(f"${i}" for i in range(1, len(columns) + 1))})
                RETURNING {_T}""",
            *values.values(),
        )
        assert row is not None
        return row

    async def template(self, conn: Conn | None, template_id: UUID) -> asyncpg.Record | None:
        return await (conn or self.pool).fetchrow(
            f"SELECT {_T} FROM coupon_templates t WHERE t.id = $1", template_id
        )

    async def templates(
        self,
        *,
        merchant_id: UUID | None = None,
        platform: bool = False,
        claimable_for: UUID | None = None,
        community_id: UUID | None = None,
        now: datetime | None = None,
        limit: int = 200,
    ) -> list[asyncpg.Record]:
        """A merchant's templates, the platform's, or the claim centre (active, claimable, not
        exhausted, started and not over; with how many the user holds). A merchant's coupons only
        where the user could claim them: a community the merchant serves and the user is a
        verified resident of (``community_id`` narrows that to one community)."""
        if claimable_for is not None:
            return await self.pool.fetch(
                f"""SELECT {_T},
                           (SELECT count(*) FROM user_coupons c
                             WHERE c.template_id = t.id AND c.user_id = $1)::int AS claimed_by_me,
                           (SELECT m.name FROM merchants m WHERE m.id = t.merchant_id)
                               AS merchant_name
                      FROM coupon_templates t
                     WHERE t.status = 'active' AND t.claimable
                       AND (t.total_count IS NULL OR t.issued_count < t.total_count)
                       AND (t.budget_fen IS NULL OR t.discount_given_fen < t.budget_fen)
                       AND (t.starts_at IS NULL OR t.starts_at <= $2)
                       AND (t.ends_at IS NULL OR t.ends_at > $2)
                       AND (t.merchant_id IS NULL OR EXISTS (
                            SELECT 1 FROM merchant_communities mc
                              JOIN community_members cm
                                ON cm.community_id = mc.community_id
                               AND cm.user_id = $1 AND cm.status = 'verified'
                             WHERE mc.merchant_id = t.merchant_id
                               AND ($3::uuid IS NULL OR mc.community_id = $3)))
                     ORDER BY t.created_at DESC, t.id DESC LIMIT $4""",
                claimable_for,
                now,
                community_id,
                limit,
            )
        if platform:
            return await self.pool.fetch(
                f"""SELECT {_T} FROM coupon_templates t WHERE t.funded_by = 'platform'
                     ORDER BY t.created_at DESC, t.id DESC LIMIT $1""",
                limit,
            )
        return await self.pool.fetch(
            f"""SELECT {_T} FROM coupon_templates t WHERE t.merchant_id = $1
                 ORDER BY t.created_at DESC, t.id DESC LIMIT $2""",
            merchant_id,
            limit,
        )

    async def end_template(self, template_id: UUID, now: datetime) -> asyncpg.Record | None:
        return await self.pool.fetchrow(
            f"""UPDATE coupon_templates AS t SET status = 'ended', updated_at = $2
                 WHERE t.id = $1 RETURNING {_T}""",
            template_id,
            now,
        )

    async def new_user_templates(self, now: datetime) -> list[UUID]:
        rows = await self.pool.fetch(
            """SELECT id FROM coupon_templates
                WHERE status = 'active' AND new_user
                  AND (starts_at IS NULL OR starts_at <= $1) AND (ends_at IS NULL OR ends_at > $1)
                ORDER BY created_at, id""",
            now,
        )
        return [r["id"] for r in rows]

    # --- issuing ---------------------------------------------------------------------------------

    async def take_unit(
        self, conn: Conn, template_id: UUID, now: datetime, *, claim: bool
    ) -> asyncpg.Record | None:
        """Count one more coupon issued, if the template may issue one now; the row stays locked
        until the caller's transaction ends (which serialises the per-user count after it)."""
        return await conn.fetchrow(
            f"""UPDATE coupon_templates AS t
                   SET issued_count = t.issued_count + 1, updated_at = $2
                 WHERE t.id = $1 AND t.status = 'active'
                   AND (t.total_count IS NULL OR t.issued_count < t.total_count)
                   AND (t.budget_fen IS NULL OR t.discount_given_fen < t.budget_fen)
                   AND (t.starts_at IS NULL OR t.starts_at <= $2)
                   AND (t.ends_at IS NULL OR t.ends_at > $2)
                   AND (NOT $3 OR t.claimable)
             RETURNING {_T}""",
            template_id,
            now,
            claim,
        )

    async def is_resident_for(self, user_id: UUID, merchant_id: UUID | None) -> bool:
        """A verified resident of some community — of one the merchant serves, for its coupons."""
        return bool(
            await self.pool.fetchval(
                """SELECT EXISTS (
                       SELECT 1 FROM community_members cm
                        WHERE cm.user_id = $1 AND cm.status = 'verified'
                          AND ($2::uuid IS NULL OR EXISTS (
                               SELECT 1 FROM merchant_communities mc
                                WHERE mc.merchant_id = $2 AND mc.community_id = cm.community_id)))""",
                user_id,
                merchant_id,
            )
        )

    async def held_by(self, conn: Conn, template_id: UUID, user_id: UUID) -> int:
        value = await conn.fetchval(
            "SELECT count(*) FROM user_coupons WHERE template_id = $1 AND user_id = $2",
            template_id,
            user_id,
        )
        return int(value)

    async def insert_coupon(self, conn: Conn, values: dict[str, Any]) -> None:
        columns = list(values)
        await conn.execute(
            f"""INSERT INTO user_coupons ({", ".join(columns)})
                VALUES ({", ".join(f"${i}" for i in range(1, len(columns) + 1))})""",
            *values.values(),
        )

    async def by_key(self, conn: Conn, key: str) -> asyncpg.Record | None:
        return await conn.fetchrow(
            "SELECT id, template_id, user_id FROM user_coupons WHERE issue_key = $1", key
        )

    # --- reading coupons -------------------------------------------------------------------------

    async def coupon(
        self, conn: Conn | None, coupon_id: UUID, now: datetime
    ) -> asyncpg.Record | None:
        return await (conn or self.pool).fetchrow(
            f"SELECT {_COUPON} FROM {_FROM} WHERE c.id = $2", now, coupon_id
        )

    async def wallet(
        self, user_id: UUID, status: str | None, now: datetime, limit: int = 500
    ) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            f"""SELECT * FROM (SELECT {_COUPON} FROM {_FROM} WHERE c.user_id = $2) w
                 WHERE $3::text IS NULL OR w.status = $3
                 ORDER BY w.expires_at, w.id LIMIT $4""",
            now,
            user_id,
            status,
            limit,
        )

    async def coupons(
        self, conn: Conn | None, coupon_ids: list[UUID], now: datetime
    ) -> list[asyncpg.Record]:
        return await (conn or self.pool).fetch(
            f"SELECT {_COUPON} FROM {_FROM} WHERE c.id = ANY($2::uuid[]) ORDER BY c.id",
            now,
            coupon_ids,
        )

    async def held(
        self, conn: Conn | None, holder_type: str, holder_id: UUID, now: datetime
    ) -> list[asyncpg.Record]:
        return await (conn or self.pool).fetch(
            f"""SELECT {_COUPON} FROM {_FROM}
                 WHERE c.holder_type = $2 AND c.holder_id = $3 ORDER BY c.id""",
            now,
            holder_type,
            holder_id,
        )

    # --- holding, using, returning -----------------------------------------------------------------

    async def lock(
        self,
        conn: Conn,
        user_id: UUID,
        discounts: dict[UUID, int],
        holder_type: str,
        holder_id: UUID,
        now: datetime,
    ) -> list[UUID]:
        """available → locked for the holder, only the user's unexpired coupons; the ids moved."""
        ids = sorted(discounts)
        # Rows locked in id order first, so concurrent holds of overlapping coupons queue up
        # instead of deadlocking; the UPDATE then decides who gets them.
        await conn.execute(
            "SELECT id FROM user_coupons WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE", ids
        )
        rows = await conn.fetch(
            """UPDATE user_coupons AS c
                  SET status = 'locked', holder_type = $3, holder_id = $4, locked_at = $5,
                      discount_fen = d.fen
                 FROM unnest($1::uuid[], $6::bigint[]) AS d(id, fen)
                WHERE c.id = d.id AND c.user_id = $2 AND c.status = 'available'
                  AND c.expires_at > $5
            RETURNING c.id""",
            ids,
            user_id,
            holder_type,
            holder_id,
            now,
            [discounts[i] for i in ids],
        )
        return [r["id"] for r in rows]

    async def spend_budget(self, conn: Conn, template_id: UUID, fen: int) -> bool:
        """Count a discount against the template; False when a budget would be exceeded."""
        row = await conn.fetchrow(
            """UPDATE coupon_templates SET discount_given_fen = discount_given_fen + $2
                WHERE id = $1 AND (budget_fen IS NULL OR discount_given_fen + $2 <= budget_fen)
            RETURNING id""",
            template_id,
            fen,
        )
        return row is not None

    async def release(
        self, conn: Conn, holder_type: str, holder_id: UUID, from_status: str, now: datetime
    ) -> list[asyncpg.Record]:
        """locked (or used) → available: the coupons the holder gave back, with the discount
        each had and its template (whose counters the caller adjusts)."""
        return await conn.fetch(
            """WITH old AS (
                   SELECT id, template_id, discount_fen FROM user_coupons
                    WHERE holder_type = $1 AND holder_id = $2 AND status = $3
                    ORDER BY id FOR UPDATE)
               UPDATE user_coupons AS c
                  SET status = CASE WHEN c.expires_at <= $4 THEN 'expired' ELSE 'available' END,
                      holder_type = NULL, holder_id = NULL, discount_fen = NULL,
                      locked_at = NULL, used_at = NULL
                 FROM old WHERE c.id = old.id
            RETURNING old.id, old.template_id, old.discount_fen""",
            holder_type,
            holder_id,
            from_status,
            now,
        )

    async def give_back(self, conn: Conn, template_id: UUID, fen: int, used: bool) -> None:
        """A coupon came back: its discount leaves the template's total (and the used count)."""
        await conn.execute(
            """UPDATE coupon_templates
                  SET discount_given_fen = discount_given_fen - $2,
                      used_count = used_count - CASE WHEN $3 THEN 1 ELSE 0 END
                WHERE id = $1""",
            template_id,
            fen,
            used,
        )

    async def use(
        self, conn: Conn, holder_type: str, holder_id: UUID, now: datetime
    ) -> list[asyncpg.Record]:
        """locked → used at capture; the templates' used counts follow."""
        rows = await conn.fetch(
            """UPDATE user_coupons SET status = 'used', used_at = $3
                WHERE holder_type = $1 AND holder_id = $2 AND status = 'locked'
            RETURNING id, template_id""",
            holder_type,
            holder_id,
            now,
        )
        for row in sorted(rows, key=lambda r: r["template_id"]):
            await conn.execute(
                "UPDATE coupon_templates SET used_count = used_count + 1 WHERE id = $1",
                row["template_id"],
            )
        return list(rows)

    async def expire(self, now: datetime) -> int:
        """Sweep: available coupons past their expiry become expired (they were unusable
        already; this keeps the stored counts honest)."""
        result = await self.pool.execute(
            "UPDATE user_coupons SET status = 'expired' "
            "WHERE status = 'available' AND expires_at <= $1",
            now,
        )
        return int(result.split()[-1])

    async def orphaned_holders(self) -> list[asyncpg.Record]:
        """Holders whose coupons should have come back (a crash, or a path that does not call
        the coupons: a seat released by the channel actor): locked coupons of cancelled orders
        and of released or refunded seats; used coupons of refunded orders and refunded seats."""
        return await self.pool.fetch(
            """SELECT DISTINCT c.holder_type, c.holder_id, c.status
                 FROM user_coupons c
                 LEFT JOIN orders o ON c.holder_type = 'order' AND o.id = c.holder_id
                 LEFT JOIN group_buy_seats s
                        ON c.holder_type = 'group_buy_seat' AND s.id = c.holder_id
                WHERE c.status IN ('locked', 'used')
                  AND ((c.status = 'locked' AND (o.status IN ('cancelled', 'refunded')
                                                  OR s.status IN ('released', 'refunded')))
                       OR (c.status = 'used' AND (o.status = 'refunded'
                                                  OR s.status = 'refunded')))"""
        )

    async def counts(self, template_id: UUID) -> dict[str, int]:
        rows = await self.pool.fetch(
            "SELECT status, count(*) AS n FROM user_coupons WHERE template_id = $1 GROUP BY status",
            template_id,
        )
        return {r["status"]: int(r["n"]) for r in rows}
