"""A property test of the money flows: random sequences of payments, refunds, deposit releases
and payouts, each effect "crashing" at a random point and retried — then the invariants.

It drives the service layer directly (no HTTP) against the real database and the sandbox
provider; each job is run the way arq runs it: maybe killed once, then retried, then run once
more (at-least-once delivery). pytest-asyncio runs a ``@given`` async test example by example on
the session loop; the function-scoped fixtures are shared by the examples on purpose (accounts and
a community), and each example starts from empty money tables.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lago_core.container import Core
from lago_core.errors import Conflict
from lago_core.ledger import AccountKind, AccountRef, Party, PartyKind
from lago_core.payments import SIGNATURE_HEADER, PaymentSpec
from lago_core.security.roles import Principal

_MONEY_TABLES = (
    "ledger_entries, ledger_transactions, ledger_accounts, refunds, payouts, payments, "
    "payment_events, idempotency_keys, sandbox_events, sandbox_refunds, sandbox_payouts, "
    "sandbox_intents"
)

crash = st.booleans()
operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("pay"),
            st.integers(0, 2),  # payee
            st.integers(1, 50_000),  # price
            st.sampled_from([0, 0, 1, 20_000]),  # deposit
            st.booleans(),  # in the community (property share)
            crash,
        ),
        st.tuples(st.just("refund"), st.integers(0, 9), st.integers(1, 60_000), crash),
        st.tuples(st.just("release"), st.integers(0, 9), st.integers(0, 25_000), crash),
        st.tuples(st.just("payout"), st.integers(0, 3), st.integers(1, 60_000), crash),
        st.tuples(st.just("redeliver")),
    ),
    min_size=1,
    max_size=10,
)


class Crash(Exception):
    """A worker dying between two steps of an effect."""


class Harness:
    def __init__(self, core: Core, payer: Principal, parties: list[Party], community: Any):
        self.core = core
        self.payer = payer
        self.parties = parties
        self.community_id = uuid.UUID(community.id)
        self.payments: list[uuid.UUID] = []

    async def run_job(self, job: Callable[[], Awaitable[object]], crash: bool) -> None:
        """Like arq: killed at the first checkpoint (maybe), retried, and delivered once more."""
        if crash:

            def die(point: str) -> None:
                self.core.payments.crash_hook = None
                raise Crash(point)

            self.core.payments.crash_hook = die
            try:
                await job()
            except Crash:
                pass
            finally:
                self.core.payments.crash_hook = None
        await job()
        await job()

    async def drain(self, crash: bool) -> None:
        """Run every job the steps queued until nothing is left: refunds and payouts to the
        provider, its webhooks back to us (each delivered twice), their effects applied."""
        pool, payments, sandbox = self.core.pool, self.core.payments, self.core.sandbox
        assert sandbox is not None
        for _ in range(5):
            for (rid,) in await pool.fetch(
                "SELECT id FROM refunds WHERE provider_refund_id IS NULL"
            ):
                await self.run_job(lambda rid=rid: payments.submit_refund(rid), crash)
            for (pid,) in await pool.fetch(
                "SELECT id FROM payouts WHERE provider_payout_id IS NULL"
            ):
                await self.run_job(lambda pid=pid: payments.submit_payout(pid), crash)
            for event in await sandbox.events():
                for _ in range(2):
                    body, headers = await sandbox.signed_delivery(event["id"])
                    await payments.receive_webhook("sandbox", headers[SIGNATURE_HEADER], body)
            unapplied = await pool.fetch(
                "SELECT provider, event_id FROM payment_events WHERE applied_at IS NULL"
            )
            for provider, event_id in unapplied:
                await self.run_job(lambda p=provider, e=event_id: payments.apply_event(p, e), crash)
            if not unapplied:
                return

    async def step(self, op: tuple[Any, ...]) -> None:
        payments = self.core.payments
        kind = op[0]
        if kind == "pay":
            _, payee, price, deposit, local, crash = op
            spec = PaymentSpec(
                reference_type="invoice",  # owned by no service: no demand to fit
                reference_id=uuid.uuid4(),
                amount_fen=price,
                payee=self.parties[payee],
                deposit_fen=deposit,
                community_id=self.community_id if local else None,
            )
            key = uuid.uuid4().hex
            view = await payments.create(self.payer, key, spec)
            assert await payments.create(self.payer, key, spec) == view  # a client retry
            assert self.core.sandbox is not None
            assert view.provider_intent_id is not None
            assert view.client_secret is not None
            await self.core.sandbox.pay(view.provider_intent_id, view.client_secret)
            self.payments.append(view.id)
            await self.drain(crash)
        elif kind == "refund" and self.payments:
            _, index, amount, crash = op
            payment_id = self.payments[index % len(self.payments)]
            key = uuid.uuid4().hex
            try:
                first = await payments.refund(None, key, payment_id, amount)
            except Conflict:  # more than is left, or the payee was already paid out
                pass
            else:
                assert await payments.refund(None, key, payment_id, amount) == first
            await self.drain(crash)
        elif kind == "release" and self.payments:
            _, index, withheld, crash = op
            payment_id = self.payments[index % len(self.payments)]
            deposit = (await payments.get(None, payment_id)).deposit_fen
            # Conflict: no deposit, or released before with another amount withheld.
            with contextlib.suppress(Conflict):
                await payments.release_deposit(payment_id, min(withheld, deposit))
            await self.drain(crash)
        elif kind == "payout":
            _, index, amount, crash = op
            party = self.parties[index]
            key = f"settlement:{uuid.uuid4().hex}"
            try:
                payout = await payments.pay_out(key, party, amount)
            except Conflict:  # more than is owed
                pass
            else:
                assert (await payments.pay_out(key, party, amount)).id == payout.id
            await self.drain(crash)
        elif kind == "redeliver":
            await self.drain(False)

    async def check(self) -> None:
        core, pool = self.core, self.core.pool
        assert await core.ledger.check() == []
        assert core.sandbox is not None
        totals = await core.sandbox.totals()
        balances = await core.ledger.balances()

        def balance(kind: AccountKind, owner: uuid.UUID | None = None) -> int:
            ref = AccountRef(kind) if owner is None else AccountRef(kind, owner)
            return balances.get(ref, 0)

        captured, deposits_held, commission = await pool.fetchrow(
            """SELECT COALESCE(sum(amount_fen + deposit_fen), 0),
                      COALESCE(sum(deposit_fen) FILTER (WHERE deposit_status = 'held'), 0),
                      COALESCE(sum(commission_fen - refunded_commission_fen), 0)
               FROM payments WHERE status = 'captured'"""
        )
        # Everything paid was captured: the provider and our records agree on every fen.
        assert captured == totals["captured"]
        refunded = await pool.fetchval(
            "SELECT COALESCE(sum(amount_fen), 0) FROM refunds WHERE status = 'succeeded'"
        )
        paid_out = await pool.fetchval(
            "SELECT COALESCE(sum(amount_fen), 0) FROM payouts WHERE status = 'paid'"
        )
        assert (refunded, paid_out) == (totals["refunded"], totals["paid_out"])
        assert balance(AccountKind.CLEARING) == captured - refunded - paid_out
        assert balance(AccountKind.DEPOSIT_ESCROW) == deposits_held
        assert balance(AccountKind.PLATFORM_COMMISSION) == commission
        # Drained: nothing is left in flight.
        assert balance(AccountKind.REFUNDS) == 0
        assert balance(AccountKind.PAYOUTS_IN_TRANSIT) == 0
        for party in self.parties:
            owed = await pool.fetchval(
                """SELECT COALESCE((SELECT sum(amount_fen - commission_fen - property_share_fen
                                               - refunded_payee_fen + deposit_withheld_fen)
                                    FROM payments WHERE status = 'captured'
                                      AND payee_kind = $1 AND payee_id = $2), 0)
                        + COALESCE((SELECT sum(property_share_fen - refunded_property_fen)
                                    FROM payments WHERE status = 'captured'
                                      AND property_company_id = $2), 0)
                        - COALESCE((SELECT sum(amount_fen) FROM payouts
                                    WHERE payee_kind = $1 AND payee_id = $2), 0)""",
                party.kind.value,
                party.id,
            )
            assert balances.get(party.payable, 0) == owed
        # Each effect posted exactly once.
        counts = dict(
            await pool.fetch(
                """SELECT split_part(key, ':', 1) || ':' || split_part(key, ':', 3), count(*)
                   FROM ledger_transactions GROUP BY 1"""
            )
        )
        expected = await pool.fetchrow(
            """SELECT (SELECT count(*) FROM payments WHERE status = 'captured') AS capture,
                      (SELECT count(*) FROM payments WHERE status = 'captured'
                         AND deposit_fen > 0) AS hold,
                      (SELECT count(*) FROM payments WHERE deposit_status = 'released') AS release,
                      (SELECT count(*) FROM refunds WHERE kind = 'price') AS requested,
                      (SELECT count(*) FROM refunds WHERE status = 'succeeded') AS refund_paid,
                      (SELECT count(*) FROM payouts) AS started,
                      (SELECT count(*) FROM payouts WHERE status = 'paid') AS payout_paid"""
        )
        assert counts.get("payment:capture", 0) == expected["capture"] == len(self.payments)
        assert counts.get("payment:deposit-hold", 0) == expected["hold"]
        assert counts.get("payment:deposit-release", 0) == expected["release"]
        assert counts.get("refund:requested", 0) == expected["requested"]
        assert counts.get("refund:paid", 0) == expected["refund_paid"]
        assert counts.get("payout:started", 0) == expected["started"]
        assert counts.get("payout:paid", 0) == expected["payout_paid"]
        assert await pool.fetchval("SELECT count(*) FROM refunds WHERE status = 'pending'") == 0


# Forty examples open payments as one payer within a minute: past the budget per payer.
@pytest.mark.many_writes
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
async def test_money_invariants_under_random_flows_and_crashes(
    core: Core, community: Any, ops: list[tuple[Any, ...]]
) -> None:
    await core.pool.execute(f"TRUNCATE {_MONEY_TABLES} CASCADE")
    payer = Principal(user_id=community.residents[0].id, session_id=uuid.uuid4())
    owner = Principal(user_id=community.residents[2].id, session_id=uuid.uuid4())
    # The fixtures live across examples: the merchant is opened by the first one.
    merchant = await core.merchants.mine(owner) or [await core.merchants.create(owner, "玩具店")]
    company = (await core.communities.get(uuid.UUID(community.id)))["property_company_id"]
    parties = [
        Party(PartyKind.USER, community.residents[1].id),
        Party(PartyKind.USER, community.residents[2].id),
        Party(PartyKind.MERCHANT, merchant[0]["id"]),
        Party(PartyKind.PROPERTY_COMPANY, company),
    ]
    harness = Harness(core, payer, parties, community)
    for op in ops:
        await harness.step(op)
        assert await core.ledger.check() == []
    await harness.check()
