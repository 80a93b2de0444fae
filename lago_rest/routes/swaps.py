"""Swaps (置换): open a listing to swaps, offer, answer, pay a difference, confirm, rate."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import Field

from lago_core.security.roles import Principal
from lago_core.swaps import Side, Status
from lago_rest.api import Api
from lago_rest.context import Services
from lago_rest.routes.orders import RatingIn
from lago_rest.routes.payments import IdempotencyKey, Payment
from lago_rest.schemas import Page, PageQuery, Schema, keyset_after, page_of

api = Api()
TAGS = ("swaps",)

DifferenceFen = Annotated[
    int, Field(strict=True, ge=0, le=100_000_000, description="integer fen (分)")
]


class SwapOkIn(Schema):
    swap_ok: bool = Field(strict=True)


class SwapOk(Schema):
    listing_id: UUID
    swap_ok: bool


class SwapIn(Schema):
    listing_id: UUID = Field(description="the neighbour's listing, open to swaps")
    offered_listing_id: UUID = Field(description="one of the caller's own active listings")
    difference_fen: DifferenceFen = 0
    difference_payer: Literal["proposer", "owner"] | None = Field(
        default=None, description="who pays the difference (required when it is above 0)"
    )
    message: str = Field(default="", max_length=500)


class Swap(Schema):
    id: UUID
    status: Status
    listing_id: UUID
    owner_id: UUID
    offered_listing_id: UUID
    proposer_id: UUID
    difference_fen: int
    difference_payer: Literal["proposer", "owner"] | None
    payer_id: UUID | None
    payee_id: UUID | None
    message: str
    payment_id: UUID | None = Field(description="the captured payment of the difference")
    proposer_confirmed_at: datetime | None
    owner_confirmed_at: datetime | None
    cancel_reason: str | None
    created_at: datetime
    updated_at: datetime
    accepted_at: datetime | None
    paid_at: datetime | None
    completed_at: datetime | None
    ended_at: datetime | None
    listing_title: str
    listing_price_fen: int | None
    listing_image: str | None
    offered_title: str
    offered_price_fen: int | None
    offered_image: str | None
    my_side: Literal["owner", "proposer"] | None


class SwapQuery(PageQuery):
    role: Literal["in", "out"] | None = Field(
        default=None, description="in: offers for my listings; out: offers I made; omit: both"
    )


class SwapRating(Schema):
    swap_id: UUID
    rater_id: UUID
    ratee_id: UUID
    score: int
    comment: str
    created_at: datetime


def _swap(svc: Services, user: Principal, row: Any) -> Swap:
    data = dict(row)
    for extra in ("listing_images", "offered_images", "commission_bps"):
        data.pop(extra, None)
    images = row["listing_images"]
    offered = row["offered_images"]
    side = svc.swaps.side_of(user, row)
    return Swap.model_validate(
        data
        | {
            "listing_image": svc.listings.image_url(images[0]) if images else None,
            "offered_image": svc.listings.image_url(offered[0]) if offered else None,
            "my_side": side.value if side is not None else None,
        }
    )


def _page(svc: Services, user: Principal, rows: list[Any], limit: int) -> Page[Swap]:
    items = [_swap(svc, user, r) for r in rows]
    return page_of(Page[Swap], items, limit, lambda item: (item.created_at, item.id))


@api.put("/listings/{listing_id}/swap-ok", tags=TAGS)
async def set_swap_ok(listing_id: UUID, body: SwapOkIn, user: Principal, svc: Services) -> SwapOk:
    """Open (or close) one's own resident listing for sale to swap offers (可置换)."""
    swap_ok = await svc.swaps.set_swap_ok(user, listing_id, body.swap_ok)
    return SwapOk(listing_id=listing_id, swap_ok=swap_ok)


@api.post("/swaps", status=201, tags=TAGS)
async def offer_swap(body: SwapIn, user: Principal, svc: Services) -> Swap:
    """Offer one of my listings for a neighbour's listing open to swaps, optionally with an
    agreed difference (``difference_fen``, paid by ``difference_payer``). 409
    ``not_open_to_swaps``, ``listing_not_active``, ``offer_exists``; 422 ``not_your_listing``."""
    payer = Side(body.difference_payer) if body.difference_payer is not None else None
    row = await svc.swaps.offer(
        user, body.listing_id, body.offered_listing_id, body.difference_fen, payer, body.message
    )
    return _swap(svc, user, await svc.swaps.get(user, row["id"]))


@api.get("/swaps", tags=TAGS)
async def my_swaps(query: SwapQuery, user: Principal, svc: Services) -> Page[Swap]:
    """Offers for my listings (``in``) and offers I made (``out``), newest first."""
    after = keyset_after(query.cursor, datetime.fromisoformat, UUID)
    rows = await svc.swaps.mine(user, query.role, after, query.limit + 1)
    return _page(svc, user, rows, query.limit)


@api.get("/swaps/{swap_id}", tags=TAGS)
async def get_swap(swap_id: UUID, user: Principal, svc: Services) -> Swap:
    """One swap: its two parties, admins and customer service."""
    return _swap(svc, user, await svc.swaps.get(user, swap_id))


async def _moved(svc: Services, user: Principal, row: Any) -> Swap:
    return _swap(svc, user, await svc.swaps.get(user, row["id"]))


@api.post("/swaps/{swap_id}/accept", tags=TAGS)
async def accept_swap(swap_id: UUID, user: Principal, svc: Services) -> Swap:
    """The owner accepts: both listings are held (409 ``listing_reserved`` when an order or
    another swap holds one)."""
    return await _moved(svc, user, await svc.swaps.accept(user, swap_id))


@api.post("/swaps/{swap_id}/decline", tags=TAGS)
async def decline_swap(swap_id: UUID, user: Principal, svc: Services) -> Swap:
    """The owner declines an offer."""
    return await _moved(svc, user, await svc.swaps.decline(user, swap_id))


@api.post("/swaps/{swap_id}/withdraw", tags=TAGS)
async def withdraw_swap(swap_id: UUID, user: Principal, svc: Services) -> Swap:
    """The proposer withdraws an offer not answered yet."""
    return await _moved(svc, user, await svc.swaps.withdraw(user, swap_id))


@api.post("/swaps/{swap_id}/cancel", tags=TAGS)
async def cancel_swap(swap_id: UUID, user: Principal, svc: Services) -> Swap:
    """Either party calls off an accepted swap: listings free, a paid difference refunded."""
    return await _moved(svc, user, await svc.swaps.cancel(user, swap_id))


@api.post("/swaps/{swap_id}/confirm", tags=TAGS)
async def confirm_swap(swap_id: UUID, user: Principal, svc: Services) -> Swap:
    """I handed my item over and took theirs; the second confirmation completes the swap."""
    return await _moved(svc, user, await svc.swaps.confirm(user, swap_id))


@api.post("/swaps/{swap_id}/pay", status=201, tags=TAGS)
async def pay_difference(
    swap_id: UUID, idempotency_key: IdempotencyKey, user: Principal, svc: Services
) -> Payment:
    """A payment of the agreed difference by the side that pays it (``Idempotency-Key``
    header); pay it on the provider's page. A payment arriving after the swap was cancelled,
    or a second one, is refunded in full."""
    view = await svc.swaps.pay(user, swap_id, idempotency_key)
    return Payment.model_validate(view, from_attributes=True)


@api.post("/swaps/{swap_id}/ratings", status=201, tags=TAGS)
async def rate_swap(swap_id: UUID, body: RatingIn, user: Principal, svc: Services) -> SwapRating:
    """Rate the other party of a completed swap, once (counts in ``/users/{id}/reputation``)."""
    row = await svc.swaps.rate(user, swap_id, body.score, body.comment)
    return SwapRating.model_validate(dict(row))


@api.get("/swaps/{swap_id}/ratings", tags=TAGS)
async def swap_ratings(swap_id: UUID, user: Principal, svc: Services) -> list[SwapRating]:
    """The ratings of a swap."""
    return [SwapRating.model_validate(dict(r)) for r in await svc.swaps.ratings(user, swap_id)]
