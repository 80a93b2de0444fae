"""Accounts, parties and entries of the double-entry ledger; amounts are integer fen (分)."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

from lago_core.errors import Conflict, InvalidInput

__all__ = [
    "PLATFORM",
    "AccountKind",
    "AccountRef",
    "Entry",
    "InsufficientFunds",
    "Party",
    "PartyKind",
    "UnbalancedTransaction",
    "credit",
    "debit",
    "merge_entries",
]

# The owner of the platform's own accounts (clearing, escrow, commission revenue, ...).
PLATFORM = UUID(int=0)


class AccountKind(enum.StrEnum):
    # Money the provider holds for us: what payers paid minus refunds and payouts (an asset).
    CLEARING = "payments_clearing"
    # Deposits (押金) held until the rental ends; owed to the payer or, if withheld, to the seller.
    DEPOSIT_ESCROW = "deposit_escrow"
    # What we owe a seller (a resident) or a merchant, until it is paid out.
    SELLER_PAYABLE = "seller_payable"
    MERCHANT_PAYABLE = "merchant_payable"
    # A merchant's settled money (T+7 passed), which the merchant may withdraw: settlement moves
    # it here from merchant_payable; withdrawals pay out of it (docs/money.md, "Available balance").
    MERCHANT_AVAILABLE = "merchant_available"
    PLATFORM_COMMISSION = "platform_commission_revenue"
    # A property company's (物业) share of the commission on trades in its communities.
    PROPERTY_SHARE = "property_revenue_share"
    # Refunds we decided on and the provider has not yet paid back to the payer.
    REFUNDS = "refunds"
    # Payouts the provider has accepted and not yet confirmed as paid.
    PAYOUTS_IN_TRANSIT = "payouts_in_transit"
    # What the platform's coupons cost it: the discounts it paid in the buyers' place, net of
    # refunds (an expense; docs/money.md, "Coupons and discounts").
    PLATFORM_COUPON_EXPENSE = "platform_coupon_expense"
    # The platform's own money moved into the provider account to pay what its coupons promised
    # (the buyer paid less than the payee is owed): owner's funding, credit-normal.
    PLATFORM_FUNDING = "platform_funding"
    # What subscribers (会员, 虚拟号 plans) paid for their periods (docs/subscriptions.md).
    PLATFORM_SUBSCRIPTION_REVENUE = "platform_subscription_revenue"
    # Subscription periods the platform pays in a subscriber's place (a seller's first month of
    # a virtual-number plan, granted by an admin): an expense, debit-normal.
    PLATFORM_SUBSCRIPTION_EXPENSE = "platform_subscription_expense"

    @property
    def normal(self) -> str:
        """The side that increases the balance: debit for the asset and the expense, credit
        for the rest."""
        return "debit" if self in _DEBIT_NORMAL else "credit"


_DEBIT_NORMAL = frozenset(
    {
        AccountKind.CLEARING,
        AccountKind.PLATFORM_COUPON_EXPENSE,
        AccountKind.PLATFORM_SUBSCRIPTION_EXPENSE,
    }
)


class PartyKind(enum.StrEnum):
    USER = "user"
    MERCHANT = "merchant"
    PROPERTY_COMPANY = "property_company"


_PAYABLE = {
    PartyKind.USER: AccountKind.SELLER_PAYABLE,
    PartyKind.MERCHANT: AccountKind.MERCHANT_PAYABLE,
    PartyKind.PROPERTY_COMPANY: AccountKind.PROPERTY_SHARE,
}


@dataclass(frozen=True, slots=True)
class Party:
    """Someone the platform owes money to: a seller, a merchant or a property company."""

    kind: PartyKind
    id: UUID

    @property
    def payable(self) -> AccountRef:
        return AccountRef(_PAYABLE[self.kind], self.id)


@dataclass(frozen=True, slots=True, order=True)
class AccountRef:
    kind: AccountKind
    owner: UUID = PLATFORM

    def __str__(self) -> str:
        return self.kind.value if self.owner == PLATFORM else f"{self.kind.value}:{self.owner}"


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of a transaction: a debit is a positive amount, a credit a negative one."""

    account: AccountRef
    amount_fen: int


def debit(account: AccountRef, fen: int) -> Entry:
    return Entry(account, fen)


def credit(account: AccountRef, fen: int) -> Entry:
    return Entry(account, -fen)


class UnbalancedTransaction(InvalidInput):
    default_code = "unbalanced_transaction"


class InsufficientFunds(Conflict):
    default_code = "insufficient_funds"


def merge_entries(entries: Iterable[Entry]) -> dict[AccountRef, int]:
    """One signed amount per account, zero lines dropped; refuses what cannot be posted.

    Merging per account means the balance trigger sees each account once per transaction, so
    the non-negative check never trips on an intermediate state that the same transaction fixes.
    """
    merged: dict[AccountRef, int] = {}
    for entry in entries:
        if type(entry.amount_fen) is not int:  # bool and float are not money
            raise UnbalancedTransaction(f"amount for {entry.account} is not integer fen")
        merged[entry.account] = merged.get(entry.account, 0) + entry.amount_fen
    merged = {acc: fen for acc, fen in merged.items() if fen != 0}
    if sum(merged.values()) != 0:
        raise UnbalancedTransaction(
            "a transaction's entries must sum to zero",
            details={str(a): f for a, f in merged.items()},
        )
    if len(merged) < 2:
        raise UnbalancedTransaction("a transaction moves money between at least two accounts")
    return merged
