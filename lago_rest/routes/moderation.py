"""The queue of reported channel messages: customer service and admins, and property staff for
their own community."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import Field

from lago_core.moderation import ReportStatus
from lago_core.security.roles import Principal
from lago_rest.api import Api
from lago_rest.context import Services
from lago_rest.schemas import Page, PageQuery, Schema, keyset_after, page_of

api = Api()
TAGS = ("moderation",)


class Report(Schema):
    id: UUID
    community_id: UUID
    seq: int
    reporter_id: UUID
    reason: str
    status: ReportStatus
    created_at: datetime
    handled_by: UUID | None
    handled_at: datetime | None
    author_id: UUID | None
    text: str | None
    deleted: bool


class ReportQuery(PageQuery):
    status: ReportStatus = ReportStatus.OPEN
    community_id: UUID | None = Field(
        default=None, description="one community's reports (required for its property staff)"
    )


class ReportDecision(Schema):
    status: Literal[ReportStatus.RESOLVED, ReportStatus.DISMISSED]


@api.get("/moderation/reports", tags=TAGS)
async def list_reports(query: ReportQuery, user: Principal, svc: Services) -> Page[Report]:
    """Reported messages, oldest first, with the message text. Customer service and admins; a
    community's property staff with ``community_id``."""
    after = keyset_after(query.cursor, datetime.fromisoformat, UUID)
    rows = await svc.moderation.queue(
        user, query.status, query.community_id, after, query.limit + 1
    )
    items = [Report.model_validate(dict(r)) for r in rows]
    return page_of(Page[Report], items, query.limit, lambda r: (r.created_at, r.id))


@api.post("/moderation/reports/{report_id}/close", status=204, tags=TAGS)
async def close_report(
    report_id: UUID, body: ReportDecision, user: Principal, svc: Services
) -> None:
    """Close a report as resolved or dismissed. Customer service, admins and the property staff
    of the report's community."""
    await svc.moderation.close(user, report_id, body.status)
