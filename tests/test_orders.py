"""Orders over REST with the sandbox provider and a burst worker: each trade mode end to end, the
state machines refusing what they do not allow, the jobs, permissions, merchant pushes — and the
ledger balanced after each."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from lago_core.clock import ManualClock
from lago_core.container import Core
from lago_core.jobs import CANCEL_UNPAID_ORDERS, CHECK_OVERDUE_RENTALS, SWEEP_ORDERS
from lago_core.ledger import AccountKind, AccountRef
from lago_core.orders import Action
from lago_core.security.roles import PlatformRole, Principal
from lago_core.settings import Settings
from lago_rt.app import create_rt_app

from .conftest import Account, CommunityWorld
from .node_server import NodeServer
from .rt_client import ChannelClient
from .test_payments import assert_ledger_sound, pay, run_worker, webhook_target

Client = TestClient[Any, Any]
MakeAccount = Callable[..., Awaitable[Account]]
API = "/api/v1"
__all__ = ["webhook_target"]  # the fixture, re-exported so pytest finds it here


def _ref(kind: AccountKind, owner: uuid.UUID | None = None) -> AccountRef:
    return AccountRef(kind) if owner is None else AccountRef(kind, owner)


def _principal(account: Account) -> Principal:
    return Principal(account.id, uuid.uuid4())


async def call(
    client: Client, account: Account, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    response = await client.request(method, API + path, json=body, headers=account.headers)
    data = await response.json() if response.status != 204 else None
    return response.status, data


async def listing(client: Client, seller: Account, **fields: Any) -> dict[str, Any]:
    body = {
        "title": "乐高城市系列",
        "category": "building_blocks",
        "condition": "like_new",
        "kind": "sale",
        "price_fen": 10_000,
    } | fields
    status, data = await call(client, seller, "POST", "/listings", body)
    assert status == 201, data
    return dict(data)


async def order(client: Client, buyer: Account, listing_id: str, **fields: Any) -> dict[str, Any]:
    body = {"listing_id": listing_id, "fulfilment": "face_to_face"} | fields
    status, data = await call(client, buyer, "POST", "/orders", body)
    assert status == 201, data
    return dict(data)


async def pay_order(
    client: Client, core: Core, settings: Settings, buyer: Account, placed: dict[str, Any]
) -> dict[str, Any]:
    status, payment = await call(client, buyer, "GET", f"/payments/{placed['payment_id']}")
    assert status == 200, payment
    assert payment["reference_type"] == "order"
    assert payment["reference_id"] == placed["id"]
    assert (await pay(client, payment)).status == 200
    await run_worker(settings, core)  # delivers the webhook; the capture marks the order paid
    status, got = await call(client, buyer, "GET", f"/orders/{placed['id']}")
    assert status == 200
    return dict(got)


async def act(
    client: Client, account: Account, placed: dict[str, Any], step: str, body: Any = None
) -> tuple[int, Any]:
    return await call(client, account, "POST", f"/orders/{placed['id']}/{step}", body)


async def merchant_of(
    core: Core, approve: Any, owner: Account, staff: Account | None = None
) -> uuid.UUID:
    row = await core.merchants.create(_principal(owner), f"玩具铺{uuid.uuid4().hex[:6]}")
    await approve(owner, row["id"])
    # Serving the test's communities: only their residents see (and so may order) its listings.
    as_admin = Principal(owner.id, uuid.uuid4(), PlatformRole.ADMIN)
    for (community_id,) in await core.pool.fetch("SELECT id FROM communities"):
        await core.merchants.bind_community(as_admin, row["id"], community_id)
    if staff is not None:
        await core.merchants.add_staff(_principal(owner), row["id"], staff.id)
    return uuid.UUID(str(row["id"]))


async def test_c2c_sale_end_to_end_with_ratings(
    client: Client,
    core: Core,
    settings: Settings,
    community: CommunityWorld,
    webhook_target: None,
) -> None:
    buyer, seller, _ = community.residents
    item = await listing(client, seller)
    placed = await order(client, buyer, item["id"])
    assert (placed["mode"], placed["status"], placed["price_fen"]) == ("sale", "created", 10_000)
    assert (placed["payee_kind"], placed["payee_id"]) == ("user", str(seller.id))

    paid = await pay_order(client, core, settings, buyer, placed)
    assert paid["status"] == "paid"
    assert paid["paid_at"] is not None
    _, item_now = await call(client, seller, "GET", f"/listings/{item['id']}")
    assert item_now["status"] == "sold"
    # The price is captured; the seller's payable holds it after the 10% commission, and the
    # property company of the community they share gets its 20% of that commission.
    assert await core.ledger.balance(_ref(AccountKind.SELLER_PAYABLE, seller.id)) == 9_000
    company = await core.pool.fetchval(
        "SELECT property_company_id FROM communities WHERE id = $1", uuid.UUID(community.id)
    )
    assert await core.ledger.balance(_ref(AccountKind.PROPERTY_SHARE, company)) == 200
    assert await core.ledger.balance(_ref(AccountKind.PLATFORM_COMMISSION)) == 800

    status, handed = await act(client, seller, placed, "hand-over")
    assert (status, handed["status"]) == (200, "handed_over")
    status, done = await act(client, buyer, placed, "confirm-receipt")
    assert (status, done["status"]) == (200, "completed")

    status, _ = await act(client, buyer, placed, "ratings", {"score": 5, "comment": "很新"})
    assert status == 201
    status, body = await act(client, buyer, placed, "ratings", {"score": 1})
    assert (status, body["error"]["code"]) == (409, "already_rated")
    status, _ = await act(client, seller, placed, "ratings", {"score": 4, "comment": "准时"})
    assert status == 201
    _, rep = await call(client, buyer, "GET", f"/users/{seller.id}/reputation")
    assert rep == {"user_id": str(seller.id), "rating_count": 1, "average": 5.0}
    _, rep = await call(client, seller, "GET", f"/users/{buyer.id}/reputation")
    assert (rep["rating_count"], rep["average"]) == (1, 4.0)
    _, ratings = await call(client, buyer, "GET", f"/orders/{placed['id']}/ratings")
    assert len(ratings) == 2

    # Both see it among their orders; a neighbour does not see it at all.
    _, mine = await call(client, buyer, "GET", "/orders?role=buyer")
    assert [o["id"] for o in mine["items"]] == [placed["id"]]
    _, sold = await call(client, seller, "GET", "/orders?role=seller")
    assert [o["id"] for o in sold["items"]] == [placed["id"]]
    assert (await call(client, community.residents[2], "GET", f"/orders/{placed['id']}"))[0] == 404
    await assert_ledger_sound(core)


async def test_invalid_transitions_are_refused_and_change_nothing(
    client: Client,
    core: Core,
    settings: Settings,
    community: CommunityWorld,
    make_account: MakeAccount,
    webhook_target: None,
) -> None:
    buyer, seller, neighbour = community.residents
    item = await listing(client, seller)
    placed = await order(client, buyer, item["id"])

    status, body = await act(client, seller, placed, "hand-over")
    assert status == 409
    assert body["error"]["code"] == "invalid_transition"
    assert body["error"]["details"] == {
        "from": "created",
        "to": "handed_over",
        "action": "hand_over",
    }
    status, body = await act(client, seller, placed, "pick-up")  # not a step of a sale at all
    assert (status, body["error"]["details"]["to"]) == (409, None)
    assert (await act(client, buyer, placed, "confirm-receipt"))[0] == 409
    _, same = await call(client, buyer, "GET", f"/orders/{placed['id']}")
    assert same == placed

    # A second buyer cannot order the listing while this order is open.
    status, body = await call(
        client,
        neighbour,
        "POST",
        "/orders",
        {"listing_id": item["id"], "fulfilment": "self_pickup"},
    )
    assert (status, body["error"]["code"]) == (409, "listing_reserved")
    # The seller cannot buy their own listing; a sale is not delivered.
    own = await listing(client, neighbour)
    status, body = await call(
        client, neighbour, "POST", "/orders", {"listing_id": own["id"], "fulfilment": "self_pickup"}
    )
    assert (status, body["error"]["code"]) == (422, "own_listing")
    status, body = await call(
        client, buyer, "POST", "/orders", {"listing_id": own["id"], "fulfilment": "delivery"}
    )
    assert (status, body["error"]["code"]) == (422, "invalid_fulfilment")

    paid = await pay_order(client, core, settings, buyer, placed)
    # The buyer may not hand over; cancelling after payment is not a cancel; strangers see nothing.
    assert (await act(client, buyer, paid, "hand-over"))[0] == 403
    status, body = await act(client, buyer, paid, "cancel")
    assert (status, body["error"]["details"]["from"]) == (409, "paid")
    assert (await act(client, neighbour, paid, "hand-over"))[0] == 404
    # Customer service reads but does not act.
    service = await make_account("客服", PlatformRole.CUSTOMER_SERVICE)
    assert (await call(client, service, "GET", f"/orders/{placed['id']}"))[0] == 200
    assert (await act(client, service, paid, "hand-over"))[0] == 403

    # Two concurrent hand-overs: exactly one moves the order.
    results = await asyncio.gather(
        act(client, seller, paid, "hand-over"), act(client, seller, paid, "hand-over")
    )
    assert sorted(status for status, _ in results) == [200, 409]
    await assert_ledger_sound(core)


async def test_cancel_before_payment_and_refund_after(
    client: Client,
    core: Core,
    settings: Settings,
    community: CommunityWorld,
    webhook_target: None,
) -> None:
    buyer, seller, _ = community.residents
    item = await listing(client, seller)
    placed = await order(client, buyer, item["id"])
    status, cancelled = await act(client, buyer, placed, "cancel")
    assert (status, cancelled["status"], cancelled["cancel_reason"]) == (200, "cancelled", "buyer")
    assert (await act(client, buyer, placed, "cancel"))[0] == 409

    # The listing is free again; this time the buyer pays, asks for a refund, the seller grants it.
    again = await order(client, buyer, item["id"])
    await pay_order(client, core, settings, buyer, again)
    status, asked = await act(client, buyer, again, "request-refund")
    assert (status, asked["status"]) == (200, "refund_requested")
    status, refunded = await act(client, seller, again, "reject")
    assert (status, refunded["status"]) == (200, "refunded")
    await run_worker(settings, core)  # the provider pays the refund back
    await run_worker(settings, core)
    assert await core.ledger.balance(_ref(AccountKind.SELLER_PAYABLE, seller.id)) == 0
    assert await core.ledger.balance(_ref(AccountKind.CLEARING)) == 0
    _, item_now = await call(client, seller, "GET", f"/listings/{item['id']}")
    assert item_now["status"] == "active"
    # The sweep finds nothing left to do, however often it runs.
    assert await core.orders.sweep() == {"refunds": 0, "deposits": 0}
    await assert_ledger_sound(core)


async def test_consignment_with_merchant_pushes(
    approve_merchant: Any,
    client: Client,
    core: Core,
    settings: Settings,
    community: CommunityWorld,
    make_account: MakeAccount,
    node_server: Any,
    clients: list[ChannelClient],
    webhook_target: None,
) -> None:
    buyer = community.residents[0]
    owner, staff, other_owner = (
        await make_account("店主"),
        await make_account("店员"),
        await make_account("别家店主"),
    )
    merchant = await merchant_of(core, approve_merchant, owner, staff)
    other = await merchant_of(core, approve_merchant, other_owner)
    # The item's owner consigns it through the merchant; consoles carry a 5% commission.
    item = await listing(
        client,
        owner,
        kind="consignment",
        category="game_console",
        price_fen=200_000,
        merchant_id=str(merchant),
    )

    rt: NodeServer = await node_server(create_rt_app(settings, core=core))
    socket = ChannelClient(f"http://127.0.0.1:{rt.port}", staff.access_token)
    for event in ("order:new", "order:paid", "order:cancelled", "order:refund_requested"):
        socket.on_push(event, namespace="/merchant")
    clients.append(socket)
    await socket.connect(namespaces=["/merchant"])

    # Pub/sub only reaches a subscribed node: place orders until the node's listener is up.
    placed: dict[str, Any] | None = None
    for _ in range(20):
        placed = await order(client, buyer, item["id"], fulfilment="delivery")
        with contextlib.suppress(TimeoutError):
            await socket.wait_until(lambda: len(socket.pushes) >= 1, within=0.25)
            break
        await act(client, buyer, placed, "cancel")
    assert placed is not None
    assert socket.pushes[-1][0] == "order:new"
    assert socket.pushes[-1][1]["order_id"] == placed["id"]
    # One connection hears every store of the account: the push says whose order it is.
    assert socket.pushes[-1][1]["merchant_id"] == str(merchant)
    assert (placed["mode"], placed["commission_bps"]) == ("consignment", 500)
    assert (placed["payee_kind"], placed["payee_id"]) == ("user", str(owner.id))

    await pay_order(client, core, settings, buyer, placed)
    await socket.wait_until(lambda: socket.pushes[-1][0] == "order:paid", within=5)
    assert socket.pushes[-1][1]["order_id"] == placed["id"]

    # The merchant's staff see and run it; another merchant sees none of it.
    status, page = await call(client, staff, "GET", f"/merchants/{merchant}/orders?status=paid")
    assert (status, [o["id"] for o in page["items"]]) == (200, [placed["id"]])
    assert (await call(client, other_owner, "GET", f"/merchants/{merchant}/orders"))[0] == 403
    assert (await call(client, other_owner, "GET", f"/orders/{placed['id']}"))[0] == 404
    _, empty = await call(client, other_owner, "GET", f"/merchants/{other}/orders")
    assert empty["items"] == []
    assert (await act(client, other_owner, placed, "hand-over"))[0] == 404

    status, confirmed = await act(client, staff, placed, "confirm")
    assert (status, confirmed["status"]) == (200, "confirmed")
    status, delivered = await act(client, staff, placed, "hand-over")
    assert (status, delivered["status"]) == (200, "delivered")
    status, done = await act(client, buyer, placed, "confirm-receipt")
    assert (status, done["status"]) == (200, "completed")
    # The owner is owed the price less the category's commission.
    assert await core.ledger.balance(_ref(AccountKind.SELLER_PAYABLE, owner.id)) == 190_000
    # The merchant serves the buyer's community (the buyer could not see the listing otherwise):
    # its property company gets its 20% of the commission.
    assert await core.ledger.balance(_ref(AccountKind.PLATFORM_COMMISSION)) == 8_000

    # A refund request and a cancellation reach the merchant too.
    second = await listing(
        client,
        owner,
        kind="consignment",
        category="plush",
        price_fen=3_000,
        merchant_id=str(merchant),
    )
    refunding = await order(client, buyer, second["id"], fulfilment="self_pickup")
    assert refunding["commission_bps"] == 1_500
    await pay_order(client, core, settings, buyer, refunding)
    assert (await act(client, buyer, refunding, "request-refund"))[0] == 200
    await socket.wait_until(lambda: socket.pushes[-1][0] == "order:refund_requested", within=5)
    assert (await act(client, staff, refunding, "reject"))[0] == 200
    await run_worker(settings, core)
    await run_worker(settings, core)
    cancelling = await order(client, buyer, second["id"], fulfilment="self_pickup")
    assert (await act(client, staff, cancelling, "cancel"))[0] == 200
    await socket.wait_until(lambda: socket.pushes[-1][0] == "order:cancelled", within=5)
    assert socket.pushes[-1][1]["order_id"] == cancelling["id"]

    # A removed staff member no longer sees the merchant's orders.
    await core.merchants.remove_staff(_principal(owner), merchant, staff.id)
    assert (await call(client, staff, "GET", f"/merchants/{merchant}/orders"))[0] == 403
    assert (await call(client, staff, "GET", f"/orders/{placed['id']}"))[0] == 404
    await assert_ledger_sound(core)


async def test_rental_with_late_fee_damage_and_deposit_release(
    approve_merchant: Any,
    client: Client,
    core: Core,
    settings: Settings,
    clock: ManualClock,
    community: CommunityWorld,
    make_account: MakeAccount,
    webhook_target: None,
) -> None:
    renter = community.residents[0]
    owner = await make_account("租赁店主")
    merchant = await merchant_of(core, approve_merchant, owner)
    item = await listing(
        client,
        owner,
        kind="rent",
        category="game_console",
        price_fen=None,
        rent_per_day_fen=2_000,
        deposit_fen=30_000,
        merchant_id=str(merchant),
    )
    status, body = await call(
        client, renter, "POST", "/orders", {"listing_id": item["id"], "fulfilment": "self_pickup"}
    )
    assert (status, body["error"]["code"]) == (422, "days_required")
    placed = await order(client, renter, item["id"], days=3, fulfilment="self_pickup")
    assert (placed["price_fen"], placed["deposit_fen"]) == (6_000, 30_000)
    assert (placed["payee_kind"], placed["payee_id"]) == ("merchant", str(merchant))

    await pay_order(client, core, settings, renter, placed)
    assert await core.ledger.balance(_ref(AccountKind.DEPOSIT_ESCROW)) == 30_000
    _, item_now = await call(client, owner, "GET", f"/listings/{item['id']}")
    assert item_now["status"] == "rented"

    assert (await act(client, owner, placed, "return"))[0] == 409  # not picked up yet
    status, running = await act(client, owner, placed, "pick-up")
    assert (status, running["status"]) == (200, "picked_up")

    # Four days and an hour later: overdue (flagged once however often the job runs), then back.
    # Four days and an hour later: overdue (flagged once however often the job runs), then back.
    # (Done in the service: access tokens issued "in the future" are refused by the JWT library,
    # which checks iat against the real time; the clock is put back before REST is used again.)
    later = timedelta(days=4, hours=1).total_seconds()
    clock.advance(later)
    for _ in range(2):
        await core.jobs.enqueue(CHECK_OVERDUE_RENTALS)
        await run_worker(settings, core)
    assert await core.orders.check_overdue() == 0
    returned = dict(
        await core.orders.act(_principal(owner), uuid.UUID(placed["id"]), Action.RETURN)
    )
    clock.advance(-later)
    assert returned["overdue_at"] is not None
    assert returned["status"] == "returned"
    # A day and an hour late: two started days at the configured fee.
    assert returned["late_fee_fen"] == 2 * settings.rental_late_fee_per_day_fen
    status, body = await act(client, owner, placed, "complete", {"damage_fen": 29_000})
    assert (status, body["error"]["code"]) == (409, "withheld_exceeds_deposit")
    assert (await act(client, renter, placed, "complete", {}))[0] == 403
    status, done = await act(client, owner, placed, "complete", {"damage_fen": 5_000})
    assert (status, done["status"]) == (200, "completed")
    withheld = returned["late_fee_fen"] + 5_000

    await run_worker(settings, core)  # the deposit's refund goes to the provider and comes back
    await run_worker(settings, core)
    payment = await core.payments.get(None, uuid.UUID(placed["payment_id"]))
    assert (payment.deposit_status, payment.deposit_withheld_fen) == ("released", withheld)
    assert await core.ledger.balance(_ref(AccountKind.DEPOSIT_ESCROW)) == 0
    # The merchant is owed the rent after commission plus what was withheld.
    assert await core.ledger.balance(_ref(AccountKind.MERCHANT_PAYABLE, merchant)) == (
        6_000 - 600 + withheld
    )
    _, item_now = await call(client, owner, "GET", f"/listings/{item['id']}")
    assert item_now["status"] == "active"
    assert await core.orders.sweep() == {"refunds": 0, "deposits": 0}
    await assert_ledger_sound(core)


async def test_unpaid_orders_are_cancelled_by_the_job(
    client: Client,
    core: Core,
    settings: Settings,
    clock: ManualClock,
    community: CommunityWorld,
    webhook_target: None,
) -> None:
    buyer, seller, _ = community.residents
    item = await listing(client, seller)
    placed = await order(client, buyer, item["id"])
    # Access tokens live 15 minutes, less than the TTL: read through the service meanwhile.
    as_buyer, order_id = _principal(buyer), uuid.UUID(placed["id"])
    clock.advance(settings.unpaid_order_ttl_s - 10)
    await core.jobs.enqueue(CANCEL_UNPAID_ORDERS)
    await run_worker(settings, core)
    assert (await core.orders.get(as_buyer, order_id))["status"] == "created"

    clock.advance(20)
    for _ in range(2):  # a second run finds nothing to do
        await core.jobs.enqueue(CANCEL_UNPAID_ORDERS)
        await run_worker(settings, core)
    gone = await core.orders.get(as_buyer, order_id)
    assert (gone["status"], gone["cancel_reason"]) == ("cancelled", "unpaid")
    assert gone["updated_at"] == gone["cancelled_at"]
    assert await core.orders.cancel_unpaid() == 0
    # The listing is on the market again.
    clock.advance(-(settings.unpaid_order_ttl_s + 10))
    again = await order(client, buyer, item["id"])
    assert again["status"] == "created"


async def test_payment_arriving_after_cancellation_is_refunded(
    client: Client,
    core: Core,
    settings: Settings,
    clock: ManualClock,
    community: CommunityWorld,
    webhook_target: None,
) -> None:
    buyer, seller, _ = community.residents
    item = await listing(client, seller)
    placed = await order(client, buyer, item["id"])
    _, payment = await call(client, buyer, "GET", f"/payments/{placed['payment_id']}")
    assert (await pay(client, payment)).status == 200
    # The cancel job runs before the provider's webhook is applied.
    clock.advance(settings.unpaid_order_ttl_s + 1)
    assert await core.orders.cancel_unpaid() == 1
    clock.advance(-(settings.unpaid_order_ttl_s + 1))  # keep the access tokens valid
    await run_worker(settings, core)
    _, got = await call(client, buyer, "GET", f"/orders/{placed['id']}")
    assert got["status"] == "cancelled"
    assert (await core.payments.get(None, uuid.UUID(placed["payment_id"]))).status == "captured"

    for _ in range(2):  # the sweep refunds it once, however often it runs
        await core.jobs.enqueue(SWEEP_ORDERS)
        await run_worker(settings, core)
        await run_worker(settings, core)
    assert (await core.payments.get(None, uuid.UUID(placed["payment_id"]))).refunded_fen == 10_000
    assert await core.ledger.balance(_ref(AccountKind.SELLER_PAYABLE, seller.id)) == 0
    _, item_now = await call(client, seller, "GET", f"/listings/{item['id']}")
    assert item_now["status"] == "active"
    await assert_ledger_sound(core)


async def test_a_payment_merely_naming_the_order_does_not_pay_it(
    client: Client,
    core: Core,
    settings: Settings,
    community: CommunityWorld,
    webhook_target: None,
) -> None:
    buyer, seller, _ = community.residents
    item = await listing(client, seller)
    placed = await order(client, buyer, item["id"])
    # A payment of 1 fen created through the generic endpoint, claiming to be for the order.
    response = await client.post(
        f"{API}/payments",
        json={
            "reference_type": "order",
            "reference_id": placed["id"],
            "amount_fen": 1,
            "payee_kind": "user",
            "payee_id": str(seller.id),
        },
        headers=buyer.headers | {"Idempotency-Key": "cheap"},
    )
    # Refused outright: the order is paid with the payment it created (docs/money.md).
    assert response.status == 409
    assert (await response.json())["error"]["code"] == "reference_has_payment"
    _, got = await call(client, buyer, "GET", f"/orders/{placed['id']}")
    assert got["status"] == "created"
    _, item_now = await call(client, seller, "GET", f"/listings/{item['id']}")
    assert item_now["status"] == "active"
    await assert_ledger_sound(core)


async def test_a_crash_after_reject_is_healed_by_the_sweep(
    approve_merchant: Any,
    client: Client,
    core: Core,
    settings: Settings,
    community: CommunityWorld,
    make_account: MakeAccount,
    monkeypatch: Any,
    webhook_target: None,
) -> None:
    renter = community.residents[0]
    owner = await make_account("店主")
    merchant = await merchant_of(core, approve_merchant, owner)
    item = await listing(
        client,
        owner,
        kind="rent",
        price_fen=None,
        rent_per_day_fen=1_000,
        deposit_fen=5_000,
        merchant_id=str(merchant),
    )
    placed = await order(client, renter, item["id"], days=2, fulfilment="delivery")
    await pay_order(client, core, settings, renter, placed)

    async def crash(row: Any) -> None:
        raise RuntimeError("process killed after the move committed")

    monkeypatch.setattr(core.orders, "_refund", crash)
    assert (await act(client, owner, placed, "reject"))[0] == 500
    monkeypatch.undo()
    _, got = await call(client, renter, "GET", f"/orders/{placed['id']}")
    assert got["status"] == "refunded"
    payment = await core.payments.get(None, uuid.UUID(placed["payment_id"]))
    assert (payment.refunded_fen, payment.deposit_status) == (0, "held")

    for _ in range(2):
        await core.jobs.enqueue(SWEEP_ORDERS)
        await run_worker(settings, core)
        await run_worker(settings, core)
    payment = await core.payments.get(None, uuid.UUID(placed["payment_id"]))
    assert (payment.refunded_fen, payment.deposit_status) == (2_000, "released")
    assert await core.ledger.balance(_ref(AccountKind.CLEARING)) == 0
    assert await core.ledger.balance(_ref(AccountKind.DEPOSIT_ESCROW)) == 0
    await assert_ledger_sound(core)
