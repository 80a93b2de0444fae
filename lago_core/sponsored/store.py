"""SQL of brands, campaigns, creatives, slots, their showings and the viewers' reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

__all__ = ["SponsoredStore"]

_SLOT = """s.id, s.campaign_id, s.creative_id, s.starts_at, s.ends_at, s.duration_s,
    s.cancelled_at, s.created_at,
    COALESCE((SELECT array_agg(c.community_id ORDER BY c.community_id)
              FROM sponsor_slot_communities c WHERE c.slot_id = s.id), '{}') AS community_ids"""


class SponsoredStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def _insert(self, table: str, values: dict[str, Any]) -> asyncpg.Record:
        columns = list(values)
        row = await self.pool.fetchrow(
            f"""INSERT INTO {table} ({", ".join(columns)})
                VALUES ({", ".join(f"${i}" for i in range(1, len(columns) + 1))})
                RETURNING *""",
            *values.values(),
        )
        assert row is not None
        return row

    async def insert_brand(self, values: dict[str, Any]) -> asyncpg.Record:
        """Raises UniqueViolationError for a name taken."""
        return await self._insert("sponsor_brands", values)

    async def insert_campaign(self, values: dict[str, Any]) -> asyncpg.Record:
        return await self._insert("sponsor_campaigns", values)

    async def insert_creative(self, values: dict[str, Any]) -> asyncpg.Record:
        return await self._insert("sponsor_creatives", values)

    async def insert_slot(
        self, values: dict[str, Any], community_ids: list[UUID]
    ) -> asyncpg.Record:
        columns = list(values)
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                f"""INSERT INTO sponsor_slots ({", ".join(columns)})
                    VALUES ({", ".join(f"${i}" for i in range(1, len(columns) + 1))})""",
                *values.values(),
            )
            await conn.executemany(
                "INSERT INTO sponsor_slot_communities (slot_id, community_id) VALUES ($1, $2)",
                [(values["id"], c) for c in community_ids],
            )
            row = await conn.fetchrow(
                f"SELECT {_SLOT} FROM sponsor_slots s WHERE s.id = $1", values["id"]
            )
        assert row is not None
        return row

    async def brand(self, brand_id: UUID) -> asyncpg.Record | None:
        return await self.pool.fetchrow("SELECT * FROM sponsor_brands WHERE id = $1", brand_id)

    async def brands(self) -> list[asyncpg.Record]:
        return await self.pool.fetch("SELECT * FROM sponsor_brands ORDER BY name")

    async def campaign(self, campaign_id: UUID) -> asyncpg.Record | None:
        return await self.pool.fetchrow(
            """SELECT c.*, b.name AS brand_name FROM sponsor_campaigns c
               JOIN sponsor_brands b ON b.id = c.brand_id WHERE c.id = $1""",
            campaign_id,
        )

    async def campaigns(self) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            """SELECT c.*, b.name AS brand_name FROM sponsor_campaigns c
               JOIN sponsor_brands b ON b.id = c.brand_id ORDER BY c.created_at DESC, c.id"""
        )

    async def creative(self, creative_id: UUID) -> asyncpg.Record | None:
        return await self.pool.fetchrow(
            "SELECT * FROM sponsor_creatives WHERE id = $1", creative_id
        )

    async def set_image(self, creative_id: UUID, key: str) -> str | None:
        """The image key it replaced (None when there was none)."""
        old: str | None = await self.pool.fetchval(
            """UPDATE sponsor_creatives n SET image_key = $2 FROM sponsor_creatives o
               WHERE n.id = $1 AND o.id = n.id RETURNING o.image_key""",
            creative_id,
            key,
        )
        return old

    async def slots_of(self, campaign_id: UUID) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            f"SELECT {_SLOT} FROM sponsor_slots s WHERE s.campaign_id = $1 ORDER BY s.starts_at, s.id",
            campaign_id,
        )

    async def slot(self, slot_id: UUID) -> asyncpg.Record | None:
        return await self.pool.fetchrow(
            f"SELECT {_SLOT} FROM sponsor_slots s WHERE s.id = $1", slot_id
        )

    async def cancel_slot(self, slot_id: UUID, now: datetime) -> asyncpg.Record | None:
        return await self.pool.fetchrow(
            """UPDATE sponsor_slots SET cancelled_at = $2
               WHERE id = $1 AND cancelled_at IS NULL RETURNING id""",
            slot_id,
            now,
        )

    # --- showing ---------------------------------------------------------------------------------

    async def due(self, community_id: UUID, session_id: str, now: datetime) -> list[asyncpg.Record]:
        """Slots running now in this community and not shown in this session yet, with their
        creatives: the earliest window first."""
        return await self.pool.fetch(
            """SELECT s.id AS slot_id, s.duration_s, s.campaign_id, n.title, n.link_url,
                      n.image_key, b.name AS brand_name
               FROM sponsor_slots s
               JOIN sponsor_slot_communities sc ON sc.slot_id = s.id AND sc.community_id = $1
               JOIN sponsor_creatives n ON n.id = s.creative_id
               JOIN sponsor_campaigns c ON c.id = s.campaign_id
               JOIN sponsor_brands b ON b.id = c.brand_id
               WHERE s.cancelled_at IS NULL AND s.starts_at <= $3 AND s.ends_at > $3
                 AND NOT EXISTS (SELECT 1 FROM sponsor_shows w
                                 WHERE w.slot_id = s.id AND w.session_id = $2)
               ORDER BY s.starts_at, s.id""",
            community_id,
            session_id,
            now,
        )

    async def record_show(
        self, slot_id: UUID, session_id: str, community_id: UUID, now: datetime
    ) -> None:
        await self.pool.execute(
            """INSERT INTO sponsor_shows (slot_id, session_id, community_id, shown_at)
               VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING""",
            slot_id,
            session_id,
            community_id,
            now,
        )

    async def show(self, slot_id: UUID, session_id: str) -> asyncpg.Record | None:
        return await self.pool.fetchrow(
            "SELECT * FROM sponsor_shows WHERE slot_id = $1 AND session_id = $2",
            slot_id,
            session_id,
        )

    async def count(
        self,
        kind: str,
        slot_id: UUID,
        session_id: str,
        user_id: UUID,
        community_id: UUID,
        now: datetime,
    ) -> bool:
        """Count a viewer once per showing; False when they were counted already. A click is also
        an impression (a click on a card never reported seen still saw it)."""
        tables = (
            ["sponsor_impressions"]
            if kind == "impression"
            else ["sponsor_impressions", "sponsor_clicks"]
        )
        counted = False
        async with self.pool.acquire() as conn, conn.transaction():
            for table in tables:
                result = await conn.execute(
                    f"""INSERT INTO {table} (slot_id, session_id, user_id, community_id, at)
                        VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING""",
                    slot_id,
                    session_id,
                    user_id,
                    community_id,
                    now,
                )
                counted = result.endswith(" 1")
        return counted

    # --- the report ------------------------------------------------------------------------------

    async def report(self, campaign_id: UUID) -> list[asyncpg.Record]:
        """Per slot and community: showings, impressions (viewer × showing), distinct viewers,
        clicks (viewer × showing) and distinct clickers."""
        return await self.pool.fetch(
            """SELECT s.id AS slot_id, sc.community_id, cm.name AS community_name,
                      n.title AS creative_title,
                      (SELECT count(*) FROM sponsor_shows w
                       WHERE w.slot_id = s.id AND w.community_id = sc.community_id) AS shows,
                      (SELECT count(*) FROM sponsor_impressions i
                       WHERE i.slot_id = s.id AND i.community_id = sc.community_id) AS impressions,
                      (SELECT count(DISTINCT i.user_id) FROM sponsor_impressions i
                       WHERE i.slot_id = s.id AND i.community_id = sc.community_id) AS unique_viewers,
                      (SELECT count(*) FROM sponsor_clicks k
                       WHERE k.slot_id = s.id AND k.community_id = sc.community_id) AS clicks,
                      (SELECT count(DISTINCT k.user_id) FROM sponsor_clicks k
                       WHERE k.slot_id = s.id AND k.community_id = sc.community_id) AS unique_clickers
               FROM sponsor_slots s
               JOIN sponsor_slot_communities sc ON sc.slot_id = s.id
               JOIN communities cm ON cm.id = sc.community_id
               JOIN sponsor_creatives n ON n.id = s.creative_id
               WHERE s.campaign_id = $1
               ORDER BY s.starts_at, s.id, cm.name, sc.community_id""",
            campaign_id,
        )
