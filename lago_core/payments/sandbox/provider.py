"""A local payment provider that behaves like a real one, for development, demos and tests.

It keeps its own tables (standing in for the provider's database), creates intents that expire,
lets a payer pay or fail one with the intent's client secret (the pay page / QR payload), refunds
up to what was captured, pays out what it holds, and reports each of these as a signed webhook
event. Delivery is an arq job (``deliver_sandbox_webhook``) that POSTs to the configured URL and is
retried with back-off on failure, as a real provider retries; the pay action returns at once.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import aiohttp
import asyncpg
import orjson

from lago_core.clock import Clock
from lago_core.errors import Conflict, InvalidInput, NotFound
from lago_core.ledger.store import Conn
from lago_core.payments.provider import (
    EventType,
    ProviderAgreement,
    ProviderCharge,
    ProviderError,
    ProviderEvent,
    ProviderIntent,
    ProviderPayout,
    ProviderRefund,
    ProviderTopUp,
)
from lago_core.payments.sandbox.store import SandboxStore
from lago_core.payments.signing import SIGNATURE_HEADER, sign, verify

__all__ = ["FAILING_ACCOUNT_PREFIX", "SandboxProvider"]

# A payout to an account number starting with these digits fails at the "bank" (a closed
# account), as real ones sometimes do: the sandbox answers payout.failed instead of payout.paid,
# and the money stays in the account (tests and demos of the returned-withdrawal path).
FAILING_ACCOUNT_PREFIX = "4000"

# Called with each new event id after it is committed (enqueues its delivery).
EventSink = Callable[[str], Awaitable[None]]


def _intent(row: asyncpg.Record) -> ProviderIntent:
    return ProviderIntent(
        id=row["id"],
        amount_fen=row["amount_fen"],
        currency=row["currency"],
        status=row["status"],
        client_secret=row["client_secret"],
        expires_at=row["expires_at"],
        metadata=dict(row["metadata"]),
    )


def _agreement(row: asyncpg.Record) -> ProviderAgreement:
    return ProviderAgreement(row["id"], row["client_secret"], row["status"], row["max_amount_fen"])


def _charge(row: asyncpg.Record) -> ProviderCharge:
    return ProviderCharge(row["id"], row["agreement_id"], row["amount_fen"], row["status"])


def _intent_object(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "object": "payment_intent",
        "id": row["id"],
        "amount_fen": row["amount_fen"],
        "currency": row["currency"],
        "status": row["status"],
        "metadata": row["metadata"],
    }


class SandboxProvider:
    name = "sandbox"

    def __init__(
        self,
        store: SandboxStore,
        clock: Clock,
        secret: bytes,
        tolerance_s: int,
        on_event: EventSink | None = None,
    ) -> None:
        self.store = store
        self._clock = clock
        self._secret = secret
        self._tolerance_s = tolerance_s
        self.on_event = on_event

    # --- the provider API -------------------------------------------------------------------

    async def create_intent(
        self,
        amount_fen: int,
        currency: str,
        idempotency_key: str,
        metadata: dict[str, str],
        expires_at: datetime,
    ) -> ProviderIntent:
        intent_id = f"pi_{secrets.token_hex(12)}"
        row = await self.store.create_intent(
            intent_id,
            idempotency_key,
            amount_fen,
            currency,
            f"{intent_id}_secret_{secrets.token_urlsafe(18)}",
            metadata,
            expires_at,
            self._clock.now(),
        )
        return _intent(row)

    async def refund(
        self, intent_id: str, amount_fen: int, idempotency_key: str, metadata: dict[str, str]
    ) -> ProviderRefund:
        event_id: str | None = None
        async with self.store.acquire() as conn, conn.transaction():
            row = await self.store.refund_by_key(conn, idempotency_key)
            if row is None:
                intent = await self.store.lock_intent(conn, intent_id)
                if intent is None or intent["status"] != "succeeded":
                    raise ProviderError("not_refundable", "only a succeeded intent is refunded")
                if await self.store.refunded(conn, intent_id) + amount_fen > intent["amount_fen"]:
                    raise ProviderError("over_refund", "refunds would exceed the captured amount")
                if await self.store.lock_balance(conn) < amount_fen:
                    raise ProviderError("insufficient_balance", "the account balance is too low")
                row = await self.store.insert_refund(
                    conn,
                    f"re_{secrets.token_hex(12)}",
                    idempotency_key,
                    intent_id,
                    amount_fen,
                    metadata,
                    self._clock.now(),
                )
                event_id = await self._emit(
                    conn,
                    EventType.REFUND_SUCCEEDED,
                    {
                        "object": "refund",
                        "id": row["id"],
                        "intent_id": intent_id,
                        "amount_fen": amount_fen,
                        "metadata": metadata,
                    },
                )
        await self._announce(event_id)
        return ProviderRefund(row["id"], row["intent_id"], row["amount_fen"])

    async def payout(
        self, destination: str, amount_fen: int, idempotency_key: str, metadata: dict[str, str]
    ) -> ProviderPayout:
        event_id: str | None = None
        async with self.store.acquire() as conn, conn.transaction():
            row = await self.store.payout_by_key(conn, idempotency_key)
            if row is None:
                if await self.store.lock_balance(conn) < amount_fen:
                    raise ProviderError("insufficient_balance", "the account balance is too low")
                fails = destination.rsplit(":", 1)[-1].startswith(FAILING_ACCOUNT_PREFIX)
                row = await self.store.insert_payout(
                    conn,
                    f"po_{secrets.token_hex(12)}",
                    idempotency_key,
                    destination,
                    amount_fen,
                    metadata,
                    self._clock.now(),
                    status="failed" if fails else "paid",
                )
                payload: dict[str, Any] = {
                    "object": "payout",
                    "id": row["id"],
                    "destination": destination,
                    "amount_fen": amount_fen,
                    "metadata": metadata,
                }
                if fails:
                    payload["failure_code"] = "account_closed"
                event_id = await self._emit(
                    conn, EventType.PAYOUT_FAILED if fails else EventType.PAYOUT_PAID, payload
                )
        await self._announce(event_id)
        return ProviderPayout(row["id"], row["destination"], row["amount_fen"])

    async def top_up(
        self, amount_fen: int, idempotency_key: str, metadata: dict[str, str]
    ) -> ProviderTopUp:
        """The platform funds the account (a transfer from its bank, booked at once here); a
        repeated key returns the first top-up."""
        if amount_fen <= 0:
            raise ProviderError("invalid_amount", "a top-up is a positive amount")
        async with self.store.acquire() as conn, conn.transaction():
            row = await self.store.top_up(
                conn,
                f"tu_{secrets.token_hex(12)}",
                idempotency_key,
                amount_fen,
                metadata,
                self._clock.now(),
            )
        return ProviderTopUp(row["id"], row["amount_fen"])

    async def create_agreement(
        self, max_amount_fen: int, idempotency_key: str, metadata: dict[str, str]
    ) -> ProviderAgreement:
        if max_amount_fen <= 0:
            raise ProviderError("invalid_amount", "an agreement caps a positive amount")
        agreement_id = f"ag_{secrets.token_hex(12)}"
        row = await self.store.create_agreement(
            agreement_id,
            idempotency_key,
            f"{agreement_id}_secret_{secrets.token_urlsafe(18)}",
            max_amount_fen,
            metadata,
            self._clock.now(),
        )
        return _agreement(row)

    async def charge_agreement(
        self, agreement_id: str, amount_fen: int, idempotency_key: str, metadata: dict[str, str]
    ) -> ProviderCharge:
        """Charge a signed agreement, decided at once (funds permitting) and reported by a
        signed webhook. One success per key, ever: a repeat after a success answers it."""
        event_id: str | None = None
        async with self.store.acquire() as conn, conn.transaction():
            agreement = await self.store.lock_agreement(conn, agreement_id)
            if agreement is None:
                raise ProviderError("no_such_agreement", "no such agreement")
            earlier = await self.store.charges_by_key(conn, idempotency_key)
            done = next((c for c in earlier if c["status"] == "succeeded"), None)
            if done is not None:
                return _charge(done)
            if agreement["status"] != "signed":
                raise ProviderError(
                    "agreement_not_signed", f"the agreement is {agreement['status']}"
                )
            if not 0 < amount_fen <= agreement["max_amount_fen"]:
                raise ProviderError(
                    "over_agreement_limit", "the charge exceeds the agreement's cap"
                )
            ok = bool(agreement["funds_ok"])
            row = await self.store.insert_charge(
                conn,
                f"ch_{secrets.token_hex(12)}",
                idempotency_key,
                (earlier[0]["attempt"] + 1) if earlier else 1,
                agreement_id,
                amount_fen,
                "succeeded" if ok else "failed",
                metadata,
                self._clock.now(),
            )
            event_id = await self._emit(
                conn,
                EventType.AGREEMENT_CHARGE_SUCCEEDED if ok else EventType.AGREEMENT_CHARGE_FAILED,
                {
                    "object": "agreement_charge",
                    "id": row["id"],
                    "agreement_id": agreement_id,
                    "amount_fen": amount_fen,
                    "status": row["status"],
                    "failure_code": None if ok else "insufficient_funds",
                    "metadata": metadata,
                },
            )
        await self._announce(event_id)
        return _charge(row)

    def parse_webhook(self, signature: str | None, body: bytes, now: datetime) -> ProviderEvent:
        verify(self._secret, signature, body, now, self._tolerance_s)
        try:
            data = orjson.loads(body)
            return ProviderEvent(
                id=str(data["id"]),
                type=str(data["type"]),
                created=int(data["created"]),
                data=dict(data["data"]["object"]),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            raise InvalidInput("the webhook body is not an event", code="malformed_event") from None

    # --- the pay page ---------------------------------------------------------------------------

    async def pay(self, intent_id: str, client_secret: str, succeed: bool = True) -> ProviderIntent:
        """What the payer does on the pay page: pay (or fail to pay) with the intent's secret."""
        now = self._clock.now()
        event_id: str | None = None
        async with self.store.acquire() as conn, conn.transaction():
            row = await self.store.lock_intent(conn, intent_id)
            # One answer for "no such intent" and "wrong secret": the secret is the capability.
            if row is None or not hmac.compare_digest(
                row["client_secret"].encode(), client_secret.encode()
            ):
                raise NotFound("payment intent not found")
            if row["status"] == "requires_payment" and row["expires_at"] <= now:
                await self.store.set_intent_status(conn, intent_id, "expired", None)
                expired = True
            else:
                expired = False
            if not expired and row["status"] == "requires_payment":
                row = await self.store.set_intent_status(
                    conn, intent_id, "succeeded" if succeed else "failed", now if succeed else None
                )
                event_id = await self._emit(
                    conn,
                    EventType.PAYMENT_SUCCEEDED if succeed else EventType.PAYMENT_FAILED,
                    _intent_object(row),
                )
        if expired:
            raise Conflict("the payment intent has expired", code="intent_expired")
        if row["status"] != ("succeeded" if succeed else "failed") or event_id is None:
            raise Conflict(f"the payment intent is {row['status']}", code="intent_not_payable")
        await self._announce(event_id)
        return _intent(row)

    # --- the agreement sign page ---------------------------------------------------------------

    async def _owned_agreement(self, conn: Conn, agreement_id: str, secret: str) -> asyncpg.Record:
        row = await self.store.lock_agreement(conn, agreement_id)
        # One answer for "no such agreement" and "wrong secret": the secret is the capability.
        if row is None or not hmac.compare_digest(row["client_secret"].encode(), secret.encode()):
            raise NotFound("agreement not found")
        return row

    async def sign_agreement(self, agreement_id: str, client_secret: str) -> ProviderAgreement:
        """What the payer does on the sign page (签约); signing twice changes nothing."""
        event_id: str | None = None
        async with self.store.acquire() as conn, conn.transaction():
            row = await self._owned_agreement(conn, agreement_id, client_secret)
            if row["status"] == "revoked":
                raise Conflict("the agreement was revoked", code="agreement_revoked")
            if row["status"] == "pending":
                row = await self.store.sign_agreement(conn, agreement_id, self._clock.now())
                event_id = await self._emit(
                    conn,
                    EventType.AGREEMENT_SIGNED,
                    {
                        "object": "agreement",
                        "id": row["id"],
                        "status": "signed",
                        "max_amount_fen": row["max_amount_fen"],
                        "metadata": row["metadata"],
                    },
                )
        await self._announce(event_id)
        return _agreement(row)

    async def set_agreement_funds(
        self, agreement_id: str, client_secret: str, ok: bool
    ) -> ProviderAgreement:
        """Sandbox only: whether the payer's account can pay the next charges (a declined card
        when false), so renewal failures can be shown and tested."""
        async with self.store.acquire() as conn, conn.transaction():
            row = await self._owned_agreement(conn, agreement_id, client_secret)
        await self.store.set_funds(agreement_id, ok)
        return _agreement(row)

    # --- webhooks ---------------------------------------------------------------------------------

    async def _emit(
        self, conn: Conn, type_: str, obj: dict[str, Any], target: str = "payments"
    ) -> str:
        event_id = f"evt_{secrets.token_hex(12)}"
        payload = {
            "id": event_id,
            "type": str(type_),
            "created": int(self._clock.now().timestamp()),
            "data": {"object": obj},
        }
        await self.store.insert_event(
            conn, event_id, str(type_), payload, self._clock.now(), target
        )
        return event_id

    async def emit(self, conn: Conn, type_: str, obj: dict[str, Any], target: str) -> str:
        """Record an event of another sandbox product (the virtual numbers' call records) to be
        delivered like the payment events, signed with the same key."""
        return await self._emit(conn, type_, obj, target)

    async def announce(self, event_id: str | None) -> None:
        await self._announce(event_id)

    async def _announce(self, event_id: str | None) -> None:
        # After commit: an event whose announcement is lost is still in sandbox_events and is
        # found by redeliver(); the receiver applies each event id once either way.
        if event_id is not None and self.on_event is not None:
            await self.on_event(event_id)

    async def signed_delivery(self, event_id: str) -> tuple[bytes, dict[str, str]]:
        """The body and headers of one delivery attempt, signed now (as a provider signs each)."""
        row = await self.store.event(event_id)
        if row is None:
            raise NotFound("sandbox event not found")
        body = orjson.dumps(row["payload"])
        timestamp = int(self._clock.now().timestamp())
        return body, {
            SIGNATURE_HEADER: sign(self._secret, timestamp, body),
            "Content-Type": "application/json",
        }

    async def deliver(
        self,
        event_id: str,
        url: str,
        session: aiohttp.ClientSession,
        call_url: str | None = None,
    ) -> int:
        """POST one event to ``url`` (a virtual-number call record to ``call_url``, the carrier's
        callback address); returns the HTTP status (2xx means delivered)."""
        body, headers = await self.signed_delivery(event_id)
        row = await self.store.event(event_id)
        if row is not None and row["target"] == "virtual_numbers" and call_url:
            url = call_url
        try:
            async with session.post(url, data=body, headers=headers) as response:
                status = response.status
        except aiohttp.ClientError:
            status = 0
        await self.store.record_attempt(
            event_id, self._clock.now() if 200 <= status < 300 else None
        )
        return status

    async def events(self) -> list[asyncpg.Record]:
        return await self.store.events()

    async def totals(self) -> asyncpg.Record:
        return await self.store.totals()
