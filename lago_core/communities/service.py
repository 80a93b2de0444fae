"""Who may create communities, bind property companies and verify residents — and the doing of it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import pygeohash

from lago_core.clock import Clock
from lago_core.communities.store import CommunityStore
from lago_core.errors import Conflict, Forbidden, InvalidInput, NotFound
from lago_core.security.roles import MemberStatus, Principal

__all__ = ["GEOHASH_PRECISION", "CommunityService"]

# Called after a membership is verified, with the user and the community.
VerifiedHook = Callable[[UUID, UUID], Awaitable[None]]

# Precision 9 is a cell of about 5 m: finer than a building, coarse prefixes give neighbourhoods.
GEOHASH_PRECISION = 9


class CommunityService:
    def __init__(self, store: CommunityStore, clock: Clock) -> None:
        self.store = store
        self._clock = clock
        self._verified_hooks: list[VerifiedHook] = []

    def on_verified(self, hook: VerifiedHook) -> None:
        """Run ``hook(user_id, community_id)`` after a resident is verified (after the commit)."""
        self._verified_hooks.append(hook)

    # --- permissions, asked by other services too ------------------------------------------------

    async def is_staff(self, principal: Principal, community_id: UUID) -> bool:
        return await self.store.is_community_staff(community_id, principal.user_id)

    async def require_staff_or_admin(self, principal: Principal, community_id: UUID) -> None:
        await self.get(community_id)
        if principal.is_admin or await self.is_staff(principal, community_id):
            return
        raise Forbidden("only this community's property staff or an admin may do this")

    async def is_verified_member(self, user_id: UUID, community_id: UUID) -> bool:
        return await self.store.is_verified_member(community_id, user_id)

    # --- property companies ----------------------------------------------------------------------

    async def create_company(self, actor: Principal, name: str) -> asyncpg.Record:
        _require_admin(actor)
        row = await self.store.create_company(name)
        if row is None:
            raise Conflict("a property company with this name exists", code="duplicate")
        return row

    async def companies(self, actor: Principal) -> list[asyncpg.Record]:
        """Every property company with its number of communities. Admins only."""
        _require_admin(actor)
        return await self.store.companies()

    def require_admin(self, actor: Principal) -> None:
        _require_admin(actor)

    async def add_company_staff(self, actor: Principal, company_id: UUID, user_id: UUID) -> None:
        _require_admin(actor)
        await self._company(company_id)
        try:
            await self.store.add_staff(company_id, user_id, actor.user_id)
        except asyncpg.ForeignKeyViolationError:
            raise NotFound("user not found") from None

    async def remove_company_staff(self, actor: Principal, company_id: UUID, user_id: UUID) -> None:
        _require_admin(actor)
        if not await self.store.remove_staff(company_id, user_id):
            raise NotFound("not a staff member of this company")

    async def company_staff(self, actor: Principal, company_id: UUID) -> list[asyncpg.Record]:
        await self._company(company_id)
        if not (actor.is_admin or await self.store.is_company_staff(company_id, actor.user_id)):
            raise Forbidden("only admins and the company's own staff see its staff")
        return await self.store.company_staff(company_id)

    async def company(self, company_id: UUID) -> asyncpg.Record:
        """The property company; NotFound when there is none."""
        return await self._company(company_id)

    async def is_company_staff(self, company_id: UUID, user_id: UUID) -> bool:
        return await self.store.is_company_staff(company_id, user_id)

    async def _company(self, company_id: UUID) -> asyncpg.Record:
        row = await self.store.company(company_id)
        if row is None:
            raise NotFound("property company not found")
        return row

    # --- communities -----------------------------------------------------------------------------

    async def create(
        self,
        actor: Principal,
        name: str,
        address: str,
        latitude: Decimal,
        longitude: Decimal,
        company_id: UUID | None,
    ) -> asyncpg.Record:
        _require_admin(actor)
        if company_id is not None:
            await self._company(company_id)
        geohash = pygeohash.encode(float(latitude), float(longitude), precision=GEOHASH_PRECISION)
        row = await self.store.create_community(
            name, address, latitude, longitude, geohash, company_id, actor.user_id
        )
        if row is None:
            raise Conflict("a community with this name and address exists", code="duplicate")
        return row

    async def update(
        self, actor: Principal, community_id: UUID, changes: dict[str, Any]
    ) -> asyncpg.Record:
        _require_admin(actor)
        await self.get(community_id)
        if changes.get("property_company_id") is not None:
            await self._company(changes["property_company_id"])
        if "latitude" in changes or "longitude" in changes:
            current = await self.get(community_id)
            lat = changes.get("latitude", current["latitude"])
            lng = changes.get("longitude", current["longitude"])
            changes["geohash"] = pygeohash.encode(
                float(lat), float(lng), precision=GEOHASH_PRECISION
            )
        row = await self.store.update_community(community_id, changes)
        assert row is not None
        return row

    async def get(self, community_id: UUID) -> asyncpg.Record:
        row = await self.store.community(community_id)
        if row is None:
            raise NotFound("community not found")
        return row

    async def search(
        self, near: str | None, text: str | None, after: tuple[str, UUID] | None, limit: int
    ) -> list[asyncpg.Record]:
        return await self.store.list_communities(near, text, after, limit)

    # --- memberships -----------------------------------------------------------------------------

    async def request_to_join(
        self, actor: Principal, community_id: UUID, unit: str | None, note: str | None
    ) -> asyncpg.Record:
        await self.get(community_id)
        return await self.store.request_membership(
            community_id, actor.user_id, unit, note, self._clock.now()
        )

    async def decide(
        self,
        actor: Principal,
        community_id: UUID,
        user_id: UUID,
        status: MemberStatus,
        reason: str | None,
    ) -> asyncpg.Record:
        if status is MemberStatus.PENDING:
            raise InvalidInput("a decision verifies or rejects")
        await self.require_staff_or_admin(actor, community_id)
        if await self.store.membership(community_id, user_id) is None:
            raise NotFound("this user has not asked to join")
        row = await self.store.decide_membership(
            community_id, user_id, status.value, actor.user_id, reason, self._clock.now()
        )
        if row is None:
            raise Conflict(f"membership is already {status.value}", code="already_decided")
        if status is MemberStatus.VERIFIED:
            for hook in self._verified_hooks:
                await hook(user_id, community_id)
        return row

    async def leave(self, actor: Principal, community_id: UUID) -> None:
        if not await self.store.leave(community_id, actor.user_id):
            raise NotFound("not a member of this community")

    async def members(
        self,
        actor: Principal,
        community_id: UUID,
        status: MemberStatus | None,
        after: tuple[Any, UUID] | None,
        limit: int,
    ) -> list[asyncpg.Record]:
        """Staff and admins see every request; verified residents see the verified members."""
        await self.get(community_id)
        privileged = actor.is_admin or await self.is_staff(actor, community_id)
        if not privileged:
            if not await self.store.is_verified_member(community_id, actor.user_id):
                raise Forbidden("only verified members see the member list")
            if status not in (None, MemberStatus.VERIFIED):
                raise Forbidden("only property staff see pending and rejected requests")
        statuses = (
            [status.value]
            if status
            else ([s.value for s in MemberStatus] if privileged else [MemberStatus.VERIFIED.value])
        )
        return await self.store.members(community_id, statuses, after, limit)

    async def mine(self, actor: Principal) -> list[asyncpg.Record]:
        return await self.store.communities_of_user(actor.user_id)


def _require_admin(actor: Principal) -> None:
    if not actor.is_admin:
        raise Forbidden("only platform admins may do this")
