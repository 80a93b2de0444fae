"""Coupons (优惠券): templates, the wallet, pricing at checkout (issue 18; docs/money.md)."""

from lago_core.coupons.checkout import CheckoutService, Preview, Quote
from lago_core.coupons.pricing import (
    Applied,
    Breakdown,
    CouponTerms,
    Purchase,
    best_combination,
    breakdown,
)
from lago_core.coupons.service import CouponService, Held, TemplateSpec
from lago_core.coupons.store import CouponStore

__all__ = [
    "Applied",
    "Breakdown",
    "CheckoutService",
    "CouponService",
    "CouponStore",
    "CouponTerms",
    "Held",
    "Preview",
    "Purchase",
    "Quote",
    "TemplateSpec",
    "best_combination",
    "breakdown",
]
