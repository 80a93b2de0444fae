"""SQL of orders, ratings and reputation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from lago_core.db import transition_row
from lago_core.ledger.store import Conn

__all__ = ["ORDER_COLUMNS", "OrderStore", "bump_reputation", "fetch_ratings", "insert_rating"]

ORDER_COLUMNS = """o.id, o.mode, o.status, o.listing_id, o.buyer_id, o.seller_id, o.merchant_id,
    o.payee_kind, o.payee_id, o.fulfilment, o.title, o.category, o.price_fen, o.deposit_fen,
    o.rent_per_day_fen, o.days, o.commission_bps, o.payment_id, o.cancel_reason, o.reject_reason,
    o.late_fee_fen,
    o.damage_fen, o.discount_fen, o.platform_discount_fen, o.merchant_discount_fen, o.coupon_ids, o.created_at, o.updated_at, o.paid_at, o.picked_up_at, o.due_at, o.returned_at,
    o.completed_at, o.cancelled_at, o.overdue_at"""
_O = ORDER_COLUMNS

# Columns a transition may set besides status (checked here, as they are spliced into SQL).
_SETTABLE = frozenset(
    {
        "cancel_reason",
        "reject_reason",
        "late_fee_fen",
        "damage_fen",
        "paid_at",
        "picked_up_at",
        "due_at",
        "returned_at",
        "completed_at",
        "cancelled_at",
    }
)


async def bump_reputation(conn: Conn, ratee_id: UUID, score: int, now: datetime) -> None:
    """Count a rating in the ratee's reputation, in the rating's own transaction (orders and
    swaps rate into the same reputation)."""
    await conn.execute(
        """INSERT INTO user_reputation (user_id, rating_count, rating_sum, updated_at)
           VALUES ($1, 1, $2, $3)
           ON CONFLICT (user_id) DO UPDATE
           SET rating_count = user_reputation.rating_count + 1,
               rating_sum = user_reputation.rating_sum + EXCLUDED.rating_sum,
               updated_at = EXCLUDED.updated_at""",
        ratee_id,
        score,
        now,
    )


# Rating tables and the column naming what was rated (spliced into SQL, so checked here).
_RATINGS = {"order_ratings": "order_id", "swap_ratings": "swap_id"}


async def insert_rating(
    pool: asyncpg.Pool,
    table: str,
    subject_id: UUID,
    rater_id: UUID,
    ratee_id: UUID,
    score: int,
    comment: str,
    now: datetime,
    also: Callable[[Conn, asyncpg.Record], Awaitable[None]] | None = None,
) -> asyncpg.Record | None:
    """The rating and the ratee's reputation together; None if this rater already rated.
    ``also`` runs in the same transaction. Orders and swaps rate through here."""
    key = _RATINGS[table]
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            f"""INSERT INTO {table} ({key}, rater_id, ratee_id, score, comment, created_at)
                VALUES ($1, $2, $3, $4, $5, $6)
                ON CONFLICT ({key}, rater_id) DO NOTHING
                RETURNING {key}, rater_id, ratee_id, score, comment, created_at""",
            subject_id,
            rater_id,
            ratee_id,
            score,
            comment,
            now,
        )
        if row is None:
            return None
        await bump_reputation(conn, ratee_id, score, now)
        if also is not None:
            await also(conn, row)
    return row


async def fetch_ratings(pool: asyncpg.Pool, table: str, subject_id: UUID) -> list[asyncpg.Record]:
    key = _RATINGS[table]
    return await pool.fetch(
        f"""SELECT {key}, rater_id, ratee_id, score, comment, created_at
            FROM {table} WHERE {key} = $1 ORDER BY created_at, rater_id""",
        subject_id,
    )


class OrderStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def insert(
        self,
        values: dict[str, Any],
        max_unpaid: int,
        also: Callable[[Conn, asyncpg.Record], Awaitable[None]] | None = None,
    ) -> asyncpg.Record | None:
        """The new order; None when its buyer already holds ``max_unpaid`` unpaid orders.
        Raises UniqueViolationError when the listing already has an open order.

        The buyer's orders are counted and the new one inserted under a transaction-scoped
        advisory lock per buyer, so concurrent attempts of one buyer are counted one at a time
        (a bare count then insert would let a burst through)."""
        columns = list(values)
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended('lago:orders-of-buyer:' || $1, 0))",
                str(values["buyer_id"]),
            )
            unpaid = await conn.fetchval(
                "SELECT count(*) FROM orders WHERE buyer_id = $1 AND status = 'created'",
                values["buyer_id"],
            )
            if unpaid >= max_unpaid:
                return None
            row = await conn.fetchrow(
                f"""INSERT INTO orders AS o ({", ".join(columns)})
                    VALUES ({", ".join(f"${i}" for i in range(1, len(columns) + 1))})
                    RETURNING {_O}""",
                *values.values(),
            )
            assert row is not None
            if also is not None:
                # In the insert's transaction (the coupons the order spends): a refusal there
                # rolls the order back.
                await also(conn, row)
        return row

    async def set_payment(self, order_id: UUID, payment_id: UUID) -> asyncpg.Record:
        row = await self.pool.fetchrow(
            f"""UPDATE orders AS o SET payment_id = $2 WHERE o.id = $1 RETURNING {_O}""",
            order_id,
            payment_id,
        )
        assert row is not None
        return row

    async def order(self, conn: Conn | asyncpg.Pool, order_id: UUID) -> asyncpg.Record | None:
        return await conn.fetchrow(f"SELECT {_O} FROM orders o WHERE o.id = $1", order_id)

    async def transition(
        self,
        conn: Conn | asyncpg.Pool,
        order_id: UUID,
        expected: str,
        target: str,
        now: datetime,
        fields: dict[str, Any] | None = None,
    ) -> asyncpg.Record | None:
        """Move the order from ``expected`` to ``target``; None when it is no longer in
        ``expected`` (a concurrent transition won), in which case nothing changed."""
        return await transition_row(
            conn, "orders AS o", _O, _SETTABLE, order_id, expected, target, now, fields
        )

    async def by_payment(self, conn: Conn, payment_id: UUID) -> asyncpg.Record | None:
        return await conn.fetchrow(
            f"SELECT {_O} FROM orders o WHERE o.payment_id = $1 FOR UPDATE", payment_id
        )

    async def mine(
        self,
        user_id: UUID,
        role: str | None,
        after: tuple[datetime, UUID] | None,
        limit: int,
    ) -> list[asyncpg.Record]:
        """Orders where the user is the buyer, or the seller of a resident's (non-merchant) order."""
        return await self.pool.fetch(
            f"""
            SELECT {_O} FROM orders o
            WHERE (($2::text IS NULL OR $2 = 'buyer') AND o.buyer_id = $1
                   OR ($2::text IS NULL OR $2 = 'seller') AND o.seller_id = $1
                      AND o.merchant_id IS NULL)
              AND ($3::timestamptz IS NULL OR (o.created_at, o.id) < ($3, $4::uuid))
            ORDER BY o.created_at DESC, o.id DESC
            LIMIT $5
            """,
            user_id,
            role,
            after[0] if after else None,
            after[1] if after else None,
            limit,
        )

    async def of_merchant(
        self,
        merchant_id: UUID,
        status: str | None,
        after: tuple[datetime, UUID] | None,
        limit: int,
    ) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            f"""
            SELECT {_O} FROM orders o
            WHERE o.merchant_id = $1 AND ($2::text IS NULL OR o.status = $2)
              AND ($3::timestamptz IS NULL OR (o.created_at, o.id) < ($3, $4::uuid))
            ORDER BY o.created_at DESC, o.id DESC
            LIMIT $5
            """,
            merchant_id,
            status,
            after[0] if after else None,
            after[1] if after else None,
            limit,
        )

    # --- jobs ------------------------------------------------------------------------------------

    async def cancel_unpaid(
        self,
        created_before: datetime,
        now: datetime,
        also: Callable[[Conn, asyncpg.Record], Awaitable[None]] | None = None,
    ) -> list[asyncpg.Record]:
        """Cancel every order still unpaid that was created before ``created_before``. The
        ``status = 'created'`` condition makes a second run (or a racing payment) a no-op;
        ``also`` runs per cancelled order in the same transaction (the coupons go back)."""
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                f"""UPDATE orders AS o SET status = 'cancelled', cancel_reason = 'unpaid',
                           cancelled_at = $2, updated_at = $2
                    WHERE o.status = 'created' AND o.created_at < $1
                    RETURNING {_O}""",
                created_before,
                now,
            )
            if also is not None:
                for row in rows:
                    await also(conn, row)
        return list(rows)

    async def mark_overdue(self, now: datetime) -> list[asyncpg.Record]:
        """Flag running rentals past their due time, once each."""
        return await self.pool.fetch(
            f"""UPDATE orders AS o SET overdue_at = $1, updated_at = $1
                WHERE o.status = 'picked_up' AND o.due_at < $1 AND o.overdue_at IS NULL
                RETURNING {_O}""",
            now,
        )

    async def deposits_to_release(self) -> list[asyncpg.Record]:
        """Completed, refunded or cancelled orders whose deposit is still held (a crash between
        the order's transition and the release, or a payment captured after cancelling)."""
        return await self.pool.fetch(
            f"""SELECT {_O} FROM orders o JOIN payments p ON p.id = o.payment_id
                WHERE o.status IN ('completed', 'refunded', 'cancelled')
                  AND p.deposit_status = 'held'"""
        )

    async def refunds_owed(self) -> list[asyncpg.Record]:
        """Refunded or cancelled orders whose captured price has not been refunded yet."""
        return await self.pool.fetch(
            f"""SELECT {_O} FROM orders o JOIN payments p ON p.id = o.payment_id
                WHERE o.status IN ('refunded', 'cancelled')
                  AND p.status = 'captured' AND p.refunded_fen = 0"""
        )

    # --- ratings ---------------------------------------------------------------------------------

    async def rate(
        self,
        order_id: UUID,
        rater_id: UUID,
        ratee_id: UUID,
        score: int,
        comment: str,
        now: datetime,
        also: Callable[[Conn, asyncpg.Record], Awaitable[None]] | None = None,
    ) -> asyncpg.Record | None:
        """``also`` runs in the same transaction (the merchant dashboard's rating)."""
        return await insert_rating(
            self.pool, "order_ratings", order_id, rater_id, ratee_id, score, comment, now, also
        )

    async def ratings_of(self, order_id: UUID) -> list[asyncpg.Record]:
        return await fetch_ratings(self.pool, "order_ratings", order_id)

    async def reputation(self, user_id: UUID) -> asyncpg.Record | None:
        return await self.pool.fetchrow(
            "SELECT rating_count, rating_sum FROM user_reputation WHERE user_id = $1", user_id
        )
