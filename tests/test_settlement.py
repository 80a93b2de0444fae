"""Settlement: T+7 settlement of completed orders — a merchant's net made its available balance,
a resident seller's paid out — once, however often the job runs or crashes;
monthly statements, and the merchant dashboard kept up by the order moves — over REST with the
sandbox provider and a burst worker, the ledger balanced throughout."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from lago_core.clock import ManualClock
from lago_core.container import Core
from lago_core.jobs import SETTLE_ORDERS
from lago_core.ledger import AccountKind, AccountRef
from lago_core.orders import Action
from lago_core.security.roles import PlatformRole, Principal
from lago_core.settings import Settings
from lago_core.settlement.service import SETTLEMENT_DELAY, business_day

from .conftest import Account, CommunityWorld
from .test_orders import Client, act, call, listing, merchant_of, order, pay_order
from .test_payments import assert_ledger_sound, run_worker, webhook_target

MakeAccount = Callable[..., Awaitable[Account]]
__all__ = ["webhook_target"]  # the fixture, re-exported so pytest finds it here

DAY_S = 86_400


async def handed_over_sale(
    client: Client,
    core: Core,
    settings: Settings,
    buyer: Account,
    owner: Account,
    merchant: uuid.UUID,
    price_fen: int = 10_000,
) -> dict[str, Any]:
    """A merchant's sale, paid and handed over."""
    item = await listing(client, owner, price_fen=price_fen, merchant_id=str(merchant))
    placed = await order(client, buyer, item["id"])
    assert (await pay_order(client, core, settings, buyer, placed))["status"] == "paid"
    status, handed = await act(client, owner, placed, "hand-over")
    assert status == 200, handed
    return dict(handed)


async def completed_sale(
    client: Client,
    core: Core,
    settings: Settings,
    buyer: Account,
    owner: Account,
    merchant: uuid.UUID,
    price_fen: int = 10_000,
) -> dict[str, Any]:
    """A merchant's sale, paid, handed over and received."""
    placed = await handed_over_sale(client, core, settings, buyer, owner, merchant, price_fen)
    status, done = await act(client, buyer, placed, "confirm-receipt")
    assert (status, done["status"]) == (200, "completed"), done
    return dict(done)


async def assert_paid_out(core: Core, settled: Any) -> None:
    """The settlement's net reached the payee: a merchant's became its available balance (in
    the settlement's transaction, no payout); a resident seller's payout was requested under its
    key, for its net, and is paid."""
    if settled["payee_kind"] == "merchant":
        assert settled["payout_id"] is None
        entries = await core.pool.fetch(
            """SELECT a.kind, e.amount_fen FROM ledger_transactions t
               JOIN ledger_entries e ON e.transaction_id = t.id
               JOIN ledger_accounts a ON a.id = e.account_id
               WHERE t.key = $1 ORDER BY a.kind""",
            f"settlement:{settled['id']}:available",
        )
        assert [(e["kind"], e["amount_fen"]) for e in entries] == [
            ("merchant_available", -settled["net_fen"]),
            ("merchant_payable", settled["net_fen"]),
        ]
        return
    payout = await core.pool.fetchrow(
        "SELECT key, status, amount_fen FROM payouts WHERE id = $1", settled["payout_id"]
    )
    assert dict(payout) == {
        "key": f"settlement:{settled['id']}",
        "status": "paid",
        "amount_fen": settled["net_fen"],
    }


async def settle_by_worker(core: Core, settings: Settings) -> None:
    await core.jobs.enqueue(SETTLE_ORDERS)
    await run_worker(settings, core)  # settles, submits the payout, applies its webhook


async def test_t_plus_7_settles_once_and_makes_it_available(
    approve_merchant: Any,
    client: Client,
    core: Core,
    settings: Settings,
    clock: ManualClock,
    community: CommunityWorld,
    make_account: MakeAccount,
    webhook_target: None,
) -> None:
    buyer = community.residents[0]
    owner = await make_account("店主")
    merchant = await merchant_of(core, approve_merchant, owner)
    payable = AccountRef(AccountKind.MERCHANT_PAYABLE, merchant)

    old = await completed_sale(client, core, settings, buyer, owner, merchant)
    recent = await handed_over_sale(client, core, settings, buyer, owner, merchant)
    # Received a day later: through the service, as access tokens expire with the clock.
    clock.advance(DAY_S)
    await core.orders.act(
        Principal(buyer.id, uuid.uuid4()), uuid.UUID(recent["id"]), Action.CONFIRM_RECEIPT
    )
    owed = await core.ledger.balance(payable)
    assert owed > 0

    # Six days after the second order, seven after the first: only the first is due.
    clock.advance(SETTLEMENT_DELAY.total_seconds() - DAY_S)
    for _ in range(2):  # the second run finds nothing new
        await settle_by_worker(core, settings)
    rows = await core.pool.fetch("SELECT * FROM settlements")
    assert len(rows) == 1
    settled = rows[0]
    items = await core.pool.fetch("SELECT order_id FROM settlement_items")
    assert [i["order_id"] for i in items] == [uuid.UUID(old["id"])]
    assert (settled["payee_kind"], settled["payee_id"]) == ("merchant", merchant)
    assert settled["gross_fen"] == 10_000
    assert settled["net_fen"] == (
        settled["gross_fen"] - settled["commission_fen"] - settled["property_share_fen"]
    )
    # Both orders had the same price: what was owed for two halves, and half is paid out.
    assert settled["net_fen"] * 2 == owed
    assert await core.ledger.balance(payable) == owed - settled["net_fen"]
    available = AccountRef(AccountKind.MERCHANT_AVAILABLE, merchant)
    assert await core.ledger.balance(available) == settled["net_fen"]
    await assert_paid_out(core, settled)
    assert await core.ledger.balance(AccountRef(AccountKind.PAYOUTS_IN_TRANSIT)) == 0
    await assert_ledger_sound(core)

    # A day later the second order is due too; the first is not settled again.
    clock.advance(DAY_S)
    await settle_by_worker(core, settings)
    await settle_by_worker(core, settings)
    items = await core.pool.fetch("SELECT order_id FROM settlement_items ORDER BY order_id")
    assert sorted(i["order_id"] for i in items) == sorted(uuid.UUID(o["id"]) for o in (old, recent))
    assert await core.pool.fetchval("SELECT count(*) FROM settlements") == 2
    # A merchant withdraws when it wants: settlement pays nothing out on its own.
    assert await core.pool.fetchval("SELECT count(*) FROM payouts") == 0
    assert await core.ledger.balance(payable) == 0
    assert await core.ledger.balance(available) == owed
    await assert_ledger_sound(core)

    # The month's statement (read with a fresh token: put the clock back while calling).
    month = business_day(settled["created_at"]).strftime("%Y-%m")
    clock.advance(-(SETTLEMENT_DELAY.total_seconds() + DAY_S))  # back to when tokens were new
    status, statement = await call(
        client, owner, "GET", f"/merchants/{merchant}/statements?month={month}"
    )
    assert status == 200, statement
    by_id = {s["id"]: s for s in statement["settlements"]}
    assert by_id[str(settled["id"])]["order_ids"] == [old["id"]]
    assert by_id[str(settled["id"])]["payout_status"] is None
    assert statement["totals"]["net_fen"] == sum(s["net_fen"] for s in statement["settlements"])
    assert statement["totals"]["order_count"] == len(statement["settlements"]) == 2 or (
        # Two runs a day apart may straddle a month's end.
        statement["totals"]["order_count"] == 1
    )
    status, body = await call(
        client, owner, "GET", f"/merchants/{merchant}/statements?month=2026-13"
    )
    assert status == 422, body


async def test_crash_between_rows_and_payout_is_healed(
    client: Client,
    core: Core,
    settings: Settings,
    clock: ManualClock,
    community: CommunityWorld,
    webhook_target: None,
) -> None:
    """A resident seller keeps the automatic T+7 payout, requested after the rows commit."""
    buyer, seller = community.residents[0], community.residents[1]
    item = await listing(client, seller, price_fen=10_000)
    placed = await order(client, buyer, item["id"])
    assert (await pay_order(client, core, settings, buyer, placed))["status"] == "paid"
    assert (await act(client, seller, placed, "hand-over"))[0] == 200
    assert (await act(client, buyer, placed, "confirm-receipt"))[0] == 200
    clock.advance(SETTLEMENT_DELAY.total_seconds() + 60)

    def crash(point: str) -> None:
        raise RuntimeError(f"crash at {point}")

    core.settlement.crash_hook = crash
    with pytest.raises(RuntimeError):
        await core.settlement.settle()
    assert await core.pool.fetchval("SELECT count(*) FROM settlements") == 1
    assert await core.pool.fetchval("SELECT count(*) FROM payouts") == 0

    core.settlement.crash_hook = None
    assert await core.settlement.settle() == {"settlements": 0, "healed": 1}
    assert await core.settlement.settle() == {"settlements": 0, "healed": 0}
    await run_worker(settings, core)
    row = await core.pool.fetchrow(
        """SELECT s.net_fen, p.amount_fen, p.status, s.payee_kind FROM settlements s
           JOIN payouts p ON p.id = s.payout_id"""
    )
    assert (row["amount_fen"], row["status"], row["payee_kind"]) == (row["net_fen"], "paid", "user")
    assert await core.ledger.balance(AccountRef(AccountKind.SELLER_PAYABLE, seller.id)) == 0
    await assert_ledger_sound(core)


async def test_an_order_completed_six_days_ago_waits(
    approve_merchant: Any,
    client: Client,
    core: Core,
    settings: Settings,
    clock: ManualClock,
    community: CommunityWorld,
    make_account: MakeAccount,
    webhook_target: None,
) -> None:
    owner = await make_account("店主")
    merchant = await merchant_of(core, approve_merchant, owner)
    await completed_sale(client, core, settings, community.residents[0], owner, merchant)
    clock.advance(SETTLEMENT_DELAY.total_seconds() - DAY_S)
    await settle_by_worker(core, settings)
    assert await core.pool.fetchval("SELECT count(*) FROM settlements") == 0
    assert await core.settlement.settle() == {"settlements": 0, "healed": 0}


async def test_dashboard_follows_the_orders_and_is_for_the_merchant_only(
    approve_merchant: Any,
    client: Client,
    core: Core,
    settings: Settings,
    community: CommunityWorld,
    make_account: MakeAccount,
    webhook_target: None,
) -> None:
    buyer = community.residents[0]
    owner, staff, other_owner = (
        await make_account("店主"),
        await make_account("店员"),
        await make_account("别家店主"),
    )
    admin = await make_account("管理员", PlatformRole.ADMIN)
    merchant = await merchant_of(core, approve_merchant, owner, staff)
    other = await merchant_of(core, approve_merchant, other_owner)

    # Two completed (one rated 4 by the buyer), one refunded, one paid and waiting.
    first = await completed_sale(client, core, settings, buyer, owner, merchant, 10_000)
    await completed_sale(client, core, settings, buyer, owner, merchant, 20_000)
    status, _ = await act(client, buyer, first, "ratings", {"score": 4})
    assert status == 201
    item = await listing(client, owner, price_fen=5_000, merchant_id=str(merchant))
    refunded = await pay_order(
        client, core, settings, buyer, await order(client, buyer, item["id"])
    )
    assert (await act(client, owner, refunded, "reject"))[0] == 200
    item = await listing(client, owner, price_fen=7_000, merchant_id=str(merchant))
    await pay_order(client, core, settings, buyer, await order(client, buyer, item["id"]))

    status, board = await call(client, staff, "GET", f"/merchants/{merchant}/dashboard")
    assert status == 200, board
    today = {"orders": 4, "revenue_fen": 10_000 + 20_000 + 7_000, "completed": 2, "refunded": 1}
    assert {k: board["today"][k] for k in today} == today
    assert {k: board["month"][k] for k in today} == today
    assert board["pending_orders"] == 1
    assert (board["rating_count"], board["rating_average"]) == (1, 4.0)
    assert len(board["trend"]) == 30
    assert board["trend"][-1] == board["today"]
    assert sum(d["orders"] for d in board["trend"]) == 4
    # The figures agree with the orders themselves.
    orders = await core.pool.fetch(
        "SELECT status, price_fen FROM orders WHERE merchant_id = $1", merchant
    )
    paid = [o for o in orders if o["status"] != "cancelled"]
    assert len(paid) == board["today"]["orders"]
    assert sum(o["price_fen"] for o in paid if o["status"] != "refunded") == today["revenue_fen"]
    # Top services: this month's listings by revenue, refunds taken off.
    per_listing = await core.pool.fetch(
        """SELECT listing_id, count(*) AS n, sum(price_fen) AS revenue FROM orders
           WHERE merchant_id = $1 AND status NOT IN ('cancelled', 'refunded', 'created')
           GROUP BY listing_id""",
        merchant,
    )
    expected = sorted(
        ((str(r["listing_id"]), r["n"], r["revenue"]) for r in per_listing),
        key=lambda t: -t[2],
    )
    top = [(t["listing_id"], t["orders"], t["revenue_fen"]) for t in board["top_services"]]
    assert sorted(top, key=lambda t: -t[2]) == expected
    assert all(t["title"] for t in board["top_services"])

    # Another merchant's owner and a buyer are refused; admins read; no such merchant: 404.
    for path in ("dashboard", "statements?month=2026-01"):
        assert (await call(client, other_owner, "GET", f"/merchants/{merchant}/{path}"))[0] == 403
        assert (await call(client, buyer, "GET", f"/merchants/{merchant}/{path}"))[0] == 403
        assert (await call(client, admin, "GET", f"/merchants/{merchant}/{path}"))[0] == 200
        assert (await call(client, owner, "GET", f"/merchants/{uuid.uuid4()}/{path}"))[0] == 404
    status, board = await call(client, other_owner, "GET", f"/merchants/{other}/dashboard")
    assert (status, board["today"]["orders"], board["pending_orders"]) == (200, 0, 0)
    await assert_ledger_sound(core)
