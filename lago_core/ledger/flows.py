"""The typical movements of money, as entry lists: pure functions, posted by the callers.

Each function returns the entries of one transaction; docs/money.md has the same as tables.
"""

from __future__ import annotations

from dataclasses import dataclass

from lago_core.ledger.model import AccountKind, AccountRef, Entry, Party, credit, debit

__all__ = [
    "CLEARING",
    "COMMISSION",
    "COUPON_EXPENSE",
    "ESCROW",
    "FUNDING",
    "IN_TRANSIT",
    "REFUNDS",
    "RefundParts",
    "Split",
    "allocate_discount_refund",
    "allocate_refund",
    "captured",
    "coupon_funded",
    "deposit_held",
    "deposit_released",
    "made_available",
    "payout_failed",
    "payout_paid",
    "payout_started",
    "refund_paid",
    "refund_requested",
    "split_price",
    "subscription_charged",
    "subscription_granted",
]

CLEARING = AccountRef(AccountKind.CLEARING)
ESCROW = AccountRef(AccountKind.DEPOSIT_ESCROW)
COMMISSION = AccountRef(AccountKind.PLATFORM_COMMISSION)
REFUNDS = AccountRef(AccountKind.REFUNDS)
IN_TRANSIT = AccountRef(AccountKind.PAYOUTS_IN_TRANSIT)
COUPON_EXPENSE = AccountRef(AccountKind.PLATFORM_COUPON_EXPENSE)
FUNDING = AccountRef(AccountKind.PLATFORM_FUNDING)
SUBSCRIPTION_REVENUE = AccountRef(AccountKind.PLATFORM_SUBSCRIPTION_REVENUE)
SUBSCRIPTION_EXPENSE = AccountRef(AccountKind.PLATFORM_SUBSCRIPTION_EXPENSE)


@dataclass(frozen=True, slots=True)
class Split:
    """How a price divides: the payee's net, the platform's commission, the property share."""

    payee_fen: int
    commission_fen: int
    property_fen: int

    @property
    def total(self) -> int:
        return self.payee_fen + self.commission_fen + self.property_fen


RefundParts = Split


def split_price(price_fen: int, commission_bps: int, property_share_bps: int) -> Split:
    """Commission is a share of the price; the property company's share is a share of the
    commission (the platform shares its revenue, the seller's net does not change). Rounding
    is down, in the payee's favour."""
    commission_total = price_fen * commission_bps // 10_000
    property_fen = commission_total * property_share_bps // 10_000
    return Split(price_fen - commission_total, commission_total - property_fen, property_fen)


def allocate_refund(remaining: Split, amount_fen: int) -> Split:
    """Who gives back how much of a refund: in proportion to what each part still holds.

    Each part gives back at most what it still holds and the parts sum to the refund, so a
    sequence of partial refunds up to the price returns exactly the original split.
    """
    if not 0 < amount_fen <= remaining.total:
        raise ValueError("refund out of range")
    total = remaining.total
    commission = remaining.commission_fen * amount_fen // total
    prop = remaining.property_fen * amount_fen // total
    payee = amount_fen - commission - prop
    # Flooring the small parts can leave the payee a fen or two above its own share; move the
    # excess to the parts that still have room.
    excess = max(0, payee - remaining.payee_fen)
    payee -= excess
    room = remaining.commission_fen - commission
    moved = min(room, excess)
    commission += moved
    prop += excess - moved
    return Split(payee, commission, prop)


def allocate_discount_refund(paid_left_fen: int, discount_left_fen: int, amount_fen: int) -> int:
    """How much of the platform's coupon discount a refund of ``amount_fen`` (of what the buyer
    paid) takes back: the same proportion, rounded down, and all that is left once the buyer's
    money is refunded in full — so partial refunds adding up to what was paid reverse the
    whole discount."""
    if not 0 < amount_fen <= paid_left_fen:
        raise ValueError("refund out of range")
    return discount_left_fen * amount_fen // paid_left_fen


def captured(
    payee: Party, split: Split, property_company: Party | None, platform_discount_fen: int = 0
) -> list[Entry]:
    """The provider captured the price: it sits in clearing, owed to payee, platform, property.

    With a platform coupon the split is of the price the buyer would have paid without it; the
    platform pays the discount (its coupon expense) and the buyer the rest (clearing)."""
    entries = [
        debit(CLEARING, split.total - platform_discount_fen),
        debit(COUPON_EXPENSE, platform_discount_fen),
        credit(payee.payable, split.payee_fen),
        credit(COMMISSION, split.commission_fen),
    ]
    if split.property_fen:
        assert property_company is not None
        entries.append(credit(property_company.payable, split.property_fen))
    return entries


def coupon_funded(amount_fen: int) -> list[Entry]:
    """The platform topped up the provider account with what its coupon paid for a buyer."""
    return [debit(CLEARING, amount_fen), credit(FUNDING, amount_fen)]


def deposit_held(deposit_fen: int) -> list[Entry]:
    return [debit(CLEARING, deposit_fen), credit(ESCROW, deposit_fen)]


def deposit_released(deposit_fen: int, withheld_fen: int, payee: Party) -> list[Entry]:
    """The rental ended: the deposit goes back to the payer, minus late fees and damages, which
    go to the payee."""
    return [
        debit(ESCROW, deposit_fen),
        credit(REFUNDS, deposit_fen - withheld_fen),
        credit(payee.payable, withheld_fen),
    ]


def refund_requested(
    parts: Split, payee: Party, property_company: Party | None, discount_fen: int = 0
) -> list[Entry]:
    """A refund is decided: each part gives back its share, owed to the payer until paid.

    ``discount_fen`` is the platform coupon's share of the parts (allocate_discount_refund): it
    goes back to the coupon expense, not to the payer, who gets ``parts.total - discount_fen``."""
    entries = [
        debit(payee.payable, parts.payee_fen),
        debit(COMMISSION, parts.commission_fen),
        credit(REFUNDS, parts.total - discount_fen),
        credit(COUPON_EXPENSE, discount_fen),
    ]
    if parts.property_fen:
        assert property_company is not None
        entries.append(debit(property_company.payable, parts.property_fen))
    return entries


def refund_paid(amount_fen: int) -> list[Entry]:
    """The provider paid the refund back to the payer out of the money it holds for us."""
    return [debit(REFUNDS, amount_fen), credit(CLEARING, amount_fen)]


def payout_started(payee: Party, amount_fen: int, source: AccountRef | None = None) -> list[Entry]:
    """A payout leaves ``source`` (the payee's payable unless another is named: a merchant's
    withdrawal leaves its available balance)."""
    return [debit(source or payee.payable, amount_fen), credit(IN_TRANSIT, amount_fen)]


def payout_failed(payee: Party, amount_fen: int, source: AccountRef | None = None) -> list[Entry]:
    """The provider could not pay (a closed account): the money goes back where it came from."""
    return [debit(IN_TRANSIT, amount_fen), credit(source or payee.payable, amount_fen)]


def made_available(merchant: Party, amount_fen: int) -> list[Entry]:
    """Settlement (T+7) makes a merchant's net its available balance, to withdraw."""
    return [
        debit(merchant.payable, amount_fen),
        credit(AccountRef(AccountKind.MERCHANT_AVAILABLE, merchant.id), amount_fen),
    ]


def payout_paid(amount_fen: int) -> list[Entry]:
    return [debit(IN_TRANSIT, amount_fen), credit(CLEARING, amount_fen)]


def subscription_charged(amount_fen: int) -> list[Entry]:
    """The provider charged a subscriber's agreement for a period (or an upgrade's difference):
    the money sits in clearing and is the platform's revenue (no payee shares it)."""
    return [debit(CLEARING, amount_fen), credit(SUBSCRIPTION_REVENUE, amount_fen)]


def subscription_granted(amount_fen: int) -> list[Entry]:
    """The platform pays a subscriber's period itself (an admin's grant of a seller's first
    month): revenue earned, and the same amount spent; no money moves at the provider."""
    return [debit(SUBSCRIPTION_EXPENSE, amount_fen), credit(SUBSCRIPTION_REVENUE, amount_fen)]
