"""Events on ``/`` served straight off the WebSocket (``lago_rt/gateway/inbound.py``).

Over a WebSocket the channel events bypass python-socketio's per-message machinery, with the same
acknowledgements; what it does not claim (unknown events, other namespaces, long-polling) still
goes to python-socketio, unreadable JSON is refused, and the socket keeps working.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
import socketio
from aiohttp.test_utils import TestServer
from prometheus_client import REGISTRY

from lago_core.container import Core
from lago_core.settings import Settings
from lago_rt.app import RT_NODE, RtNode, create_rt_app

from .conftest import CommunityWorld
from .rt_client import ChannelClient


@pytest.fixture
async def node(settings: Settings, core: Core, aiohttp_server: Any) -> tuple[str, RtNode]:
    server: TestServer = await aiohttp_server(create_rt_app(settings, core=core))
    return f"http://127.0.0.1:{server.port}", server.app[RT_NODE]


def _served_inbound() -> float:
    return REGISTRY.get_sample_value("lago_rt_inbound_fast_total") or 0.0


def _taken_on_parse() -> float:
    return REGISTRY.get_sample_value("lago_rt_inbound_on_parse_total") or 0.0


class RawSocket:
    """engine.io and socket.io spoken by hand, to send what python-socketio's client would not."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def send(self, text: str) -> None:
        await self.ws.send_str(text)

    async def ack(self, ack_id: int, within: float = 5.0) -> Any:
        """The payload of acknowledgement ``ack_id``; pings are answered, events skipped."""
        prefix = f"43{ack_id}["
        async with asyncio.timeout(within):
            while True:
                text = await self.ws.receive_str()
                if text == "2":
                    await self.ws.send_str("3")
                elif text.startswith(prefix):
                    # The standard library reads what orjson refuses (an escaped lone surrogate).
                    return json.loads(text[len(prefix) - 1 :])[0]

    async def no_frame_within(self, seconds: float) -> list[str]:
        """Text frames other than pings and channel events that arrive within ``seconds``."""
        seen: list[str] = []
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                while True:
                    text = await self.ws.receive_str()
                    if text == "2":
                        await self.ws.send_str("3")
                    elif not text.startswith('42["channel:event"'):
                        seen.append(text)
        return seen


@pytest.fixture
async def raw(node: tuple[str, RtNode], community: CommunityWorld) -> AsyncIterator[RawSocket]:
    url, _ = node
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(f"{url}/socket.io/?EIO=4&transport=websocket")
        opened = await ws.receive_str(timeout=5)
        assert opened.startswith("0"), opened
        await ws.send_str(
            "40" + orjson.dumps({"token": community.residents[0].access_token}).decode()
        )
        connected = await ws.receive_str(timeout=5)
        assert connected.startswith("40"), connected
        yield RawSocket(ws)
        await ws.close()


async def test_websocket_events_take_the_inbound_path_with_the_same_acks(
    node: tuple[str, RtNode], community: CommunityWorld, clients: list[ChannelClient]
) -> None:
    url, _ = node
    alice = await ChannelClient(url, community.residents[0].access_token).connect()
    clients.append(alice)
    before = _served_inbound()
    parsed_before = _taken_on_parse()
    joined = await alice.join(community.id)
    assert joined["ok"], joined
    assert joined["role"] == "member", joined
    sent = await alice.send(community.id, "你好", client_msg_id="inbound-1")
    assert sent["ok"], sent
    assert sent["seq"] > 0, sent
    refused = await alice.call("chat:send", {"community_id": community.id})
    assert refused["ok"] is False, refused
    assert refused["error"]["code"] == "invalid_input", refused
    assert _served_inbound() - before == 3
    # One at a time, each event is taken as aiohttp parses it, not after a coroutine reads it.
    assert _taken_on_parse() - parsed_before == 3
    # An event without an acknowledgement is served too (and answered with nothing).
    await alice.sio.emit(
        "chat:send", {"community_id": community.id, "client_msg_id": "inbound-2", "text": "无回执"}
    )
    await alice.wait_until(
        lambda: any(
            e["data"].get("text") == "无回执" for e in alice.events if e["type"] == "chat.message"
        )
    )
    assert _served_inbound() - before == 4


async def test_long_polling_is_served_by_python_socketio(
    node: tuple[str, RtNode], community: CommunityWorld
) -> None:
    url, _ = node
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(
        url,
        auth={"token": community.residents[0].access_token},
        transports=["polling"],
        wait_timeout=5,
    )
    try:
        before = _served_inbound()
        joined = await client.call("channel:join", {"community_id": community.id}, timeout=10)
        assert joined["ok"], joined
        assert _served_inbound() == before
    finally:
        await client.eio.disconnect(abort=True)


async def test_foreign_and_bad_messages_are_left_or_refused_and_the_socket_keeps_working(
    raw: RawSocket, community: CommunityWorld
) -> None:
    before = _served_inbound()
    # Another namespace, not connected: python-socketio drops it.
    await raw.send('42/merchant,6["channel:join",{}]')
    assert await raw.no_frame_within(0.3) == []
    assert _served_inbound() == before
    # Unknown to us: answered here, like every event of `/` (docs/protocol.md).
    await raw.send('425["no:such:event",{}]')
    unknown = await raw.ack(5)
    assert unknown["error"]["code"] == "unknown_event", unknown
    assert _served_inbound() == before + 1
    # Unreadable JSON: refused with its own code; the socket stays up.
    await raw.send('427["whoami"')
    unreadable = await raw.ack(7)
    assert unreadable["error"]["code"] == "invalid_json", unreadable
    # More arguments than one payload: refused as such, not a crashed handler.
    await raw.send('4210["whoami",{},{}]')
    extra = await raw.ack(10)
    assert extra["ok"] is False, extra
    assert extra["error"]["code"] == "invalid_input", extra
    before = _served_inbound()
    # The socket still works, through the inbound path.
    await raw.send('428["whoami"]')
    reply = await raw.ack(8)
    assert reply["ok"] is True, reply
    assert reply["user_id"] == str(community.residents[0].id), reply
    await raw.send(
        '429["channel:join",' + orjson.dumps({"community_id": community.id}).decode() + "]"
    )
    joined = await raw.ack(9)
    assert joined["ok"], joined
    assert _served_inbound() - before == 2


async def test_a_refusal_is_acknowledged_on_the_inbound_path(
    raw: RawSocket, community: CommunityWorld
) -> None:
    # Not joined yet: the group-buy handler refuses, and the refusal is the acknowledgement.
    payload = {"community_id": community.id, "group_id": "00000000-0000-0000-0000-000000000000"}
    await raw.send("4211" + orjson.dumps(["groupbuy:join", payload]).decode())
    refused = await raw.ack(11)
    assert refused == {
        "ok": False,
        "error": {"code": "not_joined", "message": "join the channel first", "details": None},
    }
    # A payload that is not an object.
    await raw.send('4212["groupbuy:join","not an object"]')
    bad = await raw.ack(12)
    assert bad["error"]["code"] == "invalid_input", bad


async def test_unknown_event_names_add_no_metric_series_and_metrics_still_render(
    raw: RawSocket,
) -> None:
    """An event's name is the client's choice: timing unknown ones by name grew a series per
    name without bound, and a name holding a lone surrogate (what ``JSON.stringify`` makes of
    one, as socket.io-client sends it) made every later /metrics scrape fail to encode."""
    from lago_core.metrics import render_metrics
    from lago_rt.gateway.inbound import UNKNOWN_LABEL

    names = [f"no:such:{n}" for n in range(5)] + ["chat:\\ud800"]
    for ack_id, name in enumerate(names, start=1):
        await raw.send(f'42{ack_id}["{name}",{{}}]')
        answer = await raw.ack(ack_id)
        assert answer["error"]["code"] == "unknown_event", answer
        assert answer["error"]["details"]["event"] == json.loads(f'"{name}"'), answer
    body, _ = render_metrics()
    timed = {
        s.labels["event"]
        for metric in REGISTRY.collect()
        if metric.name == "lago_rt_inbound_seconds"
        for s in metric.samples
    }
    assert UNKNOWN_LABEL in timed
    assert not any(name.startswith(("no:such", "chat:\ud800")) for name in timed), timed
    assert b"lago_rt_inbound_seconds" in body
