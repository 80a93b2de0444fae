"""Toy lockers end to end: REST, a real-time node with the /device namespace, the locker simulator
over real sockets, residents watching the channel, and the rental's money in the ledger.

Time is the injected ManualClock: offline detection, command resends and timeouts run when the
test moves the clock and calls the node's tick, never after a sleep.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest
import socketio
from aiohttp.test_utils import TestClient

from lago_core.clock import ManualClock
from lago_core.container import Core
from lago_core.jobs import SWEEP_LOCKER_ORDERS
from lago_core.ledger import AccountKind, AccountRef
from lago_core.push import push_channel
from lago_core.settings import Settings
from lago_rt.app import RT_NODE, RtNode, create_rt_app
from lago_rt.devices import LockerSim
from lago_rt.gateway.limits import FLOOD_CUTOFF

from .conftest import Account, CommunityWorld
from .node_server import NodeServer
from .rt_client import ChannelClient
from .test_orders import call, listing, merchant_of, order, pay_order
from .test_payments import assert_ledger_sound, run_worker, webhook_target
from .waiting import until

Client = TestClient[Any, Any]
__all__ = ["webhook_target"]  # the fixture, re-exported so pytest finds it here

SLOTS = [(1, "S"), (2, "S"), (3, "M")]
HEARTBEAT_S = 10.0
RETRY_S = 3.0
TIMEOUT_S = 20.0
CODE_TTL_S = 120


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Short locker timings; the clock still only moves when a test moves it."""
    return replace(
        settings,
        locker_heartbeat_ms=int(HEARTBEAT_S * 1000),
        locker_command_retry_ms=int(RETRY_S * 1000),
        locker_command_timeout_ms=int(TIMEOUT_S * 1000),
        locker_code_ttl_s=CODE_TTL_S,
    )


async def subscribed(core: Core, settings: Settings) -> None:
    """Wait until a node's broker listens for pushes on Redis: door commands are published there,
    and pub/sub drops what nobody is subscribed to yet (the node's resend would deliver it later,
    but these tests keep the clock still)."""
    channel = push_channel(settings)

    async def listening() -> bool:
        return int((await core.redis.pubsub_numsub(channel))[0][1]) >= 1

    await until(listening, within=10)


@pytest.fixture
async def rt(settings: Settings, core: Core, node_server: Any) -> tuple[str, RtNode]:
    server: NodeServer = await node_server(create_rt_app(settings, core=core))
    return f"http://127.0.0.1:{server.port}", server.app[RT_NODE]


@pytest.fixture
async def two_nodes(settings: Settings, core: Core, node_server: Any) -> list[tuple[str, RtNode]]:
    """Two real-time nodes sharing PostgreSQL and Redis, as two processes would."""
    out = []
    for name in ("a", "b"):
        node_settings = replace(settings, node_id=f"node-{name}")
        server: NodeServer = await node_server(create_rt_app(node_settings, core=core))
        out.append((f"http://127.0.0.1:{server.port}", server.app[RT_NODE]))
    return out


@pytest.fixture
async def sims() -> AsyncIterator[list[LockerSim]]:
    made: list[LockerSim] = []
    yield made
    for sim in made:
        await sim.close()


@pytest.fixture
def register(
    client: Client, community: CommunityWorld
) -> Callable[..., Awaitable[tuple[str, str]]]:
    async def make(name: str = "1号柜") -> tuple[str, str]:
        status, body = await call(
            client,
            community.admin,
            "POST",
            "/lockers",
            {
                "community_id": community.id,
                "name": name,
                "location": "3栋大堂",
                "slots": [{"slot_no": no, "size": size} for no, size in SLOTS],
            },
        )
        assert status == 201, body
        return body["locker"]["locker_id"], body["device_secret"]

    return make


StartSim = Callable[..., Awaitable[LockerSim]]


@pytest.fixture
def start_sim(sims: list[LockerSim], core: Core, settings: Settings) -> StartSim:
    """Connect a simulated locker, report its state, and wait until commands can reach it."""

    async def start(url: str, locker_id: str, secret: str, **kw: Any) -> LockerSim:
        sim = LockerSim(url, locker_id, secret, SLOTS, **kw)
        sims.append(sim)
        await sim.connect()
        await subscribed(core, settings)
        await sim.report()
        return sim

    return start


async def watcher(
    clients: list[ChannelClient], url: str, account: Account, community_id: str
) -> tuple[ChannelClient, dict[str, Any]]:
    member = await ChannelClient(url, account.access_token).connect()
    clients.append(member)
    joined = await member.join(community_id)
    assert joined["ok"], joined
    return member, joined


def locker_events(member: ChannelClient, type_: str) -> list[dict[str, Any]]:
    return [e["data"] for e in member.events if e["type"] == type_]


async def log_types(core: Core, locker_id: str) -> list[str]:
    rows = await core.pool.fetch(
        "SELECT type FROM locker_events WHERE locker_id = $1 ORDER BY id", uuid.UUID(locker_id)
    )
    return [r["type"] for r in rows]


async def command_status(core: Core, request_id: str) -> str:
    value = await core.pool.fetchval(
        "SELECT status FROM locker_commands WHERE request_id = $1", uuid.UUID(request_id)
    )
    return str(value)


async def test_deposit_pickup_return_releases_the_deposit(
    client: Client,
    core: Core,
    settings: Settings,
    community: CommunityWorld,
    two_nodes: list[tuple[str, RtNode]],
    register: Callable[..., Awaitable[tuple[str, str]]],
    start_sim: StartSim,
    clients: list[ChannelClient],
    webhook_target: None,
) -> None:
    # The device on one node, a resident watching on the other.
    (url_a, _), (url_b, _) = two_nodes
    renter, owner, neighbour = community.residents
    member, _ = await watcher(clients, url_b, neighbour, community.id)
    locker_id, secret = await register()
    sim = await start_sim(url_a, locker_id, secret)
    await member.wait_until(lambda: bool(locker_events(member, "locker.online")))
    assert locker_events(member, "locker.online")[0]["locker"]["available"] == 3

    item = await listing(
        client,
        owner,
        kind="rent",
        category="game_console",
        price_fen=None,
        rent_per_day_fen=2_000,
        deposit_fen=30_000,
    )
    # The seller deposits: a slot is reserved (residents see it taken) and a code issued.
    status, deposit = await call(
        client, owner, "POST", f"/lockers/{locker_id}/deposits", {"listing_id": item["id"]}
    )
    assert status == 201, deposit
    assert deposit["purpose"] == "deposit"
    assert len(deposit["code"]) == 6
    status, opened = await call(
        client, owner, "POST", f"/lockers/{locker_id}/open", {"code": deposit["code"]}
    )
    assert (status, opened["status"], opened["slot_no"]) == (201, "pending", deposit["slot_no"])
    await sim.wait_until(lambda: len(sim.acks) == 1)
    assert sim.acks[0]["status"] == "acked"
    assert sim.slots[deposit["slot_no"]].occupied
    await member.wait_until(
        lambda: any(e["locker"]["available"] == 2 for e in locker_events(member, "locker.state"))
    )
    # Used once, refused after.
    status, body = await call(
        client, owner, "POST", f"/lockers/{locker_id}/open", {"code": deposit["code"]}
    )
    assert (status, body["error"]["code"]) == (409, "code_used")

    # The renter orders and pays; only then is there a pickup code.
    placed = await order(client, renter, item["id"], days=2, fulfilment="self_pickup")
    status, body = await call(
        client, renter, "POST", "/lockers/pickups", {"order_id": placed["id"]}
    )
    assert (status, body["error"]["code"]) == (409, "order_not_paid")
    await pay_order(client, core, settings, renter, placed)
    assert await core.ledger.balance(AccountRef(AccountKind.DEPOSIT_ESCROW)) == 30_000
    status, body = await call(client, owner, "POST", "/lockers/pickups", {"order_id": placed["id"]})
    assert status == 403  # not the buyer
    status, pickup = await call(
        client, renter, "POST", "/lockers/pickups", {"order_id": placed["id"]}
    )
    assert (status, pickup["slot_no"]) == (201, deposit["slot_no"])
    status, body = await call(
        client, owner, "POST", f"/lockers/{locker_id}/open", {"code": pickup["code"]}
    )
    assert (status, body["error"]["code"]) == (422, "invalid_code")  # bound to the renter
    status, _ = await call(
        client, renter, "POST", f"/lockers/{locker_id}/open", {"code": pickup["code"]}
    )
    assert status == 201
    await sim.wait_until(lambda: len(sim.acks) == 2)
    _, running = await call(client, renter, "GET", f"/orders/{placed['id']}")
    assert running["status"] == "picked_up"
    assert running["due_at"] is not None
    assert not sim.slots[deposit["slot_no"]].occupied

    # The return goes into a slot; the door opening ends the rental and releases the deposit.
    status, back = await call(
        client, renter, "POST", f"/lockers/{locker_id}/returns", {"order_id": placed["id"]}
    )
    assert status == 201, back
    status, _ = await call(
        client, renter, "POST", f"/lockers/{locker_id}/open", {"code": back["code"]}
    )
    assert status == 201
    await sim.wait_until(lambda: len(sim.acks) == 3)
    _, done = await call(client, renter, "GET", f"/orders/{placed['id']}")
    assert done["status"] == "completed"
    assert sim.slots[back["slot_no"]].occupied

    await run_worker(settings, core)  # the deposit refund goes to the provider and back
    await run_worker(settings, core)
    payment = await core.payments.get(None, uuid.UUID(placed["payment_id"]))
    assert (payment.deposit_status, payment.deposit_withheld_fen) == ("released", 0)
    assert await core.ledger.balance(AccountRef(AccountKind.DEPOSIT_ESCROW)) == 0
    await assert_ledger_sound(core)
    _, item_now = await call(client, owner, "GET", f"/listings/{item['id']}")
    assert item_now["status"] == "active"  # back in the locker for the next renter

    types = await log_types(core, locker_id)
    for step in ("registered", "online", "deposited", "picked_up", "returned"):
        assert step in types, (step, types)
    assert types.count("code_used") == 3
    status, page = await call(client, community.staff, "GET", f"/lockers/{locker_id}/events")
    assert status == 200
    assert [e["type"] for e in page["items"]] == types
    status, _ = await call(client, renter, "GET", f"/lockers/{locker_id}/events")
    assert status == 403
    seqs = member.seqs()
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == len(seqs)


async def test_resent_commands_never_open_twice(
    client: Client,
    core: Core,
    clock: ManualClock,
    community: CommunityWorld,
    rt: tuple[str, RtNode],
    register: Callable[..., Awaitable[tuple[str, str]]],
    start_sim: StartSim,
) -> None:
    url, node = rt
    locker_id, secret = await register()
    sim = await start_sim(url, locker_id, secret, auto_close=False)
    sim.lose_acks = 1  # the door opens; its acknowledgement is lost
    status, body = await call(
        client,
        community.residents[0],
        "POST",
        f"/lockers/{locker_id}/slots/2/maintenance-open",
        {"reason": "清洁"},
    )
    assert (status, body["error"]["code"]) == (403, "forbidden")
    status, command = await call(
        client,
        community.staff,
        "POST",
        f"/lockers/{locker_id}/slots/2/maintenance-open",
        {"reason": "门锁异响，检修"},
    )
    assert status == 201, command
    rid = command["request_id"]
    await sim.wait_until(lambda: sim.received == [rid])
    assert await command_status(core, rid) == "pending"

    # Not yet due: nothing is resent. Past the retry interval: the same request id again (from
    # this tick or the node's own timer, whichever runs first).
    assert node.devices is not None
    await node.devices.tick()
    assert sim.received == [rid]
    clock.advance(RETRY_S + 0.5)
    await sim.heartbeat()
    await node.devices.tick()
    await sim.wait_until(lambda: len(sim.acks) == 1)
    assert sim.received[:2] == [rid, rid]
    assert set(sim.received) == {rid}
    assert sim.slots[2].opens == 1  # the device treated the repeated id as done
    assert (sim.acks[0]["status"], sim.acks[0]["duplicate"]) == ("acked", False)
    # A late duplicate acknowledgement changes nothing.
    again = await sim.ack(rid, "opened")
    assert (again["status"], again["duplicate"]) == ("acked", True)
    assert await command_status(core, rid) == "acked"
    types = await log_types(core, locker_id)
    assert types.count("maintenance_opened") == 1
    row = await core.pool.fetchrow(
        "SELECT actor_id, data FROM locker_events WHERE type = 'maintenance_requested'"
    )
    assert row["actor_id"] == community.staff.id
    assert row["data"] == {"reason": "门锁异响，检修"}


async def test_a_timed_out_command_is_reconciled_from_the_next_report(
    client: Client,
    core: Core,
    clock: ManualClock,
    community: CommunityWorld,
    rt: tuple[str, RtNode],
    register: Callable[..., Awaitable[tuple[str, str]]],
    start_sim: StartSim,
) -> None:
    url, node = rt
    assert node.devices is not None
    owner = community.residents[1]
    locker_id, secret = await register()
    sim = await start_sim(url, locker_id, secret, auto_close=False)
    sim.lose_acks = 100  # every acknowledgement is lost
    item = await listing(
        client, owner, kind="rent", price_fen=None, rent_per_day_fen=500, deposit_fen=5_000
    )
    _, deposit = await call(
        client, owner, "POST", f"/lockers/{locker_id}/deposits", {"listing_id": item["id"]}
    )
    _, command = await call(
        client, owner, "POST", f"/lockers/{locker_id}/open", {"code": deposit["code"]}
    )
    rid = command["request_id"]
    await sim.wait_until(lambda: rid in sim.received)
    clock.advance(TIMEOUT_S + 1)
    await sim.heartbeat()
    await node.devices.tick()
    assert await command_status(core, rid) == "timed_out"
    assert "deposited" not in await log_types(core, locker_id)

    # The door did open (the item went in): the next report says so, and it is recorded.
    sim.slots[deposit["slot_no"]].occupied = True
    reply = await sim.report()
    assert reply["reconciled"] == [rid]
    assert await command_status(core, rid) == "reconciled"
    types = await log_types(core, locker_id)
    assert types.index("command_timed_out") < types.index("command_reconciled")
    assert types.count("deposited") == 1
    assert (await sim.report())["reconciled"] == []  # a repeated report settles nothing more
    assert sim.slots[deposit["slot_no"]].opens == 1
    status, body = await call(
        client, owner, "POST", f"/lockers/{locker_id}/open", {"code": deposit["code"]}
    )
    assert (status, body["error"]["code"]) == (409, "code_used")


async def test_a_silent_locker_goes_offline_and_comes_back(
    client: Client,
    core: Core,
    clock: ManualClock,
    community: CommunityWorld,
    rt: tuple[str, RtNode],
    register: Callable[..., Awaitable[tuple[str, str]]],
    start_sim: StartSim,
    clients: list[ChannelClient],
) -> None:
    url, node = rt
    owner = community.residents[1]
    member, _ = await watcher(clients, url, community.residents[2], community.id)
    locker_id, secret = await register()
    sim = await start_sim(url, locker_id, secret)
    await member.wait_until(lambda: bool(locker_events(member, "locker.online")))
    item = await listing(
        client, owner, kind="rent", price_fen=None, rent_per_day_fen=500, deposit_fen=5_000
    )
    _, deposit = await call(
        client, owner, "POST", f"/lockers/{locker_id}/deposits", {"listing_id": item["id"]}
    )

    # Just under 1.5 heartbeats: still online. Past it: offline, in the channel and over REST.
    clock.advance(HEARTBEAT_S * 1.5 - 1)
    await node.host.tick_all()
    assert not locker_events(member, "locker.offline")
    clock.advance(2)
    await node.host.tick_all()
    await member.wait_until(lambda: bool(locker_events(member, "locker.offline")))
    _, view = await call(client, owner, "GET", f"/lockers/{locker_id}")
    assert view["online"] is False
    status, body = await call(
        client, owner, "POST", f"/lockers/{locker_id}/open", {"code": deposit["code"]}
    )
    assert (status, body["error"]["code"]) == (409, "locker_offline")
    await node.host.tick_all()
    assert len(locker_events(member, "locker.offline")) == 1  # said once

    # The device's connection drops; it reconnects and its report reconciles the view.
    await sim.drop()
    sim.slots[3].fault = "E12"
    back = await start_sim(url, locker_id, secret)
    back.slots[3].fault = "E12"
    await back.report()
    await member.wait_until(lambda: len(locker_events(member, "locker.online")) == 2)
    await member.wait_until(
        lambda: any(
            not s["available"] and s["fault"] == "E12"
            for e in locker_events(member, "locker.state")
            for s in e["locker"]["slots"]
        )
    )
    _, view = await call(client, owner, "GET", f"/lockers/{locker_id}")
    assert view["online"] is True
    status, _ = await call(
        client, owner, "POST", f"/lockers/{locker_id}/open", {"code": deposit["code"]}
    )
    assert status == 201
    # A resident joining now gets the lockers in the snapshot.
    _, joined = await watcher(clients, url, owner, community.id)
    (shown,) = joined["snapshot"]["lockers"]["lockers"]
    assert (shown["locker_id"], shown["online"]) == (locker_id, True)
    assert [s["fault"] for s in shown["slots"]] == [None, None, "E12"]
    types = await log_types(core, locker_id)
    assert types.count("offline") == 1
    assert types.count("online") == 2
    assert "fault" in types


async def test_wrong_expired_and_used_codes_are_refused(
    client: Client,
    clock: ManualClock,
    community: CommunityWorld,
    rt: tuple[str, RtNode],
    register: Callable[..., Awaitable[tuple[str, str]]],
    start_sim: StartSim,
) -> None:
    url, _ = rt
    owner, other = community.residents[1], community.residents[0]
    locker_id, secret = await register()
    sim = await start_sim(url, locker_id, secret)
    first = await listing(
        client, owner, kind="rent", price_fen=None, rent_per_day_fen=500, deposit_fen=5_000
    )
    second = await listing(
        client, owner, kind="rent", price_fen=None, rent_per_day_fen=500, deposit_fen=5_000
    )
    _, code = await call(
        client, owner, "POST", f"/lockers/{locker_id}/deposits", {"listing_id": first["id"]}
    )
    status, body = await call(
        client, owner, "POST", f"/lockers/{locker_id}/deposits", {"listing_id": first["id"]}
    )
    assert (status, body["error"]["code"]) == (409, "listing_in_locker")
    wrong = f"{(int(code['code']) + 1) % 1_000_000:06d}"
    for bad, who in ((wrong, owner), (code["code"], other)):
        status, body = await call(client, who, "POST", f"/lockers/{locker_id}/open", {"code": bad})
        assert (status, body["error"]["code"]) == (422, "invalid_code")
    status, body = await call(client, owner, "POST", f"/lockers/{locker_id}/open", {"code": "12a"})
    assert status == 422
    # A sale listing does not go into a locker; outsiders do not use it.
    sale = await listing(client, owner)
    status, body = await call(
        client, owner, "POST", f"/lockers/{locker_id}/deposits", {"listing_id": sale["id"]}
    )
    assert (status, body["error"]["code"]) == (422, "kind_not_for_lockers")
    status, _ = await call(
        client,
        community.outsider,
        "POST",
        f"/lockers/{locker_id}/deposits",
        {"listing_id": second["id"]},
    )
    assert status == 403

    clock.advance(CODE_TTL_S + 1)
    await sim.heartbeat()  # still online; only the code has expired
    status, body = await call(
        client, owner, "POST", f"/lockers/{locker_id}/open", {"code": code["code"]}
    )
    assert (status, body["error"]["code"]) == (409, "code_expired")

    _, fresh = await call(
        client, owner, "POST", f"/lockers/{locker_id}/deposits", {"listing_id": second["id"]}
    )
    status, _ = await call(
        client, owner, "POST", f"/lockers/{locker_id}/open", {"code": fresh["code"]}
    )
    assert status == 201
    await sim.wait_until(lambda: len(sim.acks) == 1)
    status, body = await call(
        client, owner, "POST", f"/lockers/{locker_id}/open", {"code": fresh["code"]}
    )
    assert (status, body["error"]["code"]) == (409, "code_used")


async def test_a_device_cannot_act_for_another_locker(
    client: Client,
    core: Core,
    community: CommunityWorld,
    rt: tuple[str, RtNode],
    register: Callable[..., Awaitable[tuple[str, str]]],
    start_sim: StartSim,
) -> None:
    url, _ = rt
    a_id, a_secret = await register("A柜")
    b_id, b_secret = await register("B柜")
    # Credentials are checked at the handshake: a wrong or another locker's secret is refused.
    for locker_id, secret in ((a_id, b_secret), (str(uuid.uuid4()), a_secret), (a_id, "")):
        with pytest.raises(socketio.exceptions.ConnectionError):
            await start_sim(url, locker_id, secret)
    a = await start_sim(url, a_id, a_secret)
    b = await start_sim(url, b_id, b_secret, auto_close=False)
    b.lose_acks = 100  # B never answers: only A could change the command now
    status, command = await call(
        client,
        community.staff,
        "POST",
        f"/lockers/{b_id}/slots/1/maintenance-open",
        {"reason": "检修"},
    )
    assert status == 201
    await b.wait_until(lambda: command["request_id"] in b.received)
    # A acknowledges B's command, and reports in B's name: both refused, nothing changes.
    reply = await a.ack(command["request_id"], "opened")
    assert (reply["ok"], reply["error"]["code"]) == (False, "unknown_request")
    assert a.sio is not None
    reply = await a.sio.call(
        "state",
        {"locker_id": b_id, "slots": [{"slot_no": 1, "door": "open", "occupied": False}]},
        namespace="/device",
        timeout=5,
    )
    assert (reply["ok"], reply["error"]["code"]) == (False, "wrong_locker")
    assert await command_status(core, command["request_id"]) == "pending"
    status, body = await call(client, community.staff, "GET", f"/lockers/{b_id}/commands")
    assert body["items"][0]["status"] == "pending"

    # Rotated credentials: the old secret no longer connects, the new one does.
    status, rotated = await call(client, community.staff, "POST", f"/lockers/{a_id}/rotate-secret")
    assert status == 403
    status, rotated = await call(client, community.admin, "POST", f"/lockers/{a_id}/rotate-secret")
    assert status == 200
    with pytest.raises(socketio.exceptions.ConnectionError):
        await start_sim(url, a_id, a_secret)
    fresh = await start_sim(url, a_id, rotated["device_secret"])
    assert (await fresh.heartbeat())["ok"]
    # The connection that still used the old secret is cut off at its next heartbeat.
    reply = await a.heartbeat()
    assert reply["error"]["code"] == "invalid_device_credentials"
    await a.wait_until(lambda: not a.connected)


async def test_a_flooding_device_gets_the_documented_refusals_and_every_answer_it_is_owed(
    core: Core,
    settings: Settings,
    rt: tuple[str, RtNode],
    register: Callable[..., Awaitable[tuple[str, str]]],
    start_sim: StartSim,
) -> None:
    """As on `/` (docs/protocol.md, "Limits"): exactly FLOOD_CUTOFF refusals in a row are
    answered `rate_limited`, the next one cuts the device off, and every event accepted before
    the cut still gets its answer. The injected clock does not move, so the bucket never refills
    and the counts are exact."""
    url, _ = rt
    locker_id, secret = await register("洪水柜")
    sim = await start_sim(url, locker_id, secret)  # its state report took one token
    assert sim.sio is not None
    calls = [sim.sio.call("heartbeat", {}, namespace="/device", timeout=3) for _ in range(100)]
    answers = await asyncio.gather(*calls, return_exceptions=True)
    codes = [
        "no answer" if isinstance(a, BaseException) or a is None
        else "ok" if a["ok"] else a["error"]["code"]
        for a in answers
    ]  # fmt: skip
    accepted = settings.client_msg_burst - 1
    assert codes[:accepted] == ["ok"] * accepted, codes
    assert codes[accepted : accepted + FLOOD_CUTOFF] == ["rate_limited"] * FLOOD_CUTOFF, codes
    assert set(codes[accepted + FLOOD_CUTOFF :]) <= {"disconnected", "no answer"}, codes
    await sim.wait_until(lambda: not sim.connected)


async def test_lago_locker_sim_is_a_device(
    client: Client,
    core: Core,
    community: CommunityWorld,
    rt: tuple[str, RtNode],
    register: Callable[..., Awaitable[tuple[str, str]]],
) -> None:
    """`lago locker-sim` as its own process: it connects, reports, obeys a command once."""
    url, _ = rt
    locker_id, secret = await register()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "lago_cli",
        "locker-sim",
        "--url",
        url,
        "--locker-id",
        locker_id,
        "--slots",
        "1:S,2:S,3:M",
        "--heartbeat-s",
        "0.5",
        env={**os.environ, "LAGO_LOCKER_SECRET": secret},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    try:
        async with asyncio.timeout(30):
            line = await process.stdout.readline()
        assert line.startswith(b"connected as locker"), line
        _, view = await call(client, community.staff, "GET", f"/lockers/{locker_id}")
        assert view["online"] is True
        status, command = await call(
            client,
            community.staff,
            "POST",
            f"/lockers/{locker_id}/slots/3/maintenance-open",
            {"reason": "巡检"},
        )
        assert status == 201
        async with asyncio.timeout(15):
            line = await process.stdout.readline()
        assert line.decode().strip() == f"door:open {command['request_id']} slot 3: opened"
        assert await command_status(core, command["request_id"]) == "acked"
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
        async with asyncio.timeout(15):
            out, _ = await process.communicate()
    assert b"doors opened: {1: 0, 2: 0, 3: 1}" in out, out


async def test_orders_left_behind_their_doors_are_moved_by_the_sweep(
    client: Client,
    core: Core,
    settings: Settings,
    community: CommunityWorld,
    rt: tuple[str, RtNode],
    register: Callable[..., Awaitable[tuple[str, str]]],
    start_sim: StartSim,
    monkeypatch: Any,
    webhook_target: None,
) -> None:
    """A crash between the door's transaction and the order's move: the job moves the order."""
    url, _ = rt
    renter, owner, _ = community.residents
    locker_id, secret = await register()
    sim = await start_sim(url, locker_id, secret)
    item = await listing(
        client, owner, kind="rent", price_fen=None, rent_per_day_fen=1_000, deposit_fen=8_000
    )
    _, deposit = await call(
        client, owner, "POST", f"/lockers/{locker_id}/deposits", {"listing_id": item["id"]}
    )
    await call(client, owner, "POST", f"/lockers/{locker_id}/open", {"code": deposit["code"]})
    await sim.wait_until(lambda: len(sim.acks) == 1)
    placed = await order(client, renter, item["id"], days=1, fulfilment="self_pickup")
    await pay_order(client, core, settings, renter, placed)

    async def killed(parcel: Any) -> bool:  # the process dies after the door committed
        return False

    async def step(path: str, body: dict[str, Any], acks: int, before: str, after: str) -> None:
        _, issued = await call(client, renter, "POST", path, body)
        monkeypatch.setattr(core.lockers, "_follow", killed)
        await call(client, renter, "POST", f"/lockers/{locker_id}/open", {"code": issued["code"]})
        await sim.wait_until(lambda: len(sim.acks) == acks)
        monkeypatch.undo()
        _, got = await call(client, renter, "GET", f"/orders/{placed['id']}")
        assert got["status"] == before
        for _ in range(2):
            await core.jobs.enqueue(SWEEP_LOCKER_ORDERS)
            await run_worker(settings, core)
        _, got = await call(client, renter, "GET", f"/orders/{placed['id']}")
        assert got["status"] == after

    await step("/lockers/pickups", {"order_id": placed["id"]}, 2, "paid", "picked_up")
    await step(
        f"/lockers/{locker_id}/returns", {"order_id": placed["id"]}, 3, "picked_up", "completed"
    )
    assert await core.lockers.sweep_orders() == 0
    await run_worker(settings, core)  # the deposit refund
    await run_worker(settings, core)
    payment = await core.payments.get(None, uuid.UUID(placed["payment_id"]))
    assert payment.deposit_status == "released"
    await assert_ledger_sound(core)


async def test_a_consignment_is_handed_over_at_the_locker(
    approve_merchant: Any,
    client: Client,
    core: Core,
    settings: Settings,
    community: CommunityWorld,
    rt: tuple[str, RtNode],
    register: Callable[..., Awaitable[tuple[str, str]]],
    start_sim: StartSim,
    webhook_target: None,
) -> None:
    url, _ = rt
    buyer, owner, _ = community.residents
    merchant = await merchant_of(core, approve_merchant, owner)
    item = await listing(
        client,
        owner,
        kind="consignment",
        category="game_console",
        price_fen=150_000,
        merchant_id=str(merchant),
    )
    locker_id, secret = await register()
    sim = await start_sim(url, locker_id, secret)
    _, deposit = await call(
        client,
        owner,
        "POST",
        f"/lockers/{locker_id}/deposits",
        {"listing_id": item["id"], "size": "M"},
    )
    assert deposit["slot_no"] == 3  # the only slot an M item fits
    await call(client, owner, "POST", f"/lockers/{locker_id}/open", {"code": deposit["code"]})
    await sim.wait_until(lambda: len(sim.acks) == 1)

    placed = await order(client, buyer, item["id"], fulfilment="self_pickup")
    await pay_order(client, core, settings, buyer, placed)
    _, pickup = await call(client, buyer, "POST", "/lockers/pickups", {"order_id": placed["id"]})
    await call(client, buyer, "POST", f"/lockers/{locker_id}/open", {"code": pickup["code"]})
    await sim.wait_until(lambda: len(sim.acks) == 2)
    _, got = await call(client, buyer, "GET", f"/orders/{placed['id']}")
    assert got["status"] == "delivered"
    status, done = await call(client, buyer, "POST", f"/orders/{placed['id']}/confirm-receipt")
    assert (status, done["status"]) == (200, "completed")
    # Sold: the item's stay at the locker is over, and a return is refused.
    status, body = await call(
        client, buyer, "POST", f"/lockers/{locker_id}/returns", {"order_id": placed["id"]}
    )
    assert (status, body["error"]["code"]) == (409, "rental_not_running")
    _, view = await call(client, buyer, "GET", f"/lockers/{locker_id}")
    assert [s["available"] for s in view["slots"]] == [True, True, True]
    parcel = await core.pool.fetchval(
        "SELECT status FROM locker_parcels WHERE listing_id = $1", uuid.UUID(item["id"])
    )
    assert parcel == "closed"
    await assert_ledger_sound(core)
