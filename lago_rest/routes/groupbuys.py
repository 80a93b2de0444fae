"""Group buys (拼团) over REST: campaigns, groups to read, paying for a seat, merchants' orders.

Starting, joining and leaving a group happen in the community channel (socket.io events
``groupbuy:start|join|leave``, docs/protocol.md), where the channel actor decides seats.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, TypeVar
from uuid import UUID

from pydantic import Field

from lago_core.groupbuys import CampaignSpec
from lago_core.security.roles import Principal
from lago_rest.api import Api
from lago_rest.context import Services
from lago_rest.routes.payments import IdempotencyKey, Payment
from lago_rest.schemas import Page, PageQuery, Schema, keyset_after, page_of

api = Api()
TAGS = ("group buys",)


class CampaignIn(Schema):
    merchant_id: UUID
    title: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=2000)
    listing_id: UUID | None = Field(default=None, description="one of the merchant's listings")
    item_id: UUID | None = Field(default=None, description="or one of its catalogue items")
    group_price_fen: int = Field(gt=0, le=100_000_000)
    original_price_fen: int = Field(gt=0, le=100_000_000)
    min_members: int = Field(ge=2, le=100)
    max_members: int = Field(ge=2, le=100)
    valid_hours: int = Field(default=24, ge=1, le=168)
    per_user_limit: int = Field(default=1, ge=1, le=10)
    stock: int | None = Field(default=None, gt=0, le=1_000_000, description="seats in all")
    payment_window_s: int | None = Field(
        default=None, ge=60, le=86_400, description="default LAGO_GROUPBUY_PAYMENT_WINDOW_S"
    )
    auto_fill: bool = Field(
        default=False, description="at expiry, succeed with at least one paid member"
    )
    community_ids: list[UUID] = Field(min_length=1, max_length=200)


class Campaign(Schema):
    id: UUID
    merchant_id: UUID
    organiser: Literal["merchant", "platform"]
    title: str
    description: str
    listing_id: UUID | None
    item_id: UUID | None
    group_price_fen: int
    original_price_fen: int
    min_members: int
    max_members: int
    valid_hours: int
    per_user_limit: int
    stock: int | None
    seats_taken: int
    payment_window_s: int
    auto_fill: bool
    status: Literal["active", "ended"]
    created_at: datetime


class CampaignDetail(Campaign):
    community_ids: list[UUID]


GroupStatus = Literal["open", "succeeded", "failed", "cancelled", "closed"]


class Group(Schema):
    id: UUID
    campaign_id: UUID
    community_id: UUID
    title: str
    group_price_fen: int
    original_price_fen: int
    leader_id: UUID | None
    min_members: int
    max_members: int
    members: int = Field(description="reserved or paid seats")
    paid: int
    status: GroupStatus
    expires_at: datetime
    created_at: datetime


class Seat(Schema):
    user_id: UUID
    name: str
    seat_no: int
    status: Literal["reserved", "paid", "released", "refunded"]
    reserved_until: datetime
    joined_at: datetime
    paid_at: datetime | None


class GroupDetail(Group):
    seats: list[Seat] = Field(description="every seat ever taken, in joining order")


class GroupBuyOrder(Schema):
    id: UUID
    group_id: UUID
    campaign_id: UUID
    merchant_id: UUID
    buyer_id: UUID
    payment_id: UUID
    price_fen: int
    merchant_discount_fen: int = Field(description="the merchant's own coupon on this seat")
    status: OrderStatus
    created_at: datetime
    completed_at: datetime | None = Field(description="delivered; paid out seven days later")
    refunded_at: datetime | None
    refund_reason: str | None


OrderStatus = Literal["paid", "confirmed", "completed", "refunded"]


class OrderQuery(PageQuery):
    status: OrderStatus | None = Field(default=None, description="omit for every status")


M = TypeVar("M", bound=Schema)


def _as(model: type[M], row: Any, **extra: Any) -> M:
    """The model from a database row, taking only the columns the model shows."""
    data = {**dict(row), **extra}
    return model.model_validate({k: data[k] for k in model.model_fields if k in data})


def _after(cursor: str | None) -> tuple[datetime, UUID] | None:
    return keyset_after(cursor, datetime.fromisoformat, UUID)


def _key(item: Any) -> tuple[datetime, UUID]:
    return (item.created_at, item.id)


@api.post("/group-buy-campaigns", status=201, tags=TAGS)
async def create_campaign(body: CampaignIn, user: Principal, svc: Services) -> CampaignDetail:
    """Offer a group price in chosen communities: the merchant's owner or staff (in communities
    it serves), or a platform admin for any merchant (organiser ``platform``)."""
    spec = CampaignSpec(**body.model_dump())
    row = await svc.groupbuys.create_campaign(user, spec)
    return _as(CampaignDetail, row, community_ids=sorted(body.community_ids))


@api.get("/group-buy-campaigns/{campaign_id}", tags=TAGS)
async def get_campaign(campaign_id: UUID, user: Principal, svc: Services) -> CampaignDetail:
    """A campaign and the communities it is offered in (its merchant's people, admins, and
    members of those communities)."""
    row, communities = await svc.groupbuys.readable_campaign(user, campaign_id)
    return _as(CampaignDetail, row, community_ids=communities)


@api.post("/group-buy-campaigns/{campaign_id}/end", tags=TAGS)
async def end_campaign(campaign_id: UUID, user: Principal, svc: Services) -> Campaign:
    """Stop new groups (groups already formed run to their end): the merchant or an admin."""
    return _as(Campaign, await svc.groupbuys.end_campaign(user, campaign_id))


@api.get("/communities/{community_id}/group-buy-campaigns", tags=TAGS)
async def community_campaigns(
    community_id: UUID, query: PageQuery, user: Principal, svc: Services
) -> Page[Campaign]:
    """Active campaigns offered in the community, newest first (its members and staff)."""
    rows = await svc.groupbuys.campaigns_in(
        user, community_id, _after(query.cursor), query.limit + 1
    )
    items = [_as(Campaign, r) for r in rows]
    return page_of(Page[Campaign], items, query.limit, _key)


@api.get("/merchants/{merchant_id}/group-buy-campaigns", tags=TAGS)
async def merchant_campaigns(merchant_id: UUID, user: Principal, svc: Services) -> list[Campaign]:
    """The merchant's campaigns, newest first (its owner and staff, admins)."""
    rows = await svc.groupbuys.campaigns_of(user, merchant_id)
    return [_as(Campaign, r) for r in rows]


@api.get("/communities/{community_id}/group-buys", tags=TAGS)
async def community_groups(
    community_id: UUID, query: PageQuery, user: Principal, svc: Services
) -> Page[Group]:
    """Groups formed in the community, newest first, with their member counts."""
    rows = await svc.groupbuys.groups_in(user, community_id, _after(query.cursor), query.limit + 1)
    items = [_as(Group, r) for r in rows]
    return page_of(Page[Group], items, query.limit, _key)


@api.get("/group-buys/{group_id}", tags=TAGS)
async def get_group(group_id: UUID, user: Principal, svc: Services) -> GroupDetail:
    """A group and every seat taken in it (members and staff of its community)."""
    row, seats = await svc.groupbuys.group(user, group_id)
    members = [s for s in seats if s["status"] in ("reserved", "paid")]
    return _as(
        GroupDetail,
        row,
        members=len(members),
        paid=sum(1 for s in members if s["status"] == "paid"),
        seats=[_as(Seat, s) for s in seats],
    )


class SeatPayIn(Schema):
    coupon_ids: list[UUID] = Field(
        default_factory=list,
        max_length=2,
        description="≤ 1 platform + ≤ 1 merchant coupon, locked to the seat",
    )


@api.post("/group-buys/{group_id}/pay", status=201, tags=TAGS)
async def pay_seat(
    group_id: UUID,
    body: SeatPayIn | None,
    idempotency_key: IdempotencyKey,
    user: Principal,
    svc: Services,
) -> Payment:
    """A payment for the caller's reserved seat (``Idempotency-Key`` header; optional JSON body
    ``{coupon_ids}``). Pay it before the seat's ``reserved_until``; a payment that arrives after
    the seat or the group ended, or for a seat already paid, is refunded in full."""
    coupon_ids = body.coupon_ids if body is not None else []
    view = await svc.groupbuys.pay(user, group_id, idempotency_key, coupon_ids)
    return Payment.model_validate(view, from_attributes=True)


@api.get("/merchants/{merchant_id}/group-buy-orders", tags=TAGS)
async def merchant_orders(
    merchant_id: UUID, query: OrderQuery, user: Principal, svc: Services
) -> Page[GroupBuyOrder]:
    """Orders from successful groups, newest first, optionally of one status (the merchant's
    owner and staff, admins)."""
    rows = await svc.groupbuys.merchant_orders(
        user, merchant_id, _after(query.cursor), query.limit + 1, query.status
    )
    items = [_as(GroupBuyOrder, r) for r in rows]
    return page_of(Page[GroupBuyOrder], items, query.limit, _key)


@api.get("/group-buy-orders", tags=TAGS)
async def my_orders(user: Principal, svc: Services) -> list[GroupBuyOrder]:
    """The caller's group-buy orders, newest first (at most 100)."""
    rows = await svc.groupbuys.orders_of_buyer(user)
    return [_as(GroupBuyOrder, r) for r in rows]


@api.post("/group-buy-orders/{order_id}/confirm", tags=TAGS)
async def confirm_order(order_id: UUID, user: Principal, svc: Services) -> GroupBuyOrder:
    """The merchant accepts the order (paid → confirmed)."""
    row = await svc.groupbuys.advance_order(user, order_id, "confirm")
    return _as(GroupBuyOrder, row)


class RefundIn(Schema):
    reason: str = Field(min_length=1, max_length=200, description="told to the buyer")


@api.post("/group-buy-orders/{order_id}/refund", tags=TAGS)
async def refund_order(
    order_id: UUID, body: RefundIn, user: Principal, svc: Services
) -> GroupBuyOrder:
    """The merchant cannot deliver: refund the buyer in full (paid or confirmed orders; the
    merchant's owner or staff, admins, customer service). Sent again, it answers with the
    refunded order and refunds nothing more."""
    row = await svc.groupbuys.refund_order(user, order_id, body.reason)
    return _as(GroupBuyOrder, row)


@api.post("/group-buy-orders/{order_id}/complete", tags=TAGS)
async def complete_order(order_id: UUID, user: Principal, svc: Services) -> GroupBuyOrder:
    """The merchant has delivered (confirmed → completed)."""
    row = await svc.groupbuys.advance_order(user, order_id, "complete")
    return _as(GroupBuyOrder, row)
