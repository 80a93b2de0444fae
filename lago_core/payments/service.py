"""Payments: create, refund, release deposits, pay out — and apply what the provider reports.

Every effect is idempotent, because arq runs jobs at least once and clients retry:

- requests with effects run under an idempotency key (:mod:`lago_core.idempotency`);
- each provider call carries our own id as the provider's idempotency key;
- each ledger transaction has a key naming the effect (``payment:<id>:capture``);
- a provider event is recorded once (UNIQUE(provider, event_id)) and applied in one database
  transaction together with its effects and its "applied" mark.

docs/money.md describes the flows, the jobs and why each is safe to repeat.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
from prometheus_client import Counter
from pydantic import TypeAdapter

from lago_core.clock import Clock
from lago_core.communities import CommunityService
from lago_core.errors import Conflict, InvalidInput, NotFound
from lago_core.idempotency import Idempotency
from lago_core.jobs import APPLY_PAYMENT_EVENT, SUBMIT_PAYOUT, SUBMIT_REFUND, JobQueue
from lago_core.ledger import PLATFORM, AccountKind, AccountRef, Ledger, Party, PartyKind, flows
from lago_core.ledger.flows import Split
from lago_core.ledger.store import Conn
from lago_core.logging import get_logger
from lago_core.merchants import MerchantService
from lago_core.payments.provider import EventType, PaymentProvider
from lago_core.payments.store import PaymentStore
from lago_core.ratelimit import RateLimiter
from lago_core.security.roles import Principal
from lago_core.settings import Settings

__all__ = [
    "AfterCommit",
    "CaptureHook",
    "Demand",
    "DemandOf",
    "DepositRelease",
    "DestinationOf",
    "EventHandler",
    "PaymentService",
    "PaymentSpec",
    "PaymentView",
    "PayoutPaidHook",
    "PayoutView",
    "RefundView",
    "Refuse",
    "WebhookReceipt",
]

log = get_logger(__name__)
CURRENCY = "CNY"

# Work to do once the capture has committed (pushes, notifications): never inside the transaction,
# so nobody is told about a capture that then rolls back.
AfterCommit = Callable[[], Awaitable[None]]
# Captured payments their reference could not accept, by why (payee, amount, already paid, …):
# each one was refunded in full, so a rise is a client bug or someone probing.
REJECTED = Counter(
    "lago_payments_rejected_total", "captured payments refused by their reference", ["reason"]
)

# Work after a capture that failed once the capture had committed (a push, a coupon top-up).
AFTER_COMMIT_FAILURES = Counter(
    "lago_payments_after_commit_failures_total", "after-commit work of a payment event that failed"
)
# Event applications PostgreSQL aborted as a deadlock's victim (or a serialisation failure) and
# that ran again. One application may post several ledger transactions (a capture, its rejection,
# a refund), each locking its accounts in order, but two applications at once can still meet in
# opposite orders across their postings; the aborted one rolled back whole, so it simply reruns.
EVENT_RETRIES = Counter(
    "lago_payments_event_retries_total", "payment event applications run again after a deadlock"
)
EVENT_ATTEMPTS = 4
_TRANSIENT = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)


@dataclass(frozen=True, slots=True)
class Refuse:
    """A capture hook's answer when its reference cannot take the money (already paid,
    cancelled, the seat released …): the payment is refunded in full, never applied."""

    reason: str


@dataclass(frozen=True, slots=True)
class Demand:
    """What a reference asks of a payment for it: who pays whom, how much, in what."""

    payer_id: UUID
    payee: Party
    amount_fen: int
    deposit_fen: int = 0
    currency: str = CURRENCY
    # The one payment the reference accepts, when it names one (an order names the payment it
    # created); None when any payment fitting the rest will do (a seat: two tabs, two payments).
    payment_id: UUID | None = None
    # What the platform's coupon pays in the payer's place (amount_fen is already less it and
    # less any merchant coupon's discount).
    platform_discount_fen: int = 0


# What a reference of a registered type demands, read with the given connection; None when the
# reference does not exist.
DemandOf = Callable[[Conn, UUID], Awaitable[Demand | None]]
# Called inside the capture's transaction with (conn, payment id, reference id), only once the
# payment fits the reference's demand; its writes commit (or roll back) with the capture. It
# answers the work to do after commit, or Refuse when the reference's state cannot take the money.
CaptureHook = Callable[[Conn, UUID, UUID], Awaitable["AfterCommit | Refuse | None"]]
# Applies a provider event of a type another service owns (agreements and their charges), inside
# the event's transaction: (conn, the event's object, after-commit work) -> the outcome.
EventHandler = Callable[[Conn, dict[str, Any], list[AfterCommit]], Awaitable[str]]
# Called inside the transaction that records a payout as paid (or failed), with the payout's row.
PayoutPaidHook = Callable[[Conn, asyncpg.Record], Awaitable[None]]
# Turns a payout's stored destination reference ("bank_account:<id>") into what the provider
# needs (the account itself), at submission only, so payouts never hold an account number.
DestinationOf = Callable[[str], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class _Reference:
    demand: DemandOf
    on_capture: CaptureHook


def _mismatch(row: asyncpg.Record | Mapping[str, Any], demand: Demand | None) -> str | None:
    """Why a payment does not fit its reference's demand, or None when it does."""
    if demand is None:
        return "reference_not_found"
    if demand.payment_id is not None and demand.payment_id != row["id"]:
        return "not_the_reference_payment"
    if row["payer_id"] != demand.payer_id:
        return "wrong_payer"
    if (row["payee_kind"], row["payee_id"]) != (demand.payee.kind.value, demand.payee.id):
        return "wrong_payee"
    if (row["amount_fen"], row["deposit_fen"], row["platform_discount_fen"]) != (
        demand.amount_fen,
        demand.deposit_fen,
        demand.platform_discount_fen,
    ):
        return "wrong_amount"
    if row["currency"] != demand.currency:
        return "wrong_currency"
    return None


@dataclass(frozen=True, slots=True)
class PaymentSpec:
    """What a payment is for. The orders work passes its own commission per category."""

    reference_type: str
    reference_id: UUID
    amount_fen: int
    payee: Party
    deposit_fen: int = 0
    description: str = ""
    commission_bps: int | None = None  # None: the platform default (LAGO_COMMISSION_BPS)
    community_id: UUID | None = None  # its property company gets a share of the commission
    # Coupons (docs/money.md, "Coupons and discounts"): amount_fen is what the payer pays after
    # both; the platform's discount is paid by the platform, the split is of amount + it; the
    # merchant's discount is recorded for statements only (it is a lower price).
    platform_discount_fen: int = 0
    merchant_discount_fen: int = 0


@dataclass(frozen=True, slots=True)
class RefundView:
    id: UUID
    payment_id: UUID
    kind: str
    amount_fen: int
    reason: str
    status: str
    created_at: datetime
    succeeded_at: datetime | None


@dataclass(frozen=True, slots=True)
class PaymentView:
    id: UUID
    payer_id: UUID
    reference_type: str
    reference_id: UUID
    description: str
    currency: str
    amount_fen: int
    deposit_fen: int
    total_fen: int
    payee_kind: str
    payee_id: UUID
    commission_fen: int
    property_share_fen: int
    platform_discount_fen: int
    merchant_discount_fen: int
    provider: str
    provider_intent_id: str | None
    client_secret: str | None
    status: str
    refunded_fen: int
    deposit_status: str
    deposit_withheld_fen: int
    expires_at: datetime
    captured_at: datetime | None
    created_at: datetime
    rejected_reason: str | None  # set when the reference refused it and it was refunded


@dataclass(frozen=True, slots=True)
class PayoutView:
    id: UUID
    key: str
    payee_kind: str
    payee_id: UUID
    amount_fen: int
    status: str
    created_at: datetime
    paid_at: datetime | None
    failed_at: datetime | None = None
    failure_code: str | None = None


@dataclass(frozen=True, slots=True)
class DepositRelease:
    payment: PaymentView
    refund: RefundView | None  # None when the whole deposit was withheld


@dataclass(frozen=True, slots=True)
class WebhookReceipt:
    event_id: str
    duplicate: bool


_PAYMENT_JSON: TypeAdapter[PaymentView] = TypeAdapter(PaymentView)
_REFUND_JSON: TypeAdapter[RefundView] = TypeAdapter(RefundView)


def _payment(row: asyncpg.Record) -> PaymentView:
    data = {k: row[k] for k in PaymentView.__dataclass_fields__ if k != "total_fen"}
    return PaymentView(**data, total_fen=row["amount_fen"] + row["deposit_fen"])


def _refund(row: asyncpg.Record) -> RefundView:
    return RefundView(**{k: row[k] for k in RefundView.__dataclass_fields__})


def _payout(row: asyncpg.Record) -> PayoutView:
    return PayoutView(**{k: row[k] for k in PayoutView.__dataclass_fields__})


def _party(row: asyncpg.Record) -> Party:
    return Party(PartyKind(row["payee_kind"]), row["payee_id"])


def _property(row: asyncpg.Record) -> Party | None:
    company = row["property_company_id"]
    return Party(PartyKind.PROPERTY_COMPANY, company) if company is not None else None


def _split(row: asyncpg.Record) -> Split:
    """The capture's split: of what the payer paid plus what the platform's coupon paid."""
    commission, prop = row["commission_fen"], row["property_share_fen"]
    return Split(
        row["amount_fen"] + row["platform_discount_fen"] - commission - prop, commission, prop
    )


def _remaining(row: asyncpg.Record) -> Split:
    total = _split(row)
    return Split(
        total.payee_fen - row["refunded_payee_fen"],
        total.commission_fen - row["refunded_commission_fen"],
        total.property_fen - row["refunded_property_fen"],
    )


class PaymentService:
    def __init__(
        self,
        store: PaymentStore,
        ledger: Ledger,
        provider: PaymentProvider,
        idempotency: Idempotency,
        queue: JobQueue,
        merchants: MerchantService,
        communities: CommunityService,
        settings: Settings,
        clock: Clock,
        limiter: RateLimiter,
    ) -> None:
        self.store = store
        self.ledger = ledger
        self._limiter = limiter
        self.provider = provider
        self.idempotency = idempotency
        self.queue = queue
        self._merchants = merchants
        self._communities = communities
        self._settings = settings
        self._clock = clock
        # A test seam: called with the name of a point between two steps of an effect, so a test
        # can raise there and see a "crash" at exactly that point followed by a retry.
        self.crash_hook: Callable[[str], None] | None = None
        # reference_type -> what the reference demands of a payment and what else its capture
        # does (the orders work marks its order paid). A registry rather than an import keeps
        # payments independent of what is paid for.
        self._references: dict[str, _Reference] = {}
        self._payout_paid_hooks: list[PayoutPaidHook] = []
        self._event_handlers: dict[str, EventHandler] = {}
        self._payout_failed_hooks: list[PayoutPaidHook] = []
        self._destinations: dict[str, DestinationOf] = {}

    def handle_events(self, types: Iterable[str], handler: EventHandler) -> None:
        """Apply provider events of ``types`` with ``handler`` (subscriptions own the agreement
        events): recorded, verified, applied once and swept exactly like payment events."""
        for type_ in types:
            self._event_handlers[type_] = handler

    def on_payout_paid(self, hook: PayoutPaidHook) -> None:
        """Run ``hook`` in the transaction that records each payout as paid (once per payout)."""
        self._payout_paid_hooks.append(hook)

    def on_payout_failed(self, hook: PayoutPaidHook) -> None:
        """Run ``hook`` in the transaction that returns a failed payout's money (once each)."""
        self._payout_failed_hooks.append(hook)

    def register_destination(self, prefix: str, resolve: DestinationOf) -> None:
        """Resolve payout destinations ``<prefix>:<ref>`` when the payout is submitted."""
        self._destinations[prefix] = resolve

    def register_reference(
        self, reference_type: str, *, demand: DemandOf, on_capture: CaptureHook
    ) -> None:
        """Own ``reference_type``: each payment for it must fit ``demand`` (checked when it is
        created and again when it is captured); a fitting capture runs ``on_capture`` in the
        capture's transaction; anything else is refunded in full. Its money goes back only
        through the owner (the generic refund answers ``refund_through_reference``)."""
        self._references[reference_type] = _Reference(demand, on_capture)

    def owns(self, reference_type: str) -> bool:
        """Whether a service owns payments of this reference type (orders, group-buy seats)."""
        return reference_type in self._references

    def _checkpoint(self, point: str) -> None:
        if self.crash_hook is not None:
            self.crash_hook(point)

    # --- permissions ---------------------------------------------------------------------------

    async def _readable(self, actor: Principal | None, payment_id: UUID) -> asyncpg.Record:
        """The payment, for its payer, admins and customer service (others: not found)."""
        row = await self.store.payment(self.store.pool, payment_id)
        if row is None or not (
            actor is None
            or actor.is_admin
            or actor.is_customer_service
            or row["payer_id"] == actor.user_id
        ):
            raise NotFound("payment not found")
        return row

    # --- payments ------------------------------------------------------------------------------

    async def spend_payer_budget(self, payer: UUID) -> None:
        """Count one payment opened at the provider for ``payer``; ``429 rate_limited`` past
        LAGO_LIMIT_PAYMENTS_PER_PAYER(_DAILY). Every kind of payment (orders, swaps, courses,
        group-buy seats, subscriptions' agreements) spends the same budget, since each is a call
        to the provider whatever it pays for."""
        s, payer_id = self._settings, str(payer)
        await self._limiter.hit_or_raise(s.limit_payments_per_payer, "payments-payer", payer_id)
        await self._limiter.hit_or_raise(
            s.limit_payments_per_payer_daily, "payments-payer-daily", payer_id
        )

    async def create(self, actor: Principal, key: str, spec: PaymentSpec) -> PaymentView:
        """Create a payment and its provider intent, once per idempotency key."""
        commission_bps = (
            self._settings.commission_bps if spec.commission_bps is None else spec.commission_bps
        )
        await self._check_spec(actor, spec, commission_bps)
        company = None
        if spec.community_id is not None:
            company = (await self._communities.get(spec.community_id))["property_company_id"]
        split = flows.split_price(
            spec.amount_fen + spec.platform_discount_fen,
            commission_bps,
            self._settings.property_share_bps if company is not None else 0,
        )
        params = {
            "reference_type": spec.reference_type,
            "reference_id": str(spec.reference_id),
            "amount_fen": spec.amount_fen,
            "deposit_fen": spec.deposit_fen,
            "payee": [spec.payee.kind.value, str(spec.payee.id)],
            "description": spec.description,
            "commission_bps": commission_bps,
            "community_id": str(spec.community_id) if spec.community_id else None,
            "platform_discount_fen": spec.platform_discount_fen,
            "merchant_discount_fen": spec.merchant_discount_fen,
        }

        async def action(conn: Conn) -> dict[str, Any]:
            # Here rather than before the idempotent run: a replay opens nothing at the provider,
            # and a refusal rolls the key back so that the same request may be retried later.
            await self.spend_payer_budget(actor.user_id)
            payment_id = uuid4()
            now = self._clock.now()
            expires_at = now + timedelta(seconds=self._settings.payment_intent_ttl_s)
            await self.store.insert_payment(
                conn,
                {
                    "id": payment_id,
                    "payer_id": actor.user_id,
                    "reference_type": spec.reference_type,
                    "reference_id": spec.reference_id,
                    "description": spec.description,
                    "currency": CURRENCY,
                    "amount_fen": spec.amount_fen,
                    "deposit_fen": spec.deposit_fen,
                    "payee_kind": spec.payee.kind.value,
                    "payee_id": spec.payee.id,
                    "commission_fen": split.commission_fen,
                    "property_company_id": company if split.property_fen else None,
                    # The community of the trade, for the property company's statement.
                    "community_id": spec.community_id,
                    "property_share_fen": split.property_fen,
                    "platform_discount_fen": spec.platform_discount_fen,
                    "merchant_discount_fen": spec.merchant_discount_fen,
                    "provider": self.provider.name,
                    "expires_at": expires_at,
                    "created_at": now,
                },
            )
            # Keyed by our payment id: should this transaction roll back after the call, the
            # orphan intent is never shown to anyone and expires unpaid.
            intent = await self.provider.create_intent(
                spec.amount_fen + spec.deposit_fen,
                CURRENCY,
                f"payment:{payment_id}",
                {"payment_id": str(payment_id)},
                expires_at,
            )
            row = await self.store.set_intent(conn, payment_id, intent.id, intent.client_secret)
            body: dict[str, Any] = _PAYMENT_JSON.dump_python(_payment(row), mode="json")
            return body

        result = await self.idempotency.run(
            actor.user_id, key, "payments.create", params, action, status=201
        )
        return _PAYMENT_JSON.validate_python(result.body)

    async def _check_spec(self, actor: Principal, spec: PaymentSpec, commission_bps: int) -> None:
        if (
            spec.amount_fen <= 0
            or spec.deposit_fen < 0
            or spec.platform_discount_fen < 0
            or spec.merchant_discount_fen < 0
        ):
            raise InvalidInput("amounts are positive integer fen", code="invalid_amount")
        if not 0 <= commission_bps <= 10_000:
            raise InvalidInput("commission is 0–10000 basis points", code="invalid_commission")
        if spec.payee.kind is PartyKind.USER:
            if spec.payee.id == actor.user_id:
                raise InvalidInput("a payer does not pay themselves", code="invalid_payee")
            if not await self.store.user_exists(spec.payee.id):
                raise NotFound("payee not found")
        elif spec.payee.kind is PartyKind.MERCHANT:
            await self._merchants.get(spec.payee.id)
        else:
            raise InvalidInput("the payee is a user or a merchant", code="invalid_payee")
        reference = self._references.get(spec.reference_type)
        if reference is None:
            return
        # The same demand the capture checks, asked early so a payment that could only be
        # refunded is never created.
        async with self.store.pool.acquire() as conn:
            demand = await reference.demand(conn, spec.reference_id)
        if demand is not None and demand.payment_id is not None:
            raise Conflict(
                f"this {spec.reference_type} is paid with the payment it created",
                code="reference_has_payment",
                details={"payment_id": str(demand.payment_id)},
            )
        problem = _mismatch(
            {
                "id": None,
                "payer_id": actor.user_id,
                "payee_kind": spec.payee.kind.value,
                "payee_id": spec.payee.id,
                "amount_fen": spec.amount_fen,
                "deposit_fen": spec.deposit_fen,
                "platform_discount_fen": spec.platform_discount_fen,
                "currency": CURRENCY,
            },
            demand,
        )
        if problem == "reference_not_found":
            raise NotFound(f"{spec.reference_type} not found")
        if problem is not None:
            raise Conflict(
                f"the payment does not fit this {spec.reference_type}",
                code="payment_does_not_match_reference",
                details={"problem": problem},
            )

    async def require_intact(self, conn: Conn, payment_id: UUID | None) -> None:
        """Refuse to move a paid object on (hand over, complete, …) unless its payment is
        captured with nothing of its price refunded. The payment row is locked (FOR SHARE) until
        the caller's transaction ends, so no refund slips in between the check and the move."""
        row = None
        if payment_id is not None:
            row = await conn.fetchrow(
                "SELECT status, refunded_fen FROM payments WHERE id = $1 FOR SHARE", payment_id
            )
        if row is None or row["status"] != "captured" or row["refunded_fen"] > 0:
            raise Conflict(
                "the payment is not captured, or some of it was refunded",
                code="payment_not_intact",
                details={
                    "payment_status": row["status"] if row else None,
                    "refunded_fen": row["refunded_fen"] if row else 0,
                },
            )

    async def get(self, actor: Principal | None, payment_id: UUID) -> PaymentView:
        return _payment(await self._readable(actor, payment_id))

    async def refunds(self, actor: Principal | None, payment_id: UUID) -> list[RefundView]:
        await self._readable(actor, payment_id)
        return [_refund(r) for r in await self.store.refunds_of(payment_id)]

    # --- refunds -------------------------------------------------------------------------------

    async def refund(
        self,
        actor: Principal | None,
        key: str,
        payment_id: UUID,
        amount_fen: int,
        reason: str = "",
    ) -> RefundView:
        """Refund part of the price, once per idempotency key; the total never exceeds it.

        ``actor`` None is the platform itself (the orders work, acting on an order's rules).
        """
        payment = await self._readable(actor, payment_id)
        if actor is not None and self.owns(payment["reference_type"]):
            # An order's or a seat's money goes back only through that object's own moves (a
            # refund request and its approval, a rejected order, a failed group, …): a refund
            # behind its back would let the object complete with its money gone.
            kind = payment["reference_type"]
            raise Conflict(
                f"this payment is refunded through its {kind}",
                code="refund_through_reference",
                details={"reference_type": kind, "reference_id": str(payment["reference_id"])},
            )
        caller = actor.user_id if actor is not None else PLATFORM
        params = {"payment_id": str(payment_id), "amount_fen": amount_fen, "reason": reason}

        async def action(conn: Conn) -> dict[str, Any]:
            row = await self.store.lock_payment(conn, payment_id)
            assert row is not None
            if row["status"] != "captured":
                raise Conflict("only a captured payment is refunded", code="not_captured")
            refundable = row["amount_fen"] - row["refunded_fen"]
            if not 0 < amount_fen <= refundable:
                raise Conflict(
                    "the refund would exceed what is left of the price",
                    code="refund_exceeds_captured",
                    details={"refundable_fen": refundable},
                )
            refund = await self._refund_price(
                conn, row, amount_fen, reason, actor.user_id if actor else None
            )
            body: dict[str, Any] = _REFUND_JSON.dump_python(_refund(refund), mode="json")
            return body

        result = await self.idempotency.run(caller, key, "payments.refund", params, action)
        view = _REFUND_JSON.validate_python(result.body)
        # Also on a replay: the first enqueue may have been lost; the job id collapses repeats.
        await self._enqueue_refund(view.id)
        return view

    async def _refund_price(
        self,
        conn: Conn,
        row: asyncpg.Record,
        amount_fen: int,
        reason: str,
        requested_by: UUID | None,
    ) -> asyncpg.Record:
        """Record a refund of part of a locked, captured payment's price, and its ledger
        transaction, in the caller's transaction.

        ``amount_fen`` is what goes back to the payer; with a platform coupon the same
        proportion of its discount goes back to the coupon expense, and the payee, commission
        and property share give back the two together (docs/money.md)."""
        discount = flows.allocate_discount_refund(
            row["amount_fen"] - row["refunded_fen"],
            row["platform_discount_fen"] - row["refunded_platform_discount_fen"],
            amount_fen,
        )
        parts = flows.allocate_refund(_remaining(row), amount_fen + discount)
        refund_id = uuid4()
        refund = await self.store.insert_refund(
            conn,
            refund_id,
            row["id"],
            "price",
            amount_fen,
            reason,
            requested_by,
            self._clock.now(),
        )
        await self.store.add_refunded(conn, row["id"], parts, discount)
        await self.ledger.post(
            f"refund:{refund_id}:requested",
            f"refund of payment {row['id']}",
            flows.refund_requested(parts, _party(row), _property(row), discount),
            conn=conn,
        )
        return refund

    async def _enqueue_refund(self, refund_id: UUID) -> None:
        await self.queue.enqueue(SUBMIT_REFUND, str(refund_id), job_id=f"refund:{refund_id}")

    async def submit_refund(self, refund_id: UUID) -> str:
        """Ask the provider to pay a refund back (job ``submit_refund``). Safe to repeat: the
        provider call is keyed by the refund id, so a second call returns the first refund."""
        row = await self.store.refund(self.store.pool, refund_id)
        if row is None:
            return "unknown_refund"
        if row["status"] != "pending":
            return "already_succeeded"
        provider_refund = await self.provider.refund(
            row["intent_id"],
            row["amount_fen"],
            f"refund:{refund_id}",
            {"refund_id": str(refund_id), "payment_id": str(row["payment_id"])},
        )
        self._checkpoint("refund.provider_called")
        await self.store.refund_submitted(refund_id, provider_refund.id)
        return "submitted"

    # --- deposits ------------------------------------------------------------------------------

    async def release_deposit(
        self, payment_id: UUID, withheld_fen: int = 0, reason: str = ""
    ) -> DepositRelease:
        """The rental ended: return the deposit minus ``withheld_fen`` (late fees, agreed damages),
        which goes to the payee. Once per payment; a repeat with the same amount returns the first
        release. Called by the platform (the rental order), not by users directly."""
        async with self.store.pool.acquire() as conn, conn.transaction():
            row = await self.store.lock_payment(conn, payment_id)
            if row is None:
                raise NotFound("payment not found")
            if row["deposit_status"] == "released":
                if row["deposit_withheld_fen"] != withheld_fen:
                    raise Conflict(
                        "the deposit was released with another amount withheld",
                        code="deposit_already_released",
                    )
                existing = await self.store.deposit_refund(conn, payment_id)
                return DepositRelease(_payment(row), _refund(existing) if existing else None)
            if row["deposit_status"] != "held":
                raise Conflict("no deposit is held for this payment", code="deposit_not_held")
            if not 0 <= withheld_fen <= row["deposit_fen"]:
                raise InvalidInput("withheld is between 0 and the deposit", code="invalid_amount")
            refund = await self._release_held(conn, row, withheld_fen, reason)
            released = await self.store.payment(conn, payment_id)
            assert released is not None
        if refund is not None:
            await self._enqueue_refund(refund["id"])
        return DepositRelease(_payment(released), _refund(refund) if refund else None)

    async def _release_held(
        self, conn: Conn, row: asyncpg.Record, withheld_fen: int, reason: str
    ) -> asyncpg.Record | None:
        """Release a locked payment's held deposit in the caller's transaction: the refund of
        what is not withheld (None when all of it is)."""
        payment_id = row["id"]
        await self.store.release_deposit(conn, payment_id, withheld_fen)
        await self.ledger.post(
            f"payment:{payment_id}:deposit-release",
            f"deposit of payment {payment_id} released, {withheld_fen} fen withheld",
            flows.deposit_released(row["deposit_fen"], withheld_fen, _party(row)),
            conn=conn,
        )
        if withheld_fen == row["deposit_fen"]:
            return None
        return await self.store.insert_refund(
            conn,
            uuid4(),
            payment_id,
            "deposit",
            row["deposit_fen"] - withheld_fen,
            reason,
            None,
            self._clock.now(),
        )

    # --- payouts (settlement) ------------------------------------------------------------------

    async def pay_out(
        self,
        key: str,
        payee: Party,
        amount_fen: int,
        *,
        source: AccountRef | None = None,
        destination: str | None = None,
    ) -> PayoutView:
        """Pay ``amount_fen`` of what is owed to ``payee``, once per ``key`` (the settlement's own
        key, e.g. ``settlement:<merchant>:<date>``). Refused when the payable is too low."""
        async with self.store.pool.acquire() as conn, conn.transaction():
            row = await self.start_payout(
                conn, key, payee, amount_fen, source=source, destination=destination
            )
        if row["status"] == "pending":
            await self.submit_later(row["id"])
        return _payout(row)

    async def start_payout(
        self,
        conn: Conn,
        key: str,
        payee: Party,
        amount_fen: int,
        *,
        source: AccountRef | None = None,
        destination: str | None = None,
    ) -> asyncpg.Record:
        """The payout's row and ledger transaction in the caller's transaction (a withdrawal
        writes its own row with it); call :meth:`submit_later` after the commit. ``source`` is
        the account it leaves (the payee's payable by default), where a failure returns it."""
        if amount_fen <= 0:
            raise InvalidInput("amounts are positive integer fen", code="invalid_amount")
        source_kind = source.kind.value if source is not None else None
        row = await self.store.insert_payout(
            conn,
            uuid4(),
            key,
            payee.kind.value,
            payee.id,
            amount_fen,
            self._clock.now(),
            source_kind,
            destination,
        )
        if row is None:
            existing = await self.store.payout(conn, key=key)
            assert existing is not None
            if (
                existing["payee_kind"],
                existing["payee_id"],
                existing["amount_fen"],
                existing["source_kind"],
            ) != (payee.kind.value, payee.id, amount_fen, source_kind):
                raise Conflict("this payout key was used for another payout", code="key_reused")
            return existing
        await self.ledger.post(
            f"payout:{row['id']}:started",
            f"payout to {payee.kind.value} {payee.id}",
            flows.payout_started(payee, amount_fen, source),
            conn=conn,
        )
        return row

    async def submit_later(self, payout_id: UUID) -> None:
        """Queue the provider call of a committed payout (the job does nothing for one no
        longer pending; the sweep re-queues a lost one)."""
        await self.queue.enqueue(SUBMIT_PAYOUT, str(payout_id), job_id=f"payout:{payout_id}")

    async def submit_payout(self, payout_id: UUID) -> str:
        """Ask the provider to pay out (job ``submit_payout``); keyed by our payout id."""
        row = await self.store.payout(self.store.pool, payout_id=payout_id)
        if row is None:
            return "unknown_payout"
        if row["status"] != "pending":
            return "already_paid"
        destination = f"{row['payee_kind']}:{row['payee_id']}"
        if row["destination"] is not None:
            prefix = row["destination"].split(":", 1)[0]
            resolve = self._destinations.get(prefix)
            if resolve is None:
                raise RuntimeError(f"no resolver for payout destination {prefix!r}")
            destination = await resolve(row["destination"])
        provider_payout = await self.provider.payout(
            destination,
            row["amount_fen"],
            f"payout:{payout_id}",
            {"payout_id": str(payout_id)},
        )
        self._checkpoint("payout.provider_called")
        await self.store.payout_submitted(payout_id, provider_payout.id)
        return "submitted"

    # --- provider events -----------------------------------------------------------------------

    async def receive_webhook(
        self, provider: str, signature: str | None, body: bytes
    ) -> WebhookReceipt:
        """Verify and record a webhook delivery, then queue its effect.

        Recording is the only thing done here, so the provider gets its 2xx quickly; the effect
        runs in ``apply_payment_event``. A redelivered event is recorded once and queued again
        only if not yet applied (the job id collapses repeats while one is queued).
        """
        if provider != self.provider.name:
            raise NotFound("no such payment provider")
        event = self.provider.parse_webhook(signature, body, self._clock.now())
        new, applied = await self.store.record_event(
            provider,
            event.id,
            event.type,
            {"created": event.created, "object": event.data},
            self._clock.now(),
        )
        if not applied:
            await self.queue.enqueue(
                APPLY_PAYMENT_EVENT, provider, event.id, job_id=f"event:{provider}:{event.id}"
            )
        return WebhookReceipt(event.id, duplicate=not new)

    async def apply_event(self, provider: str, event_id: str) -> str:
        """Apply one recorded event (job ``apply_payment_event``): its effect, its ledger
        transactions and its "applied" mark commit together, so a crash anywhere before the
        commit leaves nothing done and a rerun does it all; a rerun after commit does nothing."""
        for attempt in range(1, EVENT_ATTEMPTS + 1):
            after_commit: list[AfterCommit] = []
            try:
                outcome = await self._apply_event_once(provider, event_id, after_commit)
                break
            except _TRANSIENT:
                if attempt == EVENT_ATTEMPTS:
                    raise
                EVENT_RETRIES.inc()
                log.warning(
                    "payments.event_retried", provider=provider, event_id=event_id, attempt=attempt
                )
                # Apart, so the two that met do not meet again at once.
                await asyncio.sleep(random.uniform(0.0, 0.05 * attempt))
        if outcome in ("unknown_event", "already_applied"):
            return outcome
        for work in after_commit:
            try:
                await work()
            except Exception:
                # The effect has committed; a lost notification must not make the job retry it
                # (a coupon top-up lost here is done by the payments sweep).
                AFTER_COMMIT_FAILURES.inc()
                log.warning("payments.after_commit_failed", event_id=event_id, exc_info=True)
        log.info("payments.event_applied", provider=provider, event_id=event_id, outcome=outcome)
        return outcome

    async def _apply_event_once(
        self, provider: str, event_id: str, after_commit: list[AfterCommit]
    ) -> str:
        async with self.store.pool.acquire() as conn, conn.transaction():
            event = await self.store.lock_event(conn, provider, event_id)
            if event is None:
                return "unknown_event"
            if event["applied_at"] is not None:
                return "already_applied"
            outcome = await self._apply(
                conn, event["type"], event["payload"]["object"], after_commit
            )
            self._checkpoint("event.effect_applied")
            await self.store.mark_applied(conn, event["id"], outcome, self._clock.now())
        return outcome

    async def _apply(
        self, conn: Conn, type_: str, obj: dict[str, Any], after_commit: list[AfterCommit]
    ) -> str:
        metadata = obj.get("metadata") or {}
        fields: dict[str, str] = {
            EventType.PAYMENT_SUCCEEDED: "payment_id",
            EventType.PAYMENT_FAILED: "payment_id",
            EventType.REFUND_SUCCEEDED: "refund_id",
            EventType.PAYOUT_PAID: "payout_id",
            EventType.PAYOUT_FAILED: "payout_id",
        }
        field = fields.get(type_)
        if field is None:
            handler = self._event_handlers.get(type_)
            return "ignored" if handler is None else await handler(conn, obj, after_commit)
        # Only a missing or malformed reference is "no_reference": an error while applying (a
        # capture hook's bug, say) must fail the job and roll the whole effect back.
        try:
            reference = UUID(str(metadata[field]))
        except (KeyError, ValueError):
            return "no_reference"
        if field == "payment_id":
            return await self._apply_intent(conn, type_, obj, reference, after_commit)
        if field == "refund_id":
            return await self._apply_refund(conn, obj, reference)
        if type_ == EventType.PAYOUT_FAILED:
            return await self._apply_payout_failure(conn, obj, reference)
        return await self._apply_payout(conn, obj, reference)

    async def _apply_intent(
        self,
        conn: Conn,
        type_: str,
        obj: dict[str, Any],
        payment_id: UUID,
        after_commit: list[AfterCommit],
    ) -> str:
        row = await self.store.lock_payment(conn, payment_id)
        if row is None or row["provider_intent_id"] != obj.get("id"):
            return "unknown_payment"
        if type_ == EventType.PAYMENT_FAILED:
            return "failed" if await self.store.mark_failed(conn, payment_id) else "unchanged"
        if row["status"] == "captured":
            return "already_captured"
        if obj.get("amount_fen") != row["amount_fen"] + row["deposit_fen"]:
            # The provider took a different amount than we asked: a person must look.
            log.error("payments.amount_mismatch", payment_id=str(payment_id), object=obj)
            return "amount_mismatch"
        await self.store.mark_captured(
            conn, payment_id, "held" if row["deposit_fen"] else "none", self._clock.now()
        )
        await self.ledger.post(
            f"payment:{payment_id}:capture",
            f"payment {payment_id} captured",
            flows.captured(_party(row), _split(row), _property(row), row["platform_discount_fen"]),
            conn=conn,
        )
        if row["platform_discount_fen"]:

            async def fund() -> None:
                await self.fund_coupon(payment_id)

            after_commit.append(fund)
        if row["deposit_fen"]:
            await self.ledger.post(
                f"payment:{payment_id}:deposit-hold",
                f"deposit of payment {payment_id} held",
                flows.deposit_held(row["deposit_fen"]),
                conn=conn,
            )
        reference = self._references.get(row["reference_type"])
        if reference is None:
            return "captured"
        # One check for every kind of reference, before its hook can apply anything: the money
        # must be what the reference asks for, from whom it asks, to whom it is owed.
        reason = _mismatch(row, await reference.demand(conn, row["reference_id"]))
        if reason is None:
            answer = await reference.on_capture(conn, payment_id, row["reference_id"])
            if isinstance(answer, Refuse):
                reason = answer.reason
            elif answer is not None:
                after_commit.append(answer)
        if reason is None:
            return "captured"
        await self._reject(conn, payment_id, reason, after_commit)
        return "rejected"

    async def _reject(
        self, conn: Conn, payment_id: UUID, reason: str, after_commit: list[AfterCommit]
    ) -> None:
        """Refund in full, in the capture's transaction, a captured payment its reference could
        not accept; once per payment (the capture runs once, and ``rejected_at`` is set once)."""
        if not await self.store.mark_rejected(conn, payment_id, reason, self._clock.now()):
            log.info("payments.already_rejected", payment_id=str(payment_id), reason=reason)
            return
        row = await self.store.lock_payment(conn, payment_id)
        assert row is not None
        refunds = [await self._refund_price(conn, row, row["amount_fen"], reason, None)]
        if row["deposit_status"] == "held":
            deposit = await self._release_held(conn, row, 0, reason)
            if deposit is not None:
                refunds.append(deposit)
        REJECTED.labels(reason=reason).inc()
        log.warning(
            "payments.capture_rejected",
            payment_id=str(payment_id),
            reference_type=row["reference_type"],
            reference_id=str(row["reference_id"]),
            reason=reason,
        )

        async def submit() -> None:
            for refund in refunds:
                await self._enqueue_refund(refund["id"])

        after_commit.append(submit)

    async def _apply_refund(self, conn: Conn, obj: dict[str, Any], refund_id: UUID) -> str:
        row = await self.store.lock_refund(conn, refund_id)
        if row is None:
            return "unknown_refund"
        if row["status"] == "succeeded":
            return "already_refunded"
        await self.store.refund_succeeded(conn, refund_id, str(obj.get("id")), self._clock.now())
        await self.ledger.post(
            f"refund:{refund_id}:paid",
            f"refund {refund_id} paid by the provider",
            flows.refund_paid(row["amount_fen"]),
            conn=conn,
        )
        return "refunded"

    async def _apply_payout(self, conn: Conn, obj: dict[str, Any], payout_id: UUID) -> str:
        row = await self.store.lock_payout(conn, payout_id)
        if row is None:
            return "unknown_payout"
        if row["status"] == "paid":
            return "already_paid"
        await self.store.payout_paid(conn, payout_id, str(obj.get("id")), self._clock.now())
        await self.ledger.post(
            f"payout:{payout_id}:paid",
            f"payout {payout_id} paid by the provider",
            flows.payout_paid(row["amount_fen"]),
            conn=conn,
        )
        for hook in self._payout_paid_hooks:
            await hook(conn, row)
        return "paid_out"

    async def _apply_payout_failure(self, conn: Conn, obj: dict[str, Any], payout_id: UUID) -> str:
        """The provider could not pay: the money returns to the account it left, once."""
        row = await self.store.lock_payout(conn, payout_id)
        if row is None:
            return "unknown_payout"
        if row["status"] != "pending":
            return f"already_{row['status']}"
        code = str(obj.get("failure_code") or "payout_failed")
        await self.store.payout_failed(conn, payout_id, str(obj.get("id")), code, self._clock.now())
        payee = _party(row)
        source = (
            AccountRef(AccountKind(row["source_kind"]), payee.id)
            if row["source_kind"] is not None
            else None
        )
        await self.ledger.post(
            f"payout:{payout_id}:failed",
            f"payout {payout_id} failed at the provider ({code})",
            flows.payout_failed(payee, row["amount_fen"], source),
            conn=conn,
        )
        failed = await self.store.lock_payout(conn, payout_id)
        assert failed is not None
        for hook in self._payout_failed_hooks:
            await hook(conn, failed)
        return "payout_failed"

    # --- coupon funding ------------------------------------------------------------------------

    async def fund_coupon(self, payment_id: UUID) -> str:
        """Top up the provider account with the platform coupon's discount of a captured payment
        (after its capture commits; the sweep again if a crash intervened). The buyer paid less
        than the payee, commission and property share are owed: without this a payout could
        exceed what the provider holds. Keyed by the payment at the provider and in the ledger,
        so a repeat moves nothing twice."""
        row = await self.store.payment(self.store.pool, payment_id)
        if row is None or row["status"] != "captured" or not row["platform_discount_fen"]:
            return "nothing_to_fund"
        if row["coupon_funded_at"] is not None:
            return "already_funded"
        amount = row["platform_discount_fen"]
        key = f"coupon-funding:{payment_id}"
        await self.provider.top_up(amount, key, {"payment_id": str(payment_id)})
        self._checkpoint("coupon_funding.provider_called")
        async with self.store.pool.acquire() as conn, conn.transaction():
            await self.ledger.post(
                key,
                f"platform coupon of payment {payment_id} funded",
                flows.coupon_funded(amount),
                conn=conn,
            )
            await self.store.mark_coupon_funded(conn, payment_id, self._clock.now())
        return "funded"

    # --- housekeeping --------------------------------------------------------------------------

    async def sweep(self, older_than_s: int = 60) -> dict[str, int]:
        """Queue again the work whose job was lost (an enqueue after a commit that never ran)."""
        work = await self.store.stale_work(self._clock.now() - timedelta(seconds=older_than_s))
        for provider, event_id in work["events"]:
            await self.queue.enqueue(APPLY_PAYMENT_EVENT, provider, event_id)
        for refund_id in work["refunds"]:
            await self.queue.enqueue(SUBMIT_REFUND, str(refund_id))
        for payout_id in work["payouts"]:
            await self.queue.enqueue(SUBMIT_PAYOUT, str(payout_id))
        for payment_id in work["coupon_fundings"]:
            await self.fund_coupon(payment_id)
        return {name: len(items) for name, items in work.items()}
