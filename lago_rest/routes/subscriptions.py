"""Plans and subscriptions (会员, 虚拟号 plans), the sandbox agreement sign page, and virtual
numbers: a buyer's call request, the call-record callback, a seller's usage (docs/subscriptions.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from aiohttp import web
from pydantic import Field

from lago_core.errors import Forbidden, InvalidInput, NotFound, PayloadTooLarge
from lago_core.payments import SIGNATURE_HEADER
from lago_core.security.roles import Principal
from lago_rest.api import Api
from lago_rest.context import Services
from lago_rest.routes.payments import MAX_WEBHOOK_BYTES, IdempotencyKey, WebhookAck
from lago_rest.schemas import Schema

api = Api()
TAGS = ("subscriptions",)
NUMBERS = ("virtual numbers",)

PlanCode = str
_PLAN = Field(min_length=2, max_length=40, pattern=r"^[a-z][a-z0-9_]{1,39}$")


class PlanGrants(Schema):
    listing_cap: int | None = Field(
        default=None, description="membership: no cap on active listings when null"
    )
    search_boost: bool | None = None
    support_priority: bool | None = None
    vn_buyers_per_month: int | None = Field(
        default=None, description="virtual numbers: distinct buyers a month; null is unlimited"
    )


class Plan(Schema):
    code: str
    name: str
    kind: Literal["membership", "virtual_number"]
    tier: int = Field(description="within a kind: higher is an upgrade")
    monthly_price_fen: int
    grants: dict[str, Any]
    active: bool


class SubscriptionIn(Schema):
    plan: PlanCode = _PLAN


class ChangeIn(Schema):
    plan: PlanCode = _PLAN


class GrantIn(Schema):
    user_id: UUID | None = Field(default=None, description="the seller; or their phone")
    phone: str | None = Field(default=None, min_length=3, max_length=20)
    plan: PlanCode = _PLAN


SubscriptionStatus = Literal["pending", "active", "past_due", "canceled", "lapsed", "abandoned"]


class Subscription(Schema):
    id: UUID
    user_id: UUID
    plan_code: str
    plan_name: str | None = None
    monthly_price_fen: int | None = None
    kind: Literal["membership", "virtual_number"]
    status: SubscriptionStatus
    provider: str
    agreement_id: str | None
    agreement_secret: str | None = Field(
        description="the sign page's capability, while the agreement awaits its signature"
    )
    sign_url: str | None = Field(description="the sandbox sign page (web app path)")
    agreement_signed_at: datetime | None
    period_number: int
    current_period_start: datetime | None
    current_period_end: datetime | None
    access_until: datetime | None = Field(description="benefits hold until then")
    cancel_at_period_end: bool
    next_plan_code: str | None = Field(description="a downgrade waiting for the period's end")
    failed_attempts: int
    next_attempt_at: datetime | None
    first_period_granted_by: UUID | None
    member_benefits: bool
    created_at: datetime
    updated_at: datetime
    ended_at: datetime | None
    upgrade_charge_id: UUID | None = Field(
        default=None, description="an upgrade's pro-rata charge (the plan changes when it succeeds)"
    )


class SignIn(Schema):
    client_secret: str = Field(min_length=1, max_length=200)


class FundsIn(Schema):
    client_secret: str = Field(min_length=1, max_length=200)
    funds_ok: bool


class SandboxAgreement(Schema):
    id: str
    status: str
    max_amount_fen: int


class CallAnswer(Schema):
    mode: Literal["number", "guidance"]
    binding_id: UUID | None = None
    number: str | None = Field(default=None, description="the virtual number to dial")
    expires_at: datetime | None = None
    unbound: bool | None = None
    reason: Literal["no_plan", "seller_quota_reached"] | None = None
    guidance: list[str] | None = Field(default=None, description="the platform's advice instead")


class Usage(Schema):
    month: str = Field(description="YYYY-MM, China time")
    plan_code: str | None
    plan_name: str | None
    buyer_limit: int | None = Field(description="distinct buyers a month; null is unlimited")
    buyers: int
    open_bindings: int
    calls: int
    call_seconds: int


class SandboxCallIn(Schema):
    number: str = Field(min_length=3, max_length=20)
    from_number: str = Field(min_length=3, max_length=20, description="the dialling phone (E.164)")
    duration_s: int = Field(default=60, ge=0, le=86_400)


class SandboxCall(Schema):
    call_id: str


def _sub(data: dict[str, Any]) -> Subscription:
    return Subscription.model_validate(data)


@api.get("/plans", tags=TAGS)
async def list_plans(user: Principal, svc: Services) -> list[Plan]:
    """Plans on offer: membership (会员) and the sellers' virtual-number plans (虚拟号)."""
    return [Plan.model_validate(dict(p)) for p in await svc.subscriptions.plans()]


@api.post("/subscriptions", status=201, tags=TAGS)
async def subscribe(
    body: SubscriptionIn, idempotency_key: IdempotencyKey, user: Principal, svc: Services
) -> Subscription:
    """Start a subscription: answers the agreement to sign (``sign_url``, ``agreement_secret``);
    the first month is charged once it is signed. ``Idempotency-Key`` required. 409
    ``subscription_exists`` when one of the kind is live."""
    return _sub(await svc.subscriptions.subscribe(user, idempotency_key, body.plan))


@api.get("/me/subscriptions", tags=TAGS)
async def my_subscriptions(user: Principal, svc: Services) -> list[Subscription]:
    """The caller's subscriptions, newest first."""
    return [_sub(s) for s in await svc.subscriptions.mine(user)]


@api.get("/subscriptions/{subscription_id}", tags=TAGS)
async def get_subscription(subscription_id: UUID, user: Principal, svc: Services) -> Subscription:
    """One subscription: its subscriber and admins."""
    return _sub(await svc.subscriptions.get(user, subscription_id))


@api.post("/subscriptions/{subscription_id}/cancel", tags=TAGS)
async def cancel_subscription(
    subscription_id: UUID, user: Principal, svc: Services
) -> Subscription:
    """Cancel at the end of the period paid for (benefits hold until then); idempotent."""
    return _sub(await svc.subscriptions.cancel(user, subscription_id))


@api.post("/subscriptions/{subscription_id}/change", tags=TAGS)
async def change_subscription(
    subscription_id: UUID,
    body: ChangeIn,
    idempotency_key: IdempotencyKey,
    user: Principal,
    svc: Services,
) -> Subscription:
    """Change plan within its kind: an upgrade now with a pro-rata charge for the rest of the
    period, a downgrade at the period's end. ``Idempotency-Key`` required."""
    return _sub(await svc.subscriptions.change(user, idempotency_key, subscription_id, body.plan))


@api.post("/subscriptions/grants", status=201, tags=TAGS)
async def grant_first_month(body: GrantIn, user: Principal, svc: Services) -> Subscription:
    """Admins: the platform pays a seller's first month of a virtual-number plan (a platform
    expense in the ledger); the seller by ``user_id`` or ``phone`` (exactly one). 409
    ``not_first_month`` or ``subscription_exists``."""
    if not user.is_admin:
        # Before any lookup: a phone's existence is not for everyone to probe.
        raise Forbidden("only admins grant a first month")
    if (body.user_id is None) == (body.phone is None):
        raise InvalidInput("name the seller by user_id or by phone", code="invalid_seller")
    seller = body.user_id
    if seller is None:
        assert body.phone is not None
        found = await svc.identity.user_by_phone(body.phone)
        if found is None:
            raise NotFound("no user has this phone", code="user_not_found")
        seller = found.id
    return _sub(await svc.subscriptions.grant_first_period(user, seller, body.plan))


@api.post("/sandbox/agreements/{agreement_id}/sign", tags=("sandbox",))
async def sandbox_sign(agreement_id: str, body: SignIn, svc: Services) -> SandboxAgreement:
    """The sandbox provider's sign page (签约): sign the agreement with its secret."""
    if svc.sandbox is None:
        raise NotFound("the sandbox payment provider is not configured")
    agreement = await svc.sandbox.sign_agreement(agreement_id, body.client_secret)
    return SandboxAgreement(
        id=agreement.id, status=agreement.status, max_amount_fen=agreement.max_amount_fen
    )


@api.post("/sandbox/agreements/{agreement_id}/funds", tags=("sandbox",))
async def sandbox_funds(agreement_id: str, body: FundsIn, svc: Services) -> SandboxAgreement:
    """Sandbox only: whether the payer's account pays the next charges (false: declined)."""
    if svc.sandbox is None:
        raise NotFound("the sandbox payment provider is not configured")
    agreement = await svc.sandbox.set_agreement_funds(
        agreement_id, body.client_secret, body.funds_ok
    )
    return SandboxAgreement(
        id=agreement.id, status=agreement.status, max_amount_fen=agreement.max_amount_fen
    )


# --- virtual numbers ------------------------------------------------------------------------------


@api.post("/listings/{listing_id}/call", tags=NUMBERS)
async def call_seller(listing_id: UUID, user: Principal, svc: Services) -> CallAnswer:
    """A buyer asks to call the listing's seller: a virtual number bound to the pair until
    ``expires_at`` when the seller has a plan, otherwise the platform's guidance."""
    return CallAnswer.model_validate(await svc.virtual_numbers.request_call(user, listing_id))


@api.post("/virtual-numbers/{binding_id}/unbind", tags=NUMBERS)
async def unbind_number(binding_id: UUID, user: Principal, svc: Services) -> CallAnswer:
    """End a binding now (its buyer or seller)."""
    return CallAnswer.model_validate(await svc.virtual_numbers.unbind(user, binding_id))


@api.get("/me/virtual-number", tags=NUMBERS)
async def virtual_number_usage(user: Principal, svc: Services) -> Usage:
    """A seller's virtual-number plan and this month's use (distinct buyers, calls)."""
    return Usage.model_validate(await svc.virtual_numbers.usage(user))


@api.post(
    "/virtual-numbers/webhooks/{provider}",
    tags=NUMBERS,
    raw_body="application/json",
    write_budget=False,
)
async def call_record_webhook(provider: str, request: web.Request, svc: Services) -> WebhookAck:
    """Call records from the privacy-number provider, signed like payment webhooks; each call
    is recorded once."""
    if request.content_length is not None and request.content_length > MAX_WEBHOOK_BYTES:
        raise PayloadTooLarge("the event is too large", details={"max_bytes": MAX_WEBHOOK_BYTES})
    body = await request.content.read(MAX_WEBHOOK_BYTES + 1)
    if len(body) > MAX_WEBHOOK_BYTES:
        raise PayloadTooLarge("the event is too large", details={"max_bytes": MAX_WEBHOOK_BYTES})
    event_id, duplicate = await svc.virtual_numbers.receive_callback(
        provider, request.headers.get(SIGNATURE_HEADER), body
    )
    return WebhookAck(received=True, event_id=event_id, duplicate=duplicate)


@api.post("/sandbox/virtual-numbers/calls", tags=("sandbox",))
async def sandbox_call(body: SandboxCallIn, svc: Services) -> SandboxCall:
    """Sandbox only: dial a virtual number from a phone (connects only through a live binding)."""
    if svc.sandbox_numbers is None:
        raise NotFound("the sandbox number provider is not configured")
    return SandboxCall(
        call_id=await svc.sandbox_numbers.call(body.number, body.from_number, body.duration_s)
    )
