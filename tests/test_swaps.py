"""Swaps (置换) over REST with the sandbox provider and a burst worker: the flow with and without
a difference, races (two acceptances, a swap against an order), permissions, bad input, the
difference's payment (idempotent, refunded on cancellation, settled after completion) — and the
ledger balanced after each."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp.test_utils import TestClient

from lago_core.clock import ManualClock
from lago_core.container import Core
from lago_core.ledger import AccountKind, AccountRef
from lago_core.push import Pusher
from lago_core.push_events import SWAP_UPDATED
from lago_core.settings import Settings
from lago_rt.app import create_rt_app

from .conftest import Account, CommunityWorld
from .node_server import NodeServer
from .rt_client import ChannelClient
from .test_orders import call, listing, order
from .test_payments import assert_ledger_sound, pay, run_worker, webhook_target
from .test_push import push_until_received

Client = TestClient[Any, Any]
MakeAccount = Callable[..., Awaitable[Account]]
__all__ = ["webhook_target"]


async def open_listing(client: Client, seller: Account, **fields: Any) -> dict[str, Any]:
    item = await listing(client, seller, **fields)
    status, body = await call(
        client, seller, "PUT", f"/listings/{item['id']}/swap-ok", {"swap_ok": True}
    )
    assert status == 200, body
    return item


async def offer(
    client: Client, proposer: Account, wanted: dict[str, Any], mine: dict[str, Any], **fields: Any
) -> dict[str, Any]:
    body = {"listing_id": wanted["id"], "offered_listing_id": mine["id"]} | fields
    status, data = await call(client, proposer, "POST", "/swaps", body)
    assert status == 201, data
    return dict(data)


async def move(
    client: Client, account: Account, swap: dict[str, Any], step: str
) -> tuple[int, Any]:
    return await call(client, account, "POST", f"/swaps/{swap['id']}/{step}")


async def accepted_owing(
    client: Client, owner: Account, proposer: Account, wanted: dict[str, Any], difference_fen: int
) -> dict[str, Any]:
    """A swap for ``wanted`` in which the proposer pays ``difference_fen``, accepted by its owner."""
    swap = await offer(
        client,
        proposer,
        wanted,
        await listing(client, proposer),
        difference_fen=difference_fen,
        difference_payer="proposer",
    )
    await move(client, owner, swap, "accept")
    return swap


async def pay_difference(
    client: Client, core: Core, settings: Settings, payer: Account, swap: dict[str, Any], key: str
) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/swaps/{swap['id']}/pay", headers=payer.headers | {"Idempotency-Key": key}
    )
    assert response.status == 201, await response.text()
    payment = await response.json()
    assert (payment["reference_type"], payment["reference_id"]) == ("swap", swap["id"])
    return dict(payment)


async def test_swap_without_difference_end_to_end(
    client: Client, core: Core, community: CommunityWorld
) -> None:
    owner, proposer, _ = community.residents
    wanted = await open_listing(client, owner, title="任天堂 Switch")
    status, detail = await call(client, proposer, "GET", f"/listings/{wanted['id']}")
    assert status == 200
    assert detail["swap_ok"] is True
    mine = await listing(client, proposer, title="乐高 42115")
    swap = await offer(client, proposer, wanted, mine, message="换吗？")
    assert (swap["status"], swap["my_side"], swap["listing_title"]) == (
        "offered",
        "proposer",
        "任天堂 Switch",
    )

    status, inbox = await call(client, owner, "GET", "/swaps?role=in")
    assert status == 200
    assert [s["id"] for s in inbox["items"]] == [swap["id"]]
    assert inbox["items"][0]["my_side"] == "owner"

    status, accepted = await move(client, owner, swap, "accept")
    assert (status, accepted["status"]) == (200, "accepted"), accepted
    # Both listings are held: nobody can order either.
    buyer = community.residents[2]
    for item in (wanted, mine):
        status, body = await call(
            client,
            buyer,
            "POST",
            "/orders",
            {"listing_id": item["id"], "fulfilment": "face_to_face"},
        )
        assert (status, body["error"]["code"]) == (409, "listing_reserved"), body

    status, one = await move(client, owner, swap, "confirm")
    assert status == 200
    assert one["status"] == "accepted"
    assert one["owner_confirmed_at"]
    status, again = await move(client, owner, swap, "confirm")
    assert (status, again["error"]["code"]) == (409, "already_confirmed")
    status, done = await move(client, proposer, swap, "confirm")
    assert (status, done["status"]) == (200, "completed"), done
    for item in (wanted, mine):
        status, got = await call(client, owner, "GET", f"/listings/{item['id']}")
        assert got["status"] == "swapped"

    status, rating = await call(client, owner, "POST", f"/swaps/{swap['id']}/ratings", {"score": 5})
    assert status == 201
    assert rating["ratee_id"] == str(proposer.id)
    status, _ = await call(client, proposer, "POST", f"/swaps/{swap['id']}/ratings", {"score": 4})
    assert status == 201
    status, body = await call(client, owner, "POST", f"/swaps/{swap['id']}/ratings", {"score": 5})
    assert (status, body["error"]["code"]) == (409, "already_rated")
    # Rating earns the rater rating points, as an order's rating does (docs/points.md).
    _, history = await call(client, owner, "GET", "/me/points/history")
    assert ("rating", 3) in {(i["rule"], i["delta"]) for i in history["items"]}
    status, rep = await call(client, buyer, "GET", f"/users/{proposer.id}/reputation")
    assert (rep["rating_count"], rep["average"]) == (1, 5.0)
    status, rep = await call(client, buyer, "GET", f"/users/{owner.id}/reputation")
    assert (rep["rating_count"], rep["average"]) == (1, 4.0)
    status, ratings = await call(client, proposer, "GET", f"/swaps/{swap['id']}/ratings")
    assert status == 200
    assert len(ratings) == 2


async def test_swap_with_difference_paid_held_and_settled(
    client: Client,
    core: Core,
    settings: Settings,
    clock: ManualClock,
    community: CommunityWorld,
    webhook_target: None,
) -> None:
    owner, proposer, _ = community.residents
    wanted = await open_listing(client, owner, price_fen=30_000)
    mine = await listing(client, proposer, price_fen=20_000)
    swap = await offer(
        client, proposer, wanted, mine, difference_fen=10_000, difference_payer="proposer"
    )
    assert (swap["payer_id"], swap["payee_id"]) == (str(proposer.id), str(owner.id))
    status, body = await call(client, owner, "POST", f"/swaps/{swap['id']}/pay")
    assert status in (403, 409, 422), body  # no Idempotency-Key, not the payer, not accepted
    assert (await move(client, owner, swap, "accept"))[0] == 200
    status, body = await move(client, owner, swap, "confirm")
    assert (status, body["error"]["code"]) == (409, "difference_unpaid")

    # Not the payer: refused; the payer's retry with the same key is the same payment.
    response = await client.post(
        f"/api/v1/swaps/{swap['id']}/pay", headers=owner.headers | {"Idempotency-Key": "k1"}
    )
    assert response.status == 403
    payment = await pay_difference(client, core, settings, proposer, swap, "k1")
    replay = await pay_difference(client, core, settings, proposer, swap, "k1")
    assert replay["id"] == payment["id"]
    assert payment["amount_fen"] == 10_000
    assert (await pay(client, payment)).status == 200
    await run_worker(settings, core)
    status, paid = await call(client, proposer, "GET", f"/swaps/{swap['id']}")
    assert paid["status"] == "paid"
    assert paid["payment_id"] == payment["id"]

    # Its money goes back only through the swap (cancel), not the payments API.
    response = await client.post(
        f"/api/v1/payments/{payment['id']}/refunds",
        json={"amount_fen": 10_000},
        headers=proposer.headers | {"Idempotency-Key": "r1"},
    )
    assert response.status == 409
    assert (await response.json())["error"]["code"] == "refund_through_reference"

    # Held in the receiver's payable until the swap completes and settlement runs.
    payable = AccountRef(AccountKind.SELLER_PAYABLE, owner.id)
    held = await core.ledger.balance(payable)
    assert held == 10_000 - 1_000  # less the 10% commission (property share: of commission)
    await assert_ledger_sound(core)

    assert (await move(client, proposer, swap, "confirm"))[0] == 200
    status, done = await move(client, owner, swap, "confirm")
    assert done["status"] == "completed"
    clock.advance(8 * 86_400)
    result = await core.settlement.settle()
    assert result["settlements"] == 1
    item = await core.pool.fetchrow(
        "SELECT net_fen FROM settlement_swap_items WHERE swap_id = $1", uuid.UUID(swap["id"])
    )
    assert item is not None
    assert item["net_fen"] == held
    assert await core.ledger.balance(payable) == 0
    await run_worker(settings, core)
    await assert_ledger_sound(core)


async def test_cancelled_paid_swap_refunds_and_frees_listings(
    client: Client,
    core: Core,
    settings: Settings,
    community: CommunityWorld,
    webhook_target: None,
) -> None:
    owner, proposer, buyer = community.residents
    wanted = await open_listing(client, owner)
    mine = await listing(client, proposer)
    swap = await offer(client, proposer, wanted, mine, difference_fen=500, difference_payer="owner")
    await move(client, owner, swap, "accept")
    payment = await pay_difference(client, core, settings, owner, swap, "pay-1")
    assert (await pay(client, payment)).status == 200
    await run_worker(settings, core)
    status, cancelled = await move(client, proposer, swap, "cancel")
    assert status == 200
    assert cancelled["status"] == "cancelled"
    assert cancelled["cancel_reason"] == "proposer"
    await run_worker(settings, core)  # the refund reaches the provider
    row = await core.pool.fetchrow(
        "SELECT refunded_fen FROM payments WHERE id = $1", uuid.UUID(payment["id"])
    )
    assert row is not None
    assert row["refunded_fen"] == 500
    # A second cancel is an invalid move; the listings are on the market again.
    status, body = await move(client, owner, swap, "cancel")
    assert (status, body["error"]["code"]) == (409, "invalid_transition")
    placed = await order(client, buyer, wanted["id"])
    assert placed["status"] == "created"
    await assert_ledger_sound(core)


async def test_two_acceptances_on_one_listing_one_wins(
    client: Client, core: Core, community: CommunityWorld, make_account: MakeAccount
) -> None:
    owner, first, second = community.residents
    wanted = await open_listing(client, owner)
    a = await offer(client, first, wanted, await listing(client, first))
    b = await offer(client, second, wanted, await listing(client, second))
    results = await asyncio.gather(
        move(client, owner, a, "accept"), move(client, owner, b, "accept")
    )
    statuses = sorted(status for status, _ in results)
    assert statuses == [200, 409], results
    loser = next(body for status, body in results if status == 409)
    assert loser["error"]["code"] == "listing_reserved"
    holds = await core.pool.fetchval(
        "SELECT count(*) FROM swap_holds WHERE listing_id = $1", uuid.UUID(wanted["id"])
    )
    assert holds == 1


async def test_swap_and_order_race_one_wins(
    client: Client, core: Core, community: CommunityWorld
) -> None:
    owner, proposer, buyer = community.residents
    for _ in range(5):
        wanted = await open_listing(client, owner)
        swap = await offer(client, proposer, wanted, await listing(client, proposer))
        (s1, b1), (s2, b2) = await asyncio.gather(
            move(client, owner, swap, "accept"),
            call(
                client,
                buyer,
                "POST",
                "/orders",
                {"listing_id": wanted["id"], "fulfilment": "face_to_face"},
            ),
        )
        assert sorted([s1, s2]) in ([200, 409], [201, 409]), (b1, b2)
        if s1 == 200:
            assert b2["error"]["code"] == "listing_reserved"
        else:
            assert b1["error"]["code"] == "listing_reserved"
            # Free the buyer's unpaid-order slot for the next round.
            assert (await call(client, buyer, "POST", f"/orders/{b2['id']}/cancel"))[0] == 200


async def test_permissions(client: Client, core: Core, community: CommunityWorld) -> None:
    owner, proposer, third = community.residents
    wanted = await listing(client, owner)
    mine = await listing(client, proposer)
    # Not open to swaps yet; only its owner may open it.
    body = {"listing_id": wanted["id"], "offered_listing_id": mine["id"]}
    status, got = await call(client, proposer, "POST", "/swaps", body)
    assert (status, got["error"]["code"]) == (409, "not_open_to_swaps")
    status, got = await call(
        client, proposer, "PUT", f"/listings/{wanted['id']}/swap-ok", {"swap_ok": True}
    )
    assert status == 403, got
    await call(client, owner, "PUT", f"/listings/{wanted['id']}/swap-ok", {"swap_ok": True})
    # Offering someone else's listing; an outsider cannot see the listing at all.
    status, got = await call(
        client,
        third,
        "POST",
        "/swaps",
        {"listing_id": wanted["id"], "offered_listing_id": mine["id"]},
    )
    assert (status, got["error"]["code"]) == (422, "not_your_listing")
    status, got = await call(client, community.outsider, "POST", "/swaps", body)
    assert status == 404, got
    swap = await offer(client, proposer, wanted, mine)
    status, got = await call(client, proposer, "POST", "/swaps", body)
    assert (status, got["error"]["code"]) == (409, "offer_exists")
    # The proposer may not accept; a third resident sees nothing.
    assert (await move(client, proposer, swap, "accept"))[0] == 403
    assert (await move(client, owner, swap, "withdraw"))[0] == 403
    assert (await move(client, third, swap, "accept"))[0] == 404
    assert (await call(client, third, "GET", f"/swaps/{swap['id']}"))[0] == 404
    status, got = await call(client, third, "POST", f"/swaps/{swap['id']}/ratings", {"score": 3})
    assert status == 404
    status, got = await call(client, community.admin, "GET", f"/swaps/{swap['id']}")
    assert status == 200
    assert got["my_side"] is None
    # Rating before completion; declining twice.
    status, got = await call(client, owner, "POST", f"/swaps/{swap['id']}/ratings", {"score": 3})
    assert (status, got["error"]["code"]) == (409, "not_completed")
    assert (await move(client, owner, swap, "decline"))[0] == 200
    status, got = await move(client, owner, swap, "decline")
    assert (status, got["error"]["code"]) == (409, "invalid_transition")


async def test_bad_input(client: Client, core: Core, community: CommunityWorld) -> None:
    owner, proposer, _ = community.residents
    wanted = await open_listing(client, owner)
    mine = await listing(client, proposer)
    base = {"listing_id": wanted["id"], "offered_listing_id": mine["id"]}
    cases: list[tuple[dict[str, Any], str | None]] = [
        (base | {"difference_fen": 100}, "invalid_difference_payer"),
        (base | {"difference_payer": "owner"}, "invalid_difference_payer"),
        (base | {"difference_fen": -1, "difference_payer": "owner"}, None),
        (base | {"difference_fen": 1.5, "difference_payer": "owner"}, None),
        (base | {"difference_fen": 10**12, "difference_payer": "owner"}, None),
        (base | {"difference_payer": "system", "difference_fen": 5}, None),
        (base | {"message": "x" * 501}, None),
        (base | {"message": "bad\x00"}, None),
        (base | {"listing_id": "nope"}, None),
        (base | {"surprise": 1}, None),
        ({"listing_id": wanted["id"], "offered_listing_id": wanted["id"]}, None),
    ]
    for body, code in cases:
        status, got = await call(client, proposer, "POST", "/swaps", body)
        assert 400 <= status < 500, (body, status, got)
        if code is not None:
            assert got["error"]["code"] == code, got
    status, got = await call(
        client, owner, "PUT", f"/listings/{wanted['id']}/swap-ok", {"swap_ok": "yes"}
    )
    assert status == 422
    rental = await listing(
        client, owner, kind="rent", price_fen=None, rent_per_day_fen=100, deposit_fen=1000
    )
    status, got = await call(
        client, owner, "PUT", f"/listings/{rental['id']}/swap-ok", {"swap_ok": True}
    )
    assert (status, got["error"]["code"]) == (409, "not_swappable")
    assert (await call(client, owner, "POST", f"/swaps/{uuid.uuid4()}/accept"))[0] == 404
    swap = await offer(client, proposer, wanted, mine)
    await move(client, owner, swap, "accept")
    response = await client.post(
        f"/api/v1/swaps/{swap['id']}/pay", headers=proposer.headers | {"Idempotency-Key": "k"}
    )
    assert response.status == 409
    assert (await response.json())["error"]["code"] == "no_difference"
    status, got = await call(client, owner, "POST", f"/swaps/{swap['id']}/ratings", {"score": 9})
    assert status == 422


async def test_expiry_job_with_clock(
    client: Client,
    core: Core,
    settings: Settings,
    clock: ManualClock,
    community: CommunityWorld,
    webhook_target: None,
) -> None:
    owner, proposer, _ = community.residents
    stale = await offer(
        client, proposer, await open_listing(client, owner), await listing(client, proposer)
    )
    wanted = await open_listing(client, owner)
    held = await accepted_owing(client, owner, proposer, wanted, 300)
    payment = await pay_difference(client, core, settings, proposer, held, "p")
    assert (await pay(client, payment)).status == 200
    await run_worker(settings, core)
    clock.advance(settings.swap_offer_ttl_s + 60)
    result = await core.swaps.expire()
    assert result == {"expired": 1, "cancelled": 1, "refunds": 0}
    assert (await core.swaps.expire()) == {"expired": 0, "cancelled": 0, "refunds": 0}
    # (The sessions' tokens have expired a week later: read the rows.)
    got = await core.swaps.store.swap(core.pool, uuid.UUID(stale["id"]))
    assert got is not None
    assert got["status"] == "expired"
    got = await core.swaps.store.swap(core.pool, uuid.UUID(held["id"]))
    assert got is not None
    assert (got["status"], got["cancel_reason"]) == ("cancelled", "expired")
    await run_worker(settings, core)
    await assert_ledger_sound(core)
    refunded = await core.pool.fetchval(
        "SELECT refunded_fen FROM payments WHERE id = $1", uuid.UUID(payment["id"])
    )
    assert refunded == 300
    # The listing is free for an order again.
    assert await core.pool.fetchval("SELECT count(*) FROM swap_holds") == 0


async def test_a_payment_after_cancellation_is_refunded_in_full(
    client: Client,
    core: Core,
    settings: Settings,
    community: CommunityWorld,
    webhook_target: None,
) -> None:
    owner, proposer, _ = community.residents
    wanted = await open_listing(client, owner)
    swap = await accepted_owing(client, owner, proposer, wanted, 800)
    first = await pay_difference(client, core, settings, proposer, swap, "tab-1")
    second = await pay_difference(client, core, settings, proposer, swap, "tab-2")
    assert first["id"] != second["id"]
    # Two tabs pay: the first capture pays the swap, the second is refused and refunded.
    assert (await pay(client, first)).status == 200
    assert (await pay(client, second)).status == 200
    await run_worker(settings, core)
    _, paid = await call(client, proposer, "GET", f"/swaps/{swap['id']}")
    assert paid["status"] == "paid"
    assert paid["payment_id"] in (first["id"], second["id"])
    other = second["id"] if paid["payment_id"] == first["id"] else first["id"]
    refunded = await core.pool.fetchval(
        "SELECT refunded_fen FROM payments WHERE id = $1", uuid.UUID(other)
    )
    assert refunded == 800

    # A swap cancelled before its payment arrives: the late payment goes back whole.
    wanted2 = await open_listing(client, owner)
    swap2 = await accepted_owing(client, owner, proposer, wanted2, 300)
    late = await pay_difference(client, core, settings, proposer, swap2, "late")
    assert (await move(client, owner, swap2, "cancel"))[0] == 200
    response = await client.post(
        f"/api/v1/swaps/{swap2['id']}/pay", headers=proposer.headers | {"Idempotency-Key": "x"}
    )
    assert response.status == 409
    assert (await pay(client, late)).status == 200
    await run_worker(settings, core)
    row = await core.pool.fetchrow(
        "SELECT status, refunded_fen FROM payments WHERE id = $1", uuid.UUID(late["id"])
    )
    assert row is not None
    assert (row["status"], row["refunded_fen"]) == ("captured", 300)
    _, got = await call(client, proposer, "GET", f"/swaps/{swap2['id']}")
    assert (got["status"], got["payment_id"]) == ("cancelled", None)
    await assert_ledger_sound(core)


async def test_parties_hear_swap_updated(
    client: Client,
    core: Core,
    settings: Settings,
    community: CommunityWorld,
    clients: list[ChannelClient],
    node_server: Any,
) -> None:
    owner, proposer, _ = community.residents
    server: NodeServer = await node_server(create_rt_app(settings, core=core))
    sockets = []
    for account in (owner, proposer):
        socket = ChannelClient(f"http://127.0.0.1:{server.port}", account.access_token)
        socket.on_push(SWAP_UPDATED)
        socket.on_push("probe")
        clients.append(socket)
        await socket.connect()
        sockets.append(socket)
    # Pub/sub reaches only a subscribed node: probe until its listener is up.
    pusher = Pusher(settings)
    try:

        async def probe() -> None:
            await pusher.to_user(owner.id, "probe", {})

        await push_until_received(sockets[0], probe)
    finally:
        await pusher.close()
    swap = await offer(
        client, proposer, await open_listing(client, owner), await listing(client, proposer)
    )
    await move(client, owner, swap, "accept")
    for socket in sockets:

        def heard(s: ChannelClient = socket) -> bool:
            statuses = [d["status"] for e, d in s.pushes if e == SWAP_UPDATED]
            return statuses == ["offered", "accepted"]

        await socket.wait_until(heard)
