"""SQL of settlements, their items and the merchant dashboard's aggregates."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

import asyncpg

from lago_core.ledger.store import Conn

__all__ = ["SettlementStore"]

_SETTLEMENT = """id, payee_kind, payee_id, cutoff, order_count, gross_fen, commission_fen,
    property_share_fen, withheld_fen, net_fen, payout_id, created_at"""
# The same, qualified, for queries that join payouts (which has id, payee_id, created_at too).
_S = ", ".join(f"s.{c.strip()}" for c in _SETTLEMENT.split(","))
# An item's kind, its table and the column naming its order (sql/017_group_buy_settlement.sql).
_ITEM_TABLES = (
    ("order", "settlement_items", "order_id"),
    ("group_buy_order", "settlement_group_buy_items", "group_buy_order_id"),
    # A completed swap's agreed difference, to the side that receives it (sql/032_swaps.sql).
    ("swap", "settlement_swap_items", "swap_id"),
    ("course_enrolment", "settlement_course_items", "enrolment_id"),
)

# When a course's first class began (by its schedule or by going live early): its paid enrolments
# are no longer refunded after that, so they settle seven days later (docs/courses.md).
_COURSE_BEGUN = (
    "(SELECT min(LEAST(l.starts_at, COALESCE(l.live_started_at, l.starts_at))) "
    "FROM course_lessons l WHERE l.course_id = e.course_id)"
)

# What an item's payment brings the payee, after refunds: the same in every branch of items_due.
_PAID = """p.amount_fen + p.platform_discount_fen
                          - p.refunded_fen - p.refunded_platform_discount_fen AS gross_fen,
                      p.commission_fen - p.refunded_commission_fen AS commission_fen,
                      p.property_share_fen - p.refunded_property_fen AS property_share_fen,
                      p.deposit_withheld_fen AS withheld_fen,
                      p.merchant_discount_fen"""


class SettlementStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    # --- settlement ------------------------------------------------------------------------------

    async def payees_due(self, cutoff: datetime) -> list[asyncpg.Record]:
        """Payees with completed, unsettled orders (listing or group-buy) completed before
        ``cutoff``."""
        return await self.pool.fetch(
            """SELECT o.payee_kind, o.payee_id FROM orders o
               WHERE o.status = 'completed' AND o.completed_at <= $1
                 AND NOT EXISTS (SELECT 1 FROM settlement_items i WHERE i.order_id = o.id)
               UNION
               SELECT 'merchant', g.merchant_id FROM group_buy_orders g
               WHERE g.status = 'completed' AND g.completed_at <= $1
                 AND NOT EXISTS (SELECT 1 FROM settlement_group_buy_items i
                                 WHERE i.group_buy_order_id = g.id)
               UNION
               SELECT 'user', s.payee_id FROM swaps s
               WHERE s.status = 'completed' AND s.payment_id IS NOT NULL AND s.completed_at <= $1
                 AND NOT EXISTS (SELECT 1 FROM settlement_swap_items i WHERE i.swap_id = s.id)
               UNION
               SELECT 'merchant', c.merchant_id FROM course_enrolments e
               JOIN courses c ON c.id = e.course_id
               WHERE e.status = 'active' AND e.payment_id IS NOT NULL
                 AND """
            + _COURSE_BEGUN
            + """ <= $1
                 AND NOT EXISTS (SELECT 1 FROM settlement_course_items i
                                 WHERE i.enrolment_id = e.id)""",
            cutoff,
        )

    async def lock_payee(self, conn: Conn, payee_id: UUID) -> None:
        """Serialise two runs settling one payee (the cron is unique, a manual run may not be)."""
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext('settlement:' || $1::uuid::text))", payee_id
        )

    async def items_due(
        self, conn: Conn, payee_kind: str, payee_id: UUID, cutoff: datetime
    ) -> list[asyncpg.Record]:
        """Each due order's share, as the capture split it (payments' columns), less refunds:
        listing orders (``kind`` ``order``) and, for a merchant, group-buy orders
        (``group_buy_order``). Orders whose deposit is still held wait: what the payee withholds
        is not known yet."""
        return await conn.fetch(
            f"""SELECT 'order' AS kind, o.id AS order_id, o.completed_at,
                      {_PAID}
               FROM orders o JOIN payments p ON p.id = o.payment_id
               WHERE o.payee_kind = $1 AND o.payee_id = $2
                 AND o.status = 'completed' AND o.completed_at <= $3
                 AND p.status = 'captured' AND p.deposit_status <> 'held'
                 AND NOT EXISTS (SELECT 1 FROM settlement_items i WHERE i.order_id = o.id)
               UNION ALL
               SELECT 'group_buy_order', g.id, g.completed_at,
                      {_PAID}
               FROM group_buy_orders g JOIN payments p ON p.id = g.payment_id
               WHERE $1 = 'merchant' AND g.merchant_id = $2
                 AND g.status = 'completed' AND g.completed_at <= $3
                 AND p.status = 'captured' AND p.deposit_status <> 'held'
                 AND NOT EXISTS (SELECT 1 FROM settlement_group_buy_items i
                                 WHERE i.group_buy_order_id = g.id)
               UNION ALL
               SELECT 'swap', s.id, s.completed_at,
                      {_PAID}
               FROM swaps s JOIN payments p ON p.id = s.payment_id
               WHERE $1 = 'user' AND s.payee_id = $2
                 AND s.status = 'completed' AND s.completed_at <= $3
                 AND p.status = 'captured' AND p.deposit_status <> 'held'
                 AND NOT EXISTS (SELECT 1 FROM settlement_swap_items i WHERE i.swap_id = s.id)
               UNION ALL
               SELECT 'course_enrolment', e.id, b.begun,
                      {_PAID}
               FROM course_enrolments e JOIN courses c ON c.id = e.course_id
               JOIN payments p ON p.id = e.payment_id
               CROSS JOIN LATERAL (SELECT {_COURSE_BEGUN} AS begun) b
               WHERE $1 = 'merchant' AND c.merchant_id = $2
                 AND e.status = 'active' AND b.begun <= $3 AND p.status = 'captured'
                 AND NOT EXISTS (SELECT 1 FROM settlement_course_items i
                                 WHERE i.enrolment_id = e.id)
               ORDER BY completed_at, order_id""",
            payee_kind,
            payee_id,
            cutoff,
        )

    async def insert_settlement(self, conn: Conn, values: dict[str, Any]) -> asyncpg.Record:
        columns = list(values)
        row = await conn.fetchrow(
            f"""INSERT INTO settlements ({", ".join(columns)})
                VALUES ({", ".join(f"${i}" for i in range(1, len(columns) + 1))})
                RETURNING {_SETTLEMENT}""",
            *values.values(),
        )
        assert row is not None
        return row

    async def insert_items(
        self, conn: Conn, settlement_id: UUID, items: list[dict[str, Any]]
    ) -> None:
        """Raises UniqueViolationError if any order is already settled (the caller rolls back).
        Each item's ``kind`` says which table it goes to."""
        for kind, table, column in _ITEM_TABLES:
            rows = [
                (
                    settlement_id,
                    i["order_id"],
                    i["gross_fen"],
                    i["commission_fen"],
                    i["property_share_fen"],
                    i["withheld_fen"],
                    i["net_fen"],
                    i["merchant_discount_fen"],
                )
                for i in items
                if i["kind"] == kind
            ]
            if rows:
                await conn.executemany(
                    f"""INSERT INTO {table} (settlement_id, {column}, gross_fen, commission_fen,
                                             property_share_fen, withheld_fen, net_fen,
                                             merchant_discount_fen)
                        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
                    rows,
                )

    async def without_payout(self) -> list[asyncpg.Record]:
        """Resident sellers' settlements whose payout was never requested (a crash after their
        rows committed). A merchant's settlement pays nothing out: its net became available."""
        return await self.pool.fetch(
            f"""SELECT {_SETTLEMENT} FROM settlements
                WHERE payout_id IS NULL AND net_fen > 0 AND payee_kind = 'user'
                ORDER BY created_at, id"""
        )

    async def set_payout(self, settlement_id: UUID, payout_id: UUID) -> None:
        await self.pool.execute(
            "UPDATE settlements SET payout_id = $2 WHERE id = $1 AND payout_id IS NULL",
            settlement_id,
            payout_id,
        )

    async def of_payee(
        self, payee_kind: str, payee_id: UUID, start: datetime, end: datetime
    ) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            f"""SELECT {_S}, po.status AS payout_status
                FROM settlements s LEFT JOIN payouts po ON po.id = s.payout_id
                WHERE s.payee_kind = $1 AND s.payee_id = $2
                  AND s.created_at >= $3 AND s.created_at < $4
                ORDER BY s.created_at, s.id""",
            payee_kind,
            payee_id,
            start,
            end,
        )

    async def items_of(self, settlement_id: UUID) -> list[asyncpg.Record]:
        """The settlement's items of every kind (``kind``, ``order_id`` and the amounts)."""
        return await self.pool.fetch(
            """SELECT 'order' AS kind, order_id, gross_fen, commission_fen, property_share_fen,
                      withheld_fen, net_fen, merchant_discount_fen
               FROM settlement_items WHERE settlement_id = $1
               UNION ALL
               SELECT 'group_buy_order', group_buy_order_id, gross_fen, commission_fen,
                      property_share_fen, withheld_fen, net_fen, merchant_discount_fen
               FROM settlement_group_buy_items WHERE settlement_id = $1
               UNION ALL
               SELECT 'swap', swap_id, gross_fen, commission_fen,
                      property_share_fen, withheld_fen, net_fen, merchant_discount_fen
               FROM settlement_swap_items WHERE settlement_id = $1
               UNION ALL
               SELECT 'course_enrolment', enrolment_id, gross_fen, commission_fen,
                      property_share_fen, withheld_fen, net_fen, merchant_discount_fen
               FROM settlement_course_items WHERE settlement_id = $1
               ORDER BY kind DESC, order_id""",
            settlement_id,
        )

    # --- dashboard aggregates ----------------------------------------------------------------------

    async def bump_day(
        self,
        conn: Conn,
        merchant_id: UUID,
        day: date,
        *,
        orders: int = 0,
        revenue_fen: int = 0,
        completed: int = 0,
        refunded: int = 0,
        discount_fen: int = 0,
    ) -> None:
        await conn.execute(
            """INSERT INTO merchant_daily_stats AS s
                   (merchant_id, day, orders, revenue_fen, completed, refunded, discount_fen)
               VALUES ($1, $2, $3, $4, $5, $6, $7)
               ON CONFLICT (merchant_id, day) DO UPDATE
               SET orders = s.orders + EXCLUDED.orders,
                   revenue_fen = s.revenue_fen + EXCLUDED.revenue_fen,
                   completed = s.completed + EXCLUDED.completed,
                   refunded = s.refunded + EXCLUDED.refunded,
                   discount_fen = s.discount_fen + EXCLUDED.discount_fen""",
            merchant_id,
            day,
            orders,
            revenue_fen,
            completed,
            refunded,
            discount_fen,
        )

    async def bump_listing_month(
        self,
        conn: Conn,
        merchant_id: UUID,
        month: date,
        listing_id: UUID,
        *,
        orders: int,
        revenue_fen: int,
    ) -> None:
        await conn.execute(
            """INSERT INTO merchant_listing_month_stats AS s
                   (merchant_id, month, listing_id, orders, revenue_fen)
               VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (merchant_id, month, listing_id) DO UPDATE
               SET orders = s.orders + EXCLUDED.orders,
                   revenue_fen = s.revenue_fen + EXCLUDED.revenue_fen""",
            merchant_id,
            month,
            listing_id,
            orders,
            revenue_fen,
        )

    async def top_listings(
        self, merchant_id: UUID, month: date, limit: int
    ) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            """SELECT s.listing_id, l.title, s.orders, s.revenue_fen
               FROM merchant_listing_month_stats s JOIN listings l ON l.id = s.listing_id
               WHERE s.merchant_id = $1 AND s.month = $2 AND s.orders > 0
               ORDER BY s.revenue_fen DESC, s.orders DESC, s.listing_id
               LIMIT $3""",
            merchant_id,
            month,
            limit,
        )

    async def bump_totals(
        self, conn: Conn, merchant_id: UUID, *, pending: int = 0, rating: int | None = None
    ) -> None:
        await conn.execute(
            """INSERT INTO merchant_stats AS s (merchant_id, pending_orders, rating_count, rating_sum)
               VALUES ($1, GREATEST($2, 0), $3, $4)
               ON CONFLICT (merchant_id) DO UPDATE
               SET pending_orders = GREATEST(s.pending_orders + $2, 0),
                   rating_count = s.rating_count + EXCLUDED.rating_count,
                   rating_sum = s.rating_sum + EXCLUDED.rating_sum""",
            merchant_id,
            pending,
            0 if rating is None else 1,
            rating or 0,
        )

    async def days(self, merchant_id: UUID, first: date, last: date) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            """SELECT day, orders, revenue_fen, completed, refunded, discount_fen
               FROM merchant_daily_stats
               WHERE merchant_id = $1 AND day BETWEEN $2 AND $3 ORDER BY day""",
            merchant_id,
            first,
            last,
        )

    async def totals(self, merchant_id: UUID) -> asyncpg.Record | None:
        return await self.pool.fetchrow(
            """SELECT pending_orders, rating_count, rating_sum FROM merchant_stats
               WHERE merchant_id = $1""",
            merchant_id,
        )
