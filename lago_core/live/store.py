"""SQL of live streams: grants, announcements, the checks behind "who may go live"."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

__all__ = ["LiveStore"]

_ANNOUNCEMENT = "id, community_id, host_id, title, description, starts_at, cancelled_at, created_at"


class LiveStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    # --- who may go live -------------------------------------------------------------------------

    async def is_granted(self, community_id: UUID, user_id: UUID) -> bool:
        return bool(
            await self._pool.fetchval(
                "SELECT 1 FROM live_grants WHERE community_id = $1 AND user_id = $2",
                community_id,
                user_id,
            )
        )

    async def serving_merchant(self, community_id: UUID, user_id: UUID) -> UUID | None:
        """An approved merchant that serves the community and has the user as owner or staff."""
        value = await self._pool.fetchval(
            """
            SELECT m.id FROM merchants m
            JOIN merchant_members mm ON mm.merchant_id = m.id
            JOIN merchant_communities mc ON mc.merchant_id = m.id
            WHERE mm.user_id = $2 AND mc.community_id = $1 AND m.status = 'approved'
            ORDER BY m.id LIMIT 1
            """,
            community_id,
            user_id,
        )
        return value if isinstance(value, UUID) else None

    # --- grants ----------------------------------------------------------------------------------

    async def grant(self, community_id: UUID, user_id: UUID, granted_by: UUID) -> bool:
        """True when the grant is new."""
        row = await self._pool.fetchrow(
            """
            INSERT INTO live_grants (community_id, user_id, granted_by) VALUES ($1, $2, $3)
            ON CONFLICT DO NOTHING RETURNING 1
            """,
            community_id,
            user_id,
            granted_by,
        )
        return row is not None

    async def revoke(self, community_id: UUID, user_id: UUID) -> bool:
        status = await self._pool.execute(
            "DELETE FROM live_grants WHERE community_id = $1 AND user_id = $2",
            community_id,
            user_id,
        )
        return status.endswith(" 1")

    async def grants(self, community_id: UUID) -> list[asyncpg.Record]:
        return await self._pool.fetch(
            """
            SELECT g.user_id, u.display_name, g.granted_by, g.granted_at
            FROM live_grants g JOIN users u ON u.id = g.user_id
            WHERE g.community_id = $1 ORDER BY g.granted_at, g.user_id
            """,
            community_id,
        )

    # --- announcements ---------------------------------------------------------------------------

    async def announce(
        self, community_id: UUID, host_id: UUID, title: str, description: str, starts_at: datetime
    ) -> asyncpg.Record:
        row = await self._pool.fetchrow(
            f"""
            INSERT INTO live_announcements (community_id, host_id, title, description, starts_at)
            VALUES ($1, $2, $3, $4, $5) RETURNING {_ANNOUNCEMENT}
            """,
            community_id,
            host_id,
            title,
            description,
            starts_at,
        )
        assert row is not None
        return row

    async def announcement(self, announcement_id: UUID) -> asyncpg.Record | None:
        return await self._pool.fetchrow(
            f"SELECT {_ANNOUNCEMENT} FROM live_announcements WHERE id = $1", announcement_id
        )

    async def upcoming(self, community_id: UUID, since: datetime) -> list[asyncpg.Record]:
        return await self._pool.fetch(
            f"""
            SELECT {_ANNOUNCEMENT} FROM live_announcements
            WHERE community_id = $1 AND cancelled_at IS NULL AND starts_at >= $2
            ORDER BY starts_at, id LIMIT 100
            """,
            community_id,
            since,
        )

    async def cancel(self, announcement_id: UUID, at: datetime) -> asyncpg.Record | None:
        return await self._pool.fetchrow(
            f"""
            UPDATE live_announcements SET cancelled_at = COALESCE(cancelled_at, $2)
            WHERE id = $1 RETURNING {_ANNOUNCEMENT}
            """,
            announcement_id,
            at,
        )

    # --- pinned items ----------------------------------------------------------------------------

    async def live_group_buys(self, group_ids: list[UUID], community_id: UUID) -> set[UUID]:
        rows = await self._pool.fetch(
            "SELECT id FROM group_buys WHERE id = ANY($1::uuid[]) AND community_id = $2 "
            "AND status IN ('open', 'succeeded')",
            group_ids,
            community_id,
        )
        return {row["id"] for row in rows}

    async def active_listings(self, listing_ids: list[UUID]) -> set[UUID]:
        rows = await self._pool.fetch(
            "SELECT id FROM listings WHERE id = ANY($1::uuid[]) AND status = 'active'",
            listing_ids,
        )
        return {row["id"] for row in rows}
