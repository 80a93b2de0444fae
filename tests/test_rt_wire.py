"""The real-time node's lighter engine.io plumbing (``lago_rt/gateway/wire.py``).

An idle joined socket must not keep its join acknowledgement alive, pings must still flow on a
timer, the outgoing-packet queue must behave like ``asyncio.Queue`` where engine.io uses it, and
messages taken as they are parsed must not overtake the ones queued before them.
"""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import orjson
import pytest
import socketio
from aiohttp._websocket.reader import WebSocketReader
from aiohttp.test_utils import TestServer
from engineio.packet import Packet

from lago_core.container import Core
from lago_core.settings import Settings
from lago_rt.app import RT_NODE, RtNode, create_rt_app
from lago_rt.gateway import fanout as fanout_module
from lago_rt.gateway.wire import _LightQueue, _OfferingQueue

from .conftest import CommunityWorld
from .rt_client import ChannelClient
from .waiting import until


@pytest.fixture
async def node(settings: Settings, core: Core, aiohttp_server: Any) -> tuple[str, RtNode]:
    server: TestServer = await aiohttp_server(create_rt_app(settings, core=core))
    return f"http://127.0.0.1:{server.port}", server.app[RT_NODE]


def _server_held_packets_with(text: str) -> list[Packet]:
    """engine.io packets containing ``text`` that the server side's code keeps alive.

    The python-socketio client in this process has its own packets; only those referenced
    from engine.io's server socket code (its writer task's frame) count.
    """
    gc.collect()
    found = []
    for obj in gc.get_objects():
        if not isinstance(obj, Packet):
            continue
        texts = (obj.data, obj.encode_cache)
        if not any(isinstance(t, str) and text in t for t in texts):
            continue
        for holder in gc.get_referrers(obj):
            code = getattr(holder, "f_code", None) or getattr(holder, "cr_code", None)
            if code is not None and code.co_filename.endswith("engineio/async_socket.py"):
                found.append(obj)
    return found


async def test_idle_socket_does_not_keep_its_join_reply(
    node: tuple[str, RtNode], community: CommunityWorld, clients: list[ChannelClient]
) -> None:
    url, _ = node
    alice = community.residents[0]
    client = await ChannelClient(url, alice.access_token).connect()
    clients.append(client)
    joined = await client.join(community.id)
    assert joined["ok"], joined
    # The reply carries the presence page; engine.io's writer used to hold the last packet it
    # sent (data and encoded copy) until the next one, for the life of an idle connection.
    assert _server_held_packets_with('"snapshot"') == []
    # And the socket still works afterwards.
    ack = await client.send(community.id, "still here")
    assert ack["ok"], ack
    await client.wait_until(lambda: ack["seq"] in client.seqs("chat.message"))


async def test_pings_flow_on_a_timer(
    node: tuple[str, RtNode], community: CommunityWorld, clients: list[ChannelClient]
) -> None:
    url, rt = node
    eio = rt.sio.eio
    eio.ping_interval = 0.1  # the server reads it at each ping; the client answers every ping
    client = await ChannelClient(url, community.residents[0].access_token).connect()
    clients.append(client)
    [sock] = list(eio.sockets.values())
    # A ping sets last_ping when it is sent and the client's pong clears it: several distinct
    # values mean several full ping/pong rounds (engine.io's first ping was scheduled too).
    seen: set[float] = set()

    def four_rounds() -> bool:
        if sock.last_ping:
            seen.add(sock.last_ping)
        return len(seen) >= 4

    await until(four_rounds, within=10)
    assert not sock.closed
    assert (await client.call("whoami"))["ok"] is not False


@pytest.mark.parametrize("transports", [["polling"], ["polling", "websocket"]])
async def test_long_polling_and_upgraded_clients_still_work(
    node: tuple[str, RtNode], community: CommunityWorld, transports: list[str]
) -> None:
    # Long-polling uses engine.io's own poll on the light queue; an upgrade ends the pending
    # poll through the same queue before the WebSocket writer takes over.
    url, _ = node
    client = socketio.AsyncClient(reconnection=False)
    events: list[dict[str, Any]] = []
    arrived = asyncio.Event()

    async def on_event(data: dict[str, Any]) -> None:
        events.append(data)
        arrived.set()

    client.on("channel:event", handler=on_event)
    await client.connect(
        url,
        auth={"token": community.residents[0].access_token},
        transports=transports,
        wait_timeout=5,
    )
    try:
        joined = await client.call("channel:join", {"community_id": community.id}, timeout=10)
        assert joined["ok"], joined
        ack = await client.call(
            "chat:send",
            {"community_id": community.id, "client_msg_id": "poll-1", "text": "over polling"},
            timeout=10,
        )
        assert ack["ok"], ack
        async with asyncio.timeout(10):
            while not any(e["seq"] == ack["seq"] for e in events):
                arrived.clear()
                await arrived.wait()
        assert client.transport() == transports[-1]
    finally:
        # A polite disconnect over long-polling waits for the pending poll (up to a ping
        # interval); the server's side of closing is not what this test is about.
        await client.eio.disconnect(abort=True)


async def test_a_large_event_is_written_a_few_members_at_a_time(
    node: tuple[str, RtNode],
    community: CommunityWorld,
    clients: list[ChannelClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A rush's update is tens of KB for every member: written to hundreds of members between
    # two turns of the loop, it held every other socket for ≈ 15 ms a slice. At most
    # SLICE_BYTES go out per turn, so here (three members, a limit of one event's size) the
    # loop runs between every two writes.
    url, rt = node
    members = []
    for resident in community.residents:
        member = await ChannelClient(url, resident.access_token).connect()
        clients.append(member)
        assert (await member.join(community.id))["ok"]
        members.append(member)
    payload = orjson.dumps({"type": "bulk", "seq": 10**9, "data": {"pad": "x" * 20_000}})
    monkeypatch.setattr(fanout_module, "SLICE_BYTES", len(payload) + 100)
    turns = 0
    loop = asyncio.get_running_loop()

    def turn() -> None:
        nonlocal turns
        turns += 1
        handle[0] = loop.call_soon(turn)

    handle = [loop.call_soon(turn)]
    try:
        start = turns
        written = await rt.fanout.deliver(community.id, payload)
        between = turns - start
    finally:
        handle[0].cancel()
    assert written == len(members)
    assert between >= len(members) - 1
    for member in members:
        await member.wait_until(
            lambda m=member: any(e.get("type") == "bulk" for e in m.events)  # type: ignore[misc]
        )


async def test_light_queue_is_fifo_and_wakes_getters_in_order() -> None:
    queue = _LightQueue()
    first = asyncio.ensure_future(queue.get())
    second = asyncio.ensure_future(queue.get())
    await until(lambda: len(queue._getters) == 2)
    await queue.put("a")
    queue.put_nowait("b")
    assert await first == "a"
    assert await second == "b"
    with pytest.raises(asyncio.QueueEmpty):
        queue.get_nowait()
    for item in (1, 2, 3):
        queue.put_nowait(item)
    assert [queue.get_nowait() for _ in range(3)] == [1, 2, 3]


async def test_light_queue_passes_a_wakeup_on_when_the_getter_is_cancelled() -> None:
    queue = _LightQueue()
    cancelled = asyncio.ensure_future(queue.get())
    waiting = asyncio.ensure_future(queue.get())
    await until(lambda: len(queue._getters) == 2)
    queue.put_nowait("x")  # wakes `cancelled` first ...
    cancelled.cancel()  # ... which is cancelled before it runs
    assert await asyncio.wait_for(waiting, 1) == "x"
    assert cancelled.cancelled()


async def test_light_queue_join_waits_for_task_done() -> None:
    queue = _LightQueue()
    await queue.join()  # nothing unfinished: returns at once
    queue.put_nowait("p")
    joined = asyncio.ensure_future(queue.join())
    assert queue.get_nowait() == "p"
    await until(lambda: len(queue._finished) == 1)  # join() is waiting
    assert not joined.done()
    queue.task_done()
    await asyncio.wait_for(joined, 1)
    with pytest.raises(ValueError, match="too many"):
        queue.task_done()


class _Protocol:
    """What the queue asks of aiohttp's protocol: whether reading is paused (flow control)."""

    _reading_paused = False

    def pause_reading(self) -> None:
        self._reading_paused = True


def _client_frame(text: str) -> bytes:
    """A masked text frame as a client sends it (mask of zeros, so the payload reads as is)."""
    payload = text.encode()
    assert len(payload) < 126
    return bytes([0x81, 0x80 | len(payload)]) + b"\0\0\0\0" + payload


async def test_offering_queue_takes_messages_as_parsed_but_never_ahead_of_queued_ones() -> None:
    offered: list[str] = []

    def take(text: str) -> bool:
        offered.append(text)
        return text.startswith("42")

    queue = _OfferingQueue(_Protocol(), 2**16, loop=asyncio.get_running_loop(), take=take)
    parser = WebSocketReader(queue, 2**20, False, True)
    # Parsed in one read: the first event is taken, the pong is queued for the reader, and the
    # event behind it waits in the queue (not offered yet) so that it is handled after the pong.
    parser.feed_data(_client_frame('421["a"]') + _client_frame("3") + _client_frame('422["b"]'))
    assert offered == ['421["a"]', "3"]
    assert (await queue.read()).data == "3"
    assert (await queue.read()).data == '422["b"]'
    # With the queue empty again, the next event is taken at once.
    parser.feed_data(_client_frame('423["c"]'))
    assert offered[-1] == '423["c"]'
    assert not queue._buffer
    # Binary messages are never offered.
    parser.feed_data(bytes([0x82, 0x83]) + b"\0\0\0\0" + b"bin")
    assert offered[-1] == '423["c"]'
    assert (await queue.read()).data == b"bin"
