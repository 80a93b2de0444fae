"""Who may join a community channel and who may moderate it, checked in PostgreSQL and cached.

Decisions are cached per (user, community) for ``TTL_S`` seconds on each node, so a join storm
does not become a query storm; a revoked membership takes effect within that time.
"""

from __future__ import annotations

import enum
from uuid import UUID

from lago_core.container import Core
from lago_core.errors import Forbidden
from lago_core.security.roles import Principal

__all__ = ["ChannelAccess", "ChannelRole"]

TTL_S = 30.0


class ChannelRole(enum.StrEnum):
    MEMBER = "member"  # verified resident
    STAFF = "staff"  # property staff of the community's company
    ADMIN = "admin"  # platform admin
    SERVICE = "service"  # platform customer service

    @property
    def moderates(self) -> bool:
        return self in (ChannelRole.STAFF, ChannelRole.ADMIN)


class ChannelAccess:
    def __init__(self, core: Core) -> None:
        self._core = core
        self._roles: dict[tuple[UUID, str], tuple[float, ChannelRole | None]] = {}
        self._names: dict[UUID, tuple[float, str]] = {}

    async def role(self, principal: Principal, community_id: str) -> ChannelRole | None:
        now = self._core.clock.monotonic()
        cached = self._roles.get((principal.user_id, community_id))
        if cached is not None and now - cached[0] < TTL_S:
            return cached[1]
        role = await self._lookup(principal, community_id)
        if len(self._roles) > 100_000:
            self._roles.clear()
        self._roles[(principal.user_id, community_id)] = (now, role)
        return role

    async def require(self, principal: Principal, community_id: str) -> ChannelRole:
        role = await self.role(principal, community_id)
        if role is None:
            raise Forbidden(
                "only verified members of this community may do this", code="not_a_member"
            )
        return role

    async def require_moderator(self, principal: Principal, community_id: str) -> ChannelRole:
        role = await self.require(principal, community_id)
        if not role.moderates:
            raise Forbidden("only property staff and admins moderate", code="forbidden")
        return role

    async def _lookup(self, principal: Principal, community_id: str) -> ChannelRole | None:
        cid = UUID(community_id)
        if principal.is_admin:
            return ChannelRole.ADMIN
        if await self._core.communities.store.is_community_staff(cid, principal.user_id):
            return ChannelRole.STAFF
        if await self._core.communities.store.is_verified_member(cid, principal.user_id):
            return ChannelRole.MEMBER
        if principal.is_customer_service:
            return ChannelRole.SERVICE
        return None

    async def display_name(self, user_id: UUID) -> str:
        now = self._core.clock.monotonic()
        cached = self._names.get(user_id)
        if cached is not None and now - cached[0] < TTL_S:
            return cached[1]
        name = (await self._core.identity.user(user_id)).display_name
        self._names[user_id] = (now, name)
        return name
