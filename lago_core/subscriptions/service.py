"""Subscriptions: plans, agreements signed once, renewals charged by us, grace, changes.

The timeline, the policy for changes and why each step is safe to repeat are in
docs/subscriptions.md. In short: a subscription starts ``pending``; the payer signs the provider
agreement; the signed webhook starts the first charge; each charge's outcome arrives as a signed
webhook, applied once in the payments pipeline's transaction with its ledger posting. The
renewal job charges due periods (keyed by subscription and period, here and at the provider),
retries failures every ``subscription_retry_s`` until the grace period ends, then lapses.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
from prometheus_client import Counter

from lago_core.clock import Clock
from lago_core.errors import Conflict, Forbidden, InvalidInput, NotFound
from lago_core.idempotency import Idempotency
from lago_core.ledger import Ledger, flows
from lago_core.ledger.store import Conn
from lago_core.logging import get_logger
from lago_core.notifications import Notice, NotificationService
from lago_core.payments import AfterCommit, EventType, PaymentProvider, PaymentService
from lago_core.payments.provider import ProviderError
from lago_core.security.roles import Principal
from lago_core.settings import Settings
from lago_core.subscriptions.store import LIVE, SubscriptionStore

__all__ = ["SubscriptionService", "add_month"]

log = get_logger(__name__)

CHARGES = Counter(
    "lago_subscription_charges_total", "subscription charge outcomes", ["purpose", "outcome"]
)
# A charge asked of the provider whose outcome has not arrived within this lease is asked
# again (the provider key makes the repeat answer the first success).
SUBMIT_LEASE = timedelta(minutes=15)


def add_month(moment: datetime) -> datetime:
    """The same day and time next month, on the month's last day when it is shorter (Jan 31 →
    Feb 28): periods are calendar months, as subscribers expect of 包月."""
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def _json(data: dict[str, Any]) -> dict[str, Any]:
    """A view as the idempotency record stores it (asyncpg's UUIDs are not orjson's)."""
    return {k: (str(v) if isinstance(v, UUID) else v) for k, v in data.items()}


def _meta(obj: Mapping[str, Any], name: str) -> UUID | None:
    try:
        return UUID(str((obj.get("metadata") or {})[name]))
    except (KeyError, ValueError):
        return None


class SubscriptionService:
    def __init__(
        self,
        store: SubscriptionStore,
        *,
        payments: PaymentService,
        ledger: Ledger,
        notifications: NotificationService,
        idempotency: Idempotency,
        settings: Settings,
        clock: Clock,
    ) -> None:
        self.store = store
        self._payments = payments
        self._provider: PaymentProvider = payments.provider
        self._ledger = ledger
        self._notifications = notifications
        self._idempotency = idempotency
        self._settings = settings
        self._clock = clock

    def follow_provider(self) -> None:
        """Apply the agreement events in the payments webhook pipeline (wired by the container)."""
        self._payments.handle_events([EventType.AGREEMENT_SIGNED], self._on_signed)
        self._payments.handle_events(
            [EventType.AGREEMENT_CHARGE_SUCCEEDED, EventType.AGREEMENT_CHARGE_FAILED],
            self._on_charge,
        )

    @property
    def grace(self) -> timedelta:
        return timedelta(seconds=self._settings.subscription_grace_s)

    # --- reading ---------------------------------------------------------------------------------

    async def plans(self) -> list[asyncpg.Record]:
        return await self.store.plans()

    async def _plan(self, code: str) -> asyncpg.Record:
        plan = await self.store.plan(code)
        if plan is None:
            raise NotFound("no such plan", code="plan_not_found")
        return plan

    def view(self, row: asyncpg.Record, plan: asyncpg.Record | None = None) -> dict[str, Any]:
        data = dict(row)
        signing = data["status"] == "pending" or (
            data["agreement_signed_at"] is None and data["agreement_id"] is not None
        )
        if not signing:
            data["agreement_secret"] = None
        # The web app's page for the provider's sign step (the sandbox's, here).
        data["sign_url"] = (
            f"/subscriptions/{data['id']}/sign"
            if signing and data["agreement_id"] and self._provider.name == "sandbox"
            else None
        )
        data["member_benefits"] = bool(
            data["kind"] == "membership"
            and data["status"] in ("active", "past_due")
            and data["access_until"] is not None
            and data["access_until"] > self._clock.now()
        )
        if plan is not None:
            data["plan_name"] = plan["name"]
            data["monthly_price_fen"] = plan["monthly_price_fen"]
        return data

    async def mine(self, actor: Principal) -> list[dict[str, Any]]:
        plans = {p["code"]: p for p in await self.store.plans()}
        return [
            self.view(r, plans.get(r["plan_code"])) for r in await self.store.of_user(actor.user_id)
        ]

    async def get(self, actor: Principal, subscription_id: UUID) -> dict[str, Any]:
        async with self.store.pool.acquire() as conn:
            row = await self.store.get(conn, subscription_id)
        if row is None or not (actor.is_admin or row["user_id"] == actor.user_id):
            raise NotFound("subscription not found")
        return self.view(row, await self.store.plan(row["plan_code"]))

    async def charges(self, subscription_id: UUID) -> list[asyncpg.Record]:
        return await self.store.charges_of(subscription_id)

    async def is_member(self, user_id: UUID) -> bool:
        return await self.store.is_member(user_id, self._clock.now())

    # --- subscribing -----------------------------------------------------------------------------

    async def subscribe(self, actor: Principal, key: str, plan_code: str) -> dict[str, Any]:
        """Start a subscription: an agreement for the caller to sign (its sign page and secret
        are in the answer); the first period is charged once it is signed. Once per key."""
        plan = await self._plan(plan_code)

        async def action(conn: Conn) -> dict[str, Any]:
            now = self._clock.now()
            live = await self.store.live_of(conn, actor.user_id, plan["kind"])
            if live is not None:
                if live["agreement_id"] is None and live["plan_code"] == plan_code:
                    # A month the platform granted: the agreement lets it renew afterwards.
                    row = await self._attach_agreement(conn, live, plan, now)
                    return _json(self.view(row, plan))
                raise Conflict(
                    "you already have a subscription of this kind: change or cancel it",
                    code="subscription_exists",
                    details={"subscription_id": str(live["id"])},
                )
            subscription_id = uuid4()
            row = await self.store.insert(
                conn,
                {
                    "id": subscription_id,
                    "user_id": actor.user_id,
                    "plan_code": plan_code,
                    "kind": plan["kind"],
                    "status": "pending",
                    "provider": self._provider.name,
                    "created_at": now,
                    "updated_at": now,
                },
            )
            row = await self._attach_agreement(conn, row, plan, now)
            return _json(self.view(row, plan))

        result = await self._idempotency.run(
            actor.user_id, key, "subscriptions.create", {"plan": plan_code}, action, status=201
        )
        return dict(result.body)

    async def _attach_agreement(
        self, conn: Conn, row: asyncpg.Record, plan: asyncpg.Record, now: datetime
    ) -> asyncpg.Record:
        # An agreement is opened at the provider like a payment: the same budget per payer.
        await self._payments.spend_payer_budget(row["user_id"])
        # Keyed by our subscription: should this transaction roll back after the call, the
        # orphan agreement is never shown to anyone and never charged.
        agreement = await self._provider.create_agreement(
            # The cap covers the dearest plan of the kind, so an upgrade needs no new signature.
            max(
                p["monthly_price_fen"]
                for p in await self.store.plans()
                if p["kind"] == plan["kind"]
            ),
            f"subscription:{row['id']}",
            {"subscription_id": str(row["id"])},
        )
        return await self.store.update(
            conn,
            row["id"],
            now,
            agreement_id=agreement.id,
            agreement_secret=agreement.client_secret,
        )

    async def grant_first_period(
        self, actor: Principal, user_id: UUID, plan_code: str
    ) -> dict[str, Any]:
        """The platform pays a seller's first month of a virtual-number plan (admins): the period
        is active at once, and the ledger records the price as a platform expense."""
        if not actor.is_admin:
            raise Forbidden("only admins grant a first month")
        plan = await self._plan(plan_code)
        if plan["kind"] != "virtual_number":
            raise InvalidInput(
                "only virtual-number plans have a granted first month", code="plan_not_grantable"
            )
        now = self._clock.now()
        async with self.store.pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)", user_id
            ):
                raise NotFound("user not found")
            # One first month per seller and kind, ever: serialised per user.
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext('subscription-grant:' || $1::text))",
                str(user_id),
            )
            earlier = await conn.fetchval(
                """SELECT count(*) FROM subscriptions
                   WHERE user_id = $1 AND kind = $2 AND period_number > 0""",
                user_id,
                plan["kind"],
            )
            if earlier:
                raise Conflict("this seller has had a plan already", code="not_first_month")
            if await self.store.live_of(conn, user_id, plan["kind"]) is not None:
                raise Conflict(
                    "this seller has a subscription of this kind", code="subscription_exists"
                )
            end = add_month(now)
            row = await self.store.insert(
                conn,
                {
                    "id": uuid4(),
                    "user_id": user_id,
                    "plan_code": plan_code,
                    "kind": plan["kind"],
                    "status": "active",
                    "provider": self._provider.name,
                    "period_number": 1,
                    "current_period_start": now,
                    "current_period_end": end,
                    "access_until": end,
                    # Without an agreement there is nothing to renew with: the seller signs one
                    # (POST /subscriptions with the same plan) to continue after this month.
                    "cancel_at_period_end": True,
                    "first_period_granted_by": actor.user_id,
                    "created_at": now,
                    "updated_at": now,
                },
            )
            charge = await self.store.charge_for(
                conn, uuid4(), row["id"], 1, "granted", plan_code, plan["monthly_price_fen"], now
            )
            await self.store.set_charge(conn, charge["id"], status="succeeded", decided_at=now)
            await self._ledger.post(
                f"subscription-charge:{charge['id']}",
                f"first month of {plan_code} for {user_id} paid by the platform",
                flows.subscription_granted(plan["monthly_price_fen"]),
                conn=conn,
            )
            await self._notifications.notify(
                [user_id],
                Notice(
                    kind="subscription_granted",
                    key=f"subscription:{row['id']}:granted",
                    title="平台为您开通了虚拟号首月",
                    body=f"{plan['name']}已开通，有效期至 {end:%Y-%m-%d}",
                    data={"subscription_id": str(row["id"]), "plan": plan_code},
                ),
                conn=conn,
            )
        CHARGES.labels(purpose="granted", outcome="succeeded").inc()
        return self.view(row, plan)

    # --- cancel and change -----------------------------------------------------------------------

    async def _own(self, conn: Conn, actor: Principal, subscription_id: UUID) -> asyncpg.Record:
        row = await self.store.lock(conn, subscription_id)
        if row is None or not (actor.is_admin or row["user_id"] == actor.user_id):
            raise NotFound("subscription not found")
        return row

    async def cancel(self, actor: Principal, subscription_id: UUID) -> dict[str, Any]:
        """Cancel at the end of the period already paid (benefits hold until then); a pending
        subscription ends now, and so does one in its grace period (its retries stop)."""
        now = self._clock.now()
        async with self.store.pool.acquire() as conn, conn.transaction():
            row = await self._own(conn, actor, subscription_id)
            if row["status"] == "pending":
                row = await self.store.update(
                    conn, row["id"], now, status="abandoned", ended_at=now, next_attempt_at=None
                )
            elif row["status"] == "active":
                row = await self.store.update(
                    conn, row["id"], now, cancel_at_period_end=True, next_plan_code=None
                )
            elif row["status"] == "past_due":
                row = await self.store.update(
                    conn,
                    row["id"],
                    now,
                    status="canceled",
                    ended_at=now,
                    access_until=now,
                    next_attempt_at=None,
                )
        return self.view(row, await self.store.plan(row["plan_code"]))

    async def change(
        self, actor: Principal, key: str, subscription_id: UUID, plan_code: str
    ) -> dict[str, Any]:
        """Upgrade now, paying the difference for the rest of the period (pro rata, rounded
        down; the plan changes when that charge succeeds); downgrade at the period's end."""
        plan = await self._plan(plan_code)

        async def action(conn: Conn) -> dict[str, Any]:
            now = self._clock.now()
            row = await self._own(conn, actor, subscription_id)
            if row["status"] != "active":
                raise Conflict(
                    f"the subscription is {row['status']}", code="subscription_not_active"
                )
            current = await self.store.plan(row["plan_code"])
            assert current is not None
            if plan["kind"] != current["kind"]:
                raise InvalidInput(
                    "a plan changes to another plan of its kind", code="plan_kind_mismatch"
                )
            charge_id = None
            if plan["tier"] == current["tier"]:
                row = await self.store.update(conn, row["id"], now, next_plan_code=None)
            elif plan["tier"] < current["tier"]:
                row = await self.store.update(conn, row["id"], now, next_plan_code=plan_code)
            else:
                amount = _prorated(
                    plan["monthly_price_fen"] - current["monthly_price_fen"],
                    row["current_period_start"],
                    row["current_period_end"],
                    now,
                )
                if amount <= 0:
                    row = await self.store.update(
                        conn, row["id"], now, plan_code=plan_code, next_plan_code=None
                    )
                else:
                    if row["agreement_signed_at"] is None:
                        raise Conflict(
                            "sign the payment agreement first", code="agreement_required"
                        )
                    charge = await self.store.charge_for(
                        conn,
                        uuid4(),
                        row["id"],
                        row["period_number"],
                        f"upgrade:{plan_code}",
                        plan_code,
                        amount,
                        now,
                    )
                    charge_id = str(charge["id"])
                    row = await self.store.update(conn, row["id"], now, next_plan_code=None)
            return _json(self.view(row, current)) | {"upgrade_charge_id": charge_id}

        result = await self._idempotency.run(
            actor.user_id,
            key,
            "subscriptions.change",
            {"subscription_id": str(subscription_id), "plan": plan_code},
            action,
            status=200,
        )
        body = dict(result.body)
        if body.get("upgrade_charge_id"):
            # After the commit (and again on a replay: keyed at the provider, so one charge).
            await self._submit(UUID(body["upgrade_charge_id"]))
        return body

    # --- charging --------------------------------------------------------------------------------

    async def _submit(self, charge_id: UUID) -> str:
        """Ask the provider to charge ``charge_id`` against its subscription's agreement; the
        outcome arrives as a webhook. Keyed by (subscription, period, purpose) at the provider."""
        async with self.store.pool.acquire() as conn, conn.transaction():
            charge = await self.store.lock_charge(conn, charge_id)
            if charge is None or charge["status"] == "succeeded":
                return "nothing_to_charge"
            sub = await self.store.get(conn, charge["subscription_id"])
            assert sub is not None
            if sub["agreement_id"] is None:
                return "no_agreement"
            await self.store.set_charge(
                conn, charge_id, status="submitted", attempts=charge["attempts"] + 1
            )
        key = f"subscription:{sub['id']}:period:{charge['period_number']}:{charge['purpose']}"
        try:
            await self._provider.charge_agreement(
                sub["agreement_id"],
                charge["amount_fen"],
                key,
                {"subscription_id": str(sub["id"]), "charge_id": str(charge_id)},
            )
        except ProviderError as exc:
            # Refused outright (no agreement, over its cap): no webhook will come.
            async with self.store.pool.acquire() as conn, conn.transaction():
                await self._failed(conn, charge_id, None, exc.code)
            return "refused"
        return "submitted"

    async def renew(self) -> dict[str, int]:
        """The renewal job: everything due at the clock's now, each subscription on its own."""
        counts: dict[str, int] = {}
        for subscription_id in await self.store.due(self._clock.now()):
            outcome = await self.tend(subscription_id)
            counts[outcome] = counts.get(outcome, 0) + 1
        return counts

    async def tend(self, subscription_id: UUID) -> str:
        """Move one subscription along its timeline: abandon an unsigned one, end a cancelled
        one at its period's end, lapse one whose grace ran out, or charge the due period."""
        now = self._clock.now()
        charge_id: UUID | None = None
        async with self.store.pool.acquire() as conn, conn.transaction():
            sub = await self.store.lock(conn, subscription_id)
            if sub is None or sub["status"] not in ("pending", "active", "past_due"):
                return "ended"
            status = sub["status"]
            if status == "pending" and sub["agreement_signed_at"] is None:
                if (
                    sub["created_at"] + timedelta(seconds=self._settings.subscription_sign_ttl_s)
                    > now
                ):
                    return "awaiting_signature"
                await self.store.update(conn, sub["id"], now, status="abandoned", ended_at=now)
                return "abandoned"
            if status != "pending" and sub["current_period_end"] > now:
                return "not_due"
            if status != "pending" and sub["cancel_at_period_end"]:
                await self.store.update(
                    conn,
                    sub["id"],
                    now,
                    status="canceled",
                    ended_at=sub["current_period_end"],
                    access_until=sub["current_period_end"],
                    next_attempt_at=None,
                )
                return "canceled"
            grace_end = self._grace_end(sub)
            in_flight = await self.store.open_charge(conn, sub["id"])
            leased = sub["next_attempt_at"] is not None and sub["next_attempt_at"] > now
            if now >= grace_end and sub["failed_attempts"] > 0 and not (in_flight and leased):
                await self._lapse(conn, sub, now)
                return "lapsed"
            if leased:
                return "waiting"
            n = sub["period_number"] + 1
            plan_code = sub["plan_code"]
            if sub["next_plan_code"] is not None and status != "pending":
                plan_code = sub["next_plan_code"]
                await self.store.update(
                    conn, sub["id"], now, plan_code=plan_code, next_plan_code=None
                )
            plan = await self.store.plan(plan_code)
            assert plan is not None
            charge = await self.store.charge_for(
                conn, uuid4(), sub["id"], n, "period", plan_code, plan["monthly_price_fen"], now
            )
            if charge["status"] == "succeeded":
                return "already_charged"
            await self.store.update(conn, sub["id"], now, next_attempt_at=now + SUBMIT_LEASE)
            charge_id = charge["id"]
        return await self._submit(charge_id)

    def _grace_end(self, sub: asyncpg.Record) -> datetime:
        start = sub["current_period_end"] or sub["agreement_signed_at"] or sub["created_at"]
        assert isinstance(start, datetime)
        return start + self.grace

    async def _lapse(self, conn: Conn, sub: asyncpg.Record, now: datetime) -> None:
        await self.store.update(
            conn, sub["id"], now, status="lapsed", ended_at=now, next_attempt_at=None
        )
        await self._notifications.notify(
            [sub["user_id"]],
            Notice(
                kind="subscription_lapsed",
                key=f"subscription:{sub['id']}:lapsed",
                title="订阅已停止",
                body="续费多次失败，宽限期已过，订阅已停止；可随时重新订阅。",
                data={"subscription_id": str(sub["id"]), "plan": sub["plan_code"]},
            ),
            conn=conn,
        )

    # --- provider events (in the payments pipeline's transaction) --------------------------------

    async def _on_signed(
        self, conn: Conn, obj: dict[str, Any], after_commit: list[AfterCommit]
    ) -> str:
        subscription_id = _meta(obj, "subscription_id")
        sub = await self.store.lock(conn, subscription_id) if subscription_id else None
        if sub is None or sub["agreement_id"] != obj.get("id"):
            return "unknown_subscription"
        if sub["agreement_signed_at"] is not None:
            return "already_signed"
        now = self._clock.now()
        if sub["status"] == "pending":
            # next_attempt_at now: should the first charge below be lost, the renewal job finds it.
            await self.store.update(
                conn, sub["id"], now, agreement_signed_at=now, next_attempt_at=now
            )

            async def first_charge() -> None:
                await self.tend(sub["id"])

            after_commit.append(first_charge)
            return "agreement_signed"
        if sub["status"] == "active":
            # A granted month's seller signed: the subscription now renews at its end.
            await self.store.update(
                conn, sub["id"], now, agreement_signed_at=now, cancel_at_period_end=False
            )
            return "agreement_signed"
        await self.store.update(conn, sub["id"], now, agreement_signed_at=now)
        return "subscription_ended"

    async def _on_charge(
        self, conn: Conn, obj: dict[str, Any], after_commit: list[AfterCommit]
    ) -> str:
        charge_id = _meta(obj, "charge_id")
        charge = await self.store.lock_charge(conn, charge_id) if charge_id else None
        if charge is None:
            return "unknown_charge"
        sub = await self.store.lock(conn, charge["subscription_id"])
        assert sub is not None
        if obj.get("agreement_id") != sub["agreement_id"]:
            return "unknown_charge"
        if charge["status"] == "succeeded":
            return "already_applied"
        if obj.get("status") != "succeeded":
            return await self._failed(
                conn, charge["id"], str(obj.get("id")), str(obj.get("failure_code"))
            )
        if obj.get("amount_fen") != charge["amount_fen"]:
            # The provider took another amount than we asked: a person must look.
            log.error("subscriptions.amount_mismatch", charge_id=str(charge["id"]), object=obj)
            return "amount_mismatch"
        now = self._clock.now()
        await self.store.set_charge(
            conn,
            charge["id"],
            status="succeeded",
            provider_charge_id=str(obj.get("id")),
            decided_at=now,
            failure_reason=None,
        )
        await self._ledger.post(
            f"subscription-charge:{charge['id']}",
            f"subscription {sub['id']} charged ({charge['purpose']}, period {charge['period_number']})",
            flows.subscription_charged(charge["amount_fen"]),
            conn=conn,
        )
        CHARGES.labels(purpose=charge["purpose"].split(":")[0], outcome="succeeded").inc()
        if charge["purpose"] == "period":
            extra: dict[str, Any] = {}
            if sub["status"] not in LIVE:
                # Cancelled (or lapsed) while this charge was in flight: the money is taken, so
                # the period is given — and it is the last one.
                if await self.store.live_of(conn, sub["user_id"], sub["kind"]) is not None:
                    # A newer subscription of the kind is live: a person refunds this charge.
                    log.error(
                        "subscriptions.paid_after_end",
                        subscription_id=str(sub["id"]),
                        charge_id=str(charge["id"]),
                    )
                    return "paid_after_end"
                extra = {"cancel_at_period_end": True}
            start = (
                sub["current_period_end"]
                if sub["current_period_end"] is not None and sub["status"] != "pending"
                else now
            )
            # A period paid late (during grace) still runs from the old period's end: the
            # anchor day stays, and the grace days were part of what was paid for.
            end = add_month(start)
            while end <= now:
                # Paid after a very long outage: the periods missed are not charged or given.
                start, end = end, add_month(end)
            await self.store.update(
                conn,
                sub["id"],
                now,
                status="active",
                period_number=charge["period_number"],
                plan_code=charge["plan_code"],
                current_period_start=start,
                current_period_end=end,
                access_until=end,
                failed_attempts=0,
                next_attempt_at=None,
                ended_at=None,
                **extra,
            )
            return "renewed" if charge["period_number"] > 1 else "started"
        # An upgrade's difference: the new plan from now on, for the rest of this period.
        if charge["period_number"] == sub["period_number"] and sub["status"] in (
            "active",
            "past_due",
        ):
            await self.store.update(conn, sub["id"], now, plan_code=charge["plan_code"])
            return "upgraded"
        return "upgrade_too_late"

    async def _failed(
        self, conn: Conn, charge_id: UUID, provider_charge_id: str | None, reason: str
    ) -> str:
        now = self._clock.now()
        charge = await self.store.lock_charge(conn, charge_id)
        assert charge is not None
        if charge["status"] == "succeeded":
            return "already_applied"
        await self.store.set_charge(
            conn,
            charge_id,
            status="failed",
            provider_charge_id=provider_charge_id,
            failure_reason=reason[:100],
            decided_at=now,
        )
        CHARGES.labels(purpose=charge["purpose"].split(":")[0], outcome="failed").inc()
        sub = await self.store.lock(conn, charge["subscription_id"])
        assert sub is not None
        if charge["purpose"] != "period" or charge["period_number"] != sub["period_number"] + 1:
            return "charge_failed"
        if sub["status"] not in ("pending", "active", "past_due"):
            return "charge_failed"
        grace_end = self._grace_end(sub)
        fields: dict[str, Any] = {
            "failed_attempts": sub["failed_attempts"] + 1,
            "next_attempt_at": min(
                now + timedelta(seconds=self._settings.subscription_retry_s), grace_end
            ),
        }
        if sub["status"] == "active":
            # Benefits hold through the grace period while we retry.
            fields |= {"status": "past_due", "access_until": grace_end}
        await self.store.update(conn, sub["id"], now, **fields)
        plan = await self.store.plan(charge["plan_code"])
        await self._notifications.notify(
            [sub["user_id"]],
            Notice(
                kind="subscription_renewal_failed",
                key=f"subscription:{sub['id']}:period:{charge['period_number']}:failed",
                title="续费失败",
                body=(
                    f"{plan['name'] if plan else '订阅'}扣款失败，我们会在 {grace_end:%m-%d %H:%M} 前"
                    "自动重试；请确认付款账户余额充足。"
                ),
                data={
                    "subscription_id": str(sub["id"]),
                    "period": charge["period_number"],
                    "grace_until": grace_end.isoformat(),
                },
            ),
            sms=True,
            conn=conn,
        )
        return "charge_failed"


def _prorated(difference_fen: int, start: datetime, end: datetime, now: datetime) -> int:
    """The price difference for what is left of the period, by the second, rounded down."""
    total = int((end - start).total_seconds())
    left = max(0, int((end - now).total_seconds()))
    if total <= 0:
        return 0
    return difference_fen * min(left, total) // total
