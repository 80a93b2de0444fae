"""SQL for message reports."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

__all__ = ["ReportStore"]


class ReportStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def add(self, reporter: UUID, community_id: UUID, seq: int, reason: str) -> UUID:
        """Insert a report, or return the reporter's earlier report of the same message."""
        async with self._pool.acquire() as conn:
            report_id: UUID | None = await conn.fetchval(
                """
                INSERT INTO message_reports (community_id, seq, reporter_id, reason)
                VALUES ($1, $2, $3, $4)
                ON CONFLICT (community_id, seq, reporter_id) DO NOTHING
                RETURNING id
                """,
                community_id,
                seq,
                reporter,
                reason,
            )
            if report_id is None:
                report_id = await conn.fetchval(
                    """SELECT id FROM message_reports
                       WHERE community_id = $1 AND seq = $2 AND reporter_id = $3""",
                    community_id,
                    seq,
                    reporter,
                )
        assert report_id is not None
        return report_id

    async def by_status(
        self,
        status: str,
        community_id: UUID | None,
        after: tuple[datetime, UUID] | None,
        limit: int,
    ) -> list[asyncpg.Record]:
        return await self._pool.fetch(
            """
            SELECT r.id, r.community_id, r.seq, r.reporter_id, r.reason, r.status, r.created_at,
                   r.handled_by, r.handled_at, e.user_id AS author_id, e.data->>'text' AS text,
                   e.deleted_at IS NOT NULL AS deleted
            FROM message_reports r
            LEFT JOIN channel_events e ON e.community_id = r.community_id AND e.seq = r.seq
            WHERE r.status = $1
              AND ($5::uuid IS NULL OR r.community_id = $5)
              AND ($2::timestamptz IS NULL OR (r.created_at, r.id) > ($2, $3::uuid))
            ORDER BY r.created_at, r.id
            LIMIT $4
            """,
            status,
            after[0] if after else None,
            after[1] if after else None,
            limit,
            community_id,
        )

    async def community_of(self, report_id: UUID) -> UUID | None:
        community_id: UUID | None = await self._pool.fetchval(
            "SELECT community_id FROM message_reports WHERE id = $1", report_id
        )
        return community_id

    async def close(self, report_id: UUID, status: str, handled_by: UUID, at: datetime) -> bool:
        done = await self._pool.execute(
            """UPDATE message_reports SET status = $2, handled_by = $3, handled_at = $4
               WHERE id = $1""",
            report_id,
            status,
            handled_by,
            at,
        )
        return done.endswith(" 1")
