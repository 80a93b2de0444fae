"""SQL for property companies, communities and memberships."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

__all__ = ["CommunityStore"]

_COMMUNITY = """c.id, c.name, c.address, c.latitude, c.longitude, c.geohash,
    c.property_company_id, c.created_at"""


class CommunityStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    # --- property companies ----------------------------------------------------------------------

    async def create_company(self, name: str) -> asyncpg.Record | None:
        return await self._pool.fetchrow(
            """INSERT INTO property_companies (name) VALUES ($1) ON CONFLICT (name) DO NOTHING
               RETURNING id, name, created_at""",
            name,
        )

    async def company(self, company_id: UUID) -> asyncpg.Record | None:
        return await self._pool.fetchrow(
            "SELECT id, name, created_at FROM property_companies WHERE id = $1", company_id
        )

    async def companies(self) -> list[asyncpg.Record]:
        return await self._pool.fetch(
            """SELECT c.id, c.name, c.created_at,
                      (SELECT count(*) FROM communities m WHERE m.property_company_id = c.id)
                          AS community_count
               FROM property_companies c ORDER BY c.name, c.id"""
        )

    async def add_staff(self, company_id: UUID, user_id: UUID, added_by: UUID) -> None:
        await self._pool.execute(
            """INSERT INTO property_staff (company_id, user_id, added_by) VALUES ($1, $2, $3)
               ON CONFLICT DO NOTHING""",
            company_id,
            user_id,
            added_by,
        )

    async def remove_staff(self, company_id: UUID, user_id: UUID) -> bool:
        status = await self._pool.execute(
            "DELETE FROM property_staff WHERE company_id = $1 AND user_id = $2", company_id, user_id
        )
        return status.endswith(" 1")

    async def company_staff(self, company_id: UUID) -> list[asyncpg.Record]:
        return await self._pool.fetch(
            """SELECT u.id AS user_id, u.display_name, s.created_at FROM property_staff s
               JOIN users u ON u.id = s.user_id WHERE s.company_id = $1 ORDER BY s.created_at""",
            company_id,
        )

    async def is_company_staff(self, company_id: UUID, user_id: UUID) -> bool:
        return bool(
            await self._pool.fetchval(
                "SELECT 1 FROM property_staff WHERE company_id = $1 AND user_id = $2",
                company_id,
                user_id,
            )
        )

    async def is_community_staff(self, community_id: UUID, user_id: UUID) -> bool:
        return bool(
            await self._pool.fetchval(
                """SELECT 1 FROM communities c JOIN property_staff s
                   ON s.company_id = c.property_company_id
                   WHERE c.id = $1 AND s.user_id = $2""",
                community_id,
                user_id,
            )
        )

    # --- communities -----------------------------------------------------------------------------

    async def create_community(
        self,
        name: str,
        address: str,
        latitude: Decimal,
        longitude: Decimal,
        geohash: str,
        company_id: UUID | None,
        created_by: UUID,
    ) -> asyncpg.Record | None:
        return await self._pool.fetchrow(
            f"""
            INSERT INTO communities AS c
                (name, address, latitude, longitude, geohash, property_company_id, created_by)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (name, address) DO NOTHING
            RETURNING {_COMMUNITY}
            """,
            name,
            address,
            latitude,
            longitude,
            geohash,
            company_id,
            created_by,
        )

    async def update_community(
        self, community_id: UUID, changes: dict[str, Any]
    ) -> asyncpg.Record | None:
        if not changes:
            return await self.community(community_id)
        columns = list(changes)
        assignments = ", ".join(f"{col} = ${i}" for i, col in enumerate(columns, start=2))
        return await self._pool.fetchrow(
            f"UPDATE communities AS c SET {assignments} WHERE id = $1 RETURNING {_COMMUNITY}",
            community_id,
            *changes.values(),
        )

    async def community(self, community_id: UUID) -> asyncpg.Record | None:
        return await self._pool.fetchrow(
            f"SELECT {_COMMUNITY} FROM communities c WHERE c.id = $1", community_id
        )

    async def list_communities(
        self,
        geohash_prefix: str | None,
        text: str | None,
        after: tuple[str, UUID] | None,
        limit: int,
    ) -> list[asyncpg.Record]:
        return await self._pool.fetch(
            f"""
            SELECT {_COMMUNITY} FROM communities c
            WHERE ($1::text IS NULL OR c.geohash LIKE $1 || '%')
              AND ($2::text IS NULL OR c.name ILIKE '%' || $2 || '%' OR c.address ILIKE '%' || $2 || '%')
              AND ($3::text IS NULL OR (c.name, c.id) > ($3, $4::uuid))
            ORDER BY c.name, c.id
            LIMIT $5
            """,
            geohash_prefix,
            text,
            after[0] if after else None,
            after[1] if after else None,
            limit,
        )

    # --- memberships -----------------------------------------------------------------------------

    async def request_membership(
        self, community_id: UUID, user_id: UUID, unit: str | None, note: str | None, now: datetime
    ) -> asyncpg.Record:
        """Ask to join; a rejected resident may ask again, a pending or verified one is unchanged."""
        row = await self._pool.fetchrow(
            """
            INSERT INTO community_members (community_id, user_id, status, unit, note, requested_at)
            VALUES ($1, $2, 'pending', $3, $4, $5)
            ON CONFLICT (community_id, user_id) DO UPDATE
               SET status = 'pending', unit = EXCLUDED.unit, note = EXCLUDED.note,
                   requested_at = EXCLUDED.requested_at, decided_by = NULL, decided_at = NULL,
                   reason = NULL
               WHERE community_members.status = 'rejected'
            RETURNING community_id, user_id, status, unit, note, requested_at, decided_at, reason
            """,
            community_id,
            user_id,
            unit,
            note,
            now,
        )
        if row is None:
            row = await self.membership(community_id, user_id)
            assert row is not None
        return row

    async def membership(self, community_id: UUID, user_id: UUID) -> asyncpg.Record | None:
        return await self._pool.fetchrow(
            """SELECT community_id, user_id, status, unit, note, requested_at, decided_at, reason
               FROM community_members WHERE community_id = $1 AND user_id = $2""",
            community_id,
            user_id,
        )

    async def decide_membership(
        self,
        community_id: UUID,
        user_id: UUID,
        status: str,
        decided_by: UUID,
        reason: str | None,
        now: datetime,
    ) -> asyncpg.Record | None:
        """Verify or reject a pending request (or revoke a verified one by rejecting it)."""
        return await self._pool.fetchrow(
            """
            UPDATE community_members
               SET status = $3, decided_by = $4, decided_at = $6, reason = $5
             WHERE community_id = $1 AND user_id = $2 AND status <> $3
            RETURNING community_id, user_id, status, unit, note, requested_at, decided_at, reason
            """,
            community_id,
            user_id,
            status,
            decided_by,
            reason,
            now,
        )

    async def leave(self, community_id: UUID, user_id: UUID) -> bool:
        status = await self._pool.execute(
            "DELETE FROM community_members WHERE community_id = $1 AND user_id = $2",
            community_id,
            user_id,
        )
        return status.endswith(" 1")

    async def members(
        self,
        community_id: UUID,
        statuses: list[str],
        after: tuple[datetime, UUID] | None,
        limit: int,
    ) -> list[asyncpg.Record]:
        """Residents with the given statuses and the property staff of the community, in one list."""
        return await self._pool.fetch(
            """
            SELECT * FROM (
                SELECT m.user_id, u.display_name, 'resident' AS role, m.status, m.unit,
                       m.requested_at AS since
                FROM community_members m JOIN users u ON u.id = m.user_id
                WHERE m.community_id = $1 AND m.status = ANY($2::text[])
                UNION ALL
                SELECT s.user_id, u.display_name, 'property_staff', 'verified', NULL, s.created_at
                FROM communities c
                JOIN property_staff s ON s.company_id = c.property_company_id
                JOIN users u ON u.id = s.user_id
                WHERE c.id = $1 AND 'verified' = ANY($2::text[])
            ) AS everyone
            WHERE ($3::timestamptz IS NULL OR (since, user_id) > ($3, $4::uuid))
            ORDER BY since, user_id
            LIMIT $5
            """,
            community_id,
            statuses,
            after[0] if after else None,
            after[1] if after else None,
            limit,
        )

    async def communities_of_user(self, user_id: UUID) -> list[asyncpg.Record]:
        return await self._pool.fetch(
            f"""
            SELECT {_COMMUNITY}, 'resident' AS role, m.status
            FROM community_members m JOIN communities c ON c.id = m.community_id
            WHERE m.user_id = $1
            UNION ALL
            SELECT {_COMMUNITY}, 'property_staff', 'verified'
            FROM property_staff s JOIN communities c ON c.property_company_id = s.company_id
            WHERE s.user_id = $1
            ORDER BY 2
            """,
            user_id,
        )

    async def channel_people(
        self, pairs: list[tuple[UUID, UUID]]
    ) -> dict[tuple[UUID, UUID], asyncpg.Record]:
        """For each (community, user): display name, property staff of the community, verified
        resident. What a channel needs to know of whoever acts in it, for many users of many
        communities in one round trip; pairs whose user does not exist are left out."""
        rows = await self._pool.fetch(
            """SELECT p.community_id, u.id, u.display_name,
                      EXISTS (SELECT 1 FROM communities c JOIN property_staff s
                              ON s.company_id = c.property_company_id
                              WHERE c.id = p.community_id AND s.user_id = u.id) AS staff,
                      EXISTS (SELECT 1 FROM community_members m
                              WHERE m.community_id = p.community_id AND m.user_id = u.id
                                AND m.status = 'verified') AS verified
               FROM unnest($1::uuid[], $2::uuid[]) AS p(community_id, user_id)
               JOIN users u ON u.id = p.user_id""",
            [community_id for community_id, _ in pairs],
            [user_id for _, user_id in pairs],
        )
        return {(r["community_id"], r["id"]): r for r in rows}

    async def is_verified_member(self, community_id: UUID, user_id: UUID) -> bool:
        return bool(
            await self._pool.fetchval(
                """SELECT 1 FROM community_members
                   WHERE community_id = $1 AND user_id = $2 AND status = 'verified'""",
                community_id,
                user_id,
            )
        )
