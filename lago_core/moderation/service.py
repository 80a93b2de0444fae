"""Members report channel messages; customer service and admins work through the queue."""

from __future__ import annotations

import enum
from datetime import datetime
from uuid import UUID

import asyncpg

from lago_core.clock import Clock
from lago_core.errors import Forbidden, NotFound
from lago_core.security.roles import Principal

__all__ = ["ModerationService", "ReportStatus"]


class ReportStatus(enum.StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    DISMISSED = "dismissed"


class ModerationService:
    def __init__(self, pool: asyncpg.Pool, clock: Clock) -> None:
        self._pool = pool
        self._clock = clock

    async def report(self, reporter: UUID, community_id: UUID, seq: int, reason: str) -> UUID:
        """File a report (once per reporter and message; a repeat returns the first report)."""
        report_id: UUID | None = await self._pool.fetchval(
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
            report_id = await self._pool.fetchval(
                """SELECT id FROM message_reports
                   WHERE community_id = $1 AND seq = $2 AND reporter_id = $3""",
                community_id,
                seq,
                reporter,
            )
        assert report_id is not None
        return report_id

    async def queue(
        self,
        actor: Principal,
        status: ReportStatus,
        after: tuple[datetime, UUID] | None,
        limit: int,
    ) -> list[asyncpg.Record]:
        _require_service(actor)
        return await self._pool.fetch(
            """
            SELECT r.id, r.community_id, r.seq, r.reporter_id, r.reason, r.status, r.created_at,
                   r.handled_by, r.handled_at, e.user_id AS author_id, e.data->>'text' AS text,
                   e.deleted_at IS NOT NULL AS deleted
            FROM message_reports r
            LEFT JOIN channel_events e ON e.community_id = r.community_id AND e.seq = r.seq
            WHERE r.status = $1
              AND ($2::timestamptz IS NULL OR (r.created_at, r.id) > ($2, $3::uuid))
            ORDER BY r.created_at, r.id
            LIMIT $4
            """,
            status.value,
            after[0] if after else None,
            after[1] if after else None,
            limit,
        )

    async def close(self, actor: Principal, report_id: UUID, status: ReportStatus) -> None:
        _require_service(actor)
        if status is ReportStatus.OPEN:
            raise Forbidden("a report is closed as resolved or dismissed")
        done = await self._pool.execute(
            """UPDATE message_reports SET status = $2, handled_by = $3, handled_at = $4
               WHERE id = $1""",
            report_id,
            status.value,
            actor.user_id,
            self._clock.now(),
        )
        if not done.endswith(" 1"):
            raise NotFound("report not found")


def _require_service(actor: Principal) -> None:
    if not (actor.is_admin or actor.is_customer_service):
        raise Forbidden("only customer service and admins handle reports")
