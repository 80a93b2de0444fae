"""The caller's notifications (every signed-in user) and platform announcements (admins)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import Field

from lago_core.notifications import AudienceRole
from lago_core.security.roles import Principal
from lago_rest.api import Api
from lago_rest.context import Services
from lago_rest.schemas import Schema, encode_cursor, keyset_after

api = Api()
TAGS = ("notifications",)


class Notification(Schema):
    id: UUID
    kind: str = Field(
        description="order_new, order_paid, order_refund_requested, review_new, "
        "merchant_approved, merchant_rejected, announcement, settlement_paid, … "
        "(docs/notifications.md)"
    )
    title: str
    body: str
    data: dict[str, Any] = Field(description="what the notification is about: ids, amounts")
    created_at: datetime
    read_at: datetime | None


class NotificationQuery(Schema):
    before: str | None = Field(
        default=None, max_length=200, description="`next_before` of the previous page"
    )
    limit: int = Field(default=20, ge=1, le=100)


class NotificationPage(Schema):
    items: list[Notification] = Field(description="newest first")
    next_before: str | None = Field(description="pass as ?before= for older ones; null at the end")


class UnreadCount(Schema):
    unread: int


class MarkedAll(Schema):
    marked: int = Field(description="how many were unread")
    unread: int


class Audience(Schema):
    """Exactly one of: ``all`` true, a ``community_id`` (its verified residents) or a ``role``."""

    all: bool = False
    community_id: UUID | None = None
    role: AudienceRole | None = None


class AnnouncementIn(Schema):
    title: str = Field(min_length=1, max_length=100)
    body: str = Field(min_length=1, max_length=2000)
    audience: Audience


class Announcement(Schema):
    id: UUID
    author_id: UUID
    title: str
    body: str
    audience: str = Field(description="all, community or role")
    community_id: UUID | None
    role: AudienceRole | None
    status: str = Field(description="sending while the fan-out runs, then sent")
    recipients: int = Field(description="notifications made so far")
    created_at: datetime
    finished_at: datetime | None


class AnnouncementQuery(Schema):
    before: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=20, ge=1, le=100)


class AnnouncementPage(Schema):
    items: list[Announcement]
    next_before: str | None


def _notification(row: Any) -> Notification:
    return Notification.model_validate({k: row[k] for k in Notification.model_fields})


def _before(cursor: str | None) -> tuple[Any, ...] | None:
    return keyset_after(cursor, datetime.fromisoformat, UUID)


def _next(rows: list[Any], limit: int) -> str | None:
    if len(rows) <= limit:
        return None
    last = rows[limit - 1]
    return encode_cursor(last["created_at"].isoformat(), str(last["id"]))


@api.get("/me/notifications", tags=TAGS)
async def my_notifications(
    query: NotificationQuery, user: Principal, svc: Services
) -> NotificationPage:
    """The caller's notifications, newest first."""
    before = _before(query.before)
    rows = await svc.notifications.page(user, before, query.limit + 1)
    return NotificationPage(
        items=[_notification(r) for r in rows[: query.limit]],
        next_before=_next(rows, query.limit),
    )


@api.get("/me/notifications/unread-count", tags=TAGS)
async def unread_count(user: Principal, svc: Services) -> UnreadCount:
    """How many of the caller's notifications are unread (the bell's badge)."""
    return UnreadCount(unread=await svc.notifications.unread_count(user))


@api.post("/me/notifications/{notification_id}/read", tags=TAGS)
async def mark_read(notification_id: UUID, user: Principal, svc: Services) -> UnreadCount:
    """Mark one of the caller's notifications read (again is fine); the unread count left.
    Another user's notification is `404 notification_not_found`."""
    return UnreadCount(unread=await svc.notifications.mark_read(user, notification_id))


@api.post("/me/notifications/read-all", tags=TAGS)
async def mark_all_read(user: Principal, svc: Services) -> MarkedAll:
    """Mark every notification of the caller read."""
    marked = await svc.notifications.mark_all_read(user)
    return MarkedAll(marked=marked, unread=await svc.notifications.unread_count(user))


@api.post("/announcements", status=201, tags=TAGS)
async def announce(body: AnnouncementIn, user: Principal, svc: Services) -> Announcement:
    """A platform announcement (平台公告) to everyone, one community's verified residents, or one
    role; admins only (`403`), at most LAGO_LIMIT_ANNOUNCEMENTS_PER_ADMIN (`429`). The
    notifications are made by a job in batches; `recipients` counts them as it goes."""
    audience = body.audience
    row = await svc.notifications.announce(
        user,
        body.title,
        body.body,
        everyone=audience.all,
        community_id=audience.community_id,
        role=audience.role,
    )
    return Announcement.model_validate(dict(row))


@api.get("/announcements", tags=TAGS)
async def announcements(
    query: AnnouncementQuery, user: Principal, svc: Services
) -> AnnouncementPage:
    """Announcements made, newest first; admins only."""
    rows = await svc.notifications.announcements(
        user,
        _before(query.before),
        query.limit + 1,
    )
    return AnnouncementPage(
        items=[Announcement.model_validate(dict(r)) for r in rows[: query.limit]],
        next_before=_next(rows, query.limit),
    )
