"""The socket edge under abuse (issue 16): clients that stop reading, floods, sockets whose session
ended, and the protocol's gaps (unknown events, loose payloads, unbounded recovery)."""

from __future__ import annotations

import asyncio
import socket
import uuid
from dataclasses import replace
from typing import Any

import orjson
import pytest
import socketio

from lago_core.container import Core
from lago_core.security.roles import Principal
from lago_core.settings import Settings
from lago_rt.app import RT_NODE, RtNode, create_rt_app
from lago_rt.channel.events import read_after
from lago_rt.channel.presence import presence_changes
from lago_rt.gateway.channels import RECOVERY_PAGE
from lago_rt.gateway.limits import FLOOD_CUTOFF
from lago_rt.runtime import Command
from lago_rt.runtime.keys import ActorKeys
from lago_rt.transport.connection import Connection

from .conftest import CommunityWorld
from .node_server import NodeServer
from .rt_client import ChannelClient, RawMember
from .test_channel import connect, start_nodes
from .waiting import until


@pytest.fixture
async def nodes(settings: Settings, core: Core, node_server: Any) -> list[tuple[str, RtNode]]:
    return await start_nodes(settings, core, node_server)


# --- slow consumers ------------------------------------------------------------------------------


def _other_member(node: RtNode, community_id: str, sender: ChannelClient) -> Connection:
    """The connection of the one member of ``community_id`` on ``node`` that is not ``sender``."""
    (sid,) = [s for s in node.joined(community_id) if s != sender.sio.get_sid("/")]
    socket = node.server.hub.socket(sid)
    assert socket is not None
    return socket.conn


def _left(client: ChannelClient, user_id: str) -> bool:
    return any(user_id in presence_changes(e)[1] for e in client.events)


async def test_a_client_that_stops_reading_is_reset_within_the_limit_and_leaves_presence(
    settings: Settings,
    core: Core,
    node_server: Any,
    community: CommunityWorld,
    clients: list[ChannelClient],
) -> None:
    limit = 256 * 1024
    tight = replace(
        settings,
        client_send_buffer_bytes=limit,
        client_msgs_per_s=100_000,
        client_msg_burst=100_000,
    )
    server: NodeServer = await node_server(create_rt_app(tight, core=core))
    node: RtNode = server.app[RT_NODE]
    alice, bob, _ = community.residents
    stalled = await RawMember.join(server.port, bob.access_token, community.id)
    # The node's side of every connection starts with the listener's bounded send buffer
    # (WriteLimits.adopt): unbounded, the kernel would take up to 4 MiB before the cut.
    for conn in node.server.hub.connections.values():
        assert conn.transport is not None
        accepted = conn.transport.get_extra_info("socket")
        sndbuf = accepted.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
        assert sndbuf == node.server.limits.kernel_cap == 2 * (limit // 4)
    stalled.stop_reading()
    raw = stalled.writer.get_extra_info("socket")
    # What the client's kernel takes on its behalf (acknowledged to the server) while it reads
    # nothing: its receive buffer as the kernel reports it.
    client_rcvbuf = raw.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    sender = await connect(clients, f"http://127.0.0.1:{server.port}", alice.access_token)
    await sender.join(community.id)
    transport = _other_member(node, community.id, sender).transport
    assert transport is not None
    text = "字" * 2_000
    written = 0
    frame = 0
    try:
        # One event at a time, each delivered to every member before the next is sent: the
        # sender receiving it means the node has written it (or not) to the stalled member too.
        while not transport.is_closing():
            assert written * max(frame, 1) < 8 * limit, "the stalled member was never cut off"
            ack = await sender.send(community.id, text)
            assert ack["ok"], ack
            await sender.wait_until(lambda seq=ack["seq"]: seq in sender.seqs())  # type: ignore[misc]
            event = next(e for e in sender.events if e["seq"] == ack["seq"])
            frame = len(orjson.dumps(event)) + len(b'42["channel:event",]') + 4
            written += 1
        # The event that found it over the limit was not written to it.
        outstanding = (written - 1) * frame
        assert outstanding <= limit + client_rcvbuf + frame, (outstanding, limit, client_rcvbuf)
        # The client's socket sees the connection end at once: data already received, then a
        # reset (or an end of file), never a wait.
        stalled.resume_reading()
        async with asyncio.timeout(5):
            try:
                while await stalled.reader.read(1 << 16):
                    pass
            except ConnectionResetError:
                pass
        # And the node ran the disconnect: presence announces bob gone.
        await sender.wait_until(lambda: _left(sender, str(bob.id)))
        page = await sender.call("channel:presence", {"community_id": community.id})
        assert str(bob.id) not in [m["user_id"] for m in page["online"]]
    finally:
        stalled.close()


# --- flood cut-off -------------------------------------------------------------------------------


async def test_a_flood_gets_exactly_the_documented_refusals_and_stored_messages_their_acks(
    nodes: list[tuple[str, RtNode]],
    community: CommunityWorld,
    clients: list[ChannelClient],
    settings: Settings,
) -> None:
    url, _ = nodes[0]
    alice, bob, _ = community.residents
    flooder = await connect(clients, url, alice.access_token)
    reader = await connect(clients, url, bob.access_token)
    await flooder.join(community.id)  # one token of the burst
    await reader.join(community.id)
    answers: dict[str, dict[str, Any]] = {}

    def answer_to(msg_id: str) -> Any:
        def record(reply: dict[str, Any]) -> None:
            answers[msg_id] = reply

        return record

    # The test clock stands still: no token comes back during the burst.
    for i in range(100):
        msg_id = f"flood-{i}"
        await flooder.sio.emit(
            "chat:send",
            {"community_id": community.id, "client_msg_id": msg_id, "text": f"刷屏{i}"},
            callback=answer_to(msg_id),
        )
    async with asyncio.timeout(10):
        await flooder.disconnected.wait()
    codes = [r["error"]["code"] for r in answers.values() if not r["ok"]]
    assert codes == ["rate_limited"] * FLOOD_CUTOFF
    acked = {m: r["seq"] for m, r in answers.items() if r["ok"]}
    assert len(acked) == settings.client_msg_burst - 1
    history = await reader.call("chat:history", {"community_id": community.id, "limit": 100})
    stored = {m["client_msg_id"]: m["seq"] for m in history["messages"]}
    # Every stored message was acknowledged with its sequence number, and only those.
    assert stored == acked


async def test_a_flood_of_unknown_events_is_cut_off_the_same_way(
    nodes: list[tuple[str, RtNode]],
    community: CommunityWorld,
    clients: list[ChannelClient],
    settings: Settings,
) -> None:
    url, _ = nodes[0]
    flooder = await connect(clients, url, community.residents[0].access_token)
    answers: list[dict[str, Any]] = []
    for _ in range(100):
        await flooder.sio.emit("no:such-event", {}, callback=answers.append)
    async with asyncio.timeout(10):
        await flooder.disconnected.wait()
    codes = [r["error"]["code"] for r in answers]
    assert codes == ["unknown_event"] * settings.client_msg_burst + ["rate_limited"] * FLOOD_CUTOFF


# --- protocol gaps -------------------------------------------------------------------------------


async def test_an_unknown_event_is_answered_on_every_namespace(
    nodes: list[tuple[str, RtNode]],
    community: CommunityWorld,
    clients: list[ChannelClient],
) -> None:
    url, _ = nodes[0]
    client = await ChannelClient(url, community.residents[0].access_token).connect(
        ["/", "/support"]
    )
    clients.append(client)
    for namespace in ("/", "/support"):
        for payload in ({}, None, "x"):
            reply = await client.call("no:such-event", payload, namespace=namespace)
            assert reply["ok"] is False
            assert reply["error"]["code"] == "unknown_event", (namespace, reply)
            assert reply["error"]["details"] == {"event": "no:such-event"}


async def test_reporting_a_message_that_does_not_exist_is_refused(
    nodes: list[tuple[str, RtNode]],
    community: CommunityWorld,
    clients: list[ChannelClient],
) -> None:
    url, node = nodes[0]
    alice, bob, _ = community.residents
    ca = await connect(clients, url, alice.access_token)
    cb = await connect(clients, url, bob.access_token)
    await ca.join(community.id)
    await cb.join(community.id)
    sent = await ca.send(community.id, "一条消息")
    report = {"community_id": community.id, "reason": "广告"}
    for seq in (sent["seq"] + 1, 10**9):
        refused = await cb.call("chat:report", {**report, "seq": seq})
        assert refused["error"]["code"] == "message_not_found", refused
    # Not a chat message: a presence event of the joins.
    keys = ActorKeys(node.settings.redis_prefix, "ch", community.id)
    stream = await read_after(node.core.redis, keys, 0)
    presence_seq = next(e.seq for e in stream if e.type.startswith("presence."))
    refused = await cb.call("chat:report", {**report, "seq": presence_seq})
    assert refused["error"]["code"] == "message_not_found", refused
    assert (await cb.call("chat:report", {**report, "seq": sent["seq"]}))["ok"]
    # Once archived and trimmed from the stream, it is still found.
    await node.host.tick_all()
    await node.core.redis.delete(keys.events)
    assert (await cb.call("chat:report", {**report, "seq": sent["seq"]}))["ok"]


async def test_payload_fields_of_the_wrong_json_type_are_refused_not_converted(
    nodes: list[tuple[str, RtNode]],
    community: CommunityWorld,
    clients: list[ChannelClient],
) -> None:
    url, _ = nodes[0]
    client = await ChannelClient(url, community.residents[0].access_token).connect(
        ["/", "/support"]
    )
    clients.append(client)
    joined = await client.join(community.id)
    epoch = joined["epoch"]
    for seq in ("0", 0.0, 1.5, True, -1, None):
        reply = await client.join(community.id, since={"seq": seq, "epoch": epoch})
        assert reply["ok"] is False, (seq, reply)
        assert reply["error"]["code"] == "invalid_input"
        assert reply["error"]["details"][0]["field"] == "since.seq"
    for bad in ({"limit": "10"}, {"limit": 10.0}, {"before_seq": True}):
        reply = await client.call("chat:history", {"community_id": community.id, **bad})
        assert reply["error"]["code"] == "invalid_input", (bad, reply)
    reply = await client.call("support:queue", {"limit": "5"}, namespace="/support")
    assert reply["error"]["code"] == "invalid_input", reply
    # What JSON needs converting still is: a UUID is a string.
    assert (await client.join(community.id, since={"seq": 0, "epoch": epoch}))["ok"]


async def test_recovery_comes_in_bounded_pages_without_gaps_or_repeats(
    nodes: list[tuple[str, RtNode]],
    community: CommunityWorld,
    clients: list[ChannelClient],
) -> None:
    url, node = nodes[0]
    alice = community.residents[0]
    caller = {"user_id": str(alice.id), "name": "王阿姨", "role": "member"}
    total = RECOVERY_PAGE * 2 + 37
    for start in range(0, total, 100):
        await asyncio.gather(
            *(
                node.host.call(
                    community.id,
                    Command("chat.send", {"client_msg_id": f"m{i}", "text": f"第{i}条"}, caller),
                )
                for i in range(start, min(total, start + 100))
            )
        )
    client = await connect(clients, url, alice.access_token)
    first = await client.join(community.id)
    epoch, head = first["epoch"], first["seq"]
    assert head >= total
    page = await client.join(community.id, since={"seq": 0, "epoch": epoch})
    assert page["recovered"] is True
    assert len(page["events"]) == RECOVERY_PAGE
    assert page["more"] is True
    seen = [e["seq"] for e in page["events"]]
    while page["more"]:
        page = await client.call(
            "channel:recover",
            {"community_id": community.id, "since": {"seq": seen[-1], "epoch": epoch}},
        )
        assert page["ok"], page
        assert page["recovered"], page
        assert len(page["events"]) <= RECOVERY_PAGE
        seen += [e["seq"] for e in page["events"]]
    assert seen == list(range(1, seen[-1] + 1))
    assert seen[-1] >= head
    # Another epoch cannot be continued: the client joins again for a snapshot.
    lost = await client.call(
        "channel:recover", {"community_id": community.id, "since": {"seq": 1, "epoch": "other"}}
    )
    assert lost == {"ok": True, "community_id": community.id, "recovered": False}


# --- sockets end with their session --------------------------------------------------------------


async def _sockets_on_both_nodes(
    nodes: list[tuple[str, RtNode]],
    token: str,
    community_id: str,
    clients: list[ChannelClient],
    namespaces: tuple[str, ...] = ("/", "/support"),
) -> list[ChannelClient]:
    out = []
    for url, _ in nodes:
        sock = await ChannelClient(url, token).connect(list(namespaces))
        clients.append(sock)
        assert (await sock.join(community_id))["ok"]
        out.append(sock)
    return out


async def _all_disconnected(sockets: list[ChannelClient]) -> None:
    # About a second: the notice is one pub/sub hop from the REST call to every node.
    # The client library closes its connection once its last namespace is disconnected.
    await until(lambda: not any(sock.sio.connected for sock in sockets), within=1.5)


async def test_log_out_disconnects_the_sessions_sockets_on_every_node(
    nodes: list[tuple[str, RtNode]],
    community: CommunityWorld,
    clients: list[ChannelClient],
    client: Any,
    core: Core,
) -> None:
    alice = community.residents[0]
    # Alice runs a shop too: her sockets are on every namespace a session opens.
    await core.merchants.create(Principal(alice.id, uuid.uuid4()), "王阿姨的玩具铺")
    everywhere = ("/", "/support", "/merchant")
    ended = await _sockets_on_both_nodes(
        nodes, alice.access_token, community.id, clients, everywhere
    )
    for sock in ended:
        assert (await sock.call("merchant:rooms", namespace="/merchant"))["ok"]
    # Another session of the same user is not this one: it stays.
    other = await core.identity.log_in(alice.phone, alice.password, "pytest")
    (kept,) = await _sockets_on_both_nodes(nodes[:1], other.access_token, community.id, clients)
    resp = await client.post("/api/v1/auth/logout", headers=alice.headers)
    assert resp.status < 300, await resp.text()
    await _all_disconnected(ended)
    assert (await kept.send(community.id, "还在"))["ok"]
    # Nothing more goes out on the ended session: not on its sockets, not on a new one.
    with pytest.raises(socketio.exceptions.BadNamespaceError):
        await ended[0].send(community.id, "我还在吗")
    again = ChannelClient(nodes[1][0], alice.access_token)
    clients.append(again)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await again.connect()
    assert again.refusal["data"] == {"code": "session_revoked"}


async def test_log_out_everywhere_and_password_reset_disconnect_every_session(
    nodes: list[tuple[str, RtNode]],
    community: CommunityWorld,
    clients: list[ChannelClient],
    client: Any,
    core: Core,
) -> None:
    from lago_core.sms import LogSmsProvider

    alice, bob, _ = community.residents
    second = await core.identity.log_in(alice.phone, alice.password, "pytest")
    sockets = await _sockets_on_both_nodes(nodes, alice.access_token, community.id, clients)
    sockets += await _sockets_on_both_nodes(nodes, second.access_token, community.id, clients)
    resp = await client.post("/api/v1/auth/logout-all", headers=alice.headers)
    assert resp.status < 300, await resp.text()
    await _all_disconnected(sockets)

    fresh = await core.identity.log_in(bob.phone, bob.password, "pytest")
    sockets = await _sockets_on_both_nodes(nodes, bob.access_token, community.id, clients)
    sockets += await _sockets_on_both_nodes(nodes, fresh.access_token, community.id, clients)
    await client.post("/api/v1/auth/codes", json={"phone": bob.phone, "purpose": "reset_password"})
    assert isinstance(core.sms, LogSmsProvider)
    resp = await client.post(
        "/api/v1/auth/password/reset",
        json={"phone": bob.phone, "code": core.sms.sent[-1][1], "new_password": "brand-new-pass"},
    )
    assert resp.status < 300, await resp.text()
    await _all_disconnected(sockets)


async def test_a_command_of_an_ended_session_is_refused_when_the_notice_was_lost(
    nodes: list[tuple[str, RtNode]],
    community: CommunityWorld,
    clients: list[ChannelClient],
    core: Core,
    clock: Any,
) -> None:
    from lago_core.identity.ended import SESSION_CHECK_S

    alice = community.residents[0]
    url, _ = nodes[0]
    (sock,) = await _sockets_on_both_nodes(nodes[:1], alice.access_token, community.id, clients)
    second = await core.identity.log_in(alice.phone, alice.password, "pytest")
    support = await ChannelClient(url, second.access_token).connect(["/support"])
    clients.append(support)
    assert (await sock.send(community.id, "之前"))["ok"]
    assert (await support.call("support:queue", {}, namespace="/support"))["error"]["code"] == (
        "not_support"
    )
    # Ended behind the nodes' backs: no notice is published.
    await core.pool.execute("UPDATE sessions SET revoked_at = now() WHERE user_id = $1", alice.id)
    clock.advance(SESSION_CHECK_S)
    late = {"community_id": community.id, "client_msg_id": "late", "text": "之后"}
    refused = await sock.call("chat:send", late)
    assert refused["error"]["code"] == "session_revoked", refused
    refused = await support.call("support:queue", {}, namespace="/support")
    assert refused["error"]["code"] == "session_revoked", refused
    await _all_disconnected([sock, support])
    history = await core.pool.fetchval(
        "SELECT count(*) FROM channel_events WHERE data->>'client_msg_id' = 'late'"
    )
    assert history == 0


async def test_the_periodic_check_disconnects_an_idle_socket_whose_notice_was_lost(
    nodes: list[tuple[str, RtNode]],
    community: CommunityWorld,
    clients: list[ChannelClient],
    core: Core,
) -> None:
    alice, bob, _ = community.residents
    ended = await _sockets_on_both_nodes(nodes, alice.access_token, community.id, clients)
    kept = await _sockets_on_both_nodes(nodes, bob.access_token, community.id, clients)
    await core.pool.execute("UPDATE sessions SET revoked_at = now() WHERE user_id = $1", alice.id)
    for _, node in nodes:
        assert node.sessions is not None
        await node.sessions.check_all()
    await _all_disconnected(ended)
    assert all(sock.sio.connected for sock in kept)


async def test_a_stalled_client_under_the_limit_is_closed_when_its_pings_go_unanswered(
    settings: Settings,
    core: Core,
    node_server: Any,
    community: CommunityWorld,
    clients: list[ChannelClient],
) -> None:
    # The node gives up after a ping interval and a ping timeout without an answer.
    quick = replace(
        settings,
        client_msgs_per_s=100_000,
        client_msg_burst=100_000,
        ping_interval_ms=500,
        ping_timeout_ms=500,
    )
    server: NodeServer = await node_server(create_rt_app(quick, core=core))
    node: RtNode = server.app[RT_NODE]
    alice, bob, _ = community.residents
    stalled = await RawMember.join(server.port, bob.access_token, community.id)
    stalled.stop_reading()
    sender = await connect(clients, f"http://127.0.0.1:{server.port}", alice.access_token)
    await sender.join(community.id)
    conn = _other_member(node, community.id, sender)
    transport = conn.transport
    assert transport is not None
    try:
        # Backed up into the process, far below the limit: nothing to cut it for.
        while not transport.get_write_buffer_size():
            ack = await sender.send(community.id, "字" * 2_000)
            await sender.wait_until(lambda seq=ack["seq"]: seq in sender.seqs())  # type: ignore[misc]
        assert conn.limits.outstanding(transport) < node.settings.client_send_buffer_bytes
        await sender.wait_until(lambda: _left(sender, str(bob.id)))
        # The session is gone; the connection goes too, instead of staying open for ever.
        await until(lambda: conn.sid not in node.server.hub.connections, within=5)
        assert transport.is_closing()
        stalled.resume_reading()
        async with asyncio.timeout(5):
            try:
                while await stalled.reader.read(1 << 16):
                    pass
            except ConnectionResetError:
                pass
    finally:
        stalled.close()
