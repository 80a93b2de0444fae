"""SQL for merchants, their members and the communities they serve."""

from __future__ import annotations

from uuid import UUID

import asyncpg

__all__ = ["MerchantStore"]


class MerchantStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def create(self, name: str, owner_id: UUID) -> asyncpg.Record:
        """The merchant and its owner together: a merchant without an owner must never exist."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "INSERT INTO merchants (name) VALUES ($1) RETURNING id, name, created_at", name
            )
            assert row is not None
            await conn.execute(
                "INSERT INTO merchant_members (merchant_id, user_id, role) VALUES ($1, $2, 'owner')",
                row["id"],
                owner_id,
            )
        return row

    async def merchant(self, merchant_id: UUID) -> asyncpg.Record | None:
        return await self._pool.fetchrow(
            "SELECT id, name, created_at FROM merchants WHERE id = $1", merchant_id
        )

    async def role_of(self, user_id: UUID, merchant_id: UUID) -> str | None:
        role: str | None = await self._pool.fetchval(
            "SELECT role FROM merchant_members WHERE merchant_id = $1 AND user_id = $2",
            merchant_id,
            user_id,
        )
        return role

    async def add_staff(self, merchant_id: UUID, user_id: UUID) -> None:
        """Idempotent; an existing member (the owner included) keeps the role they have."""
        await self._pool.execute(
            """INSERT INTO merchant_members (merchant_id, user_id, role) VALUES ($1, $2, 'staff')
               ON CONFLICT (merchant_id, user_id) DO NOTHING""",
            merchant_id,
            user_id,
        )

    async def remove_staff(self, merchant_id: UUID, user_id: UUID) -> bool:
        status = await self._pool.execute(
            """DELETE FROM merchant_members
               WHERE merchant_id = $1 AND user_id = $2 AND role = 'staff'""",
            merchant_id,
            user_id,
        )
        return status.endswith(" 1")

    async def members(self, merchant_id: UUID) -> list[asyncpg.Record]:
        return await self._pool.fetch(
            """SELECT m.user_id, u.display_name, m.role, m.created_at
               FROM merchant_members m JOIN users u ON u.id = m.user_id
               WHERE m.merchant_id = $1
               ORDER BY m.role = 'staff', m.created_at, m.user_id""",
            merchant_id,
        )

    async def communities(self, merchant_id: UUID) -> list[UUID]:
        rows = await self._pool.fetch(
            """SELECT community_id FROM merchant_communities WHERE merchant_id = $1
               ORDER BY community_id""",
            merchant_id,
        )
        return [r["community_id"] for r in rows]

    async def bind_community(self, merchant_id: UUID, community_id: UUID) -> None:
        await self._pool.execute(
            """INSERT INTO merchant_communities (merchant_id, community_id) VALUES ($1, $2)
               ON CONFLICT DO NOTHING""",
            merchant_id,
            community_id,
        )

    async def unbind_community(self, merchant_id: UUID, community_id: UUID) -> bool:
        status = await self._pool.execute(
            "DELETE FROM merchant_communities WHERE merchant_id = $1 AND community_id = $2",
            merchant_id,
            community_id,
        )
        return status.endswith(" 1")

    async def merchants_of_user(self, user_id: UUID) -> list[asyncpg.Record]:
        return await self._pool.fetch(
            """SELECT mc.id, mc.name, mc.created_at, m.role
               FROM merchant_members m JOIN merchants mc ON mc.id = m.merchant_id
               WHERE m.user_id = $1
               ORDER BY mc.name, mc.id""",
            user_id,
        )
