"""Members report channel messages; customer service and admins work through the queue, and a
community's property staff through its part of it."""

from __future__ import annotations

import enum
from datetime import datetime
from uuid import UUID

import asyncpg

from lago_core.clock import Clock
from lago_core.communities import CommunityService
from lago_core.errors import Forbidden, NotFound
from lago_core.moderation.store import ReportStore
from lago_core.security.roles import Principal

__all__ = ["ModerationService", "ReportStatus"]


class ReportStatus(enum.StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    DISMISSED = "dismissed"


class ModerationService:
    def __init__(self, store: ReportStore, clock: Clock, communities: CommunityService) -> None:
        self._store = store
        self._clock = clock
        self._communities = communities

    async def report(self, reporter: UUID, community_id: UUID, seq: int, reason: str) -> UUID:
        """File a report (once per reporter and message; a repeat returns the first report)."""
        return await self._store.add(reporter, community_id, seq, reason)

    async def queue(
        self,
        actor: Principal,
        status: ReportStatus,
        community_id: UUID | None,
        after: tuple[datetime, UUID] | None,
        limit: int,
    ) -> list[asyncpg.Record]:
        """Reports of every community for customer service and admins; of one community
        (``community_id`` required) for its property staff."""
        if not _is_service(actor) and (
            community_id is None or not await self._communities.is_staff(actor, community_id)
        ):
            raise Forbidden(
                "only customer service, admins and the community's property staff see reports"
            )
        return await self._store.by_status(status.value, community_id, after, limit)

    async def close(self, actor: Principal, report_id: UUID, status: ReportStatus) -> None:
        if status is ReportStatus.OPEN:
            raise Forbidden("a report is closed as resolved or dismissed")
        if not _is_service(actor):
            community_id = await self._store.community_of(report_id)
            if community_id is None:
                raise NotFound("report not found")
            if not await self._communities.is_staff(actor, community_id):
                raise Forbidden(
                    "only customer service, admins and the community's property staff handle it"
                )
        if not await self._store.close(report_id, status.value, actor.user_id, self._clock.now()):
            raise NotFound("report not found")


def _is_service(actor: Principal) -> bool:
    return actor.is_admin or actor.is_customer_service
