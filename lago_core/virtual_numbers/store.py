"""SQL of virtual numbers: bindings, the distinct buyers of a seller's month, call records."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from lago_core.ledger.store import Conn

__all__ = ["VirtualNumberStore"]

_BINDING = """id, provider, provider_binding_id, number, listing_id, seller_id, buyer_id,
    subscription_id, usage_month, expires_at, unbound_at, created_at"""


class VirtualNumberStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def phone_of(self, conn: Conn, user_id: UUID) -> str:
        phone: str = await conn.fetchval("SELECT phone FROM users WHERE id = $1", user_id)
        return phone

    async def open_binding(
        self, conn: Conn, seller_id: UUID, buyer_id: UUID, after: datetime
    ) -> asyncpg.Record | None:
        return await conn.fetchrow(
            f"""SELECT {_BINDING} FROM virtual_number_bindings
                WHERE seller_id = $1 AND buyer_id = $2 AND unbound_at IS NULL AND expires_at > $3
                ORDER BY expires_at DESC LIMIT 1""",
            seller_id,
            buyer_id,
            after,
        )

    async def buyers(self, conn: Conn, seller_id: UUID, month: str) -> int:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM virtual_number_buyers WHERE seller_id = $1 AND usage_month = $2",
                seller_id,
                month,
            )
        )

    async def has_buyer(self, conn: Conn, seller_id: UUID, month: str, buyer_id: UUID) -> bool:
        return bool(
            await conn.fetchval(
                """SELECT EXISTS (SELECT 1 FROM virtual_number_buyers
                   WHERE seller_id = $1 AND usage_month = $2 AND buyer_id = $3)""",
                seller_id,
                month,
                buyer_id,
            )
        )

    async def add_buyer(
        self, conn: Conn, seller_id: UUID, month: str, buyer_id: UUID, now: datetime
    ) -> None:
        await conn.execute(
            """INSERT INTO virtual_number_buyers (seller_id, usage_month, buyer_id, first_at)
               VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING""",
            seller_id,
            month,
            buyer_id,
            now,
        )

    async def insert_binding(self, conn: Conn, values: dict[str, Any]) -> asyncpg.Record:
        columns = list(values)
        placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
        row = await conn.fetchrow(
            f"""INSERT INTO virtual_number_bindings ({", ".join(columns)})
                VALUES ({placeholders}) RETURNING {_BINDING}""",
            *values.values(),
        )
        assert row is not None
        return row

    async def binding(self, binding_id: UUID) -> asyncpg.Record | None:
        return await self.pool.fetchrow(
            f"SELECT {_BINDING} FROM virtual_number_bindings WHERE id = $1", binding_id
        )

    async def expired(self, now: datetime, limit: int = 500) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            f"""SELECT {_BINDING} FROM virtual_number_bindings
                WHERE unbound_at IS NULL AND expires_at <= $1 ORDER BY expires_at LIMIT $2""",
            now,
            limit,
        )

    async def mark_unbound(self, binding_id: UUID, now: datetime) -> bool:
        done = await self.pool.fetchval(
            """UPDATE virtual_number_bindings SET unbound_at = $2
               WHERE id = $1 AND unbound_at IS NULL RETURNING true""",
            binding_id,
            now,
        )
        return bool(done)

    async def record_call(self, values: dict[str, Any]) -> bool:
        """Record a provider's call once; False when this call was recorded before."""
        done = await self.pool.fetchval(
            """INSERT INTO virtual_number_calls (id, provider, provider_call_id, binding_id,
                   caller, duration_s, started_at, received_at)
               SELECT $1, $2, $3, b.id, $5, $6, $7, $8
               FROM (SELECT $4::text AS pid) p
               LEFT JOIN virtual_number_bindings b ON b.provider_binding_id = p.pid
               ON CONFLICT (provider, provider_call_id) DO NOTHING RETURNING true""",
            values["id"],
            values["provider"],
            values["provider_call_id"],
            values["provider_binding_id"],
            values["from_number"],
            values["duration_s"],
            values["started_at"],
            values["received_at"],
        )
        return bool(done)

    async def usage(self, seller_id: UUID, month: str, now: datetime) -> asyncpg.Record:
        row = await self.pool.fetchrow(
            """SELECT
                 (SELECT count(*) FROM virtual_number_buyers
                   WHERE seller_id = $1 AND usage_month = $2) AS buyers,
                 (SELECT count(*) FROM virtual_number_bindings
                   WHERE seller_id = $1 AND unbound_at IS NULL AND expires_at > $3) AS open_bindings,
                 (SELECT count(*) FROM virtual_number_calls c
                   JOIN virtual_number_bindings b ON b.id = c.binding_id
                   WHERE b.seller_id = $1 AND b.usage_month = $2) AS calls,
                 (SELECT COALESCE(sum(c.duration_s), 0) FROM virtual_number_calls c
                   JOIN virtual_number_bindings b ON b.id = c.binding_id
                   WHERE b.seller_id = $1 AND b.usage_month = $2) AS call_seconds""",
            seller_id,
            month,
            now,
        )
        assert row is not None
        return row
