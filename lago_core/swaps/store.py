"""SQL of swaps, the listings they hold and their ratings."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from lago_core.db import transition_row
from lago_core.ledger.store import Conn
from lago_core.orders.store import fetch_ratings, insert_rating

__all__ = ["SWAP_COLUMNS", "SwapStore"]

SWAP_COLUMNS = """s.id, s.status, s.listing_id, s.owner_id, s.offered_listing_id, s.proposer_id,
    s.difference_fen, s.difference_payer, s.payer_id, s.payee_id, s.message, s.commission_bps,
    s.payment_id, s.proposer_confirmed_at, s.owner_confirmed_at, s.cancel_reason, s.created_at,
    s.updated_at, s.accepted_at, s.paid_at, s.completed_at, s.ended_at"""
_S = SWAP_COLUMNS
# What the lists and the detail show of the two listings.
_WITH_LISTINGS = f"""{_S}, l.title AS listing_title, l.images AS listing_images,
    l.price_fen AS listing_price_fen, o.title AS offered_title, o.images AS offered_images,
    o.price_fen AS offered_price_fen"""
_FROM = """swaps s JOIN listings l ON l.id = s.listing_id
    JOIN listings o ON o.id = s.offered_listing_id"""

# Columns a transition may set besides status (spliced into SQL, so checked here).
_SETTABLE = frozenset(
    {
        "payment_id",
        "proposer_confirmed_at",
        "owner_confirmed_at",
        "cancel_reason",
        "accepted_at",
        "paid_at",
        "completed_at",
        "ended_at",
    }
)
# An order in one of these statuses is over and holds its listing no more (docs/orders.md).
_ORDER_ENDED = ("completed", "cancelled", "refunded")

Also = Callable[[Conn, asyncpg.Record], Awaitable[None]]


class SwapStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def insert(self, values: dict[str, Any]) -> asyncpg.Record:
        """Raises UniqueViolationError when the same pair already has a pending offer."""
        columns = list(values)
        row = await self.pool.fetchrow(
            f"""INSERT INTO swaps AS s ({", ".join(columns)})
                VALUES ({", ".join(f"${i}" for i in range(1, len(columns) + 1))})
                RETURNING {_S}""",
            *values.values(),
        )
        assert row is not None
        return row

    async def swap(self, conn: Conn | asyncpg.Pool, swap_id: UUID) -> asyncpg.Record | None:
        return await conn.fetchrow(f"SELECT {_S} FROM swaps s WHERE s.id = $1", swap_id)

    async def detail(self, swap_id: UUID) -> asyncpg.Record | None:
        return await self.pool.fetchrow(
            f"SELECT {_WITH_LISTINGS} FROM {_FROM} WHERE s.id = $1", swap_id
        )

    async def mine(
        self,
        user_id: UUID,
        role: str | None,
        after: tuple[datetime, UUID] | None,
        limit: int,
    ) -> list[asyncpg.Record]:
        """Offers the user received (``in``: they own the listing asked for) or made (``out``)."""
        return await self.pool.fetch(
            f"""SELECT {_WITH_LISTINGS} FROM {_FROM}
                WHERE (($2::text IS NULL OR $2 = 'in') AND s.owner_id = $1
                       OR ($2::text IS NULL OR $2 = 'out') AND s.proposer_id = $1)
                  AND ($3::timestamptz IS NULL OR (s.created_at, s.id) < ($3, $4::uuid))
                ORDER BY s.created_at DESC, s.id DESC
                LIMIT $5""",
            user_id,
            role,
            after[0] if after else None,
            after[1] if after else None,
            limit,
        )

    async def set_swap_ok(
        self, listing_id: UUID, swap_ok: bool, now: datetime
    ) -> asyncpg.Record | None:
        return await self.pool.fetchrow(
            """UPDATE listings SET swap_ok = $2, updated_at = $3 WHERE id = $1
               RETURNING id, swap_ok""",
            listing_id,
            swap_ok,
            now,
        )

    async def swap_ok(self, listing_id: UUID) -> bool:
        return bool(
            await self.pool.fetchval("SELECT swap_ok FROM listings WHERE id = $1", listing_id)
        )

    async def transition(
        self,
        conn: Conn | asyncpg.Pool,
        swap_id: UUID,
        expected: str,
        target: str,
        now: datetime,
        fields: dict[str, Any] | None = None,
    ) -> asyncpg.Record | None:
        """Move the swap from ``expected`` to ``target``; None when a concurrent move won."""
        return await transition_row(
            conn, "swaps AS s", _S, _SETTABLE, swap_id, expected, target, now, fields
        )

    async def confirm(
        self, conn: Conn, swap_id: UUID, expected: str, column: str, now: datetime
    ) -> asyncpg.Record | None:
        """Record one side's hand-over confirmation (once) while the swap is in ``expected``."""
        assert column in ("proposer_confirmed_at", "owner_confirmed_at")
        return await conn.fetchrow(
            f"""UPDATE swaps AS s SET {column} = $3, updated_at = $3
                WHERE s.id = $1 AND s.status = $2 AND s.{column} IS NULL RETURNING {_S}""",
            swap_id,
            expected,
            now,
        )

    # --- holding listings ------------------------------------------------------------------------

    async def lock_listings(self, conn: Conn, listing_ids: list[UUID]) -> list[asyncpg.Record]:
        """Lock the listings' rows as an order's insert does (orders_refuse_swap_held), in id
        order so that two acceptances sharing a listing cannot deadlock."""
        return await conn.fetch(
            """SELECT id, seller_id, merchant_id, kind, status FROM listings
               WHERE id = ANY($1::uuid[]) ORDER BY id FOR NO KEY UPDATE""",
            sorted(listing_ids),
        )

    async def busy_listings(self, conn: Conn, listing_ids: list[UUID]) -> list[UUID]:
        """Those of the (locked) listings an open order or an accepted swap holds."""
        rows = await conn.fetch(
            """SELECT listing_id FROM orders
               WHERE listing_id = ANY($1::uuid[]) AND status <> ALL($2::text[])
               UNION
               SELECT listing_id FROM swap_holds WHERE listing_id = ANY($1::uuid[])""",
            listing_ids,
            list(_ORDER_ENDED),
        )
        return [r["listing_id"] for r in rows]

    async def hold(self, conn: Conn, swap_id: UUID, listing_ids: list[UUID]) -> None:
        await conn.executemany(
            "INSERT INTO swap_holds (listing_id, swap_id) VALUES ($1, $2)",
            [(listing_id, swap_id) for listing_id in listing_ids],
        )

    async def release(self, conn: Conn, swap_id: UUID) -> None:
        await conn.execute("DELETE FROM swap_holds WHERE swap_id = $1", swap_id)

    async def mark_swapped(self, conn: Conn, listing_ids: list[UUID], now: datetime) -> int:
        result = await conn.execute(
            """UPDATE listings SET status = 'swapped', updated_at = $2
               WHERE id = ANY($1::uuid[]) AND status = 'active'""",
            listing_ids,
            now,
        )
        return int(result.split()[-1])

    # --- jobs ------------------------------------------------------------------------------------

    async def stale(self, status: str, before: datetime, column: str) -> list[asyncpg.Record]:
        assert column in ("created_at", "accepted_at")
        return await self.pool.fetch(
            f"SELECT {_S} FROM swaps s WHERE s.status = $1 AND s.{column} < $2 ORDER BY s.{column}",
            status,
            before,
        )

    async def refunds_owed(self) -> list[asyncpg.Record]:
        """Cancelled swaps whose captured difference has not been refunded (a crash after the
        cancellation committed)."""
        return await self.pool.fetch(
            f"""SELECT {_S} FROM swaps s JOIN payments p ON p.id = s.payment_id
                WHERE s.status = 'cancelled' AND p.status = 'captured' AND p.refunded_fen = 0"""
        )

    # --- ratings ---------------------------------------------------------------------------------

    async def rate(
        self,
        swap_id: UUID,
        rater_id: UUID,
        ratee_id: UUID,
        score: int,
        comment: str,
        now: datetime,
        also: Also | None = None,
    ) -> asyncpg.Record | None:
        """The rating and the ratee's reputation together; None if this rater already rated."""
        return await insert_rating(
            self.pool, "swap_ratings", swap_id, rater_id, ratee_id, score, comment, now, also
        )

    async def ratings_of(self, swap_id: UUID) -> list[asyncpg.Record]:
        return await fetch_ratings(self.pool, "swap_ratings", swap_id)
