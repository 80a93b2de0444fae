"""Payments: create and refund with idempotency keys, provider webhooks, the sandbox pay page."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from aiohttp import web
from pydantic import Field

from lago_core.errors import NotFound, PayloadTooLarge
from lago_core.idempotency import MAX_KEY_LENGTH, check_key
from lago_core.ledger import Party, PartyKind
from lago_core.payments import SIGNATURE_HEADER, PaymentSpec
from lago_core.security.roles import Principal
from lago_rest.api import Api, Header
from lago_rest.context import Services
from lago_rest.schemas import Schema

api = Api()
TAGS = ("payments",)

IDEMPOTENCY_HEADER = "Idempotency-Key"
# Provider events are small; a larger body is refused before it is read whole.
MAX_WEBHOOK_BYTES = 64 << 10
# ¥1,000,000, as for listings: far above any toy, low enough to catch a typo of extra zeros.
MAX_FEN = 100_000_000
PositiveFen = Annotated[int, Field(strict=True, gt=0, le=MAX_FEN, description="integer fen (分)")]
NonNegativeFen = Annotated[
    int, Field(strict=True, ge=0, le=MAX_FEN, description="integer fen (分)")
]


class PaymentIn(Schema):
    reference_type: str = Field(
        pattern=r"^[a-z][a-z_]{0,29}$", description="what is paid for, e.g. order"
    )
    reference_id: UUID
    amount_fen: PositiveFen = Field(description="the price, paid on to the payee after commission")
    deposit_fen: NonNegativeFen = Field(default=0, description="held in escrow (押金)")
    payee_kind: Literal["user", "merchant"]
    payee_id: UUID
    community_id: UUID | None = Field(
        default=None, description="the community of the trade: its property company shares"
    )
    description: str = Field(default="", max_length=200)


class Payment(Schema):
    id: UUID
    payer_id: UUID
    reference_type: str
    reference_id: UUID
    description: str
    currency: str
    amount_fen: int
    deposit_fen: int
    total_fen: int = Field(description="what the payer pays: amount plus deposit")
    payee_kind: str
    payee_id: UUID
    commission_fen: int
    property_share_fen: int
    platform_discount_fen: int = Field(
        description="what a platform coupon paid in the payer's place (split with amount_fen)"
    )
    merchant_discount_fen: int = Field(description="what the merchant's own coupon took off")
    provider: str
    provider_intent_id: str | None
    client_secret: str | None = Field(description="the pay page / QR payload's capability")
    status: Literal["requires_payment", "captured", "failed"]
    refunded_fen: int
    deposit_status: Literal["none", "held", "released"]
    deposit_withheld_fen: int
    expires_at: datetime
    captured_at: datetime | None
    created_at: datetime
    rejected_reason: str | None = Field(
        description="why its reference refused it (then it was refunded in full)"
    )


class RefundIn(Schema):
    amount_fen: PositiveFen
    reason: str = Field(default="", max_length=200)


class Refund(Schema):
    id: UUID
    payment_id: UUID
    kind: Literal["price", "deposit"]
    amount_fen: int
    reason: str
    status: Literal["pending", "succeeded"]
    created_at: datetime
    succeeded_at: datetime | None


class WebhookAck(Schema):
    received: bool
    event_id: str
    duplicate: bool


class PayIn(Schema):
    client_secret: str = Field(min_length=1, max_length=200)
    outcome: Literal["succeed", "fail"] = "succeed"


class SandboxIntent(Schema):
    id: str
    amount_fen: int
    currency: str
    status: str
    expires_at: datetime


# Taken as a handler parameter: the registry requires and checks it, and declares it in the
# OpenAPI document, from this one definition.
IdempotencyKey = Annotated[
    str,
    Header(
        IDEMPOTENCY_HEADER,
        description=f"1–{MAX_KEY_LENGTH} printable characters, the same on every retry of one "
        "request, so that a retry has the effect once",
        max_length=MAX_KEY_LENGTH,
        missing_code="idempotency_key_required",
        check=check_key,
    ),
]


@api.post("/payments", status=201, tags=TAGS)
async def create_payment(
    body: PaymentIn, idempotency_key: IdempotencyKey, user: Principal, svc: Services
) -> Payment:
    """Create a payment and its provider intent; requires an ``Idempotency-Key`` header.

    The same key with the same body returns the same payment; with another body it is refused.
    """
    spec = PaymentSpec(
        reference_type=body.reference_type,
        reference_id=body.reference_id,
        amount_fen=body.amount_fen,
        deposit_fen=body.deposit_fen,
        payee=Party(PartyKind(body.payee_kind), body.payee_id),
        description=body.description,
        community_id=body.community_id,
    )
    view = await svc.payments.create(user, idempotency_key, spec)
    return Payment.model_validate(view, from_attributes=True)


@api.get("/payments/{payment_id}", tags=TAGS)
async def get_payment(payment_id: UUID, user: Principal, svc: Services) -> Payment:
    """One payment: its payer, admins and customer service."""
    return Payment.model_validate(await svc.payments.get(user, payment_id), from_attributes=True)


@api.get("/payments/{payment_id}/refunds", tags=TAGS)
async def list_refunds(payment_id: UUID, user: Principal, svc: Services) -> list[Refund]:
    """The refunds of a payment, oldest first."""
    return [
        Refund.model_validate(r, from_attributes=True)
        for r in await svc.payments.refunds(user, payment_id)
    ]


@api.post("/payments/{payment_id}/refunds", status=201, tags=TAGS)
async def refund_payment(
    payment_id: UUID,
    body: RefundIn,
    idempotency_key: IdempotencyKey,
    user: Principal,
    svc: Services,
) -> Refund:
    """Refund part of the price (the payer, admins, customer service); ``Idempotency-Key``
    required. Refunds never add up to more than the price. A payment for an order or a
    group-buy seat is refunded only through that object (409 ``refund_through_reference``)."""
    view = await svc.payments.refund(
        user, idempotency_key, payment_id, body.amount_fen, body.reason
    )
    return Refund.model_validate(view, from_attributes=True)


@api.post(
    "/payments/webhooks/{provider}", tags=TAGS, raw_body="application/json", write_budget=False
)
async def payment_webhook(provider: str, request: web.Request, svc: Services) -> WebhookAck:
    """Provider events, signed with ``Lago-Signature: t=<unix>,v1=<hmac-sha256 hex>``."""
    if request.content_length is not None and request.content_length > MAX_WEBHOOK_BYTES:
        raise PayloadTooLarge("the event is too large", details={"max_bytes": MAX_WEBHOOK_BYTES})
    body = await request.content.read(MAX_WEBHOOK_BYTES + 1)
    if len(body) > MAX_WEBHOOK_BYTES:
        raise PayloadTooLarge("the event is too large", details={"max_bytes": MAX_WEBHOOK_BYTES})
    receipt = await svc.payments.receive_webhook(
        provider, request.headers.get(SIGNATURE_HEADER), body
    )
    return WebhookAck(received=True, event_id=receipt.event_id, duplicate=receipt.duplicate)


@api.post("/sandbox/intents/{intent_id}/pay", tags=("sandbox",))
async def sandbox_pay(intent_id: str, body: PayIn, svc: Services) -> SandboxIntent:
    """The sandbox provider's pay page: pay (or fail) an intent with its client secret.

    Only when the sandbox provider is configured; a real provider has its own page.
    """
    if svc.sandbox is None:
        raise NotFound("the sandbox payment provider is not configured")
    intent = await svc.sandbox.pay(intent_id, body.client_secret, body.outcome == "succeed")
    return SandboxIntent(
        id=intent.id,
        amount_fen=intent.amount_fen,
        currency=intent.currency,
        status=intent.status,
        expires_at=intent.expires_at,
    )
