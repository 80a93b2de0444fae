"""Members report channel messages; customer service and admins work through the queue."""

from __future__ import annotations

import enum
from datetime import datetime
from uuid import UUID

import asyncpg

from lago_core.clock import Clock
from lago_core.errors import Forbidden, NotFound
from lago_core.moderation.store import ReportStore
from lago_core.security.roles import Principal

__all__ = ["ModerationService", "ReportStatus"]


class ReportStatus(enum.StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    DISMISSED = "dismissed"


class ModerationService:
    def __init__(self, store: ReportStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def report(self, reporter: UUID, community_id: UUID, seq: int, reason: str) -> UUID:
        """File a report (once per reporter and message; a repeat returns the first report)."""
        return await self._store.add(reporter, community_id, seq, reason)

    async def queue(
        self,
        actor: Principal,
        status: ReportStatus,
        after: tuple[datetime, UUID] | None,
        limit: int,
    ) -> list[asyncpg.Record]:
        _require_service(actor)
        return await self._store.by_status(status.value, after, limit)

    async def close(self, actor: Principal, report_id: UUID, status: ReportStatus) -> None:
        _require_service(actor)
        if status is ReportStatus.OPEN:
            raise Forbidden("a report is closed as resolved or dismissed")
        if not await self._store.close(report_id, status.value, actor.user_id, self._clock.now()):
            raise NotFound("report not found")


def _require_service(actor: Principal) -> None:
    if not (actor.is_admin or actor.is_customer_service):
        raise Forbidden("only customer service and admins handle reports")
