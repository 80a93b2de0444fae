"""A property test of the order state machines and their money (issue 16, item 8): random
sequences of calls by the buyer, the seller and an admin — paying, refund attempts through the
payments API, every order move, a second payment pointed at an order, the unpaid job, the sweep —
over REST against the real database and the sandbox provider, with the invariants checked after
every call:

- no order is completed (nor on its way to completion) with any of its money refunded;
- every refund of an order's money belongs to an order that was refunded or cancelled, or to a
  payment its order refused at capture;
- the seller's payable is what the orders' states say is owed;
- the ledger balances and the provider holds what the clearing account says.

Provider events are delivered by POSTing them, signed, to the test server's webhook endpoint and
applied by the job's own function, as a worker would (without arq, to keep examples fast). A fixed
seed and a bounded number of examples keep the run deterministic and short.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from lago_core.container import Core
from lago_core.ledger import AccountKind, AccountRef

from .conftest import CommunityWorld
from .test_orders import call, listing
from .test_payments import WEBHOOK, assert_ledger_sound, create

_STEPS = (
    "cancel",
    "confirm",
    "hand-over",
    "confirm-receipt",
    "request-refund",
    "reject",
    "pick-up",
    "return",
    "complete",
)
_LIVE = ("paid", "confirmed", "handed_over", "delivered", "picked_up", "returned", "completed")
_WHO = ("buyer", "seller", "admin")

target = st.integers(0, 1)  # 0: a sale, 1: a rental with a deposit
operations = st.lists(
    st.one_of(
        st.tuples(st.just("pay"), target),
        st.tuples(st.just("refund"), target, st.sampled_from(_WHO), st.sampled_from([1, 10_000])),
        st.tuples(st.just("act"), target, st.sampled_from(_WHO), st.sampled_from(_STEPS)),
        st.tuples(st.just("second_payment"), target),
        st.tuples(st.just("unpaid_job")),
        st.tuples(st.just("sweep")),
    ),
    min_size=1,
    max_size=14,
)


class Sequence:
    def __init__(self, client: Any, core: Core, community: CommunityWorld) -> None:
        self.client, self.core = client, core
        self.buyer, self.seller, _ = community.residents
        self.people = {"buyer": self.buyer, "seller": self.seller, "admin": community.admin}
        self.orders: list[dict[str, Any]] = []

    async def start(self) -> None:
        # Earlier examples' unpaid orders would count against the buyer's cap.
        await self.core.pool.execute(
            "UPDATE orders SET status = 'cancelled' WHERE status = 'created'"
        )
        # And their listings against the seller's cap on active listings (not a member).
        await self.core.pool.execute(
            "UPDATE listings SET status = 'withdrawn' WHERE status = 'active' AND seller_id = $1",
            self.seller.id,
        )
        sale = await listing(self.client, self.seller, price_fen=10_000)
        rent = await listing(
            self.client,
            self.seller,
            kind="rent",
            price_fen=None,
            rent_per_day_fen=700,
            deposit_fen=3_000,
        )
        for item, extra in ((sale, {}), (rent, {"days": 2})):
            status, placed = await call(
                self.client,
                self.buyer,
                "POST",
                "/orders",
                {"listing_id": item["id"], "fulfilment": "face_to_face"} | extra,
            )
            assert status == 201, placed
            self.orders.append(placed)

    async def drain(self) -> None:
        """Refunds to the provider, its events to our webhook, their effects applied."""
        core, sandbox = self.core, self.core.sandbox
        assert sandbox is not None
        url = str(self.client.make_url(WEBHOOK))
        for _ in range(6):
            for (rid,) in await core.pool.fetch(
                "SELECT id FROM refunds WHERE provider_refund_id IS NULL"
            ):
                await core.payments.submit_refund(rid)
            for (event_id,) in await core.pool.fetch(
                "SELECT id FROM sandbox_events WHERE delivered_at IS NULL"
            ):
                assert await sandbox.deliver(event_id, url, self.client.session) == 200
            unapplied = await core.pool.fetch(
                "SELECT provider, event_id FROM payment_events WHERE applied_at IS NULL"
            )
            for provider, event_id in unapplied:
                await core.payments.apply_event(provider, event_id)
            if not unapplied:
                return
        raise AssertionError("provider events kept coming")

    async def pay(self, payment: dict[str, Any]) -> None:
        response = await self.client.post(
            f"/api/v1/sandbox/intents/{payment['provider_intent_id']}/pay",
            json={"client_secret": payment["client_secret"]},
        )
        assert response.status in (200, 409), await response.text()  # 409: paid already

    async def step(self, op: tuple[Any, ...]) -> None:
        kind = op[0]
        if kind == "pay":
            placed = self.orders[op[1]]
            status, payment = await call(
                self.client, self.buyer, "GET", f"/payments/{placed['payment_id']}"
            )
            assert status == 200, payment
            await self.pay(payment)
        elif kind == "refund":
            _, index, who, amount = op
            response = await self.client.post(
                f"/api/v1/payments/{self.orders[index]['payment_id']}/refunds",
                json={"amount_fen": amount, "reason": "try"},
                headers={**self.people[who].headers, "Idempotency-Key": uuid.uuid4().hex},
            )
            body = await response.json()
            # The payer and the admin are sent to the order; the seller cannot see the payment.
            assert (response.status, body["error"]["code"]) in (
                (409, "refund_through_reference"),
                (404, "not_found"),
            ), body
        elif kind == "act":
            _, index, who, step = op
            status, body = await call(
                self.client,
                self.people[who],
                "POST",
                f"/orders/{self.orders[index]['id']}/{step}",
                {} if step == "complete" else None,
            )
            assert status in (200, 403, 404, 409, 422), body
        elif kind == "second_payment":
            placed = self.orders[op[1]]
            status, second = await create(
                self.client,
                self.buyer,
                uuid.uuid4().hex,
                reference_type="tip",
                reference_id=str(uuid.uuid4()),
                payee_id=str(self.seller.id),
                amount_fen=placed["price_fen"],
            )
            assert status == 201, second
            await self.core.pool.execute(
                "UPDATE payments SET reference_type = 'order', reference_id = $2 WHERE id = $1",
                uuid.UUID(second["id"]),
                uuid.UUID(placed["id"]),
            )
            await self.pay(second)
        elif kind == "unpaid_job":
            now = self.core.clock.now()
            await self.core.orders.store.cancel_unpaid(now.replace(year=now.year + 1), now)
        elif kind == "sweep":
            await self.core.orders.sweep()
        await self.drain()

    async def check(self) -> None:
        pool = self.core.pool
        await assert_ledger_sound(self.core)
        for placed in self.orders:
            row = await pool.fetchrow(
                """SELECT o.status, p.status AS paid, p.refunded_fen, p.rejected_reason
                   FROM orders o JOIN payments p ON p.id = o.payment_id WHERE o.id = $1""",
                uuid.UUID(placed["id"]),
            )
            if row["status"] in _LIVE:
                # Paid, on its way or completed: its money is all there.
                assert (row["paid"], row["refunded_fen"], row["rejected_reason"]) == (
                    "captured",
                    0,
                    None,
                ), (placed["id"], dict(row))
        # Every refund of an order's money follows a move of that order (refunded, cancelled) or
        # a capture the order refused.
        stray = await pool.fetch(
            """SELECT r.id, o.status, p.rejected_reason FROM refunds r
               JOIN payments p ON p.id = r.payment_id
               JOIN orders o ON o.id = p.reference_id AND p.reference_type = 'order'
               WHERE p.rejected_reason IS NULL AND o.status NOT IN ('refunded', 'cancelled')"""
        )
        assert stray == [], [dict(r) for r in stray]
        # Nothing refunded is left unpaid back by the provider.
        assert await pool.fetchval("SELECT count(*) FROM refunds WHERE status = 'pending'") == 0
        # The seller's payable is what the orders' states say: the net price of every order
        # paid and not refunded, plus what completed rentals withheld from their deposits.
        owed = await pool.fetchval(
            """SELECT COALESCE(sum(p.amount_fen - p.commission_fen - p.property_share_fen
                                   + p.deposit_withheld_fen), 0)
               FROM orders o JOIN payments p ON p.id = o.payment_id
               WHERE o.payee_kind = 'user' AND o.payee_id = $1 AND o.status = ANY($2::text[])""",
            self.seller.id,
            [*_LIVE, "refund_requested"],
        )
        payable = await self.core.ledger.balance(
            AccountRef(AccountKind.SELLER_PAYABLE, self.seller.id)
        )
        assert payable == owed


# Fifty examples order and pay as one buyer within a minute: past the budget per payer.
@pytest.mark.many_writes
@seed(20261207)
@settings(
    max_examples=50,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
async def test_no_sequence_of_calls_completes_an_order_whose_money_went_back(
    client: Any, core: Core, community: CommunityWorld, ops: list[tuple[Any, ...]]
) -> None:
    run = Sequence(client, core, community)
    await run.start()
    await run.check()
    for op in ops:
        await run.step(op)
        await run.check()
