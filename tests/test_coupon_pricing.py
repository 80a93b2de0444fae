"""Property tests of coupon pricing and of the refund split with a platform coupon (pure code:
no database). Fixed seeds and bounded examples keep the runs deterministic and short."""

from __future__ import annotations

import uuid
from itertools import product

from hypothesis import given, seed, settings
from hypothesis import strategies as st

from lago_core.coupons.pricing import (
    MIN_PAY_FEN,
    CouponTerms,
    Purchase,
    best_combination,
    breakdown,
    why_unusable,
)
from lago_core.ledger import flows

MERCHANT = uuid.UUID(int=7)
LISTING = uuid.UUID(int=9)
CATEGORIES = ("toy", "doll", "video_game")


@st.composite
def coupons(draw: st.DrawFn) -> CouponTerms:
    kind = draw(st.sampled_from(["amount_off", "percent_off"]))
    funded_by = draw(st.sampled_from(["platform", "merchant"]))
    budget = draw(st.none() | st.integers(0, 5_000)) if funded_by == "merchant" else None
    return CouponTerms(
        id=uuid.UUID(int=draw(st.integers(1, 2**64))),
        kind=kind,
        funded_by=funded_by,
        threshold_fen=draw(st.integers(0, 20_000)),
        amount_off_fen=draw(st.integers(1, 30_000)) if kind == "amount_off" else None,
        percent_off_bps=draw(st.integers(1, 9_999)) if kind == "percent_off" else None,
        max_discount_fen=(
            draw(st.none() | st.integers(1, 10_000)) if kind == "percent_off" else None
        ),
        categories=frozenset(draw(st.lists(st.sampled_from(CATEGORIES), max_size=2))),
        listing_ids=frozenset(draw(st.lists(st.just(LISTING), max_size=1))),
        merchant_id=(
            draw(st.sampled_from([MERCHANT, uuid.UUID(int=8)])) if funded_by == "merchant" else None
        ),
        budget_left_fen=budget,
    )


purchases = st.builds(
    Purchase,
    price_fen=st.integers(1, 50_000),
    category=st.sampled_from(CATEGORIES),
    listing_id=st.sampled_from([LISTING, uuid.UUID(int=10)]),
    merchant_id=st.sampled_from([MERCHANT, None]),
)


@seed(18)
@settings(max_examples=400, deadline=None)
@given(purchases, st.lists(coupons(), max_size=5, unique_by=lambda c: c.id))
def test_breakdowns_are_exact_and_best_is_optimal(
    purchase: Purchase, wallet: list[CouponTerms]
) -> None:
    valid: list[int] = [0]
    platform = [None, *(c for c in wallet if c.funded_by == "platform")]
    merchant = [None, *(c for c in wallet if c.funded_by == "merchant")]
    for p, m in product(platform, merchant):
        combo = [c for c in (p, m) if c is not None]
        if any(why_unusable(c, purchase) is not None for c in combo):
            continue
        result = breakdown(purchase, combo)
        # Exact integers; the discount never exceeds the price, the buyer pays ≥ 1 fen.
        assert all(type(a.discount_fen) is int and a.discount_fen >= 0 for a in result.applied)
        assert 0 <= result.discount_fen <= purchase.price_fen - MIN_PAY_FEN or not combo
        assert result.pay_fen >= MIN_PAY_FEN
        assert result.pay_fen + result.discount_fen == purchase.price_fen
        for applied in result.applied:
            coupon = next(c for c in combo if c.id == applied.coupon_id)
            if coupon.kind == "amount_off":
                assert applied.discount_fen <= (coupon.amount_off_fen or 0)
            elif coupon.max_discount_fen is not None:
                assert applied.discount_fen <= coupon.max_discount_fen
            if coupon.budget_left_fen is not None:
                assert applied.discount_fen <= coupon.budget_left_fen
            # Thresholds are met by the price before any discount.
            assert purchase.price_fen >= coupon.threshold_fen
        valid.append(result.discount_fen)
    best = best_combination(purchase, wallet)
    assert best.discount_fen == max(valid)
    assert sum(1 for a in best.applied if a.funded_by == "platform") <= 1
    assert sum(1 for a in best.applied if a.funded_by == "merchant") <= 1


def test_the_rules_by_example() -> None:
    platform = CouponTerms(uuid.uuid4(), "amount_off", "platform", 5_000, amount_off_fen=500)
    merchant = CouponTerms(
        uuid.uuid4(), "percent_off", "merchant", 0, percent_off_bps=1000, merchant_id=MERCHANT
    )
    sale = Purchase(10_000, "toy", LISTING, MERCHANT)
    # The merchant's 10 % first (1000), then the platform's 满50减5 on the price before both.
    both = breakdown(sale, [platform, merchant])
    assert (both.merchant_discount_fen, both.platform_discount_fen, both.pay_fen) == (
        1_000,
        500,
        8_500,
    )
    assert why_unusable(platform, Purchase(4_999, "toy", LISTING, None)) == (
        "coupon_threshold_not_met"
    )
    assert why_unusable(merchant, Purchase(10_000, "toy", LISTING, None)) == (
        "coupon_other_merchant"
    )
    # ¥10 without threshold on a ¥8 item: the buyer still pays 1 fen.
    new_user = CouponTerms(uuid.uuid4(), "amount_off", "platform", 0, amount_off_fen=1_000)
    assert breakdown(Purchase(800, "toy", None, None), [new_user]).pay_fen == 1
    two = CouponTerms(uuid.uuid4(), "amount_off", "platform", 0, amount_off_fen=1)
    for refused in ([new_user, two], [new_user, new_user]):
        try:
            breakdown(sale, refused)
        except ValueError:
            continue
        raise AssertionError(f"accepted {refused}")


@seed(1818)
@settings(max_examples=400, deadline=None)
@given(
    st.integers(2, 100_000),
    st.integers(0, 3_000),
    st.integers(0, 10_000),
    st.sampled_from([0, 2_000]),
    st.lists(st.integers(1, 100_000), min_size=1, max_size=8),
)
def test_refunds_with_a_platform_coupon_reverse_the_capture_exactly(
    base_fen: int, commission_bps: int, discount_fen: int, property_bps: int, cuts: list[int]
) -> None:
    """Partial refunds of what the buyer paid, adding up to all of it, give back exactly the
    capture's split and the whole platform discount; each refund's parts are within what is
    left and balance (what the buyer gets + the discount part = what the parts give back)."""
    discount_fen = min(discount_fen, base_fen - 1)
    paid = base_fen - discount_fen
    split = flows.split_price(base_fen, commission_bps, property_bps)
    remaining, paid_left, discount_left = split, paid, discount_fen
    for cut in [*cuts, paid]:
        amount = min(cut, paid_left)
        if amount == 0:
            break
        back = flows.allocate_discount_refund(paid_left, discount_left, amount)
        assert 0 <= back <= discount_left
        parts = flows.allocate_refund(remaining, amount + back)
        assert parts.total == amount + back
        assert 0 <= parts.payee_fen <= remaining.payee_fen
        assert 0 <= parts.commission_fen <= remaining.commission_fen
        assert 0 <= parts.property_fen <= remaining.property_fen
        remaining = flows.Split(
            remaining.payee_fen - parts.payee_fen,
            remaining.commission_fen - parts.commission_fen,
            remaining.property_fen - parts.property_fen,
        )
        paid_left -= amount
        discount_left -= back
    assert (paid_left, discount_left) == (0, 0)
    assert remaining == flows.Split(0, 0, 0)
