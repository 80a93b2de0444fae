"""A property test of coupons and their money (issue 18, item 7): random sequences of orders and
group-buy seats paid with coupons (a platform percentage and a merchant's amount off, within a
small budget), payments, cancellations, the unpaid job, whole and partial refunds, failed
groups, the sweeps, and payment events that crash once and are applied again — with, after every
step:

- the ledger balances (Ledger.check) and the provider holds what clearing says;
- no coupon is used twice: every locked or used coupon is held by exactly one live holder, in
  the status its holder's state calls for, and every live holder holds the coupons it priced;
- per template, available + locked + used + expired = issued_count, used_count counts the used,
  and discount_given_fen (never above the budget) is the sum of the held coupons' discounts;
- each payable holds what the payment rows say it was given, and the platform's coupon expense
  is the platform discounts captured less those refunded.

Services are called directly (the REST shapes are tested in tests/test_coupons.py), with a test
clock; provider events go through the signed webhook. Fixed seed, bounded examples.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from lago_core.container import Core
from lago_core.coupons import TemplateSpec
from lago_core.errors import LagoError
from lago_core.ledger import AccountKind, AccountRef, Party, PartyKind
from lago_core.listings.service import Category, Condition, ListingDraft, ListingKind
from lago_core.orders import Action
from lago_core.security.roles import PlatformRole, Principal

from .conftest import Account, CommunityWorld
from .test_payments import WEBHOOK, assert_ledger_sound

COUPONS = st.sampled_from(["none", "platform", "merchant", "both"])
operations = st.lists(
    st.one_of(
        st.tuples(st.just("order"), COUPONS, st.sampled_from([900, 6_000, 12_000])),
        st.tuples(st.just("pay"), st.integers(0, 7)),
        st.tuples(st.just("cancel"), st.integers(0, 7)),
        st.tuples(st.just("reject"), st.integers(0, 7)),
        st.tuples(st.just("partial_refund"), st.integers(0, 7), st.sampled_from([1, 333, 5_000])),
        st.tuples(st.just("seat"), COUPONS),
        st.tuples(st.just("fail_group"), st.integers(0, 3)),
        st.tuples(st.just("unpaid_job")),
        st.tuples(st.just("sweeps")),
        st.tuples(st.just("crash_next_event")),
        st.tuples(st.just("crash_next_funding")),
    ),
    min_size=1,
    max_size=12,
)


class Crash(Exception):
    pass


def expect(exc: LagoError, *codes: str) -> None:
    """A refusal the sequence may meet; any other is a failure."""
    if exc.code not in codes:
        raise AssertionError(f"unexpected refusal {exc.code}: {exc.message}") from exc


class Run:
    def __init__(self, client: Any, core: Core, world: dict[str, Any]) -> None:
        self.client, self.core = client, core
        self.w = world
        self.buyer: Principal = world["buyer"]
        self.orders: list[uuid.UUID] = []
        self.groups: list[uuid.UUID] = []
        self.crash_next = False
        self.crash_funding = False

    # --- acting --------------------------------------------------------------------------------

    async def coupons_for(self, choice: str) -> list[uuid.UUID]:
        wallet = await self.core.coupons.wallet(self.buyer, "available")
        picked = []
        for funder in ("platform", "merchant"):
            if choice in (funder, "both"):
                mine = [
                    c["id"]
                    for c in wallet
                    if c["funded_by"] == funder
                    and c["merchant_id"] in (None, self.w["merchant_id"])
                ]
                picked.extend(mine[:1])
        return picked

    async def order(self, choice: str, price: int) -> None:
        item = await self.core.pool.fetchval(
            "SELECT id FROM listings WHERE status = 'active' AND merchant_id = $1 "
            "AND price_fen = $2 AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.listing_id = "
            "listings.id AND o.status NOT IN ('cancelled', 'refunded', 'completed')) LIMIT 1",
            self.w["merchant_id"],
            price,
        )
        if item is None:
            return
        try:
            row = await self.core.orders.create(
                self.buyer, item, None, "face_to_face", await self.coupons_for(choice)
            )
        except LagoError as exc:
            expect(exc, "coupon_not_usable", "too_many_unpaid_orders")
            return
        self.orders.append(row["id"])

    async def start(self) -> None:
        """Earlier examples' unpaid orders would count against the buyer's cap: the unpaid job
        ends them (their coupons come back). Then two orders and a seat to work on."""
        self.core.clock.advance(self.core.settings.unpaid_order_ttl_s + 1)  # type: ignore[attr-defined]
        await self.core.orders.cancel_unpaid()
        await self.order("both", 12_000)
        await self.order("platform", 6_000)
        await self.seat("both")
        await self.drain()

    async def pay_intent(self, payment_id: uuid.UUID) -> None:
        view = await self.core.payments.get(None, payment_id)
        response = await self.client.post(
            f"/api/v1/sandbox/intents/{view.provider_intent_id}/pay",
            json={"client_secret": view.client_secret},
        )
        assert response.status in (200, 409), await response.text()  # 409: paid or expired

    async def seat(self, choice: str) -> None:
        now = self.core.clock.now()
        group_id, seat_id = uuid.uuid4(), uuid.uuid4()
        campaign_id = self.w["campaign_id"]
        async with self.core.pool.acquire() as conn, conn.transaction():
            await self.core.groupbuys.store.insert_group(
                conn,
                {
                    "id": group_id,
                    "campaign_id": campaign_id,
                    "community_id": self.w["community_id"],
                    "leader_id": self.buyer.user_id,
                    "min_members": 2,
                    "max_members": 5,
                    "expires_at": now + timedelta(hours=1),
                    "created_at": now,
                },
            )
            await self.core.groupbuys.store.insert_seats(
                conn,
                [
                    {
                        "id": seat_id,
                        "group_id": group_id,
                        "max_members": 5,
                        "campaign_id": campaign_id,
                        "user_id": self.buyer.user_id,
                        "seat_no": 1,
                        "reserved_until": now + timedelta(minutes=50),
                        "joined_at": now,
                    }
                ],
            )
            await conn.execute(
                "UPDATE group_buy_campaigns SET seats_taken = seats_taken + 1 WHERE id = $1",
                campaign_id,
            )
        try:
            view = await self.core.groupbuys.pay(
                self.buyer, group_id, "k", await self.coupons_for(choice)
            )
        except LagoError as exc:
            expect(exc, "coupon_not_usable")
            return
        self.groups.append(group_id)
        await self.pay_intent(view.id)

    async def step(self, op: tuple[Any, ...]) -> None:
        kind, core = op[0], self.core
        if kind == "order":
            await self.order(op[1], op[2])
        elif kind in ("pay", "cancel", "reject", "partial_refund") and self.orders:
            order_id = self.orders[op[1] % len(self.orders)]
            row = await core.orders.store.order(core.pool, order_id)
            assert row is not None
            if kind == "pay":
                await self.pay_intent(row["payment_id"])
            elif kind == "partial_refund":
                payment = await core.payments.get(None, row["payment_id"])
                if payment.status == "captured" and payment.amount_fen > payment.refunded_fen:
                    amount = min(op[2], payment.amount_fen - payment.refunded_fen)
                    # The platform acting on the payment directly (orders take no partial
                    # refunds yet): the money goes back pro rata, the coupon stays used.
                    await core.payments.refund(
                        None, f"partial:{uuid.uuid4()}", payment.id, amount, "partial"
                    )
            else:
                who = self.buyer if kind == "cancel" else self.w["seller"]
                action = Action.CANCEL if kind == "cancel" else Action.REJECT
                try:
                    await core.orders.act(who, order_id, action)
                except LagoError as exc:
                    expect(exc, "invalid_transition", "payment_not_intact")
        elif kind == "seat":
            await self.seat(op[1])
        elif kind == "fail_group" and self.groups:
            group_id = self.groups[op[1] % len(self.groups)]
            core.clock.advance(3_601)  # type: ignore[attr-defined]
            await core.groupbuys.expire(group_id)
        elif kind == "unpaid_job":
            core.clock.advance(core.settings.unpaid_order_ttl_s + 1)  # type: ignore[attr-defined]
            await core.orders.cancel_unpaid()
        elif kind == "sweeps":
            await core.orders.sweep()
            await core.groupbuys.sweep()
            await core.coupons.sweep()
        elif kind == "crash_next_event":
            self.crash_next = True
        elif kind == "crash_next_funding":
            self.crash_funding = True
        await self.drain()

    async def drain(self) -> None:
        """Refunds to the provider, its events to our webhook, their effects applied (the
        first application crashing once when asked, then retried)."""
        core, sandbox = self.core, self.core.sandbox
        assert sandbox is not None
        url = str(self.client.make_url(WEBHOOK))

        def crash(point: str) -> None:
            if self.crash_next and point == "event.effect_applied":
                self.crash_next = False
                raise Crash(point)
            if self.crash_funding and point == "coupon_funding.provider_called":
                # After the provider took the top-up, before the ledger knew: the capture has
                # committed, so this is logged and the payments sweep funds it (once).
                self.crash_funding = False
                raise Crash(point)

        core.payments.crash_hook = crash
        for _ in range(8):
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
                try:
                    await core.payments.apply_event(provider, event_id)
                except Crash:
                    await core.payments.apply_event(provider, event_id)
            if not unapplied:
                break
        else:
            raise AssertionError("provider events kept coming")
        core.payments.crash_hook = None
        await core.payments.sweep(older_than_s=0)

    # --- the invariants --------------------------------------------------------------------------

    async def check(self) -> None:
        core, pool = self.core, self.core.pool
        await assert_ledger_sound(core)
        # Each held coupon's holder, and the status its holder's state calls for.
        held = await pool.fetch(
            """SELECT c.id, c.status, c.holder_type, o.status AS order_status,
                      s.status AS seat_status, o.coupon_ids
                 FROM user_coupons c
                 LEFT JOIN orders o ON c.holder_type = 'order' AND o.id = c.holder_id
                 LEFT JOIN group_buy_seats s
                        ON c.holder_type = 'group_buy_seat' AND s.id = c.holder_id
                WHERE c.status IN ('locked', 'used')"""
        )
        for row in held:
            if row["holder_type"] == "order":
                assert row["id"] in row["coupon_ids"]
                want = "locked" if row["order_status"] == "created" else "used"
                assert row["order_status"] not in ("cancelled", "refunded"), dict(row)
            else:
                want = "locked" if row["seat_status"] == "reserved" else "used"
                assert row["seat_status"] in ("reserved", "paid"), dict(row)
            assert row["status"] == want, dict(row)
        # Every live order holds the coupons it priced (so none of them is held twice).
        live = await pool.fetch(
            """SELECT o.id, o.coupon_ids,
                      (SELECT array_agg(c.id) FROM user_coupons c
                        WHERE c.holder_type = 'order' AND c.holder_id = o.id) AS holding
                 FROM orders o WHERE o.status NOT IN ('cancelled', 'refunded')
                  AND cardinality(o.coupon_ids) > 0"""
        )
        for row in live:
            assert sorted(row["coupon_ids"]) == sorted(row["holding"] or []), dict(row)
        for t in await pool.fetch("SELECT * FROM coupon_templates"):
            counts = await core.coupons.store.counts(t["id"])
            assert sum(counts.values()) == t["issued_count"]
            assert counts.get("used", 0) == t["used_count"]
            given_ = await pool.fetchval(
                "SELECT COALESCE(sum(discount_fen), 0) FROM user_coupons "
                "WHERE template_id = $1 AND status IN ('locked', 'used')",
                t["id"],
            )
            assert t["discount_given_fen"] == given_
            assert t["budget_fen"] is None or given_ <= t["budget_fen"]
        # Payables and the coupon expense are what the payment rows say.
        rows = await pool.fetch(
            """SELECT payee_kind, payee_id,
                      sum(amount_fen + platform_discount_fen - commission_fen
                          - property_share_fen - refunded_payee_fen + deposit_withheld_fen)
                          AS owed,
                      sum(platform_discount_fen - refunded_platform_discount_fen) AS expense
                 FROM payments WHERE status = 'captured' GROUP BY payee_kind, payee_id"""
        )
        for row in rows:
            party = Party(PartyKind(row["payee_kind"]), row["payee_id"])
            assert await core.ledger.balance(party.payable) == row["owed"]
        expense = sum(int(r["expense"]) for r in rows)
        assert await core.ledger.balance(AccountRef(AccountKind.PLATFORM_COUPON_EXPENSE)) == expense
        # Every platform discount captured was funded into the provider account, once.
        funded = await pool.fetchval(
            "SELECT COALESCE(sum(platform_discount_fen), 0) FROM payments "
            "WHERE status = 'captured' AND coupon_funded_at IS NOT NULL"
        )
        unfunded = await pool.fetchval(
            "SELECT count(*) FROM payments WHERE status = 'captured' "
            "AND platform_discount_fen > 0 AND coupon_funded_at IS NULL"
        )
        assert unfunded == 0
        assert await core.ledger.balance(AccountRef(AccountKind.PLATFORM_FUNDING)) == funded
        # An order paid and not refunded: its payment is the price less its coupons.
        mismatched = await pool.fetch(
            """SELECT o.id FROM orders o JOIN payments p ON p.id = o.payment_id
                WHERE p.amount_fen <> o.price_fen - o.discount_fen
                   OR p.platform_discount_fen <> o.platform_discount_fen"""
        )
        assert mismatched == []


async def world(
    core: Core, community: CommunityWorld, approve: Any, owner: Account
) -> dict[str, Any]:
    admin = Principal(community.admin.id, uuid.uuid4(), PlatformRole.ADMIN)
    as_owner = Principal(owner.id, uuid.uuid4())
    merchant = await core.merchants.create(as_owner, f"玩具铺{uuid.uuid4().hex[:6]}")
    await approve(owner, merchant["id"])
    await core.merchants.bind_community(admin, merchant["id"], uuid.UUID(community.id))
    for price in (900, 6_000, 12_000):
        for _ in range(4):
            await core.listings.create(
                as_owner,
                ListingDraft(
                    title="积木",
                    description="",
                    category=Category("building_blocks"),
                    condition=Condition("like_new"),
                    kind=ListingKind("sale"),
                    price_fen=price,
                    merchant_id=merchant["id"],
                ),
            )
    item = await core.merchants.create_item(
        as_owner, merchant["id"], "乐高课", "service", 9_000, 50
    )
    # The campaign is written directly: its rules are tests/test_groupbuys.py's subject.
    campaign_id = uuid.uuid4()
    now = core.clock.now()
    await core.pool.execute(
        """INSERT INTO group_buy_campaigns (id, merchant_id, organiser, created_by, title,
               item_id, group_price_fen, original_price_fen, min_members, max_members,
               payment_window_s, created_at, updated_at)
           VALUES ($1, $2, 'merchant', $3, '三人团', $4, 8000, 9000, 2, 5, 900, $5, $5)""",
        campaign_id,
        merchant["id"],
        owner.id,
        item["id"],
        now,
    )
    await core.pool.execute(
        "INSERT INTO group_buy_campaign_communities (campaign_id, community_id) VALUES ($1, $2)",
        campaign_id,
        uuid.UUID(community.id),
    )
    platform = await core.coupons.create_template(
        admin,
        TemplateSpec(
            name="9折",
            kind="percent_off",
            percent_off_bps=1000,
            max_discount_fen=800,
            valid_days=30,
            per_user_limit=50,
            claimable=False,
        ),
    )
    merchant_t = await core.coupons.create_template(
        as_owner,
        TemplateSpec(
            name="满50减5",
            kind="amount_off",
            amount_off_fen=500,
            threshold_fen=5_000,
            merchant_id=merchant["id"],
            budget_fen=1_500,
            valid_days=30,
            per_user_limit=50,
            claimable=False,
        ),
    )
    buyer = community.residents[0]
    for t in (platform, merchant_t):
        await core.coupons.grant(admin, t["id"], user_ids=[buyer.id] * 6)
    return {
        "buyer": Principal(buyer.id, uuid.uuid4()),
        "seller": as_owner,
        "merchant_id": merchant["id"],
        "campaign_id": campaign_id,
        "community_id": uuid.UUID(community.id),
    }


# Forty examples pay as the same few buyers within a minute: past the budget per payer.
@pytest.mark.many_writes
@seed(20261218)
@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
async def test_coupon_sequences_keep_money_and_coupons_exact(
    client: Any,
    core: Core,
    community: CommunityWorld,
    make_account: Any,
    approve_merchant: Any,
    ops: list[tuple[Any, ...]],
) -> None:
    # Each example starts from a clean slate of coupons and orders of its own.
    owner = await make_account("店主")
    run = Run(client, core, await world(core, community, approve_merchant, owner))
    await run.start()
    await run.check()
    for op in ops:
        await run.step(op)
        await run.check()
