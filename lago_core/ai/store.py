"""SQL of the AI hub: support conversations and their audit, interaction history, candidates."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

__all__ = ["AiStore", "Row"]

# Support rows as plain dicts: they are amended (decoded, rendered) on the way out.
Row = dict[str, Any]

_CONVERSATION = """c.id, c.user_id, c.status, c.agent_id, c.handover_reason, c.pending_refund,
    c.created_at, c.updated_at, c.queued_at, c.taken_at, c.closed_at"""
_MESSAGE = "m.id, m.conversation_id, m.role, m.author_id, m.body, m.data, m.reply_to, m.created_at"


class AiStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    # --- conversations ---------------------------------------------------------------------------

    async def create_conversation(self, user_id: UUID, now: datetime) -> Row:
        row = await self._pool.fetchrow(
            f"""INSERT INTO support_conversations AS c (user_id, created_at, updated_at)
                VALUES ($1, $2, $2) RETURNING {_CONVERSATION}""",
            user_id,
            now,
        )
        assert row is not None
        return _decoded(row)

    async def conversation(self, conversation_id: UUID) -> Row | None:
        row = await self._pool.fetchrow(
            f"SELECT {_CONVERSATION} FROM support_conversations c WHERE c.id = $1",
            conversation_id,
        )
        return _decoded(row) if row else None

    async def conversations_of(self, user_id: UUID, limit: int) -> list[Row]:
        rows = await self._pool.fetch(
            f"""SELECT {_CONVERSATION} FROM support_conversations c WHERE c.user_id = $1
                ORDER BY c.created_at DESC, c.id DESC LIMIT $2""",
            user_id,
            limit,
        )
        return [_decoded(r) for r in rows]

    async def queue(self, limit: int, now: datetime) -> list[Row]:
        """Conversations waiting for a human — members' (会员, 专属客服) first, then the oldest
        first — then those humans hold."""
        rows = await self._pool.fetch(
            f"""SELECT {_CONVERSATION}, lago_is_member(c.user_id, $2) AS member
                FROM support_conversations c
                WHERE c.status IN ('queued', 'human')
                ORDER BY c.status = 'human', lago_is_member(c.user_id, $2) DESC, c.queued_at, c.id
                LIMIT $1""",
            limit,
            now,
        )
        return [_decoded(r) for r in rows]

    async def move(
        self,
        conversation_id: UUID,
        sources: tuple[str, ...],
        target: str,
        now: datetime,
        **fields: Any,
    ) -> Row | None:
        """Move a conversation from one of ``sources`` to ``target``; None if it was not in one."""
        names = ["status", "updated_at", *fields]
        values = [target, now, *fields.values()]
        sets = ", ".join(f"{n} = ${i}" for i, n in enumerate(names, start=3))
        row = await self._pool.fetchrow(
            f"""UPDATE support_conversations AS c SET {sets}
                WHERE c.id = $1 AND c.status = ANY($2::text[]) RETURNING {_CONVERSATION}""",
            conversation_id,
            list(sources),
            *values,
        )
        return _decoded(row) if row else None

    async def set_pending_refund(
        self, conversation_id: UUID, pending: dict[str, Any] | None, now: datetime
    ) -> None:
        await self._pool.execute(
            """UPDATE support_conversations SET pending_refund = $2::jsonb, updated_at = $3
               WHERE id = $1""",
            conversation_id,
            pending,
            now,
        )

    # --- messages and the audit ------------------------------------------------------------------

    async def add_message(
        self,
        conversation_id: UUID,
        role: str,
        author_id: UUID | None,
        body: str,
        now: datetime,
        data: dict[str, Any] | None = None,
        reply_to: int | None = None,
    ) -> Row | None:
        """Append a message; None when it is an AI reply to a message already answered."""
        row = await self._pool.fetchrow(
            f"""INSERT INTO support_messages AS m
                    (conversation_id, role, author_id, body, data, reply_to, created_at)
                VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7)
                ON CONFLICT (reply_to) WHERE role = 'assistant' DO NOTHING
                RETURNING {_MESSAGE}""",
            conversation_id,
            role,
            author_id,
            body,
            data or {},
            reply_to,
            now,
        )
        return _decoded(row) if row else None

    async def message(self, message_id: int) -> Row | None:
        row = await self._pool.fetchrow(
            f"SELECT {_MESSAGE} FROM support_messages m WHERE m.id = $1", message_id
        )
        return _decoded(row) if row else None

    async def messages(self, conversation_id: UUID, limit: int = 200) -> list[Row]:
        rows = await self._pool.fetch(
            f"""SELECT {_MESSAGE} FROM (
                    SELECT * FROM support_messages WHERE conversation_id = $1
                    ORDER BY id DESC LIMIT $2) m
                ORDER BY m.id""",
            conversation_id,
            limit,
        )
        return [_decoded(r) for r in rows]

    async def answered(self, message_id: int) -> bool:
        return bool(
            await self._pool.fetchval(
                "SELECT 1 FROM support_messages WHERE reply_to = $1 AND role = 'assistant'",
                message_id,
            )
        )

    async def record_tool_call(
        self,
        conversation_id: UUID,
        message_id: int,
        tool: str,
        arguments: dict[str, Any],
        result: dict[str, Any],
        ok: bool,
        engine: str,
        now: datetime,
    ) -> None:
        await self._pool.execute(
            """INSERT INTO support_tool_calls
                   (conversation_id, message_id, tool, arguments, result, ok, engine, created_at)
               VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6, $7, $8)""",
            conversation_id,
            message_id,
            tool,
            arguments,
            result,
            ok,
            engine,
            now,
        )

    async def tool_calls(self, conversation_id: UUID) -> list[Row]:
        rows = await self._pool.fetch(
            """SELECT id, conversation_id, message_id, tool, arguments, result, ok, engine, created_at
               FROM support_tool_calls WHERE conversation_id = $1 ORDER BY id""",
            conversation_id,
        )
        return [_decoded(r) for r in rows]

    # --- history ---------------------------------------------------------------------------------

    async def record_view(self, user_id: UUID, listing_id: UUID, now: datetime) -> None:
        await self._pool.execute(
            "INSERT INTO listing_views (user_id, listing_id, viewed_at) VALUES ($1, $2, $3)",
            user_id,
            listing_id,
            now,
        )

    async def set_favourite(self, user_id: UUID, listing_id: UUID, on: bool, now: datetime) -> None:
        if on:
            await self._pool.execute(
                """INSERT INTO listing_favourites (user_id, listing_id, created_at)
                   VALUES ($1, $2, $3) ON CONFLICT DO NOTHING""",
                user_id,
                listing_id,
                now,
            )
        else:
            await self._pool.execute(
                "DELETE FROM listing_favourites WHERE user_id = $1 AND listing_id = $2",
                user_id,
                listing_id,
            )

    async def favourites(self, user_id: UUID) -> list[UUID]:
        rows = await self._pool.fetch(
            """SELECT listing_id FROM listing_favourites WHERE user_id = $1
               ORDER BY created_at DESC""",
            user_id,
        )
        return [r["listing_id"] for r in rows]

    async def log_search(
        self,
        user_id: UUID,
        query: str,
        intent: dict[str, Any],
        engine: str,
        results: int,
        now: datetime,
    ) -> None:
        await self._pool.execute(
            """INSERT INTO search_log (user_id, query, intent, engine, results, created_at)
               VALUES ($1, $2, $3::jsonb, $4, $5, $6)""",
            user_id,
            query,
            intent,
            engine,
            results,
            now,
        )

    async def profile(self, user_id: UUID, since: datetime) -> list[asyncpg.Record]:
        """The user's signals since ``since``: (source, category, brand, listing_id) rows."""
        return await self._pool.fetch(
            """
            SELECT 'view' AS source, l.category, l.brand, l.id AS listing_id
              FROM listing_views v JOIN listings l ON l.id = v.listing_id
              WHERE v.user_id = $1 AND v.viewed_at >= $2
            UNION ALL
            SELECT 'favourite', l.category, l.brand, l.id
              FROM listing_favourites f JOIN listings l ON l.id = f.listing_id
              WHERE f.user_id = $1
            UNION ALL
            SELECT 'order', o.category, l.brand, o.listing_id
              FROM orders o JOIN listings l ON l.id = o.listing_id
              WHERE o.buyer_id = $1 AND o.status <> 'cancelled'
            UNION ALL
            SELECT 'search', s.intent->>'category', s.intent->>'brand', NULL
              FROM search_log s WHERE s.user_id = $1 AND s.created_at >= $2
            """,
            user_id,
            since,
        )

    async def ordered_listings(self, user_id: UUID) -> set[UUID]:
        """Listings the user bought or rented (or is buying): not recommended again."""
        rows = await self._pool.fetch(
            "SELECT listing_id FROM orders WHERE buyer_id = $1 AND status <> 'cancelled'", user_id
        )
        return {r["listing_id"] for r in rows}

    # --- places and candidates -------------------------------------------------------------------

    async def home_communities(self, user_id: UUID) -> list[asyncpg.Record]:
        return await self._pool.fetch(
            """SELECT c.id, c.name, c.geohash FROM community_members m
               JOIN communities c ON c.id = m.community_id
               WHERE m.user_id = $1 AND m.status = 'verified' ORDER BY c.id""",
            user_id,
        )

    async def communities_in_cells(self, cells: list[str], precision: int) -> list[asyncpg.Record]:
        return await self._pool.fetch(
            """SELECT id, name, geohash FROM communities
               WHERE left(geohash, $2) = ANY($1::text[])""",
            cells,
            precision,
        )

    async def candidates(
        self, communities: list[UUID], since: datetime, limit: int, now: datetime
    ) -> list[asyncpg.Record]:
        """Active listings visible in any of ``communities`` (one row per listing and community),
        newest first, with their recent views and favourites for popularity, and whether the
        seller is a member (会员) at ``now`` (their exposure boost)."""
        return await self._pool.fetch(
            """
            WITH visible AS (
                SELECT l.id AS listing_id, m.community_id FROM listings l
                JOIN community_members m ON m.user_id = l.seller_id AND m.status = 'verified'
                WHERE l.status = 'active' AND l.merchant_id IS NULL
                  AND m.community_id = ANY($1::uuid[])
                UNION
                SELECT l.id, mc.community_id FROM listings l
                JOIN merchant_communities mc ON mc.merchant_id = l.merchant_id
                WHERE l.status = 'active' AND mc.community_id = ANY($1::uuid[])
            ), newest AS (
                SELECT DISTINCT listing_id FROM visible
            ), chosen AS (
                SELECT l.* FROM listings l JOIN newest n ON n.listing_id = l.id
                ORDER BY l.created_at DESC, l.id DESC LIMIT $3
            )
            SELECT c.id, c.seller_id, c.merchant_id, c.title, c.description, c.category, c.brand,
                   c.condition, c.kind, c.price_fen, c.rent_per_day_fen, c.deposit_fen, c.images,
                   c.status, c.created_at, c.updated_at,
                   array_agg(v.community_id) AS community_ids,
                   (SELECT count(*) FROM listing_views lv
                     WHERE lv.listing_id = c.id AND lv.viewed_at >= $2) AS views,
                   (SELECT count(*) FROM listing_favourites lf
                     WHERE lf.listing_id = c.id) AS favourites,
                   (c.merchant_id IS NULL AND lago_is_member(c.seller_id, $4)) AS seller_member
            FROM chosen c JOIN visible v ON v.listing_id = c.id
            GROUP BY c.id, c.seller_id, c.merchant_id, c.title, c.description, c.category,
                     c.brand, c.condition, c.kind, c.price_fen, c.rent_per_day_fen, c.deposit_fen,
                     c.images, c.status, c.created_at, c.updated_at
            """,
            communities,
            since,
            limit,
            now,
        )

    # --- embeddings (search by meaning) ----------------------------------------------------------

    async def stale_embeddings(self, model: str, limit: int) -> list[asyncpg.Record]:
        """Active listings with no embedding of ``model`` yet, or changed after it was made (the
        hash is compared by the caller), oldest change first: the sweep (scans the table)."""
        return await self._pool.fetch(
            """SELECT l.id, l.title, l.brand, l.category, l.description, l.change_seq,
                      CASE WHEN e.model = $1 THEN e.content_hash END AS content_hash
               FROM listings l LEFT JOIN listing_embeddings e ON e.listing_id = l.id
               WHERE l.status = 'active' AND (e.listing_id IS NULL OR e.model <> $1
                     OR e.embedded_at < l.updated_at)
               ORDER BY l.change_seq LIMIT $2""",
            model,
            limit,
        )

    async def listing_changes(self) -> int:
        """The last ``change_seq`` handed out (0 before any): moves with every listing change."""
        row = await self._pool.fetchrow("SELECT last_value, is_called FROM listing_changes_seq")
        assert row is not None
        return int(row["last_value"]) if row["is_called"] else 0

    async def embedding_changes(self) -> int:
        """The last embedding ``seq`` handed out (0 before any)."""
        row = await self._pool.fetchrow("SELECT last_value, is_called FROM listing_embeddings_seq")
        assert row is not None
        return int(row["last_value"]) if row["is_called"] else 0

    async def changed_listings(self, model: str, after: int, limit: int) -> list[asyncpg.Record]:
        """Active listings changed after ``after`` (an index range), with the hash of their
        embedding of ``model`` if they have one."""
        return await self._pool.fetch(
            """SELECT l.id, l.title, l.brand, l.category, l.description, l.change_seq,
                      CASE WHEN e.model = $1 THEN e.content_hash END AS content_hash
               FROM listings l LEFT JOIN listing_embeddings e ON e.listing_id = l.id
               WHERE l.change_seq > $2 AND l.status = 'active'
               ORDER BY l.change_seq LIMIT $3""",
            model,
            after,
            limit,
        )

    async def save_embedding(
        self,
        listing_id: UUID,
        model: str,
        content_hash: str,
        vector: bytes,
        dim: int,
        tokens: list[str],
        now: datetime,
    ) -> None:
        """Store a listing's embedding (none for a listing deleted meanwhile). A rerun with the
        same model and text moves only ``embedded_at``: ``seq`` stays, so search processes
        reload nothing."""
        await self._pool.execute(
            """INSERT INTO listing_embeddings AS e
                   (listing_id, model, dim, content_hash, vector, tokens, embedded_at)
               SELECT $1, $2, $3, $4, $5, $6, $7 FROM listings WHERE id = $1
               ON CONFLICT (listing_id) DO UPDATE SET
                   model = EXCLUDED.model, dim = EXCLUDED.dim,
                   content_hash = EXCLUDED.content_hash, vector = EXCLUDED.vector,
                   tokens = EXCLUDED.tokens, embedded_at = EXCLUDED.embedded_at,
                   seq = CASE WHEN e.content_hash = EXCLUDED.content_hash
                                   AND e.model = EXCLUDED.model
                              THEN e.seq ELSE nextval('listing_embeddings_seq') END""",
            listing_id,
            model,
            dim,
            content_hash,
            vector,
            tokens,
            now,
        )

    async def touch_embedding(self, listing_id: UUID, now: datetime) -> None:
        await self._pool.execute(
            "UPDATE listing_embeddings SET embedded_at = $2 WHERE listing_id = $1",
            listing_id,
            now,
        )

    async def embeddings_since(self, model: str, seq: int, limit: int) -> list[asyncpg.Record]:
        """Embeddings of ``model`` changed after ``seq``, in order, with the communities the
        listing is visible in (its seller's verified ones, or its merchant's)."""
        return await self._pool.fetch(
            """SELECT e.listing_id, e.vector, e.tokens, e.seq, e.dim,
                      CASE WHEN l.merchant_id IS NULL THEN
                          ARRAY(SELECT m.community_id FROM community_members m
                                WHERE m.user_id = l.seller_id AND m.status = 'verified')
                      ELSE
                          ARRAY(SELECT mc.community_id FROM merchant_communities mc
                                WHERE mc.merchant_id = l.merchant_id)
                      END AS community_ids
               FROM listing_embeddings e JOIN listings l ON l.id = e.listing_id
               WHERE e.model = $1 AND e.seq > $2 ORDER BY e.seq LIMIT $3""",
            model,
            seq,
            limit,
        )

    async def listings_among(
        self, ids: list[UUID], communities: list[UUID], since: datetime, now: datetime
    ) -> list[asyncpg.Record]:
        """Of ``ids``, the active listings visible in any of ``communities`` — the same rows and
        fields as :meth:`candidates` (the authority on what a resident may see)."""
        return await self._pool.fetch(
            """
            WITH visible AS (
                SELECT l.id AS listing_id, m.community_id FROM listings l
                JOIN community_members m ON m.user_id = l.seller_id AND m.status = 'verified'
                WHERE l.id = ANY($3::uuid[]) AND l.status = 'active' AND l.merchant_id IS NULL
                  AND m.community_id = ANY($1::uuid[])
                UNION
                SELECT l.id, mc.community_id FROM listings l
                JOIN merchant_communities mc ON mc.merchant_id = l.merchant_id
                WHERE l.id = ANY($3::uuid[]) AND l.status = 'active'
                  AND mc.community_id = ANY($1::uuid[])
            )
            SELECT c.id, c.seller_id, c.merchant_id, c.title, c.description, c.category, c.brand,
                   c.condition, c.kind, c.price_fen, c.rent_per_day_fen, c.deposit_fen, c.images,
                   c.status, c.created_at, c.updated_at,
                   array_agg(v.community_id) AS community_ids,
                   (SELECT count(*) FROM listing_views lv
                     WHERE lv.listing_id = c.id AND lv.viewed_at >= $2) AS views,
                   (SELECT count(*) FROM listing_favourites lf
                     WHERE lf.listing_id = c.id) AS favourites,
                   (c.merchant_id IS NULL AND lago_is_member(c.seller_id, $4)) AS seller_member
            FROM listings c JOIN visible v ON v.listing_id = c.id
            GROUP BY c.id
            """,
            communities,
            since,
            ids,
            now,
        )


def _decoded(row: asyncpg.Record) -> Row:
    return dict(row)
