"""Merchants (商家): their owner and staff, and the communities they serve."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import Field

from lago_core.security.roles import MerchantRole, Principal
from lago_rest.api import Api
from lago_rest.context import Services
from lago_rest.schemas import Schema

api = Api()
TAGS = ("merchants",)


class MerchantIn(Schema):
    name: str = Field(min_length=1, max_length=100)


class Merchant(Schema):
    id: UUID
    name: str
    created_at: datetime
    community_ids: list[UUID] = Field(description="communities the merchant serves")


class MyMerchant(Schema):
    id: UUID
    name: str
    created_at: datetime
    role: MerchantRole


class StaffIn(Schema):
    user_id: UUID


class MerchantMember(Schema):
    user_id: UUID
    display_name: str
    role: MerchantRole
    created_at: datetime


def _row(model: type[Schema], row: Any) -> Any:
    return model.model_validate(dict(row))


async def _merchant(svc: Services, row: Any) -> Merchant:
    return Merchant(**dict(row), community_ids=await svc.merchants.communities(row["id"]))


@api.post("/merchants", status=201, tags=TAGS)
async def create_merchant(body: MerchantIn, user: Principal, svc: Services) -> Merchant:
    """Register a merchant; the caller becomes its owner."""
    return await _merchant(svc, await svc.merchants.create(user, body.name))


@api.get("/merchants/{merchant_id}", tags=TAGS)
async def get_merchant(merchant_id: UUID, user: Principal, svc: Services) -> Merchant:
    """One merchant and the communities it serves."""
    return await _merchant(svc, await svc.merchants.get(merchant_id))


@api.get("/merchants/{merchant_id}/staff", tags=TAGS)
async def list_merchant_staff(
    merchant_id: UUID, user: Principal, svc: Services
) -> list[MerchantMember]:
    """The owner and staff of a merchant: for its own members and admins."""
    return [_row(MerchantMember, r) for r in await svc.merchants.staff(user, merchant_id)]


@api.post("/merchants/{merchant_id}/staff", status=204, tags=TAGS)
async def add_merchant_staff(
    merchant_id: UUID, body: StaffIn, user: Principal, svc: Services
) -> None:
    """Make a user staff of the merchant. The owner only."""
    await svc.merchants.add_staff(user, merchant_id, body.user_id)


@api.delete("/merchants/{merchant_id}/staff/{user_id}", status=204, tags=TAGS)
async def remove_merchant_staff(
    merchant_id: UUID, user_id: UUID, user: Principal, svc: Services
) -> None:
    """Remove a staff member from the merchant. The owner only."""
    await svc.merchants.remove_staff(user, merchant_id, user_id)


@api.put("/merchants/{merchant_id}/communities/{community_id}", status=204, tags=TAGS)
async def bind_merchant_community(
    merchant_id: UUID, community_id: UUID, user: Principal, svc: Services
) -> None:
    """Let a merchant serve a community: its listings become visible there. Admins only."""
    await svc.merchants.bind_community(user, merchant_id, community_id)


@api.delete("/merchants/{merchant_id}/communities/{community_id}", status=204, tags=TAGS)
async def unbind_merchant_community(
    merchant_id: UUID, community_id: UUID, user: Principal, svc: Services
) -> None:
    """Stop a merchant serving a community. Admins only."""
    await svc.merchants.unbind_community(user, merchant_id, community_id)


@api.get("/me/merchants", tags=TAGS)
async def my_merchants(user: Principal, svc: Services) -> list[MyMerchant]:
    """The merchants the caller owns or works for, with their role."""
    return [_row(MyMerchant, r) for r in await svc.merchants.mine(user)]
