"""Group buys (拼团): campaigns over REST, seats decided by the channel actor on two real-time
nodes, payments through the sandbox and a burst worker, outcomes, refunds — the ledger balanced
after each."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, replace
from typing import Any

import asyncpg
import pytest

from lago_core.clock import ManualClock
from lago_core.container import Core
from lago_core.jobs import EXPIRE_GROUP_BUY, queue_name
from lago_core.ledger import AccountKind, AccountRef
from lago_core.security.roles import PlatformRole, Principal
from lago_core.settings import Settings
from lago_core.settlement.service import SETTLEMENT_DELAY, business_day
from lago_rt.app import RT_NODE, RtNode, create_rt_app
from lago_rt.channel import groupbuys as groupbuys_feature
from lago_rt.channel.actor import ChannelActor
from lago_rt.channel.groupbuys import GroupBuys
from lago_rt.runtime import Command, NotOwner
from lago_rt.runtime.keys import ActorKeys
from lago_rt.transport import Pending

from .conftest import Account, CommunityWorld
from .groupbuy_support import Client, bulk_residents, call, campaign, merchant_with_item
from .node_server import NodeServer
from .rt_client import ChannelClient
from .test_payments import assert_ledger_sound, pay, run_worker, webhook_target
from .test_settlement import assert_paid_out, settle_by_worker

__all__ = ["webhook_target"]  # the fixture, re-exported so pytest finds it here


@dataclass
class Shop:
    owner: Account
    merchant_id: uuid.UUID
    item_id: uuid.UUID


@pytest.fixture
async def shop(
    core: Core, approve_merchant: Any, make_account: Any, community: CommunityWorld
) -> Shop:
    owner = await make_account("乐园老板")
    merchant_id, item_id = await merchant_with_item(core, approve_merchant, owner, community)
    return Shop(owner, merchant_id, item_id)


@pytest.fixture
async def nodes(settings: Settings, core: Core, node_server: Any) -> list[tuple[str, RtNode]]:
    """Two real-time nodes sharing PostgreSQL and Redis, with room for bursts of joins."""
    out = []
    for name in ("a", "b"):
        node_settings = replace(
            settings, node_id=f"node-{name}", client_msgs_per_s=10_000, client_msg_burst=10_000
        )
        server: NodeServer = await node_server(create_rt_app(node_settings, core=core))
        out.append((f"http://127.0.0.1:{server.port}", server.app[RT_NODE]))
    return out


async def member(clients: list[ChannelClient], url: str, who: Any, cid: str) -> ChannelClient:
    client = await ChannelClient(url, who.access_token).connect()
    clients.append(client)
    joined = await client.join(cid)
    assert joined["ok"], joined
    return client


def feature(nodes: list[tuple[str, RtNode]], cid: str) -> GroupBuys:
    for _, node in nodes:
        actor = node.host.actor(cid)
        if isinstance(actor, ChannelActor):
            found = next(f for f in actor.features if isinstance(f, GroupBuys))
            return found
    raise AssertionError("no node runs the channel")


async def db_seats(core: Core, group_id: str) -> dict[str, str]:
    rows = await core.pool.fetch(
        "SELECT user_id, status FROM group_buy_seats WHERE group_id = $1 "
        "AND status IN ('reserved', 'paid')",
        uuid.UUID(group_id),
    )
    return {str(r["user_id"]): r["status"] for r in rows}


async def pay_seat(
    client: Client, core: Core, settings: Settings, who: Any, group_id: str, key: str = "k1"
) -> dict[str, Any]:
    status, payment = await call(
        client, who, "POST", f"/group-buys/{group_id}/pay", headers={"Idempotency-Key": key}
    )
    assert status == 201, payment
    assert payment["reference_type"] == "group_buy_seat"
    assert (await pay(client, payment)).status == 200
    await run_worker(settings, core)
    return dict(payment)


async def refunds_of(core: Core, payment_id: str) -> list[Any]:
    return list(await core.payments.refunds(None, uuid.UUID(payment_id)))


# --- campaigns ------------------------------------------------------------------------------------


async def test_campaign_rules_and_visibility(
    client: Client, shop: Shop, community: CommunityWorld, make_account: Any
) -> None:
    base = {
        "merchant_id": str(shop.merchant_id),
        "item_id": str(shop.item_id),
        "title": "乐高课",
        "group_price_fen": 9_900,
        "original_price_fen": 15_000,
        "min_members": 3,
        "max_members": 5,
        "community_ids": [community.id],
    }
    stranger = await make_account("别家")
    assert (await call(client, stranger, "POST", "/group-buy-campaigns", base))[0] == 403
    bad_price = base | {"group_price_fen": 15_000}
    status, body = await call(client, shop.owner, "POST", "/group-buy-campaigns", bad_price)
    assert (status, body["error"]["code"]) == (422, "invalid_amount")
    too_small = base | {"min_members": 6}
    status, body = await call(client, shop.owner, "POST", "/group-buy-campaigns", too_small)
    assert (status, body["error"]["code"]) == (422, "invalid_group_size")
    both = base | {"listing_id": str(uuid.uuid4())}
    status, body = await call(client, shop.owner, "POST", "/group-buy-campaigns", both)
    assert (status, body["error"]["code"]) == (422, "invalid_campaign_goods")
    elsewhere = base | {"community_ids": [str(uuid.uuid4())]}
    assert (await call(client, shop.owner, "POST", "/group-buy-campaigns", elsewhere))[0] == 404
    unknown = base | {"colour": "red"}
    assert (await call(client, shop.owner, "POST", "/group-buy-campaigns", unknown))[0] == 422
    window = base | {"valid_hours": 1, "payment_window_s": 3600}
    status, body = await call(client, shop.owner, "POST", "/group-buy-campaigns", window)
    assert (status, body["error"]["code"]) == (422, "invalid_payment_window")

    made = await campaign(client, shop.owner, shop.merchant_id, shop.item_id, community)
    assert made["organiser"] == "merchant"
    assert made["payment_window_s"] == 900
    by_admin = await campaign(client, community.admin, shop.merchant_id, shop.item_id, community)
    assert by_admin["organiser"] == "platform"

    resident = community.residents[0]
    status, page = await call(
        client, resident, "GET", f"/communities/{community.id}/group-buy-campaigns"
    )
    assert status == 200
    assert {c["id"] for c in page["items"]} == {made["id"], by_admin["id"]}
    outsider_view = await call(
        client, community.outsider, "GET", f"/communities/{community.id}/group-buy-campaigns"
    )
    assert outsider_view[0] == 403
    status, ended = await call(client, shop.owner, "POST", f"/group-buy-campaigns/{made['id']}/end")
    assert (status, ended["status"]) == (200, "ended")
    assert (await call(client, stranger, "POST", f"/group-buy-campaigns/{made['id']}/end"))[
        0
    ] == 403


# --- the happy path -------------------------------------------------------------------------------


async def test_group_succeeds_orders_reach_the_merchant(
    client: Client,
    core: Core,
    settings: Settings,
    shop: Shop,
    community: CommunityWorld,
    nodes: list[tuple[str, RtNode]],
    clients: list[ChannelClient],
    webhook_target: None,
) -> None:
    (url_a, _), (url_b, _) = nodes
    offer = await campaign(client, shop.owner, shop.merchant_id, shop.item_id, community)
    leader, second, third = community.residents
    ca = await member(clients, url_a, leader, community.id)
    cb = await member(clients, url_b, second, community.id)
    cc = await member(clients, url_a, third, community.id)
    shop_socket = ChannelClient(url_b, shop.owner.access_token)
    shop_socket.on_push("groupbuy:order", namespace="/merchant")
    clients.append(shop_socket)
    await shop_socket.connect(namespaces=["/merchant"])

    started = await ca.call(
        "groupbuy:start", {"community_id": community.id, "campaign_id": offer["id"]}
    )
    assert started["ok"], started
    group_id = started["group"]["group_id"]
    assert started["group"]["members"] == 1
    assert started["group"]["leader_id"] == str(leader.id)
    assert started["seat"]["seat_no"] == 1
    # The expiry job is queued for the group's end.
    score = await core.redis.zscore(queue_name(settings), f"groupbuy-expire:{group_id}")
    expires_ms = int(core.clock.now().timestamp() * 1000) + 24 * 3600 * 1000
    assert score is not None
    assert abs(score - expires_ms) < 5_000

    for joiner in (cb, cc):
        joined = await joiner.call(
            "groupbuy:join", {"community_id": community.id, "group_id": group_id}
        )
        assert joined["ok"], joined
        assert not joined["already"]
    again = await cb.call("groupbuy:join", {"community_id": community.id, "group_id": group_id})
    assert again["ok"]
    assert again["already"]
    await ca.wait_until(
        lambda: any(
            e["type"] == "groupbuy.updated" and e["data"]["groups"][0]["members"] == 3
            for e in ca.events
        )
    )
    listed = await cb.call("groupbuy:list", {"community_id": community.id})
    assert [g["members"] for g in listed["groups"]] == [3]

    for who in (leader, second, third):
        await pay_seat(client, core, settings, who, group_id)
    status, detail = await call(client, leader, "GET", f"/group-buys/{group_id}")
    assert status == 200
    assert (detail["status"], detail["members"], detail["paid"]) == ("succeeded", 3, 3)
    # Every member sees the success in the channel, with its sequence number.
    for c in (ca, cb, cc):
        await c.wait_until(lambda c=c: "groupbuy.succeeded" in [e["type"] for e in c.events])  # type: ignore[misc]
    succeeded = next(e for e in ca.events if e["type"] == "groupbuy.succeeded")
    assert succeeded["seq"] > started["seq"]
    # The merchant's staff get each order in real time, and can work them.
    await shop_socket.wait_until(lambda: len(shop_socket.pushes) == 3)
    assert {p[1]["buyer_id"] for p in shop_socket.pushes} == {
        str(a.id) for a in community.residents
    }
    assert {p[1]["merchant_id"] for p in shop_socket.pushes} == {str(shop.merchant_id)}
    status, orders = await call(
        client, shop.owner, "GET", f"/merchants/{shop.merchant_id}/group-buy-orders"
    )
    assert status == 200
    assert len(orders["items"]) == 3
    assert {o["price_fen"] for o in orders["items"]} == {9_900}
    order_id = orders["items"][0]["id"]
    assert (await call(client, leader, "POST", f"/group-buy-orders/{order_id}/confirm"))[0] == 403
    status, done = await call(client, shop.owner, "POST", f"/group-buy-orders/{order_id}/complete")
    assert (status, done["error"]["code"]) == (409, "invalid_transition")
    for step, state in (("confirm", "confirmed"), ("complete", "completed")):
        status, moved = await call(
            client, shop.owner, "POST", f"/group-buy-orders/{order_id}/{step}"
        )
        assert (status, moved["status"]) == (200, state)
    # A member of a successful group cannot walk away from their order.
    left = await cb.call("groupbuy:leave", {"community_id": community.id, "group_id": group_id})
    assert left["error"]["code"] == "already_succeeded"
    await assert_ledger_sound(core)


async def test_group_buy_orders_refunded_before_delivery_or_settled_at_t_plus_7(
    make_account: Any,
    client: Client,
    core: Core,
    settings: Settings,
    clock: ManualClock,
    shop: Shop,
    community: CommunityWorld,
    nodes: list[tuple[str, RtNode]],
    clients: list[ChannelClient],
    webhook_target: None,
) -> None:
    (url_a, _), (url_b, _) = nodes
    offer = await campaign(client, shop.owner, shop.merchant_id, shop.item_id, community)
    sockets = [
        await member(clients, url, who, community.id)
        for url, who in zip((url_a, url_b, url_a), community.residents, strict=True)
    ]
    started = await sockets[0].call(
        "groupbuy:start", {"community_id": community.id, "campaign_id": offer["id"]}
    )
    group_id = started["group"]["group_id"]
    for joiner in sockets[1:]:
        joined = await joiner.call(
            "groupbuy:join", {"community_id": community.id, "group_id": group_id}
        )
        assert joined["ok"], joined
    for who in community.residents:
        await pay_seat(client, core, settings, who, group_id)
    status, orders = await call(
        client, shop.owner, "GET", f"/merchants/{shop.merchant_id}/group-buy-orders"
    )
    assert (status, len(orders["items"])) == (200, 3), orders
    payable = AccountRef(AccountKind.MERCHANT_PAYABLE, shop.merchant_id)
    owed = await core.ledger.balance(payable)
    assert owed > 0  # each seat's share, from its capture on
    assert owed % 3 == 0

    async def points(user_id: uuid.UUID, rule: str) -> int:
        earned = await core.pool.fetchval(
            "SELECT COALESCE(sum(delta), 0) FROM points_journal WHERE user_id = $1 AND rule = $2",
            user_id,
            rule,
        )
        return int(earned)

    # Points (docs/points.md): every member took part in a group buy that succeeded.
    for who in community.residents:
        assert await points(who.id, "activity") == 10

    # The merchant's dashboard counts the group's orders like listing orders.
    status, board = await call(
        client, shop.owner, "GET", f"/merchants/{shop.merchant_id}/dashboard"
    )
    assert status == 200, board
    assert (board["today"]["orders"], board["today"]["revenue_fen"]) == (3, 3 * 9_900)
    assert board["pending_orders"] == 3

    # Two are delivered; the third is confirmed, then refunded: the merchant cannot deliver it.
    done = [o["id"] for o in orders["items"][:2]]
    for order_id in done:
        for step in ("confirm", "complete"):
            status, moved = await call(
                client, shop.owner, "POST", f"/group-buy-orders/{order_id}/{step}"
            )
            assert status == 200, moved
    assert moved["completed_at"] is not None
    undelivered = orders["items"][2]
    path = f"/group-buy-orders/{undelivered['id']}"
    status, moved = await call(client, shop.owner, "POST", f"{path}/confirm")
    assert (status, moved["completed_at"]) == (200, None)
    buyer = next(r for r in community.residents if str(r.id) == undelivered["buyer_id"])
    assert (await call(client, buyer, "POST", f"{path}/refund", {"reason": "x"}))[0] == 403
    status, body = await call(client, shop.owner, "POST", f"{path}/refund", {"reason": ""})
    assert status == 422, body
    status, body = await call(
        client, shop.owner, "POST", f"/group-buy-orders/{done[0]}/refund", {"reason": "late"}
    )
    assert (status, body["error"]["code"]) == (409, "invalid_transition")
    service_desk = await make_account("客服", PlatformRole.CUSTOMER_SERVICE)
    for who in (shop.owner, service_desk):  # sent again, by customer service: one refund
        status, refunded = await call(
            client, who, "POST", f"{path}/refund", {"reason": "缺货，无法上课"}
        )
        assert status == 200, refunded
        assert (refunded["status"], refunded["refund_reason"]) == ("refunded", "缺货，无法上课")
    await run_worker(settings, core)
    # Spending points for the delivered orders (¥99 each); none for the refunded one.
    spent = {o["buyer_id"]: 99 if o["id"] in done else 0 for o in orders["items"]}
    for who in community.residents:
        assert await points(who.id, "spending") == spent[str(who.id)]
    refunds = await refunds_of(core, undelivered["payment_id"])
    assert [(r.amount_fen, r.status) for r in refunds] == [(9_900, "succeeded")]
    seat = await core.pool.fetchrow(
        "SELECT s.status, c.seats_taken FROM group_buy_orders o "
        "JOIN group_buy_seats s ON s.id = o.seat_id "
        "JOIN group_buy_campaigns c ON c.id = o.campaign_id WHERE o.id = $1",
        uuid.UUID(undelivered["id"]),
    )
    assert tuple(seat) == ("refunded", 2)
    # The back office filters the orders by status; an unknown status is refused.
    orders_path = f"/merchants/{shop.merchant_id}/group-buy-orders"
    for state, ids in (("completed", done), ("refunded", [undelivered["id"]]), ("paid", [])):
        status, page = await call(client, shop.owner, "GET", f"{orders_path}?status={state}")
        assert status == 200, page
        assert sorted(o["id"] for o in page["items"]) == sorted(ids)
    assert (await call(client, shop.owner, "GET", f"{orders_path}?status=lost"))[0] == 422
    share = owed // 3
    assert await core.ledger.balance(payable) == owed - share
    await assert_ledger_sound(core)
    status, board = await call(
        client, shop.owner, "GET", f"/merchants/{shop.merchant_id}/dashboard"
    )
    today = {"orders": 3, "revenue_fen": 2 * 9_900, "completed": 2, "refunded": 1}
    assert {k: board["today"][k] for k in today} == today
    assert board["pending_orders"] == 0

    # Not before seven days have passed since completion; then once, however often it runs.
    clock.advance(SETTLEMENT_DELAY.total_seconds() - 60)
    await settle_by_worker(core, settings)
    assert await core.pool.fetchval("SELECT count(*) FROM settlements") == 0
    clock.advance(120)
    for _ in range(2):
        await settle_by_worker(core, settings)
    rows = await core.pool.fetch("SELECT * FROM settlements")
    assert len(rows) == 1
    settled = rows[0]
    assert (settled["payee_kind"], settled["payee_id"]) == ("merchant", shop.merchant_id)
    assert (settled["order_count"], settled["gross_fen"]) == (2, 2 * 9_900)
    assert settled["net_fen"] == (
        settled["gross_fen"] - settled["commission_fen"] - settled["property_share_fen"]
    )
    assert settled["net_fen"] == 2 * share  # the two delivered seats' shares
    items = await core.pool.fetch("SELECT group_buy_order_id FROM settlement_group_buy_items")
    assert sorted(str(i["group_buy_order_id"]) for i in items) == sorted(done)
    assert await core.ledger.balance(payable) == 0
    await assert_paid_out(core, settled)
    await assert_ledger_sound(core)

    # The statement names the group-buy orders (read with a fresh token: the clock goes back).
    month = business_day(settled["created_at"]).strftime("%Y-%m")
    clock.advance(-(SETTLEMENT_DELAY.total_seconds() + 60))
    status, statement = await call(
        client, shop.owner, "GET", f"/merchants/{shop.merchant_id}/statements?month={month}"
    )
    assert status == 200, statement
    [entry] = statement["settlements"]
    assert (entry["order_ids"], sorted(entry["group_buy_order_ids"])) == ([], sorted(done))
    assert statement["totals"]["net_fen"] == settled["net_fen"]


# --- the node's own failures -------------------------------------------------------------------


async def test_a_stalled_channel_answers_channel_unavailable_and_recovers(
    client: Client,
    core: Core,
    settings: Settings,
    shop: Shop,
    community: CommunityWorld,
    node_server: Any,
    clients: list[ChannelClient],
) -> None:
    # A node that gives up on its channel actor after 0.3 s.
    node_settings = replace(settings, node_id="node-impatient", forward_timeout_ms=300)
    server: NodeServer = await node_server(create_rt_app(node_settings, core=core))
    url, cid = f"http://127.0.0.1:{server.port}", community.id
    offer = await campaign(client, shop.owner, shop.merchant_id, shop.item_id, community)
    leader, other = community.residents[:2]
    ca = await member(clients, url, leader, cid)
    cb = await member(clients, url, other, cid)
    # Hold the channel's fencing row: its actor's next write waits for PostgreSQL, and every
    # command behind it waits for the actor.
    blocker = await asyncpg.connect(settings.database_url)
    try:
        async with blocker.transaction():
            await blocker.execute(
                "SELECT 1 FROM actor_epochs WHERE kind = 'ch' AND key = $1 FOR UPDATE", cid
            )
            started, listed = await asyncio.gather(
                ca.call("groupbuy:start", {"community_id": cid, "campaign_id": offer["id"]}),
                cb.call("groupbuy:list", {"community_id": cid}),
            )
            for answer in (started, listed):
                assert answer["ok"] is False, answer
                assert answer["error"]["code"] == "channel_unavailable", answer
    finally:
        await blocker.close()
    # The write goes through once PostgreSQL lets it; the channel answers again.
    relisted = await cb.call("groupbuy:list", {"community_id": cid})
    assert relisted["ok"], relisted


async def test_a_command_whose_actor_stopped_meanwhile_is_routed_again(
    community: CommunityWorld,
    nodes: list[tuple[str, RtNode]],
    clients: list[ChannelClient],
) -> None:
    # The socket path queues a command in the local actor's mailbox; if that actor stops first
    # (passivated, fenced), the command fails with NotOwner and is sent again through
    # ActorHost.call, which finds or starts the channel's actor wherever it now lives.
    (url_a, node_a), _ = nodes
    resident = community.residents[0]
    await member(clients, url_a, resident, community.id)
    command = Command(
        "groupbuy.state",
        {"cursor": None, "limit": 10},
        {"user_id": str(resident.id), "name": "邻居", "role": "member"},
    )
    stopped: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    stopped.set_exception(NotOwner("actor stopped"))
    await node_a.host._deactivate(community.id, passivate=True)
    again = node_a.channels._answer_of(community.id, command)(stopped)
    assert isinstance(again, Pending)
    answer = await again.future
    assert answer["ok"] is True, answer
    assert answer["groups"] == []
    assert node_a.host.actor(community.id) is not None or nodes[1][1].host.actor(community.id)


# --- contention -----------------------------------------------------------------------------------


async def test_a_start_sent_again_with_its_request_id_starts_one_group(
    client: Client,
    core: Core,
    shop: Shop,
    community: CommunityWorld,
    nodes: list[tuple[str, RtNode]],
    clients: list[ChannelClient],
) -> None:
    # An app that got `channel_unavailable` (or lost its connection) does not know whether its
    # start was carried out; it sends the same request id again, through whichever node.
    (url_a, _), (url_b, _) = nodes
    offer = await campaign(client, shop.owner, shop.merchant_id, shop.item_id, community, stock=5)
    leader, neighbour = community.residents[0], community.residents[1]
    on_a = await member(clients, url_a, leader, community.id)
    on_b = await member(clients, url_b, leader, community.id)
    other = await member(clients, url_b, neighbour, community.id)
    request = {"community_id": community.id, "campaign_id": offer["id"]}
    request_id = str(uuid.uuid4())
    first = await on_b.call("groupbuy:start", {**request, "request_id": request_id})
    assert first["ok"], first
    assert first["already"] is False
    again = await on_a.call("groupbuy:start", {**request, "request_id": request_id})
    assert again["ok"], again
    assert again["already"] is True
    assert again["group"]["group_id"] == first["group"]["group_id"]
    assert again["seat"] == first["seat"]
    campaign_id = uuid.UUID(offer["id"])
    groups = await core.pool.fetchval(
        "SELECT count(*) FROM group_buys WHERE campaign_id = $1", campaign_id
    )
    taken = await core.pool.fetchval(
        "SELECT seats_taken FROM group_buy_campaigns WHERE id = $1", campaign_id
    )
    assert (groups, taken) == (1, 1)
    # Another request id is another start (refused: one seat per member in this campaign) ...
    second = await on_a.call("groupbuy:start", {**request, "request_id": str(uuid.uuid4())})
    assert second["error"]["code"] == "limit_reached", second
    # ... and another member's request with the same id starts that member's own group.
    theirs = await other.call("groupbuy:start", {**request, "request_id": request_id})
    assert theirs["ok"], theirs
    assert theirs["already"] is False
    assert theirs["group"]["group_id"] != first["group"]["group_id"]
    # Once the group has ended (its leader left it alone), the request is not carried out again.
    left = await on_a.call(
        "groupbuy:leave",
        {"community_id": community.id, "group_id": first["group"]["group_id"]},
    )
    assert left["ok"], left
    ended = await on_a.call("groupbuy:start", {**request, "request_id": request_id})
    assert ended["error"]["code"] == "group_ended", ended
    assert (
        await core.pool.fetchval(
            "SELECT count(*) FROM group_buys WHERE campaign_id = $1", campaign_id
        )
        == 2
    )
    bad = await on_a.call("groupbuy:start", {**request, "request_id": "again"})
    assert bad["error"]["code"] == "invalid_input", bad


async def test_a_thousand_concurrent_joins_on_two_nodes_seat_exactly_ten(
    client: Client,
    core: Core,
    shop: Shop,
    community: CommunityWorld,
    nodes: list[tuple[str, RtNode]],
    clients: list[ChannelClient],
) -> None:
    (url_a, _), (url_b, _) = nodes
    offer = await campaign(
        client, shop.owner, shop.merchant_id, shop.item_id, community, min_members=2, max_members=10
    )
    crowd = await bulk_residents(core, community.id, 100)
    sockets = await asyncio.gather(
        *(member(clients, (url_a, url_b)[i % 2], who, community.id) for i, who in enumerate(crowd))
    )
    started = await sockets[0].call(
        "groupbuy:start", {"community_id": community.id, "campaign_id": offer["id"]}
    )
    group_id = started["group"]["group_id"]
    attempt = {"community_id": community.id, "group_id": group_id}
    # 100 residents on two nodes, ten join attempts each, all at once: 1,000 attempts.
    acks = await asyncio.gather(
        *(s.call("groupbuy:join", attempt) for _ in range(10) for s in sockets)
    )
    assert len(acks) == 1_000
    won = [a for a in acks if a["ok"] and not a["already"]]
    refused = {a["error"]["code"] for a in acks if not a["ok"]}
    assert len(won) == 9  # the leader holds the tenth seat
    assert refused <= {"group_full", "duplicate_join"}
    assert "group_full" in refused
    seats = await db_seats(core, group_id)
    assert len(seats) == 10
    actor_group = feature(nodes, community.id).groups[uuid.UUID(group_id)]
    assert set(actor_group.seats) == set(seats)
    assert sorted(s.seat_no for s in actor_group.seats.values()) == list(range(1, 11))
    winners = {a["seat"]["user_id"] for a in won} | {str(crowd[0].id)}
    assert winners == set(seats)


async def test_failover_of_the_actor_mid_campaign_loses_no_seat(
    client: Client,
    core: Core,
    settings: Settings,
    shop: Shop,
    community: CommunityWorld,
    nodes: list[tuple[str, RtNode]],
    clients: list[ChannelClient],
) -> None:
    (url_a, node_a), (url_b, node_b) = nodes
    offer = await campaign(
        client, shop.owner, shop.merchant_id, shop.item_id, community, min_members=2, max_members=8
    )
    crowd = await bulk_residents(core, community.id, 12)
    on_a = [await member(clients, url_a, who, community.id) for who in crowd[:6]]
    on_b = [await member(clients, url_b, who, community.id) for who in crowd[6:]]
    assert node_a.host.actor(community.id) is not None  # A activated the channel first
    started = await on_a[0].call(
        "groupbuy:start", {"community_id": community.id, "campaign_id": offer["id"]}
    )
    attempt = {"community_id": community.id, "group_id": started["group"]["group_id"]}
    first = await asyncio.gather(*(s.call("groupbuy:join", attempt) for s in on_a[1:4]))
    assert all(a["ok"] for a in first)
    # Node A stalls past its lease: B takes the channel over and must know the four seats.
    await core.redis.delete(ActorKeys(settings.redis_prefix, "ch", community.id).lease)
    rest = await asyncio.gather(*(s.call("groupbuy:join", attempt) for s in on_b + on_a[4:]))
    assert node_b.host.actor(community.id) is not None
    won = [a for a in first + rest if a["ok"]]
    assert len(won) == 7  # with the leader: all eight seats, none twice
    assert {a["error"]["code"] for a in rest if not a["ok"]} == {"group_full"}
    seats = await db_seats(core, attempt["group_id"])
    assert set(seats) == {a["seat"]["user_id"] for a in won} | {str(crowd[0].id)}
    assert len(seats) == 8
    group = feature([nodes[1]], community.id).groups[uuid.UUID(attempt["group_id"])]
    assert set(group.seats) == set(seats)


# --- expiry, late and double payments --------------------------------------------------------------


async def test_expiry_refunds_every_paid_member_and_a_late_payment(
    client: Client,
    core: Core,
    settings: Settings,
    clock: ManualClock,
    shop: Shop,
    community: CommunityWorld,
    nodes: list[tuple[str, RtNode]],
    clients: list[ChannelClient],
    webhook_target: None,
) -> None:
    (url_a, node_a), (url_b, _) = nodes
    offer = await campaign(
        client,
        shop.owner,
        shop.merchant_id,
        shop.item_id,
        community,
        valid_hours=1,
        payment_window_s=55 * 60,
    )
    leader, second, late = community.residents
    ca = await member(clients, url_a, leader, community.id)
    cb = await member(clients, url_b, second, community.id)
    cl = await member(clients, url_b, late, community.id)
    started = await ca.call(
        "groupbuy:start", {"community_id": community.id, "campaign_id": offer["id"]}
    )
    group_id = started["group"]["group_id"]
    for c in (cb, cl):
        assert (
            await c.call("groupbuy:join", {"community_id": community.id, "group_id": group_id})
        )["ok"]
    paid = [await pay_seat(client, core, settings, who, group_id) for who in (leader, second)]
    # The late member starts paying 50 minutes in and completes after the group expired (the
    # provider's intent is still open). Access tokens have expired by then: act as the service.
    clock.advance(50 * 60)
    as_late = Principal(late.id, uuid.uuid4())
    intent = await core.groupbuys.pay(as_late, uuid.UUID(group_id), "p")
    pending = {
        "id": str(intent.id),
        "provider_intent_id": intent.provider_intent_id,
        "client_secret": intent.client_secret,
    }

    clock.advance(11 * 60)
    for _ in range(2):  # the job, run twice: one outcome, one refund each
        await core.jobs.enqueue(EXPIRE_GROUP_BUY, group_id)
        await run_worker(settings, core)
    await run_worker(settings, core)  # refunds submitted → provider webhooks applied
    group, seats = await core.groupbuys.group(
        Principal(leader.id, uuid.uuid4(), PlatformRole.ADMIN), uuid.UUID(group_id)
    )
    assert group["status"] == "failed"
    assert sorted(s["status"] for s in seats) == ["refunded", "refunded", "released"]
    for payment in paid:
        refunds = await refunds_of(core, payment["id"])
        assert [(r.amount_fen, r.status) for r in refunds] == [(9_900, "succeeded")]
    await node_a.host.tick_all()
    await ca.wait_until(lambda: "groupbuy.ended" in [e["type"] for e in ca.events])
    ended = next(e for e in ca.events if e["type"] == "groupbuy.ended")
    assert ended["data"]["status"] == "failed"

    # The payment that arrives after expiry is refunded in full, once.
    assert (await pay(client, pending)).status == 200
    await run_worker(settings, core)
    await run_worker(settings, core)
    refunds = await refunds_of(core, pending["id"])
    assert [(r.amount_fen, r.status) for r in refunds] == [(9_900, "succeeded")]
    await core.groupbuys.sweep()
    assert len(await refunds_of(core, pending["id"])) == 1
    await assert_ledger_sound(core)


async def test_paying_twice_keeps_one_seat_and_refunds_once(
    client: Client,
    core: Core,
    settings: Settings,
    shop: Shop,
    community: CommunityWorld,
    nodes: list[tuple[str, RtNode]],
    clients: list[ChannelClient],
    webhook_target: None,
) -> None:
    (url_a, _), _ = nodes
    offer = await campaign(client, shop.owner, shop.merchant_id, shop.item_id, community)
    who = community.residents[0]
    socket = await member(clients, url_a, who, community.id)
    started = await socket.call(
        "groupbuy:start", {"community_id": community.id, "campaign_id": offer["id"]}
    )
    group_id = started["group"]["group_id"]
    payments = []
    for key in ("tab-1", "tab-2"):  # two tabs, two payments, both completed
        status, payment = await call(
            client, who, "POST", f"/group-buys/{group_id}/pay", headers={"Idempotency-Key": key}
        )
        assert status == 201
        payments.append(payment)
    same = await call(
        client, who, "POST", f"/group-buys/{group_id}/pay", headers={"Idempotency-Key": "tab-1"}
    )
    assert same[1]["id"] == payments[0]["id"]
    for payment in payments:
        assert (await pay(client, payment)).status == 200
    await run_worker(settings, core)
    await run_worker(settings, core)
    seats = await db_seats(core, group_id)
    assert seats == {str(who.id): "paid"}
    refunded = [len(await refunds_of(core, p["id"])) for p in payments]
    assert sorted(refunded) == [0, 1]
    status, body = await call(
        client, who, "POST", f"/group-buys/{group_id}/pay", headers={"Idempotency-Key": "tab-3"}
    )
    assert (status, body["error"]["code"]) == (409, "already_paid")
    await assert_ledger_sound(core)


# --- reservations, leaving, leadership -------------------------------------------------------------


async def test_unpaid_reservations_end_and_leadership_passes_on(
    client: Client,
    core: Core,
    settings: Settings,
    clock: ManualClock,
    shop: Shop,
    community: CommunityWorld,
    nodes: list[tuple[str, RtNode]],
    clients: list[ChannelClient],
    webhook_target: None,
) -> None:
    (url_a, node_a), _ = nodes
    offer = await campaign(
        client, shop.owner, shop.merchant_id, shop.item_id, community, payment_window_s=120
    )
    a, b, c = community.residents
    sa, sb, sc = [await member(clients, url_a, who, community.id) for who in (a, b, c)]
    cid = community.id

    # The payment window ends: both unpaid seats are let go, the empty group is cancelled.
    g1 = await sa.call("groupbuy:start", {"community_id": cid, "campaign_id": offer["id"]})
    g1_id = g1["group"]["group_id"]
    assert (await sb.call("groupbuy:join", {"community_id": cid, "group_id": g1_id}))["ok"]
    clock.advance(121)
    await node_a.host.tick_all()
    assert await db_seats(core, g1_id) == {}
    await sa.wait_until(
        lambda: any(
            e["type"] == "groupbuy.ended" and e["data"]["group_id"] == g1_id for e in sa.events
        )
    )
    late = await sc.call("groupbuy:join", {"community_id": cid, "group_id": g1_id})
    assert late["error"]["code"] == "group_not_found"

    # The leader leaves: leadership passes to the next member; the last one out cancels.
    g2 = await sa.call("groupbuy:start", {"community_id": cid, "campaign_id": offer["id"]})
    g2_id = g2["group"]["group_id"]
    assert (await sb.call("groupbuy:join", {"community_id": cid, "group_id": g2_id}))["ok"]
    assert (await sc.call("groupbuy:join", {"community_id": cid, "group_id": g2_id}))["ok"]
    await pay_seat(client, core, settings, c, g2_id)
    left = await sa.call("groupbuy:leave", {"community_id": cid, "group_id": g2_id})
    assert left["ok"], left
    assert left["group"]["leader_id"] == str(b.id)
    # A paid member who leaves before success is refunded.
    paid_left = await sc.call("groupbuy:leave", {"community_id": cid, "group_id": g2_id})
    assert paid_left["ok"]
    assert paid_left["refunded"]
    last = await sb.call("groupbuy:leave", {"community_id": cid, "group_id": g2_id})
    assert last["ok"]
    _, detail = await call(client, a, "GET", f"/group-buys/{g2_id}")
    assert detail["status"] == "cancelled"
    assert detail["leader_id"] is None
    await run_worker(settings, core)
    await run_worker(settings, core)
    row = await core.pool.fetchrow(
        "SELECT payment_id FROM group_buy_seats WHERE group_id = $1 AND user_id = $2",
        uuid.UUID(g2_id),
        c.id,
    )
    refunds = await refunds_of(core, str(row["payment_id"]))
    assert [(r.amount_fen, r.status) for r in refunds] == [(9_900, "succeeded")]
    stock = await core.pool.fetchval(
        "SELECT seats_taken FROM group_buy_campaigns WHERE id = $1", uuid.UUID(offer["id"])
    )
    assert stock == 0
    await assert_ledger_sound(core)


async def test_a_busy_channel_sends_a_bounded_snapshot_and_lists_every_group_in_pages(
    monkeypatch: pytest.MonkeyPatch,
    client: Client,
    core: Core,
    clock: ManualClock,
    shop: Shop,
    community: CommunityWorld,
    nodes: list[tuple[str, RtNode]],
    clients: list[ChannelClient],
) -> None:
    (url_a, _), (url_b, _) = nodes
    cid = community.id
    offer = await campaign(
        client, shop.owner, shop.merchant_id, shop.item_id, community, per_user_limit=10
    )
    leaders = await bulk_residents(core, cid, 6)
    groups: list[str] = []
    for leader in leaders:
        socket = await member(clients, url_a, leader, cid)
        for _ in range(10):
            clock.advance(0.001)  # a creation order the clock can tell
            started = await socket.call(
                "groupbuy:start", {"community_id": cid, "campaign_id": offer["id"]}
            )
            assert started["ok"], started
            groups.append(started["group"]["group_id"])
    # A newcomer (on the other node) sees the newest 50 of the 60 groups, and how many there are.
    newcomer = community.residents[0]
    first = await member(clients, url_b, newcomer, cid)
    snapshot = (await first.join(cid))["snapshot"]["group_buys"]
    assert snapshot["total"] == 60
    assert [g["group_id"] for g in snapshot["groups"]] == groups[10:]
    # Once they hold a seat in an old group, that group comes first in their snapshot.
    oldest = groups[0]
    assert (await first.call("groupbuy:join", {"community_id": cid, "group_id": oldest}))["ok"]
    again = (await first.join(cid))["snapshot"]["group_buys"]
    assert [g["group_id"] for g in again["groups"]] == [oldest, *groups[11:]]
    assert again["groups"][0]["my_seat"]["seat_no"] == 2
    assert all(g["my_seat"] is None for g in again["groups"][1:])
    # `groupbuy:list` pages through all of them, oldest first, with their seats.
    listed: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = await first.call(
            "groupbuy:list", {"community_id": cid, "limit": 25, "cursor": cursor}
        )
        assert page["ok"], page
        listed += page["groups"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [g["group_id"] for g in listed] == groups
    assert [s["user_id"] for s in listed[0]["seats"]] == [str(leaders[0].id), str(newcomer.id)]
    bad = await first.call("groupbuy:list", {"community_id": cid, "cursor": "yesterday"})
    assert bad["error"]["code"] == "invalid_cursor"
    too_many = await first.call("groupbuy:list", {"community_id": cid, "limit": 101})
    assert too_many["error"]["code"] == "invalid_input"

    # Changes in PostgreSQL that nobody told the channel about (a lost `groupbuy.sync`) show
    # once the reconciliation has passed over them: a seat let go elsewhere is gone from memory
    # and from the count, a group ended elsewhere is gone. The pass goes a slice of groups (here
    # 25 of the 60) per tick, in id order: the groups changed are the first, a middle and the
    # last by id.
    monkeypatch.setattr(groupbuys_feature, "RECONCILE_SLICE", 25)
    by_id = sorted(groups, key=uuid.UUID)
    # The middle one ends, so it must not be the oldest, whose seat is checked below (group ids
    # are random: taking by_id[30] alone picked the oldest one run in 60).
    first_id, last_id = by_id[0], by_id[-1]
    middle_id = next(g for g in by_id[30:] if g != oldest)
    for gid in (first_id, last_id):
        if gid != oldest:
            assert (await first.call("groupbuy:join", {"community_id": cid, "group_id": gid}))["ok"]
    for gid in {first_id, last_id, oldest}:
        # An acknowledged join is in PostgreSQL already: exactly one seat to let go.
        assert (
            await core.pool.execute(
                "UPDATE group_buy_seats SET status = 'released', ended_at = now() "
                "WHERE group_id = $1 AND user_id = $2 AND status = 'reserved'",
                uuid.UUID(gid),
                newcomer.id,
            )
            == "UPDATE 1"
        ), gid
    await core.pool.execute(
        "UPDATE group_buys SET status = 'cancelled', ended_at = now() WHERE id = $1",
        uuid.UUID(middle_id),
    )
    clock.advance(6)  # past the reconcile interval

    def reconciled() -> bool:
        groups = feature(nodes, cid).groups
        return uuid.UUID(middle_id) not in groups and all(
            str(newcomer.id) not in getattr(groups.get(uuid.UUID(gid)), "seats", {})
            for gid in (first_id, last_id, oldest)
        )

    # A pass over 60 groups takes three slices, whichever tick started it; on a loaded machine a
    # late heartbeat can move the channel's lease and the new owner starts its pass afresh.
    for _ in range(12):
        for _, node in nodes:  # every node: whichever holds the channel now
            await node.host.tick_all()
        if reconciled():
            break
    live = feature(nodes, cid).groups
    for gid in {first_id, last_id, oldest}:
        assert str(newcomer.id) not in live[uuid.UUID(gid)].seats, gid
    assert uuid.UUID(middle_id) not in live
    await first.wait_until(
        lambda: any(
            e["type"] == "groupbuy.updated"
            and any(g["group_id"] == oldest and g["members"] == 1 for g in e["data"]["groups"])
            for e in first.events
        )
    )
    await first.wait_until(
        lambda: any(
            e["type"] == "groupbuy.ended" and e["data"]["group_id"] == middle_id
            for e in first.events
        )
    )


# --- customer service -----------------------------------------------------------------------------


async def test_customer_service_explains_my_group_buy_from_the_records(
    client: Client,
    core: Core,
    settings: Settings,
    shop: Shop,
    community: CommunityWorld,
    nodes: list[tuple[str, RtNode]],
    clients: list[ChannelClient],
    webhook_target: None,
) -> None:
    from .test_ai_done import conversation

    (url_a, _), _ = nodes
    offer = await campaign(client, shop.owner, shop.merchant_id, shop.item_id, community)
    leader, other = community.residents[0], community.residents[1]
    socket = await member(clients, url_a, leader, community.id)
    started = await socket.call(
        "groupbuy:start", {"community_id": community.id, "campaign_id": offer["id"]}
    )
    await pay_seat(client, core, settings, leader, started["group"]["group_id"])
    status, opened = await call(
        client, leader, "POST", "/support/conversations", {"text": "我的拼团成团了吗"}
    )
    assert status == 201, opened
    await run_worker(settings, core)
    reply = (await conversation(client, leader, opened["conversation"]["id"]))["messages"][-1]
    assert reply["role"] == "assistant"
    # Figures from the database: one of at least three members, paid, the group price.
    for fact in ("乐高课三人团", "拼团中", "1/5 人", "成团需 3 人", "已付款 1 人", "¥99.00"):
        assert fact in reply["body"], reply["body"]
    # Someone else asking about that group learns nothing about it.
    state = await core.groupbuys.state(
        Principal(other.id, uuid.uuid4()), uuid.UUID(started["group"]["group_id"])
    )
    assert state == {"found": False, "line": "您没有参加这个团购。"}


# --- refusals -------------------------------------------------------------------------------------


async def test_bad_joins_are_refused_and_change_nothing(
    client: Client,
    core: Core,
    shop: Shop,
    community: CommunityWorld,
    nodes: list[tuple[str, RtNode]],
    clients: list[ChannelClient],
) -> None:
    (url_a, _), _ = nodes
    offer = await campaign(
        client, shop.owner, shop.merchant_id, shop.item_id, community, stock=2, max_members=3
    )
    cid = community.id
    resident = await member(clients, url_a, community.residents[0], cid)
    other = await member(clients, url_a, community.residents[1], cid)
    third = await member(clients, url_a, community.residents[2], cid)
    staff = await member(clients, url_a, community.staff, cid)
    not_in_channel = await ChannelClient(url_a, community.residents[1].access_token).connect()
    clients.append(not_in_channel)

    refused = await staff.call("groupbuy:start", {"community_id": cid, "campaign_id": offer["id"]})
    assert refused["error"]["code"] == "residents_only"
    unknown = await resident.call(
        "groupbuy:start", {"community_id": cid, "campaign_id": str(uuid.uuid4())}
    )
    assert unknown["error"]["code"] == "campaign_not_found"
    started = await resident.call(
        "groupbuy:start", {"community_id": cid, "campaign_id": offer["id"]}
    )
    group_id = started["group"]["group_id"]
    # One seat per member and campaign: the leader cannot start a second group.
    again = await resident.call("groupbuy:start", {"community_id": cid, "campaign_id": offer["id"]})
    assert again["error"]["code"] == "limit_reached"
    cases = [
        (not_in_channel, {"community_id": cid, "group_id": group_id}, "not_joined"),
        (other, {"community_id": cid, "group_id": str(uuid.uuid4())}, "group_not_found"),
        (other, {"community_id": cid, "group_id": "nope"}, "invalid_input"),
        (other, {"community_id": cid}, "invalid_input"),
        (other, {"community_id": cid, "group_id": group_id, "seats": 3}, "invalid_input"),
    ]
    for socket, payload, code in cases:
        reply = await socket.call("groupbuy:join", payload)
        assert reply["error"]["code"] == code, (payload, reply)
    assert (await other.call("groupbuy:join", {"community_id": cid, "group_id": group_id}))["ok"]
    # The campaign's stock (2 seats in all) runs out before the group is full.
    sold_out = await third.call("groupbuy:join", {"community_id": cid, "group_id": group_id})
    assert sold_out["error"]["code"] == "sold_out"
    assert len(await db_seats(core, group_id)) == 2
    status, body = await call(client, community.outsider, "GET", f"/group-buys/{group_id}")
    assert status == 403
    status, body = await call(
        client,
        community.outsider,
        "POST",
        f"/group-buys/{group_id}/pay",
        headers={"Idempotency-Key": "x"},
    )
    assert (status, body["error"]["code"]) == (404, "no_seat")
    unsent = await call(client, community.residents[0], "POST", f"/group-buys/{group_id}/pay")
    assert unsent[1]["error"]["code"] == "idempotency_key_required"
    too_long = await call(
        client,
        community.residents[0],
        "POST",
        f"/group-buys/{group_id}/pay",
        headers={"Idempotency-Key": "k" * 101},
    )
    assert (too_long[0], too_long[1]["error"]["code"]) == (422, "invalid_idempotency_key")
    # A key as long as the limit allows works: it is scoped to the seat without outgrowing it.
    status, paying = await call(
        client,
        community.residents[0],
        "POST",
        f"/group-buys/{group_id}/pay",
        headers={"Idempotency-Key": "k" * 100},
    )
    assert status == 201, paying
    # A campaign is read by its merchant and the members of its communities, not by strangers.
    path = f"/group-buy-campaigns/{offer['id']}"
    assert (await call(client, community.outsider, "GET", path))[0] == 404
    assert (await call(client, community.residents[1], "GET", path))[0] == 200
    assert (await call(client, shop.owner, "GET", path))[0] == 200


def test_the_worker_serves_the_expiry_job_the_actor_schedules() -> None:
    from workers.worker import FUNCTIONS

    assert EXPIRE_GROUP_BUY.name in {f.__name__ for f in FUNCTIONS}
