"""Money of an order, a rental or a group-buy seat moves only through that object (issue 16, items
8, 9, 10 and 14): the generic refund refuses their payments; a paid object moves on only while
its money is intact; every capture is checked against what its reference demands and refunded
when it does not fit or comes too late; ordering follows the listing's visibility and a buyer's
unpaid orders are capped.

Over REST with the sandbox provider and a burst worker; payments that could no longer be created
through the API (a wrong payee, a second payment for a paid order) are made the way an old client
or a row written before these checks would have left them: created, then edited in the database.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from lago_core.container import Core
from lago_core.ledger import AccountKind, AccountRef
from lago_core.security.roles import PlatformRole, Principal
from lago_core.settings import Settings

from .conftest import Account, CommunityWorld
from .groupbuy_support import call as gcall
from .groupbuy_support import campaign, merchant_with_item
from .rt_client import ChannelClient
from .test_groupbuys import Shop, member, nodes, pay_seat, shop
from .test_orders import act, call, listing, order, pay_order
from .test_payments import assert_ledger_sound, create, pay, run_worker, webhook_target

__all__ = ["nodes", "shop", "webhook_target"]  # fixtures, re-exported so pytest finds them here


def _payable(kind: AccountKind, owner: uuid.UUID) -> AccountRef:
    return AccountRef(kind, owner)


async def refund_via_payments(
    client: Any, who: Account, payment_id: str, amount_fen: int
) -> tuple[int, Any]:
    response = await client.post(
        f"/api/v1/payments/{payment_id}/refunds",
        json={"amount_fen": amount_fen, "reason": "changed my mind"},
        headers={**who.headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    return response.status, await response.json()


async def payment_row(core: Core, payment_id: str | uuid.UUID) -> Any:
    return await core.pool.fetchrow(
        "SELECT status, refunded_fen, rejected_reason, deposit_status FROM payments WHERE id = $1",
        uuid.UUID(str(payment_id)),
    )


async def succeeded_refunds(core: Core, payment_id: str | uuid.UUID) -> list[tuple[str, int]]:
    rows = await core.pool.fetch(
        "SELECT kind, amount_fen FROM refunds WHERE payment_id = $1 AND status = 'succeeded' "
        "ORDER BY kind",
        uuid.UUID(str(payment_id)),
    )
    return [(r["kind"], r["amount_fen"]) for r in rows]


# --- item 8: a payer cannot refund past the object's state machine -----------------------------


async def rental_order(client: Any, buyer: Any, seller: Any, *, deposit_fen: int) -> Any:
    """The buyer's order of a two-day rental of the seller's at ¥5 a day."""
    offer = await listing(
        client, seller, kind="rent", price_fen=None, rent_per_day_fen=500, deposit_fen=deposit_fen
    )
    return await order(client, buyer, offer["id"], days=2)


async def test_an_order_payment_is_refunded_only_through_the_order(
    client: Any,
    core: Core,
    settings: Settings,
    community: CommunityWorld,
    webhook_target: None,
) -> None:
    buyer, seller, _ = community.residents
    item = await listing(client, seller)
    placed = await order(client, buyer, item["id"])
    await pay_order(client, core, settings, buyer, placed)
    # Neither the payer nor an admin refunds it behind the order's back.
    admin = community.admin
    for who in (buyer, admin):
        status, body = await refund_via_payments(client, who, placed["payment_id"], 10_000)
        assert (status, body["error"]["code"]) == (409, "refund_through_reference"), body
        assert body["error"]["details"]["reference_id"] == placed["id"]
    status, _ = await act(client, seller, placed, "hand-over")
    assert status == 200
    status, done = await act(client, buyer, placed, "confirm-receipt")
    assert (status, done["status"]) == (200, "completed")
    payable = _payable(AccountKind.SELLER_PAYABLE, seller.id)
    assert await core.ledger.balance(payable) == 9_000  # the seller keeps what they earned
    await assert_ledger_sound(core)


async def test_an_order_whose_money_went_back_cannot_move_on(
    client: Any,
    core: Core,
    settings: Settings,
    community: CommunityWorld,
    webhook_target: None,
) -> None:
    """Should money ever go back without the order's own move (a refund by the platform behind
    its back), the order refuses every step towards completion."""
    buyer, seller, _ = community.residents
    sale = await order(client, buyer, (await listing(client, seller))["id"])
    rent = await rental_order(client, buyer, seller, deposit_fen=0)
    for placed in (sale, rent):
        await pay_order(client, core, settings, buyer, placed)
    status, _ = await act(client, seller, rent, "pick-up")
    assert status == 200
    for placed in (sale, rent):
        await core.payments.refund(None, uuid.uuid4().hex, uuid.UUID(placed["payment_id"]), 1)
    for placed, step in ((sale, "hand-over"), (rent, "return")):
        status, body = await act(client, seller, placed, step)
        assert (status, body["error"]["code"]) == (409, "payment_not_intact"), body
        _, now = await call(client, buyer, "GET", f"/orders/{placed['id']}")
        assert now["status"] in ("paid", "picked_up")
    await run_worker(settings, core)
    await assert_ledger_sound(core)


async def test_a_seat_payment_is_refunded_only_through_the_group_buy(
    client: Any,
    core: Core,
    settings: Settings,
    shop: Shop,
    community: CommunityWorld,
    nodes: list[Any],
    clients: list[ChannelClient],
    webhook_target: None,
) -> None:
    (url, _), _ = nodes
    offer = await campaign(
        client, shop.owner, shop.merchant_id, shop.item_id, community, min_members=2
    )
    first, second, _ = community.residents
    sockets = [await member(clients, url, who, community.id) for who in (first, second)]
    started = await sockets[0].call(
        "groupbuy:start", {"community_id": community.id, "campaign_id": offer["id"]}
    )
    group_id = started["group"]["group_id"]
    joined = await sockets[1].call(
        "groupbuy:join", {"community_id": community.id, "group_id": group_id}
    )
    assert joined["ok"], joined
    payments = [await pay_seat(client, core, settings, who, group_id) for who in (first, second)]
    status, body = await refund_via_payments(client, first, payments[0]["id"], 9_900)
    assert (status, body["error"]["code"]) == (409, "refund_through_reference"), body
    status, orders = await gcall(
        client, shop.owner, "GET", f"/merchants/{shop.merchant_id}/group-buy-orders"
    )
    assert status == 200
    mine = next(o for o in orders["items"] if o["buyer_id"] == str(first.id))
    # Money gone behind the order's back (the platform refunding the payment directly): the
    # merchant cannot complete the order and have it paid out.
    await core.payments.refund(None, uuid.uuid4().hex, uuid.UUID(payments[0]["id"]), 9_900)
    status, body = await gcall(
        client, shop.owner, "POST", f"/group-buy-orders/{mine['id']}/confirm"
    )
    assert (status, body["error"]["code"]) == (409, "payment_not_intact"), body
    await run_worker(settings, core)
    await assert_ledger_sound(core)


# --- item 9: every capture is checked against its reference's demand ---------------------------


async def test_order_and_rental_payments_that_do_not_fit_are_refunded_not_applied(
    client: Any,
    core: Core,
    settings: Settings,
    community: CommunityWorld,
    make_account: Any,
    webhook_target: None,
) -> None:
    buyer, seller, other = community.residents
    sale = await order(client, buyer, (await listing(client, seller))["id"])
    rent = await rental_order(client, buyer, seller, deposit_fen=3_000)
    # At creation: a payment naming the order but another payee (or amount) is refused.
    for placed in (sale, rent):
        status, body = await create(
            client,
            buyer,
            uuid.uuid4().hex,
            reference_type="order",
            reference_id=placed["id"],
            payee_id=str(other.id),
            amount_fen=1,
        )
        assert (status, body["error"]["code"]) == (409, "reference_has_payment"), body
    # At capture: the order's own payment, altered to pay someone else / another amount.
    await core.pool.execute(
        "UPDATE payments SET payee_id = $2 WHERE id = $1",
        uuid.UUID(sale["payment_id"]),
        other.id,
    )
    await core.pool.execute(
        "UPDATE payments SET amount_fen = amount_fen - 1 WHERE id = $1",
        uuid.UUID(rent["payment_id"]),
    )
    await core.pool.execute(
        "UPDATE sandbox_intents SET amount_fen = amount_fen - 1 WHERE metadata->>'payment_id' = $1",
        rent["payment_id"],
    )
    for placed, reason, price, deposit in (
        (sale, "wrong_payee", 10_000, 0),
        (rent, "wrong_amount", 999, 3_000),
    ):
        _, payment = await call(client, buyer, "GET", f"/payments/{placed['payment_id']}")
        assert (await pay(client, payment)).status == 200
        await run_worker(settings, core)
        await run_worker(settings, core)  # the refunds' webhooks
        _, now = await call(client, buyer, "GET", f"/orders/{placed['id']}")
        assert now["status"] == "created"  # not paid
        row = await payment_row(core, placed["payment_id"])
        assert (row["status"], row["rejected_reason"]) == ("captured", reason)
        expected = [("price", price)] + ([("deposit", deposit)] if deposit else [])
        assert sorted(await succeeded_refunds(core, placed["payment_id"])) == sorted(expected)
    for who in (seller, other):
        assert await core.ledger.balance(_payable(AccountKind.SELLER_PAYABLE, who.id)) == 0
    await assert_ledger_sound(core)


async def test_seat_payments_that_do_not_fit_are_refunded_not_applied(
    client: Any,
    core: Core,
    settings: Settings,
    shop: Shop,
    community: CommunityWorld,
    nodes: list[Any],
    clients: list[ChannelClient],
    approve_merchant: Any,
    make_account: Any,
    webhook_target: None,
) -> None:
    (url, _), _ = nodes
    offer = await campaign(client, shop.owner, shop.merchant_id, shop.item_id, community)
    rival_owner = await make_account("别家老板")
    rival, _ = await merchant_with_item(core, approve_merchant, rival_owner, community)
    who = community.residents[0]
    socket = await member(clients, url, who, community.id)
    started = await socket.call(
        "groupbuy:start", {"community_id": community.id, "campaign_id": offer["id"]}
    )
    group_id = started["group"]["group_id"]
    seat_id = await core.pool.fetchval(
        "SELECT id FROM group_buy_seats WHERE group_id = $1", uuid.UUID(group_id)
    )
    # At creation: the seat paid to another merchant, or at another price, is refused.
    for fields in (
        {"payee_kind": "merchant", "payee_id": str(rival), "amount_fen": 9_900},
        {"payee_kind": "merchant", "payee_id": str(shop.merchant_id), "amount_fen": 100},
    ):
        status, body = await create(
            client,
            who,
            uuid.uuid4().hex,
            reference_type="group_buy_seat",
            reference_id=str(seat_id),
            **fields,
        )
        assert (status, body["error"]["code"]) == (409, "payment_does_not_match_reference"), body
    # At capture: seat payments altered to pay the rival / another amount.
    bad = []
    for key, change in (
        ("payee", "UPDATE payments SET payee_id = $2 WHERE id = $1"),
        ("amount", "UPDATE payments SET amount_fen = 9899 WHERE id = $1 AND $2::uuid IS NOT NULL"),
    ):
        status, payment = await gcall(
            client, who, "POST", f"/group-buys/{group_id}/pay", headers={"Idempotency-Key": key}
        )
        assert status == 201, payment
        await core.pool.execute(change, uuid.UUID(payment["id"]), rival)
        if key == "amount":
            await core.pool.execute(
                "UPDATE sandbox_intents SET amount_fen = 9899 WHERE metadata->>'payment_id' = $1",
                payment["id"],
            )
        bad.append(payment)
    for payment in bad:
        assert (await pay(client, payment)).status == 200
    await run_worker(settings, core)
    await run_worker(settings, core)
    seat = await core.pool.fetchrow("SELECT status FROM group_buy_seats WHERE id = $1", seat_id)
    assert seat["status"] == "reserved"  # not paid
    for payment, reason, amount in zip(
        bad, ("wrong_payee", "wrong_amount"), (9_900, 9_899), strict=True
    ):
        row = await payment_row(core, payment["id"])
        assert row["rejected_reason"] == reason
        assert await succeeded_refunds(core, payment["id"]) == [("price", amount)]
    merchant_payable = _payable(AccountKind.MERCHANT_PAYABLE, rival)
    assert await core.ledger.balance(merchant_payable) == 0
    await assert_ledger_sound(core)


# --- item 10: a capture the reference can no longer take is refunded at once ----------------


async def test_payments_an_order_cannot_take_are_refunded_at_capture(
    client: Any,
    core: Core,
    settings: Settings,
    community: CommunityWorld,
    webhook_target: None,
) -> None:
    buyer, seller, _ = community.residents
    paid = await order(client, buyer, (await listing(client, seller))["id"])
    await pay_order(client, core, settings, buyer, paid)
    # A second payment naming the paid order, as an old client could create it: made for
    # another reference, then pointed at the order.
    status, second = await create(
        client,
        buyer,
        uuid.uuid4().hex,
        reference_type="tip",
        reference_id=str(uuid.uuid4()),
        payee_id=str(seller.id),
    )
    assert status == 201, second
    await core.pool.execute(
        "UPDATE payments SET reference_type = 'order', reference_id = $2 WHERE id = $1",
        uuid.UUID(second["id"]),
        uuid.UUID(paid["id"]),
    )
    # A cancelled rental's own payment, paid after the cancel (the intent was still open).
    rental = await rental_order(client, buyer, seller, deposit_fen=2_000)
    status, _ = await act(client, buyer, rental, "cancel")
    assert status == 200
    _, late = await call(client, buyer, "GET", f"/payments/{rental['payment_id']}")
    for payment in (second, late):
        assert (await pay(client, payment)).status == 200
    await run_worker(settings, core)
    await run_worker(settings, core)  # the refunds' webhooks; no order sweep has run
    assert (await payment_row(core, second["id"]))["rejected_reason"] == (
        "not_the_reference_payment"
    )
    assert await succeeded_refunds(core, second["id"]) == [("price", 10_000)]
    assert (await payment_row(core, late["id"]))["rejected_reason"] == "order_cancelled"
    assert sorted(await succeeded_refunds(core, late["id"])) == [
        ("deposit", 2_000),
        ("price", 1_000),
    ]
    # The seller holds exactly the one sale's money.
    assert await core.ledger.balance(_payable(AccountKind.SELLER_PAYABLE, seller.id)) == 9_000
    # The sweep finds nothing left to do.
    assert await core.orders.sweep() == {"refunds": 0, "deposits": 0}
    await assert_ledger_sound(core)


async def test_a_second_payment_for_a_paid_seat_is_refunded_at_capture(
    client: Any,
    core: Core,
    settings: Settings,
    shop: Shop,
    community: CommunityWorld,
    nodes: list[Any],
    clients: list[ChannelClient],
    webhook_target: None,
) -> None:
    (url, _), _ = nodes
    offer = await campaign(client, shop.owner, shop.merchant_id, shop.item_id, community)
    who = community.residents[0]
    socket = await member(clients, url, who, community.id)
    started = await socket.call(
        "groupbuy:start", {"community_id": community.id, "campaign_id": offer["id"]}
    )
    group_id = started["group"]["group_id"]
    tabs = []
    for key in ("tab-1", "tab-2"):
        status, payment = await gcall(
            client, who, "POST", f"/group-buys/{group_id}/pay", headers={"Idempotency-Key": key}
        )
        assert status == 201
        tabs.append(payment)
    await pay(client, tabs[0])
    await run_worker(settings, core)
    await pay(client, tabs[1])
    await run_worker(settings, core)
    await run_worker(settings, core)
    assert (await payment_row(core, tabs[1]["id"]))["rejected_reason"] == "seat_already_paid"
    assert await succeeded_refunds(core, tabs[1]["id"]) == [("price", 9_900)]
    assert await succeeded_refunds(core, tabs[0]["id"]) == []
    await assert_ledger_sound(core)


# --- item 14: ordering follows visibility; unpaid orders are capped ----------------------------


async def test_an_outsider_cannot_see_or_order_a_communitys_listing(
    client: Any, core: Core, community: CommunityWorld
) -> None:
    seller = community.residents[1]
    item = await listing(client, seller)
    outsider = community.outsider
    status, body = await call(client, outsider, "GET", f"/listings/{item['id']}")
    assert status == 404, body
    status, body = await call(
        client,
        outsider,
        "POST",
        "/orders",
        {"listing_id": item["id"], "fulfilment": "face_to_face"},
    )
    assert (status, body["error"]["code"]) == (404, "not_found"), body
    # Property staff and admins still read it; a neighbour still orders it.
    for who in (community.staff, community.admin):
        assert (await call(client, who, "GET", f"/listings/{item['id']}"))[0] == 200
    await order(client, community.residents[0], item["id"])


async def test_a_buyers_unpaid_orders_are_capped(
    client: Any,
    core: Core,
    settings: Settings,
    community: CommunityWorld,
    webhook_target: None,
) -> None:
    buyer, seller, _ = community.residents
    cap = 3  # LAGO_MAX_UNPAID_ORDERS, by default
    items = [await listing(client, seller, title=f"积木{i}") for i in range(cap + 1)]
    placed = [await order(client, buyer, item["id"]) for item in items[:cap]]
    status, body = await call(
        client,
        buyer,
        "POST",
        "/orders",
        {"listing_id": items[cap]["id"], "fulfilment": "face_to_face"},
    )
    assert (status, body["error"]["code"]) == (409, "too_many_unpaid_orders"), body
    assert body["error"]["details"] == {"max_unpaid_orders": cap}
    # Paying one frees a place; so does cancelling one.
    await pay_order(client, core, settings, buyer, placed[0])
    extra = await order(client, buyer, items[cap]["id"])
    assert (await act(client, buyer, extra, "cancel"))[0] == 200
    assert (await act(client, buyer, placed[1], "cancel"))[0] == 200
    more = await listing(client, seller, title="积木又一")
    await order(client, buyer, more["id"])
    # Another buyer is not held back by this one's orders.
    await order(client, community.residents[2], (await listing(client, seller))["id"])
    assert settings.max_unpaid_orders == cap


async def test_concurrent_orders_of_one_buyer_never_pass_the_cap(
    client: Any, core: Core, settings: Settings, community: CommunityWorld
) -> None:
    buyer, seller, _ = community.residents
    cap = 3  # LAGO_MAX_UNPAID_ORDERS, by default
    items = [await listing(client, seller, title=f"拼图{i}") for i in range(cap + 5)]
    answers = await asyncio.gather(
        *(
            call(
                client,
                buyer,
                "POST",
                "/orders",
                {"listing_id": i["id"], "fulfilment": "face_to_face"},
            )
            for i in items
        )
    )
    statuses = sorted(status for status, _ in answers)
    assert statuses == [201] * cap + [409] * 5, answers
    assert {b["error"]["code"] for s, b in answers if s == 409} == {"too_many_unpaid_orders"}
    unpaid = await core.pool.fetchval(
        "SELECT count(*) FROM orders WHERE buyer_id = $1 AND status = 'created'", buyer.id
    )
    assert unpaid == cap


async def test_admins_see_every_listing(client: Any, core: Core, community: CommunityWorld) -> None:
    """Customer service reads listings anywhere (a complaint names one)."""
    item = await listing(client, community.residents[1])
    staff = Principal(community.outsider.id, uuid.uuid4(), PlatformRole.CUSTOMER_SERVICE)
    row = await core.listings.get(staff, uuid.UUID(item["id"]))
    assert str(row["id"]) == item["id"]


async def test_customer_service_refunds_an_order_through_the_order(
    client: Any,
    core: Core,
    settings: Settings,
    community: CommunityWorld,
    make_account: Any,
    webhook_target: None,
) -> None:
    """A dispute is settled by the order's own refund move, taken by platform staff."""
    buyer, seller, _ = community.residents
    service = await make_account("客服", PlatformRole.CUSTOMER_SERVICE)
    placed = await order(client, buyer, (await listing(client, seller))["id"])
    await pay_order(client, core, settings, buyer, placed)
    status, body = await refund_via_payments(client, service, placed["payment_id"], 10_000)
    assert (status, body["error"]["code"]) == (409, "refund_through_reference")
    assert (await act(client, service, placed, "hand-over"))[0] == 403  # staff only refund
    status, refunded = await act(client, service, placed, "reject")
    assert (status, refunded["status"]) == (200, "refunded")
    await run_worker(settings, core)
    assert await succeeded_refunds(core, placed["payment_id"]) == [("price", 10_000)]
    assert await core.ledger.balance(_payable(AccountKind.SELLER_PAYABLE, seller.id)) == 0
    await assert_ledger_sound(core)


async def test_concurrent_payments_do_not_exhaust_the_pool(
    client: Any, core: Core, settings: Settings, community: CommunityWorld
) -> None:
    """More concurrent payment creations than the pool has connections (5 in tests): each holds
    one in its transaction while the sandbox records the intent on connections of its own."""
    payer, seller, _ = community.residents
    attempts = [
        create(client, payer, uuid.uuid4().hex, payee_id=str(seller.id))
        for _ in range(settings.db_pool_max + 3)
    ]
    answers = await asyncio.wait_for(asyncio.gather(*attempts), timeout=30)
    assert [status for status, _ in answers] == [201] * len(attempts), answers
