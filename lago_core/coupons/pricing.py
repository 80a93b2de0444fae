"""What coupons take off a price: pure functions, exact integer fen, no I/O.

The rules (docs/money.md, "Coupons and discounts"):

- at most one platform coupon and one merchant coupon per purchase;
- thresholds (满减) are met by the price before any discount;
- the merchant's discount is taken first, from the price; the platform's from what is left, so a
  percentage never applies to money another coupon already took;
- a discount never exceeds what it applies to, and the buyer always pays at least
  ``MIN_PAY_FEN`` (1 fen): every purchase goes through the provider, with one code path;
- a rental is discounted on its rent (``price_fen``); the deposit is never discounted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import product
from uuid import UUID

__all__ = [
    "MIN_PAY_FEN",
    "Applied",
    "Breakdown",
    "CouponTerms",
    "Purchase",
    "best_combination",
    "breakdown",
    "discount_of",
    "why_unusable",
]

MIN_PAY_FEN = 1
PLATFORM = "platform"
MERCHANT = "merchant"


@dataclass(frozen=True, slots=True)
class CouponTerms:
    """One coupon as pricing sees it (a template's terms plus the coupon's id and expiry)."""

    id: UUID
    kind: str  # "amount_off" | "percent_off"
    funded_by: str  # "platform" | "merchant"
    threshold_fen: int = 0
    amount_off_fen: int | None = None
    percent_off_bps: int | None = None
    max_discount_fen: int | None = None
    categories: frozenset[str] = frozenset()
    listing_ids: frozenset[UUID] = frozenset()
    merchant_id: UUID | None = None
    # What the merchant's budget can still give (merchant coupons); None: no budget applies.
    budget_left_fen: int | None = None
    # Ties between equally good combinations go to the coupon that expires first.
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Purchase:
    """What is being bought: the discountable price (the rent for a rental) and its scope keys."""

    price_fen: int
    category: str
    listing_id: UUID | None
    merchant_id: UUID | None  # the merchant running the sale; None for a resident's listing


@dataclass(frozen=True, slots=True)
class Applied:
    coupon_id: UUID
    funded_by: str
    discount_fen: int


@dataclass(frozen=True, slots=True)
class Breakdown:
    price_fen: int
    applied: tuple[Applied, ...] = field(default_factory=tuple)

    @property
    def platform_discount_fen(self) -> int:
        return sum(a.discount_fen for a in self.applied if a.funded_by == PLATFORM)

    @property
    def merchant_discount_fen(self) -> int:
        return sum(a.discount_fen for a in self.applied if a.funded_by == MERCHANT)

    @property
    def discount_fen(self) -> int:
        return self.platform_discount_fen + self.merchant_discount_fen

    @property
    def pay_fen(self) -> int:
        return self.price_fen - self.discount_fen


def why_unusable(coupon: CouponTerms, purchase: Purchase) -> str | None:
    """The code of why this coupon cannot apply to this purchase, or None when it can."""
    if coupon.funded_by == MERCHANT and coupon.merchant_id != purchase.merchant_id:
        return "coupon_other_merchant"
    if coupon.categories or coupon.listing_ids:
        in_scope = purchase.category in coupon.categories or (
            purchase.listing_id is not None and purchase.listing_id in coupon.listing_ids
        )
        if not in_scope:
            return "coupon_out_of_scope"
    if purchase.price_fen < coupon.threshold_fen:
        return "coupon_threshold_not_met"
    if purchase.price_fen <= MIN_PAY_FEN:
        return "coupon_price_too_low"
    if coupon.budget_left_fen is not None and coupon.budget_left_fen <= 0:
        return "coupon_budget_exhausted"
    return None


def discount_of(coupon: CouponTerms, base_fen: int) -> int:
    """The coupon's discount on ``base_fen`` (what is left to pay when it applies), capped so
    that at least MIN_PAY_FEN remains and, for a merchant coupon, by the budget left."""
    if coupon.kind == "amount_off":
        raw = coupon.amount_off_fen or 0
    else:
        raw = base_fen * (coupon.percent_off_bps or 0) // 10_000
        if coupon.max_discount_fen is not None:
            raw = min(raw, coupon.max_discount_fen)
    cap = max(0, base_fen - MIN_PAY_FEN)
    if coupon.budget_left_fen is not None:
        cap = min(cap, max(0, coupon.budget_left_fen))
    return max(0, min(raw, cap))


def breakdown(purchase: Purchase, coupons: Sequence[CouponTerms]) -> Breakdown:
    """The price breakdown with exactly these coupons. Raises ValueError (with a code as its
    message) when they cannot go together or one of them cannot apply."""
    if purchase.price_fen <= 0:
        raise ValueError("invalid_price")
    if len({c.id for c in coupons}) != len(coupons):
        raise ValueError("coupon_repeated")
    by_funder: dict[str, CouponTerms] = {}
    for coupon in coupons:
        if coupon.funded_by in by_funder:
            raise ValueError(f"coupon_one_{coupon.funded_by}_only")
        problem = why_unusable(coupon, purchase)
        if problem is not None:
            raise ValueError(problem)
        by_funder[coupon.funded_by] = coupon
    applied: list[Applied] = []
    left = purchase.price_fen
    for funder in (MERCHANT, PLATFORM):
        chosen = by_funder.get(funder)
        if chosen is None:
            continue
        off = discount_of(chosen, left)
        applied.append(Applied(chosen.id, funder, off))
        left -= off
    return Breakdown(purchase.price_fen, tuple(applied))


def _tie_key(combo: Sequence[CouponTerms]) -> tuple[int, list[tuple[datetime, str]]]:
    far = datetime.max
    return len(combo), sorted(
        ((c.expires_at.replace(tzinfo=None) if c.expires_at else far), str(c.id)) for c in combo
    )


def best_combination(purchase: Purchase, coupons: Iterable[CouponTerms]) -> Breakdown:
    """The valid combination (≤ 1 platform + ≤ 1 merchant coupon) with the largest discount;
    among equals the one with fewer coupons, then the ones expiring first."""
    usable = [c for c in coupons if why_unusable(c, purchase) is None]
    platform: list[CouponTerms | None] = [None, *(c for c in usable if c.funded_by == PLATFORM)]
    merchant: list[CouponTerms | None] = [None, *(c for c in usable if c.funded_by == MERCHANT)]
    best: Breakdown = Breakdown(purchase.price_fen)
    best_key = _tie_key([])
    for p, m in product(platform, merchant):
        combo = [c for c in (m, p) if c is not None]
        if not combo:
            continue
        result = breakdown(purchase, combo)
        key = _tie_key(combo)
        if result.discount_fen > best.discount_fen or (
            result.discount_fen == best.discount_fen and result.discount_fen > 0 and key < best_key
        ):
            best, best_key = result, key
    return best
