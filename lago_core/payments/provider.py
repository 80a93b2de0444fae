"""What Lago needs from a payment provider; the sandbox implements it, a real one would too.

Every call that creates something takes an idempotency key, as real providers' APIs do: a job
that calls again after a crash (it cannot know whether the first call got through) gets the
object created the first time rather than a second charge, refund or payout.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

__all__ = [
    "EventType",
    "PaymentProvider",
    "ProviderAgreement",
    "ProviderCharge",
    "ProviderError",
    "ProviderEvent",
    "ProviderIntent",
    "ProviderPayout",
    "ProviderRefund",
    "ProviderTopUp",
]


class EventType(enum.StrEnum):
    PAYMENT_SUCCEEDED = "payment_intent.succeeded"
    PAYMENT_FAILED = "payment_intent.payment_failed"
    REFUND_SUCCEEDED = "refund.succeeded"
    PAYOUT_PAID = "payout.paid"
    # Recurring charges (docs/subscriptions.md): the payer signed an agreement once; each charge
    # we make against it reports its outcome.
    AGREEMENT_SIGNED = "agreement.signed"
    AGREEMENT_CHARGE_SUCCEEDED = "agreement_charge.succeeded"
    AGREEMENT_CHARGE_FAILED = "agreement_charge.failed"
    # The bank refused the transfer (closed account, wrong name): the money is back with us.
    PAYOUT_FAILED = "payout.failed"


class ProviderError(Exception):
    """The provider refused a request (over-refund, insufficient balance, bad state)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class ProviderIntent:
    id: str
    amount_fen: int
    currency: str
    status: str
    client_secret: str
    expires_at: datetime
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ProviderRefund:
    id: str
    intent_id: str
    amount_fen: int


@dataclass(frozen=True, slots=True)
class ProviderPayout:
    id: str
    destination: str
    amount_fen: int


@dataclass(frozen=True, slots=True)
class ProviderTopUp:
    """Money the platform moved from its own account into the provider account (to fund what
    its coupons paid in buyers' place)."""

    id: str
    amount_fen: int


@dataclass(frozen=True, slots=True)
class ProviderAgreement:
    """A recurring-payment agreement (代扣协议): the payer signs it once on the provider's page
    (``client_secret`` is that page's capability); then we charge it on each renewal."""

    id: str
    client_secret: str
    status: str  # pending | signed | revoked
    max_amount_fen: int


@dataclass(frozen=True, slots=True)
class ProviderCharge:
    """One attempt to charge an agreement; its outcome also arrives as a signed webhook."""

    id: str
    agreement_id: str
    amount_fen: int
    status: str  # succeeded | failed


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    """A verified webhook event: ``data`` is the object it is about (intent, refund, payout)."""

    id: str
    type: str
    created: int
    data: dict[str, Any]


class PaymentProvider(Protocol):
    name: str

    async def create_intent(
        self,
        amount_fen: int,
        currency: str,
        idempotency_key: str,
        metadata: dict[str, str],
        expires_at: datetime,
    ) -> ProviderIntent: ...

    async def refund(
        self, intent_id: str, amount_fen: int, idempotency_key: str, metadata: dict[str, str]
    ) -> ProviderRefund: ...

    async def payout(
        self, destination: str, amount_fen: int, idempotency_key: str, metadata: dict[str, str]
    ) -> ProviderPayout: ...

    async def top_up(
        self, amount_fen: int, idempotency_key: str, metadata: dict[str, str]
    ) -> ProviderTopUp:
        """Fund the provider account from the platform's own; once per idempotency key."""
        ...

    async def create_agreement(
        self, max_amount_fen: int, idempotency_key: str, metadata: dict[str, str]
    ) -> ProviderAgreement:
        """An agreement for the payer to sign; once per idempotency key."""
        ...

    async def charge_agreement(
        self, agreement_id: str, amount_fen: int, idempotency_key: str, metadata: dict[str, str]
    ) -> ProviderCharge:
        """Charge a signed agreement. A key is charged at most once: while an attempt under it
        succeeded, a repeat answers that attempt; after a failed one, a repeat tries again."""
        ...

    def parse_webhook(self, signature: str | None, body: bytes, now: datetime) -> ProviderEvent:
        """Verify the signature and timestamp of a delivery and parse its event."""
        ...
