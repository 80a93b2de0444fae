"""Who may run a merchant and which communities it serves — and the doing of it."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from lago_core.communities import CommunityService
from lago_core.errors import Conflict, Forbidden, NotFound
from lago_core.merchants.store import MerchantStore
from lago_core.security.roles import MerchantRole, Principal

__all__ = ["MerchantService"]


class MerchantService:
    def __init__(self, store: MerchantStore, communities: CommunityService) -> None:
        self.store = store
        self._communities = communities

    # --- permissions, asked by other services too ------------------------------------------------

    async def role_of(self, user_id: UUID, merchant_id: UUID) -> MerchantRole | None:
        role = await self.store.role_of(user_id, merchant_id)
        return MerchantRole(role) if role is not None else None

    async def require_member(self, actor: Principal, merchant_id: UUID) -> MerchantRole:
        """The caller's role in the merchant; Forbidden unless they are its owner or staff."""
        await self.get(merchant_id)
        role = await self.role_of(actor.user_id, merchant_id)
        if role is None:
            raise Forbidden("only this merchant's owner and staff may do this")
        return role

    async def _require_owner(self, actor: Principal, merchant_id: UUID) -> None:
        if await self.require_member(actor, merchant_id) is not MerchantRole.OWNER:
            raise Forbidden("only the merchant's owner may do this")

    # --- merchants -------------------------------------------------------------------------------

    async def create(self, actor: Principal, name: str) -> asyncpg.Record:
        return await self.store.create(name, actor.user_id)

    async def get(self, merchant_id: UUID) -> asyncpg.Record:
        row = await self.store.merchant(merchant_id)
        if row is None:
            raise NotFound("merchant not found")
        return row

    async def communities(self, merchant_id: UUID) -> list[UUID]:
        return await self.store.communities(merchant_id)

    async def mine(self, actor: Principal) -> list[asyncpg.Record]:
        return await self.store.merchants_of_user(actor.user_id)

    # --- staff -----------------------------------------------------------------------------------

    async def add_staff(self, actor: Principal, merchant_id: UUID, user_id: UUID) -> None:
        await self._require_owner(actor, merchant_id)
        if user_id == actor.user_id:
            raise Conflict("the owner is already a member", code="already_owner")
        try:
            await self.store.add_staff(merchant_id, user_id)
        except asyncpg.ForeignKeyViolationError:
            raise NotFound("user not found") from None

    async def remove_staff(self, actor: Principal, merchant_id: UUID, user_id: UUID) -> None:
        await self._require_owner(actor, merchant_id)
        if not await self.store.remove_staff(merchant_id, user_id):
            # The owner row is never removed here: a merchant always keeps its owner.
            raise NotFound("not a staff member of this merchant")

    async def staff(self, actor: Principal, merchant_id: UUID) -> list[asyncpg.Record]:
        if not actor.is_admin:
            await self.require_member(actor, merchant_id)
        else:
            await self.get(merchant_id)
        return await self.store.members(merchant_id)

    # --- communities served ----------------------------------------------------------------------

    async def bind_community(self, actor: Principal, merchant_id: UUID, community_id: UUID) -> None:
        _require_admin(actor)
        await self.get(merchant_id)
        await self._communities.get(community_id)
        await self.store.bind_community(merchant_id, community_id)

    async def unbind_community(
        self, actor: Principal, merchant_id: UUID, community_id: UUID
    ) -> None:
        _require_admin(actor)
        await self.get(merchant_id)
        if not await self.store.unbind_community(merchant_id, community_id):
            raise NotFound("this merchant does not serve this community")


def _require_admin(actor: Principal) -> None:
    if not actor.is_admin:
        raise Forbidden("only platform admins may do this")
