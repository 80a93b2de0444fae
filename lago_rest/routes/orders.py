"""Orders: create from a listing, read, move through the trade mode's state machine, rate."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import Field

from lago_core.orders import Action, Mode, Status
from lago_core.security.roles import Principal
from lago_rest.api import Api
from lago_rest.context import Services
from lago_rest.schemas import Page, PageQuery, Schema, keyset_after, page_of

api = Api()
TAGS = ("orders",)

MAX_FEN = 100_000_000
NonNegativeFen = Annotated[
    int, Field(strict=True, ge=0, le=MAX_FEN, description="integer fen (分)")
]
Fulfilment = Literal["face_to_face", "self_pickup", "delivery"]


class OrderIn(Schema):
    listing_id: UUID
    days: int | None = Field(default=None, strict=True, ge=1, le=365, description="rentals only")
    fulfilment: Fulfilment = Field(
        description="sale: face_to_face | self_pickup; consignment: self_pickup | delivery"
    )
    coupon_ids: list[UUID] = Field(
        default_factory=list,
        max_length=2,
        description="≤ 1 platform + ≤ 1 merchant coupon of the caller's (POST /checkout/preview)",
    )


class Order(Schema):
    id: UUID
    mode: Mode
    status: Status
    listing_id: UUID
    buyer_id: UUID
    seller_id: UUID
    merchant_id: UUID | None
    payee_kind: Literal["user", "merchant"]
    payee_id: UUID
    fulfilment: Fulfilment
    title: str
    category: str
    price_fen: int = Field(description="the price, or rent per day × days")
    deposit_fen: int
    discount_fen: int = Field(description="what the coupons took off the price (never the deposit)")
    platform_discount_fen: int
    merchant_discount_fen: int
    pay_fen: int = Field(description="price − discount: the payment's amount_fen")
    coupon_ids: list[UUID]
    rent_per_day_fen: int | None
    days: int | None
    commission_bps: int
    payment_id: UUID | None = Field(description="pay it: GET /payments/{id} has the client secret")
    cancel_reason: str | None
    reject_reason: str | None = Field(description="why the seller side refused or refunded it")
    late_fee_fen: int | None
    damage_fen: int | None
    created_at: datetime
    updated_at: datetime
    paid_at: datetime | None
    picked_up_at: datetime | None
    due_at: datetime | None
    returned_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    overdue_at: datetime | None


class OrderQuery(PageQuery):
    role: Literal["buyer", "seller"] | None = Field(default=None, description="omit for both")


class MerchantOrderQuery(PageQuery):
    status: Status | None = None


class RejectQuery(Schema):
    reason: str | None = Field(
        default=None, min_length=1, max_length=500, description="why, for the buyer (optional)"
    )


class CompleteIn(Schema):
    late_fee_fen: NonNegativeFen | None = Field(
        default=None, description="rentals: at most the computed late fee (default: all of it)"
    )
    damage_fen: NonNegativeFen | None = Field(default=None, description="rentals: agreed damages")


class RatingIn(Schema):
    score: int = Field(strict=True, ge=1, le=5)
    comment: str = Field(default="", max_length=500)


class Rating(Schema):
    order_id: UUID
    rater_id: UUID
    ratee_id: UUID
    score: int
    comment: str
    created_at: datetime


class Reputation(Schema):
    user_id: UUID
    rating_count: int
    average: float | None = Field(description="mean score 1–5; null before the first rating")


def _order(row: Any) -> Order:
    return Order.model_validate(dict(row) | {"pay_fen": row["price_fen"] - row["discount_fen"]})


def _after(cursor: str | None) -> tuple[datetime, UUID] | None:
    return keyset_after(cursor, datetime.fromisoformat, UUID)


def _page(rows: list[Any], limit: int) -> Page[Order]:
    items = [_order(r) for r in rows]
    return page_of(Page[Order], items, limit, lambda item: (item.created_at, item.id))


@api.post("/orders", status=201, tags=TAGS)
async def create_order(body: OrderIn, user: Principal, svc: Services) -> Order:
    """Order a listing: a sale, a consignment or a rental by the listing's kind; the order's
    payment is created with it (pay it through the provider's page). ``coupon_ids`` are locked
    to the order; 409 coupon_not_usable (``details.coupon_id``, ``details.reason``) otherwise."""
    row = await svc.orders.create(
        user, body.listing_id, body.days, body.fulfilment, body.coupon_ids
    )
    return _order(row)


@api.get("/orders", tags=TAGS)
async def my_orders(query: OrderQuery, user: Principal, svc: Services) -> Page[Order]:
    """The caller's orders as buyer or as seller, newest first."""
    rows = await svc.orders.mine(user, query.role, _after(query.cursor), query.limit + 1)
    return _page(rows, query.limit)


@api.get("/orders/{order_id}", tags=TAGS)
async def get_order(order_id: UUID, user: Principal, svc: Services) -> Order:
    """One order: its buyer, seller (or merchant owner and staff), admins, customer service."""
    return _order(await svc.orders.get(user, order_id))


async def _act(svc: Services, user: Principal, order_id: UUID, action: Action) -> Order:
    return _order(await svc.orders.act(user, order_id, action))


@api.post("/orders/{order_id}/cancel", tags=TAGS)
async def cancel_order(order_id: UUID, user: Principal, svc: Services) -> Order:
    """Cancel before payment (buyer or seller)."""
    return await _act(svc, user, order_id, Action.CANCEL)


@api.post("/orders/{order_id}/confirm", tags=TAGS)
async def confirm_order(order_id: UUID, user: Principal, svc: Services) -> Order:
    """Accept a paid order (the seller, or the merchant's owner and staff)."""
    return await _act(svc, user, order_id, Action.CONFIRM)


@api.post("/orders/{order_id}/reject", tags=TAGS)
async def reject_order(order_id: UUID, query: RejectQuery, user: Principal, svc: Services) -> Order:
    """Refuse a paid order, or grant a refund request: the price and any deposit go back.

    ``?reason=`` tells the buyer why (kept on the order as ``reject_reason``)."""
    return _order(await svc.orders.act(user, order_id, Action.REJECT, reason=query.reason))


@api.post("/orders/{order_id}/request-refund", tags=TAGS)
async def request_refund(order_id: UUID, user: Principal, svc: Services) -> Order:
    """The buyer asks for their money back before the hand-over."""
    return await _act(svc, user, order_id, Action.REQUEST_REFUND)


@api.post("/orders/{order_id}/hand-over", tags=TAGS)
async def hand_over(order_id: UUID, user: Principal, svc: Services) -> Order:
    """The seller side hands the item over (sale) or delivers it (consignment)."""
    return await _act(svc, user, order_id, Action.HAND_OVER)


@api.post("/orders/{order_id}/confirm-receipt", tags=TAGS)
async def confirm_receipt(order_id: UUID, user: Principal, svc: Services) -> Order:
    """The buyer confirms receipt: a sale or consignment is completed."""
    return await _act(svc, user, order_id, Action.CONFIRM_RECEIPT)


@api.post("/orders/{order_id}/pick-up", tags=TAGS)
async def pick_up(order_id: UUID, user: Principal, svc: Services) -> Order:
    """The renter took the item (recorded by the seller side): the rental starts."""
    return await _act(svc, user, order_id, Action.PICK_UP)


@api.post("/orders/{order_id}/return", tags=TAGS)
async def return_rental(order_id: UUID, user: Principal, svc: Services) -> Order:
    """The item came back (recorded by the seller side): the rental ends, lateness is priced."""
    return await _act(svc, user, order_id, Action.RETURN)


@api.post("/orders/{order_id}/complete", tags=TAGS)
async def complete_rental(
    order_id: UUID, body: CompleteIn, user: Principal, svc: Services
) -> Order:
    """Settle a returned rental: the deposit is released minus late fees and agreed damages."""
    row = await svc.orders.act(
        user,
        order_id,
        Action.COMPLETE,
        late_fee_fen=body.late_fee_fen,
        damage_fen=body.damage_fen,
    )
    return _order(row)


@api.post("/orders/{order_id}/ratings", status=201, tags=TAGS)
async def rate_order(order_id: UUID, body: RatingIn, user: Principal, svc: Services) -> Rating:
    """Rate the other party of a completed order, once."""
    row = await svc.orders.rate(user, order_id, body.score, body.comment)
    return Rating.model_validate(dict(row))


@api.get("/orders/{order_id}/ratings", tags=TAGS)
async def order_ratings(order_id: UUID, user: Principal, svc: Services) -> list[Rating]:
    """The ratings of an order."""
    return [Rating.model_validate(dict(r)) for r in await svc.orders.ratings(user, order_id)]


@api.get("/users/{user_id}/reputation", tags=TAGS)
async def user_reputation(user_id: UUID, user: Principal, svc: Services) -> Reputation:
    """A user's reputation: how many ratings and their average."""
    rep = await svc.orders.reputation(user_id)
    return Reputation(user_id=rep.user_id, rating_count=rep.rating_count, average=rep.average)


@api.get("/merchants/{merchant_id}/orders", tags=TAGS)
async def merchant_orders(
    merchant_id: UUID, query: MerchantOrderQuery, user: Principal, svc: Services
) -> Page[Order]:
    """A merchant's orders by status: its owner and staff, admins and customer service."""
    rows = await svc.orders.of_merchant(
        user, merchant_id, query.status, _after(query.cursor), query.limit + 1
    )
    return _page(rows, query.limit)
