"""Who may go live (and organise draws) in a community, grants, announcements, pinned items."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from uuid import UUID

import asyncpg

from lago_core.clock import Clock
from lago_core.communities import CommunityService
from lago_core.errors import Forbidden, InvalidInput, NotFound
from lago_core.live.store import LiveStore
from lago_core.push import Pusher
from lago_core.push_events import LIVE_ANNOUNCEMENT
from lago_core.security.roles import Principal

__all__ = ["MAX_PINNED", "HostRole", "LiveService", "PinnedItem"]

MAX_PINNED = 20
# An announcement further ahead than this is a mistake more often than a plan.
MAX_LEAD = timedelta(days=90)


class HostRole(enum.StrEnum):
    """Why a user may go live in a community (the same people may organise lottery draws)."""

    ADMIN = "admin"
    CUSTOMER_SERVICE = "customer_service"
    STAFF = "staff"  # property staff of the community's company
    MERCHANT = "merchant"  # owner or staff of an approved merchant serving the community
    GRANTED = "granted"  # a resident the staff granted


@dataclass(frozen=True, slots=True)
class PinnedItem:
    """A listing or a group buy shown during a stream. Group buys are another feature's; their
    ids are accepted as given until that feature offers a check."""

    kind: Literal["listing", "group_buy"]
    id: UUID

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "id": str(self.id)}


class LiveService:
    def __init__(
        self, store: LiveStore, communities: CommunityService, pusher: Pusher, clock: Clock
    ) -> None:
        self.store = store
        self._communities = communities
        self._pusher = pusher
        self._clock = clock

    # --- permissions -----------------------------------------------------------------------------

    async def host_role(self, principal: Principal, community_id: UUID) -> HostRole | None:
        """Why ``principal`` may go live (and organise draws) here, or None."""
        if principal.is_admin:
            return HostRole.ADMIN
        if principal.is_customer_service:
            return HostRole.CUSTOMER_SERVICE
        if await self._communities.is_staff(principal, community_id):
            return HostRole.STAFF
        if await self.store.serving_merchant(community_id, principal.user_id) is not None:
            return HostRole.MERCHANT
        if await self.store.is_granted(community_id, principal.user_id) and (
            await self._communities.is_verified_member(principal.user_id, community_id)
        ):
            return HostRole.GRANTED
        return None

    async def require_host(self, principal: Principal, community_id: UUID) -> HostRole:
        role = await self.host_role(principal, community_id)
        if role is None:
            raise Forbidden(
                "only property staff, platform staff, approved merchants serving this community "
                "and residents granted by staff may go live or organise draws here",
                code="not_a_host",
            )
        return role

    async def _require_member_or_staff(self, principal: Principal, community_id: UUID) -> None:
        await self._communities.get(community_id)
        if principal.is_admin or principal.is_customer_service:
            return
        if await self._communities.is_staff(principal, community_id):
            return
        if await self._communities.is_verified_member(principal.user_id, community_id):
            return
        raise Forbidden("only verified members of this community may see this", code="not_a_member")

    # --- grants ----------------------------------------------------------------------------------

    async def grant(self, actor: Principal, community_id: UUID, user_id: UUID) -> bool:
        await self._communities.require_staff_or_admin(actor, community_id)
        if not await self._communities.is_verified_member(user_id, community_id):
            raise InvalidInput(
                "only verified residents of this community can be granted", code="not_a_member"
            )
        return await self.store.grant(community_id, user_id, actor.user_id)

    async def revoke(self, actor: Principal, community_id: UUID, user_id: UUID) -> None:
        await self._communities.require_staff_or_admin(actor, community_id)
        if not await self.store.revoke(community_id, user_id):
            raise NotFound("this resident holds no grant here", code="grant_not_found")

    async def grants(self, actor: Principal, community_id: UUID) -> list[asyncpg.Record]:
        await self._communities.require_staff_or_admin(actor, community_id)
        return await self.store.grants(community_id)

    # --- announcements (活动预告) -----------------------------------------------------------------

    async def announce(
        self,
        actor: Principal,
        community_id: UUID,
        title: str,
        description: str,
        starts_at: datetime,
    ) -> asyncpg.Record:
        await self._communities.get(community_id)
        await self.require_host(actor, community_id)
        now = self._clock.now()
        if not now <= starts_at <= now + MAX_LEAD:
            raise InvalidInput(
                "an announcement starts between now and 90 days ahead", code="invalid_start"
            )
        row = await self.store.announce(community_id, actor.user_id, title, description, starts_at)
        await self._pusher.to_community(community_id, LIVE_ANNOUNCEMENT, announcement_json(row))
        return row

    async def upcoming(self, actor: Principal, community_id: UUID) -> list[asyncpg.Record]:
        await self._require_member_or_staff(actor, community_id)
        # Still listed for an hour after its start: the stream may be late or running.
        return await self.store.upcoming(community_id, self._clock.now() - timedelta(hours=1))

    async def cancel(self, actor: Principal, announcement_id: UUID) -> asyncpg.Record:
        row = await self.store.announcement(announcement_id)
        if row is None:
            raise NotFound("announcement not found", code="announcement_not_found")
        if row["host_id"] != actor.user_id:
            await self._communities.require_staff_or_admin(actor, row["community_id"])
        cancelled = await self.store.cancel(announcement_id, self._clock.now())
        assert cancelled is not None
        await self._pusher.to_community(
            row["community_id"], LIVE_ANNOUNCEMENT, announcement_json(cancelled)
        )
        return cancelled

    async def check_announcement(self, community_id: UUID, announcement_id: UUID) -> None:
        """A stream may name only a live announcement of its own community."""
        row = await self.store.announcement(announcement_id)
        if row is None or row["community_id"] != community_id or row["cancelled_at"] is not None:
            raise NotFound("no such announcement in this community", code="announcement_not_found")

    # --- pinned items ----------------------------------------------------------------------------

    async def check_pins(self, items: list[PinnedItem], community_id: UUID) -> None:
        """Refuse pins of listings that do not exist or are no longer for sale, and of group buys
        that are not joinable groups of this community."""
        if len(items) > MAX_PINNED:
            raise InvalidInput(f"at most {MAX_PINNED} pinned items", code="too_many_pins")
        listing_ids = [item.id for item in items if item.kind == "listing"]
        if listing_ids:
            active = await self.store.active_listings(listing_ids)
            missing = sorted(str(i) for i in set(listing_ids) - active)
            if missing:
                raise InvalidInput(
                    "pinned listings must exist and be for sale",
                    code="listing_not_pinnable",
                    details={"listing_ids": missing},
                )
        group_ids = [item.id for item in items if item.kind == "group_buy"]
        if group_ids:
            live = await self.store.live_group_buys(group_ids, community_id)
            missing = sorted(str(i) for i in set(group_ids) - live)
            if missing:
                raise InvalidInput(
                    "pinned group buys must be open groups of this community",
                    code="group_buy_not_pinnable",
                    details={"group_ids": missing},
                )


def announcement_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "community_id": str(row["community_id"]),
        "host_id": str(row["host_id"]),
        "title": row["title"],
        "description": row["description"],
        "starts_at": row["starts_at"].isoformat(),
        "cancelled": row["cancelled_at"] is not None,
    }
