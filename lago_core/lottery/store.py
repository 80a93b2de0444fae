"""SQL of lottery draws. Writes take the caller's connection: the channel actor runs them inside
its fenced transaction, so a replaced owner cannot write a result."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeAlias
from uuid import UUID

import asyncpg

__all__ = ["DrawStore"]

# As in the ledger's store: the proxy is generic only in asyncpg-stubs.
if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    Conn: TypeAlias = asyncpg.Connection | PoolConnectionProxy[asyncpg.Record]
else:
    Conn = asyncpg.Connection

_DRAW = """d.id, d.community_id, d.organiser_id, d.live_session, d.prize, d.winner_count,
    d.eligibility, d.keyword, d.commitment, d.seed, d.opened_at, d.draw_at,
    r.entries, r.entries_hash, r.winners, r.drawn_at"""


class DrawStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @staticmethod
    async def insert_draw(conn: Conn, draw: dict[str, Any]) -> None:
        """Record an opening; a repeat of the same draw id changes nothing."""
        await conn.execute(
            """
            INSERT INTO lottery_draws (id, community_id, organiser_id, live_session, prize,
                winner_count, eligibility, keyword, commitment, seed, opened_at, draw_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
            ON CONFLICT (id) DO NOTHING
            """,
            UUID(draw["id"]),
            UUID(draw["community_id"]),
            UUID(draw["organiser_id"]),
            draw.get("live_session"),
            draw["prize"],
            draw["winner_count"],
            draw["eligibility"],
            draw.get("keyword"),
            draw["commitment"],
            draw["seed"],
            datetime.fromisoformat(draw["opened_at"]),
            datetime.fromisoformat(draw["draw_at"]),
        )

    @staticmethod
    async def lock(conn: Conn, draw_id: UUID) -> asyncpg.Record | None:
        """The draw with its result (if any), locked until the transaction ends."""
        return await conn.fetchrow(
            f"""
            SELECT {_DRAW} FROM lottery_draws d LEFT JOIN lottery_results r ON r.draw_id = d.id
            WHERE d.id = $1 FOR UPDATE OF d
            """,
            draw_id,
        )

    @staticmethod
    async def insert_result(
        conn: Conn,
        draw_id: UUID,
        entries: list[str],
        entries_hash: str,
        winners: list[str],
        drawn_at: datetime,
    ) -> bool:
        """True when this call stored the result; False when the draw already had one."""
        row = await conn.fetchrow(
            """
            INSERT INTO lottery_results (draw_id, entries, entries_hash, winners, drawn_at)
            VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (draw_id) DO NOTHING RETURNING 1
            """,
            draw_id,
            entries,
            entries_hash,
            winners,
            drawn_at,
        )
        return row is not None

    @staticmethod
    async def verified_member_ids(conn: Conn, community_id: UUID) -> list[str]:
        rows = await conn.fetch(
            """SELECT user_id FROM community_members
               WHERE community_id = $1 AND status = 'verified'""",
            community_id,
        )
        return [str(row["user_id"]) for row in rows]

    async def get(self, draw_id: UUID) -> asyncpg.Record | None:
        return await self._pool.fetchrow(
            f"""SELECT {_DRAW} FROM lottery_draws d
                LEFT JOIN lottery_results r ON r.draw_id = d.id WHERE d.id = $1""",
            draw_id,
        )

    async def of_community(self, community_id: UUID, limit: int = 100) -> list[asyncpg.Record]:
        return await self._pool.fetch(
            f"""SELECT {_DRAW} FROM lottery_draws d
                LEFT JOIN lottery_results r ON r.draw_id = d.id
                WHERE d.community_id = $1 ORDER BY d.opened_at DESC, d.id LIMIT $2""",
            community_id,
            limit,
        )
