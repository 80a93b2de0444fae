"""SQL for listings: publishing, editing, images and the community-scoped search."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from lago_core.ledger.store import Conn

__all__ = ["ListingStore"]

_LISTING = """l.id, l.seller_id, l.merchant_id, l.title, l.description, l.category, l.brand,
    l.condition, l.kind, l.price_fen, l.rent_per_day_fen, l.deposit_fen, l.images, l.status,
    l.created_at, l.updated_at, l.swap_ok"""

# Where a listing is visible, computed at query time so that a resident's verification, a move or a
# merchant's new community changes what people see at once, with nothing copied to keep in sync:
# a resident's own listing shows in the communities where its seller is a verified resident; a
# merchant's listing shows in the communities the merchant serves.
_VISIBLE_IN = """(
    (l.merchant_id IS NULL AND EXISTS (
        SELECT 1 FROM community_members m
        WHERE m.user_id = l.seller_id AND m.status = 'verified' AND m.community_id = ANY({0})))
    OR (l.merchant_id IS NOT NULL AND EXISTS (
        SELECT 1 FROM merchant_communities mc
        WHERE mc.merchant_id = l.merchant_id AND mc.community_id = ANY({0})))
)"""

# The communities whose market user $2 sees: where they are a verified resident, and those their
# property company manages.
_COMMUNITIES_OF = """
    SELECT m.community_id FROM community_members m WHERE m.user_id = $2 AND m.status = 'verified'
    UNION
    SELECT c.id FROM communities c JOIN property_staff s ON s.company_id = c.property_company_id
    WHERE s.user_id = $2"""


def _like_pattern(text: str) -> str:
    """A substring pattern for ILIKE in which the user's ``%``, ``_`` and ``\\`` match themselves."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class ListingStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def meeting_community(self, listing_id: UUID, buyer_id: UUID) -> UUID | None:
        """A community where the buyer is a verified resident and the listing is visible.

        Visible means what search uses: the seller's verified communities for a resident's
        listing, the communities the merchant serves for a merchant's. The smallest id when there
        are several, so the answer is stable.
        """
        community: UUID | None = await self._pool.fetchval(
            """
            SELECT m.community_id FROM community_members m
            WHERE m.user_id = $2 AND m.status = 'verified'
              AND m.community_id IN (
                  SELECT cm.community_id FROM listings l
                  JOIN community_members cm ON cm.user_id = l.seller_id AND cm.status = 'verified'
                  WHERE l.id = $1 AND l.merchant_id IS NULL
                  UNION
                  SELECT mc.community_id FROM listings l
                  JOIN merchant_communities mc ON mc.merchant_id = l.merchant_id
                  WHERE l.id = $1
              )
            ORDER BY m.community_id
            LIMIT 1
            """,
            listing_id,
            buyer_id,
        )
        return community

    async def visible_to(self, listing_id: UUID, user_id: UUID) -> bool:
        """Whether the listing shows in a community where the user is a verified resident or
        property staff: the rule search applies (``_VISIBLE_IN``), for one listing."""
        visible: bool = await self._pool.fetchval(
            f"""
            SELECT EXISTS (
                SELECT 1 FROM listings l
                WHERE l.id = $1 AND {_VISIBLE_IN.format("ARRAY(" + _COMMUNITIES_OF + ")")})
            """,
            listing_id,
            user_id,
        )
        return visible

    async def create(
        self, seller_id: UUID, fields: dict[str, Any], now: datetime
    ) -> asyncpg.Record:
        columns = ["seller_id", *fields, "created_at", "updated_at"]
        values = [seller_id, *fields.values(), now, now]
        placeholders = ", ".join(f"${i}" for i in range(1, len(values) + 1))
        row = await self._pool.fetchrow(
            f"""INSERT INTO listings AS l ({", ".join(columns)}) VALUES ({placeholders})
                RETURNING {_LISTING}""",
            *values,
        )
        assert row is not None
        return row

    async def _under_cap(self, conn: Conn, seller_id: UUID, now: datetime, cap: int | None) -> bool:
        """Whether the seller may have one more active listing of their own. The per-seller
        advisory lock (held to the caller's commit) makes concurrent publishes count in turn."""
        if cap is None:
            return True
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext('listing-cap:' || $1::text))", str(seller_id)
        )
        if await conn.fetchval("SELECT lago_is_member($1, $2)", seller_id, now):
            return True
        active = await conn.fetchval(
            """SELECT count(*) FROM listings
               WHERE seller_id = $1 AND merchant_id IS NULL AND status = 'active'""",
            seller_id,
        )
        return bool(active < cap)

    async def create_capped(
        self, seller_id: UUID, fields: dict[str, Any], now: datetime, cap: int | None
    ) -> asyncpg.Record | None:
        """Insert a resident's listing unless it would pass the cap (then None)."""
        columns = ["seller_id", *fields, "created_at", "updated_at"]
        values = [seller_id, *fields.values(), now, now]
        placeholders = ", ".join(f"${i}" for i in range(1, len(values) + 1))
        async with self._pool.acquire() as conn, conn.transaction():
            if not await self._under_cap(conn, seller_id, now, cap):
                return None
            row = await conn.fetchrow(
                f"""INSERT INTO listings AS l ({", ".join(columns)}) VALUES ({placeholders})
                    RETURNING {_LISTING}""",
                *values,
            )
        assert row is not None
        return row

    async def reactivate(
        self, listing_id: UUID, seller_id: UUID, now: datetime, cap: int | None
    ) -> tuple[asyncpg.Record | None, bool]:
        """withdrawn → active; (row or None if it was not withdrawn, refused by the cap)."""
        async with self._pool.acquire() as conn, conn.transaction():
            if not await self._under_cap(conn, seller_id, now, cap):
                return None, True
            row = await conn.fetchrow(
                f"""UPDATE listings AS l SET status = 'active', updated_at = $2
                    WHERE l.id = $1 AND l.status = 'withdrawn' RETURNING {_LISTING}""",
                listing_id,
                now,
            )
        return row, False

    async def listing(self, listing_id: UUID) -> asyncpg.Record | None:
        return await self._pool.fetchrow(
            f"SELECT {_LISTING} FROM listings l WHERE l.id = $1", listing_id
        )

    async def update(
        self, listing_id: UUID, changes: dict[str, Any], now: datetime
    ) -> asyncpg.Record | None:
        """Apply ``changes`` (column names checked by the caller) to an active listing."""
        columns = [*changes, "updated_at"]
        assignments = ", ".join(f"{col} = ${i}" for i, col in enumerate(columns, start=2))
        return await self._pool.fetchrow(
            f"""UPDATE listings AS l SET {assignments} WHERE l.id = $1 AND l.status = 'active'
                RETURNING {_LISTING}""",
            listing_id,
            *changes.values(),
            now,
        )

    async def withdraw(self, listing_id: UUID, now: datetime) -> asyncpg.Record | None:
        return await self._pool.fetchrow(
            f"""UPDATE listings AS l SET status = 'withdrawn', updated_at = $2
                WHERE l.id = $1 AND l.status = 'active' RETURNING {_LISTING}""",
            listing_id,
            now,
        )

    async def set_status(
        self,
        conn: Conn | asyncpg.Pool,
        listing_id: UUID,
        expected: str,
        status: str,
        now: datetime,
    ) -> bool:
        """Move a listing from ``expected`` to ``status`` (orders: active → sold/rented and back),
        on the caller's connection so it commits with the order's own transition."""
        result = await conn.execute(
            """UPDATE listings SET status = $3, updated_at = $4 WHERE id = $1 AND status = $2""",
            listing_id,
            expected,
            status,
            now,
        )
        return bool(result.endswith(" 1"))

    async def append_image(
        self, listing_id: UUID, key: str, max_images: int, now: datetime
    ) -> asyncpg.Record | None:
        """Append in one statement so that two concurrent uploads cannot exceed ``max_images``."""
        return await self._pool.fetchrow(
            f"""UPDATE listings AS l SET images = l.images || $2::text, updated_at = $4
                WHERE l.id = $1 AND l.status = 'active' AND cardinality(l.images) < $3
                RETURNING {_LISTING}""",
            listing_id,
            key,
            max_images,
            now,
        )

    async def remove_image(
        self, listing_id: UUID, key: str, now: datetime
    ) -> asyncpg.Record | None:
        return await self._pool.fetchrow(
            f"""UPDATE listings AS l SET images = array_remove(l.images, $2), updated_at = $3
                WHERE l.id = $1 AND l.status = 'active' AND $2 = ANY(l.images)
                RETURNING {_LISTING}""",
            listing_id,
            key,
            now,
        )

    async def search(
        self,
        communities: list[UUID] | None,
        category: str | None,
        kind: str | None,
        min_price_fen: int | None,
        max_price_fen: int | None,
        text: str | None,
        after: tuple[datetime, UUID] | None,
        limit: int,
    ) -> list[asyncpg.Record]:
        """Active listings, newest first; ``communities=None`` means everywhere (admins)."""
        return await self._pool.fetch(
            f"""
            SELECT {_LISTING} FROM listings l
            WHERE l.status = 'active'
              AND ($1::uuid[] IS NULL OR {_VISIBLE_IN.format("$1::uuid[]")})
              AND ($2::text IS NULL OR l.category = $2)
              AND ($3::text IS NULL OR l.kind = $3)
              AND ($4::bigint IS NULL OR l.list_price_fen >= $4)
              AND ($5::bigint IS NULL OR l.list_price_fen <= $5)
              AND ($6::text IS NULL OR l.search_text ILIKE $6)
              AND ($7::timestamptz IS NULL OR (l.created_at, l.id) < ($7, $8::uuid))
            ORDER BY l.created_at DESC, l.id DESC
            LIMIT $9
            """,
            communities,
            category,
            kind,
            min_price_fen,
            max_price_fen,
            _like_pattern(text) if text else None,
            after[0] if after else None,
            after[1] if after else None,
            limit,
        )

    async def by_merchant(
        self, merchant_id: UUID, after: tuple[datetime, UUID] | None, limit: int
    ) -> list[asyncpg.Record]:
        """Every listing of a merchant, whatever its status, newest first."""
        return await self._pool.fetch(
            f"""
            SELECT {_LISTING} FROM listings l
            WHERE l.merchant_id = $1
              AND ($2::timestamptz IS NULL OR (l.created_at, l.id) < ($2, $3::uuid))
            ORDER BY l.created_at DESC, l.id DESC
            LIMIT $4
            """,
            merchant_id,
            after[0] if after else None,
            after[1] if after else None,
            limit,
        )

    async def by_seller(
        self, seller_id: UUID, after: tuple[datetime, UUID] | None, limit: int
    ) -> list[asyncpg.Record]:
        """Everything a user published, whatever its status, newest first."""
        return await self._pool.fetch(
            f"""
            SELECT {_LISTING} FROM listings l
            WHERE l.seller_id = $1
              AND ($2::timestamptz IS NULL OR (l.created_at, l.id) < ($2, $3::uuid))
            ORDER BY l.created_at DESC, l.id DESC
            LIMIT $4
            """,
            seller_id,
            after[0] if after else None,
            after[1] if after else None,
            limit,
        )
