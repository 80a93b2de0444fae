"""Live streams over REST: who may go live (grants) and scheduled announcements (活动预告).

Starting, stopping and watching a stream happen on the real-time node (docs/protocol.md).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import Field

from lago_core.security.roles import Principal
from lago_rest.api import Api
from lago_rest.context import Services
from lago_rest.schemas import Schema

api = Api()
TAGS = ("live",)


class Grant(Schema):
    user_id: UUID
    display_name: str
    granted_by: UUID
    granted_at: datetime


class GrantIn(Schema):
    user_id: UUID


class GrantResult(Schema):
    created: bool


class AnnouncementIn(Schema):
    title: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=2_000)
    starts_at: datetime


class Announcement(Schema):
    id: UUID
    community_id: UUID
    host_id: UUID
    title: str
    description: str
    starts_at: datetime
    cancelled_at: datetime | None
    created_at: datetime


class HostCheck(Schema):
    may_go_live: bool
    role: str | None = Field(description="why: admin, customer_service, staff, merchant, granted")


@api.get("/communities/{community_id}/live/grants", tags=TAGS)
async def list_grants(community_id: UUID, user: Principal, svc: Services) -> list[Grant]:
    """Residents allowed to go live here. Property staff of the community and admins."""
    return [Grant.model_validate(dict(r)) for r in await svc.live.grants(user, community_id)]


@api.post("/communities/{community_id}/live/grants", tags=TAGS)
async def grant(community_id: UUID, body: GrantIn, user: Principal, svc: Services) -> GrantResult:
    """Allow a verified resident to go live (and organise draws) here. Staff and admins."""
    return GrantResult(created=await svc.live.grant(user, community_id, body.user_id))


@api.delete("/communities/{community_id}/live/grants/{user_id}", status=204, tags=TAGS)
async def revoke(community_id: UUID, user_id: UUID, user: Principal, svc: Services) -> None:
    """Withdraw a resident's grant. Staff and admins."""
    await svc.live.revoke(user, community_id, user_id)


@api.get("/communities/{community_id}/live/me", tags=TAGS)
async def may_go_live(community_id: UUID, user: Principal, svc: Services) -> HostCheck:
    """Whether the caller may go live and organise draws in this community, and why."""
    role = await svc.live.host_role(user, community_id)
    return HostCheck(may_go_live=role is not None, role=role.value if role else None)


@api.post("/communities/{community_id}/live/announcements", status=201, tags=TAGS)
async def announce(
    community_id: UUID, body: AnnouncementIn, user: Principal, svc: Services
) -> Announcement:
    """Announce a stream (活动预告); pushed to the channel as `live:announcement`. Hosts only."""
    row = await svc.live.announce(user, community_id, body.title, body.description, body.starts_at)
    return Announcement.model_validate(dict(row))


@api.get("/communities/{community_id}/live/announcements", tags=TAGS)
async def upcoming(community_id: UUID, user: Principal, svc: Services) -> list[Announcement]:
    """Announced streams from an hour ago on, soonest first. Members and staff."""
    rows = await svc.live.upcoming(user, community_id)
    return [Announcement.model_validate(dict(r)) for r in rows]


@api.post("/live/announcements/{announcement_id}/cancel", tags=TAGS)
async def cancel(announcement_id: UUID, user: Principal, svc: Services) -> Announcement:
    """Cancel an announcement. Its host, the community's staff and admins."""
    return Announcement.model_validate(dict(await svc.live.cancel(user, announcement_id)))
