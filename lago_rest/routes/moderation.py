"""Customer service's queue of reported channel messages."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from lago_core.moderation import ReportStatus
from lago_core.security.roles import Principal
from lago_rest.api import Api
from lago_rest.context import Services
from lago_rest.schemas import Page, PageQuery, Schema, decode_cursor, encode_cursor

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


class ReportDecision(Schema):
    status: Literal[ReportStatus.RESOLVED, ReportStatus.DISMISSED]


@api.get("/moderation/reports", tags=TAGS)
async def list_reports(query: ReportQuery, user: Principal, svc: Services) -> Page[Report]:
    """Reported messages, oldest first, with the message text. Customer service and admins."""
    after = None
    if query.cursor:
        created, ident = decode_cursor(query.cursor, 2)
        after = (datetime.fromisoformat(str(created)), UUID(str(ident)))
    rows = await svc.moderation.queue(user, query.status, after, query.limit + 1)
    items = [Report.model_validate(dict(r)) for r in rows[: query.limit]]
    more = len(rows) > query.limit
    cursor = encode_cursor(items[-1].created_at.isoformat(), str(items[-1].id)) if more else None
    return Page[Report](items=items, next_cursor=cursor)


@api.post("/moderation/reports/{report_id}/close", status=204, tags=TAGS)
async def close_report(
    report_id: UUID, body: ReportDecision, user: Principal, svc: Services
) -> None:
    """Close a report as resolved or dismissed. Customer service and admins."""
    await svc.moderation.close(user, report_id, body.status)
