"""The price breakdown before anything is reserved (``POST /checkout/preview``).

Orders and group buys say what a purchase is (:class:`Quote`: the discountable price, the deposit,
the scope keys); coupons say what the caller's coupons take off. Nothing is locked here: the
order's insert (or the seat's payment) locks the coupons it is given, in its own transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from uuid import UUID

import asyncpg

from lago_core.coupons.pricing import Breakdown, Purchase
from lago_core.coupons.service import CouponService
from lago_core.security.roles import Principal

__all__ = ["CheckoutService", "Preview", "Quote"]


@dataclass(frozen=True, slots=True)
class Quote:
    purchase: Purchase
    deposit_fen: int = 0


ListingQuote = Callable[[Principal, UUID, int | None], Awaitable[Quote]]
SeatQuote = Callable[[Principal, UUID], Awaitable[Quote]]


@dataclass(frozen=True, slots=True)
class Preview:
    quote: Quote
    chosen: Breakdown
    usable: list[tuple[asyncpg.Record, int]]
    unusable: list[tuple[asyncpg.Record, str]]
    best: Breakdown


class CheckoutService:
    def __init__(
        self, coupons: CouponService, listing_quote: ListingQuote, seat_quote: SeatQuote
    ) -> None:
        self._coupons = coupons
        self._listing_quote = listing_quote
        self._seat_quote = seat_quote

    async def preview(
        self,
        actor: Principal,
        coupon_ids: Sequence[UUID],
        *,
        listing_id: UUID | None = None,
        days: int | None = None,
        group_id: UUID | None = None,
    ) -> Preview:
        if group_id is not None:
            quote = await self._seat_quote(actor, group_id)
        else:
            assert listing_id is not None
            quote = await self._listing_quote(actor, listing_id, days)
        chosen = await self._coupons.price(None, actor.user_id, quote.purchase, coupon_ids)
        usable, unusable, best = await self._coupons.usable_for(actor, quote.purchase)
        return Preview(quote, chosen, usable, unusable, best)
