"""Community channels on two real-time nodes in this process: chat, recovery, presence, moderation."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import orjson
import pytest

from lago_core.actor_keys import CHANNEL_KIND
from lago_core.container import Core
from lago_core.settings import Settings
from lago_rt.app import RT_NODE, RtNode, create_rt_app
from lago_rt.channel.presence import announce_window_ms, presence_changes
from lago_rt.runtime.keys import ActorKeys

from .conftest import CommunityWorld
from .groupbuy_support import bulk_residents
from .node_server import NodeServer
from .rt_client import ChannelClient


async def start_nodes(
    settings: Settings, core: Core, node_server: Any, **overrides: Any
) -> list[tuple[str, RtNode]]:
    """Two real-time nodes sharing PostgreSQL and Redis, as two processes would."""
    out = []
    for name in ("a", "b"):
        node_settings = replace(settings, node_id=f"node-{name}", **overrides)
        server: NodeServer = await node_server(create_rt_app(node_settings, core=core))
        out.append((f"http://127.0.0.1:{server.port}", server.app[RT_NODE]))
    return out


@pytest.fixture
async def nodes(settings: Settings, core: Core, node_server: Any) -> list[tuple[str, RtNode]]:
    return await start_nodes(settings, core, node_server)


async def one_node(settings: Settings, core: Core, node_server: Any, **overrides: Any) -> str:
    """One real-time node with ``overrides`` of its settings; its URL."""
    server: NodeServer = await node_server(create_rt_app(replace(settings, **overrides), core=core))
    return f"http://127.0.0.1:{server.port}"


async def connect(clients: list[ChannelClient], url: str, token: str) -> ChannelClient:
    client = await ChannelClient(url, token).connect()
    clients.append(client)
    return client


async def test_chat_across_nodes_is_one_ordered_sequence(
    nodes: list[tuple[str, RtNode]], community: CommunityWorld, clients: list[ChannelClient]
) -> None:
    (url_a, _), (url_b, _) = nodes
    alice, bob, carol = community.residents
    ca = await connect(clients, url_a, alice.access_token)
    cb = await connect(clients, url_b, bob.access_token)
    cc = await connect(clients, url_b, carol.access_token)
    for client in (ca, cb, cc):
        joined = await client.join(community.id)
        assert joined["ok"], joined
        assert joined["role"] == "member"
    acks = await asyncio.gather(
        *(c.send(community.id, f"{i}号消息") for i in range(5) for c in (ca, cb, cc))
    )
    assert all(a["ok"] for a in acks), acks
    sent = sorted(a["seq"] for a in acks)
    assert len(set(sent)) == 15
    for client in (ca, cb, cc):
        await client.wait_until(lambda c=client: len(c.seqs("chat.message")) == 15)  # type: ignore[misc]
    orders = [c.seqs("chat.message") for c in (ca, cb, cc)]
    assert orders[0] == orders[1] == orders[2] == sent
    # Every event is delivered once: the full stream of seqs has no repeats or gaps.
    all_seqs = ca.seqs()
    assert all_seqs == sorted(all_seqs)
    assert len(all_seqs) == len(set(all_seqs))


async def test_messages_waiting_together_are_appended_and_delivered_together(
    nodes: list[tuple[str, RtNode]], community: CommunityWorld, clients: list[ChannelClient]
) -> None:
    """Chat messages that wait in the channel's mailbox together are appended in one fenced
    call (``ChannelActor.emit_many``), so they reach the other node together and each of its
    members in one write; each sender still gets its own number, a resend within the same
    batch gets the first's, and a refused message refuses only its sender."""
    (url_a, _), (url_b, node_b) = nodes
    alice, bob, carol = community.residents
    senders = [await connect(clients, url_a, r.access_token) for r in (alice, bob)]
    watcher = await connect(clients, url_b, carol.access_token)
    for client in (*senders, watcher):
        assert (await client.join(community.id))["ok"]
    bursts: list[int] = []
    real = node_b.server.hub.broadcast_many

    async def counted(room: str, name: bytes, payloads: Any, namespace: str = "/") -> int:
        bursts.append(len(payloads))
        return await real(room, name, payloads, namespace)

    node_b.server.hub.broadcast_many = counted  # type: ignore[method-assign]
    calls = [s.send(community.id, f"{who}-{i}") for i in range(15) for who, s in enumerate(senders)]
    calls.append(senders[0].send(community.id, "again", client_msg_id="same-id"))
    calls.append(senders[0].send(community.id, "again", client_msg_id="same-id"))
    calls.append(senders[1].send(community.id, "   "))  # empty: refused, alone
    acks = await asyncio.gather(*calls)
    refused = acks.pop()
    assert refused["ok"] is False
    assert refused["error"]["code"] == "invalid_text"
    assert all(a["ok"] for a in acks), acks
    first, second = acks[-2:]
    assert first["seq"] == second["seq"]
    assert sorted([first["duplicate"], second["duplicate"]]) == [False, True]
    seqs = sorted({a["seq"] for a in acks})
    assert len(seqs) == 31
    assert seqs == list(range(seqs[0], seqs[0] + 31))  # one number each, no gaps
    await watcher.wait_until(lambda: len(watcher.seqs("chat.message")) == 31)
    assert watcher.seqs("chat.message") == seqs
    # Several went out together (the sends waited behind the first batch's append).
    assert max(bursts) > 1, bursts


async def test_resend_is_idempotent(
    nodes: list[tuple[str, RtNode]],
    community: CommunityWorld,
    clients: list[ChannelClient],
    core: Core,
) -> None:
    (url_a, node_a), (url_b, _) = nodes
    alice = community.residents[0]
    first = await connect(clients, url_a, alice.access_token)
    await first.join(community.id)
    one = await first.send(community.id, "你好", client_msg_id="abc-1")
    # The same message resent from another device, through the other node.
    second = await connect(clients, url_b, alice.access_token)
    await second.join(community.id)
    two = await second.send(community.id, "你好", client_msg_id="abc-1")
    assert one["ok"]
    assert two["ok"]
    assert two["seq"] == one["seq"]
    assert (one["duplicate"], two["duplicate"]) == (False, True)
    await node_a.host.tick_all()  # flush the archive now rather than at the next heartbeat
    await nodes[1][1].host.tick_all()
    stored = await core.pool.fetchval(
        "SELECT count(*) FROM channel_events WHERE client_msg_id = 'abc-1'"
    )
    assert stored == 1


async def test_reconnect_recovers_missed_events_in_order(
    nodes: list[tuple[str, RtNode]], community: CommunityWorld, clients: list[ChannelClient]
) -> None:
    (url_a, _), (url_b, _) = nodes
    alice, bob, _ = community.residents
    ca = await connect(clients, url_a, alice.access_token)
    joined = await ca.join(community.id)
    epoch = joined["epoch"]
    cb = await connect(clients, url_b, bob.access_token)
    await cb.join(community.id)
    await ca.send(community.id, "before")
    await ca.wait_until(lambda: bool(ca.seqs("chat.message")))
    last_seen = ca.seqs()[-1]
    await ca.close()
    missed = [(await cb.send(community.id, f"missed {i}"))["seq"] for i in range(3)]
    back = await connect(clients, url_b, alice.access_token)
    recovered = await back.join(community.id, since={"seq": last_seen, "epoch": epoch})
    assert recovered["recovered"] is True
    chat = [e for e in recovered["events"] if e["type"] == "chat.message"]
    assert [e["seq"] for e in chat] == missed
    assert [e["data"]["text"] for e in chat] == ["missed 0", "missed 1", "missed 2"]
    seqs = [e["seq"] for e in recovered["events"]]
    assert seqs == list(range(last_seen + 1, recovered["seq"] + 1))
    # A stale epoch (history was lost) cannot be continued: a fresh snapshot instead.
    other = await connect(clients, url_a, alice.access_token)
    fresh = await other.join(community.id, since={"seq": last_seen, "epoch": "lost-history"})
    assert fresh["recovered"] is False
    assert [m["text"] for m in fresh["snapshot"]["chat"]["recent"]][-3:] == [
        "missed 0",
        "missed 1",
        "missed 2",
    ]


async def test_presence_with_several_devices(
    nodes: list[tuple[str, RtNode]], community: CommunityWorld, clients: list[ChannelClient]
) -> None:
    (url_a, _), (url_b, _) = nodes
    alice, bob, _ = community.residents
    watcher = await connect(clients, url_a, bob.access_token)
    await watcher.join(community.id)
    phone = await connect(clients, url_a, alice.access_token)
    tablet = await connect(clients, url_b, alice.access_token)
    await phone.join(community.id)
    snap = await tablet.join(community.id)
    online = {m["user_id"] for m in snap["snapshot"]["presence"]["online"]}
    assert online == {str(alice.id), str(bob.id)}

    def presence(joined: bool) -> list[str]:
        """Alice's announcements (came online, or went away) as the watcher saw them."""
        return [
            user_id
            for e in watcher.events
            for user_id in presence_changes(e)[0 if joined else 1]
            if user_id == str(alice.id)
        ]

    # Two devices, one join: presence is per user.
    await watcher.wait_until(lambda: presence(joined=True) == [str(alice.id)])
    await phone.close()
    left_one = await tablet.call("whoami")  # a round trip after the leave was processed
    assert left_one["ok"]
    assert presence(joined=False) == []
    await tablet.close()
    await watcher.wait_until(lambda: presence(joined=False) == [str(alice.id)])


async def test_a_join_storm_is_announced_in_a_few_events(
    nodes: list[tuple[str, RtNode]],
    community: CommunityWorld,
    core: Core,
    clients: list[ChannelClient],
) -> None:
    # Forty members join at once: everyone online hears of each of them, but in a few
    # `presence.changed` events (one per LAGO_PRESENCE_UPDATE_MS window), not forty events each.
    (url_a, _), (url_b, _) = nodes
    watcher = await connect(clients, url_a, community.residents[0].access_token)
    assert (await watcher.join(community.id))["ok"]
    crowd = await bulk_residents(core, community.id, 40)
    sockets = await asyncio.gather(
        *(connect(clients, (url_a, url_b)[i % 2], r.access_token) for i, r in enumerate(crowd))
    )
    joins = await asyncio.gather(*(s.join(community.id) for s in sockets))
    assert all(j["ok"] for j in joins)
    everyone = {str(r.id) for r in crowd}
    # Joins that waited together were written together (Presence._join_batch): every session is
    # in the fenced Redis hash a next owner would restore them from, and every reply lists the
    # joiner's own session's user as online.
    keys = ActorKeys(core.settings.redis_prefix, CHANNEL_KIND, community.id)
    stored = await core.redis.hgetall(keys.extra("presence"))  # type: ignore[misc]
    assert {orjson.loads(v)["user_id"] for v in stored.values()} == everyone | {
        str(community.residents[0].id)
    }
    assert all(j["snapshot"]["presence"]["count"] >= 2 for j in joins)

    def announced(which: int) -> tuple[set[str], int]:
        users: set[str] = set()
        events = 0
        for e in watcher.events:
            changed = set(presence_changes(e)[which]) & everyone
            if changed:
                users |= changed
                events += 1
        return users, events

    await watcher.wait_until(lambda: announced(0)[0] == everyone)
    joined_in = announced(0)[1]
    assert joined_in < len(everyone) // 2, joined_in
    assert any(e["type"] == "presence.changed" for e in watcher.events)
    changed = next(e for e in watcher.events if e["type"] == "presence.changed")
    assert {"user_id", "name"} <= set(changed["data"]["joined"][0])
    await asyncio.gather(*(s.close() for s in sockets))
    await watcher.wait_until(lambda: announced(1)[0] == everyone)
    assert announced(1)[1] < len(everyone) // 2
    page = await watcher.call("channel:presence", {"community_id": community.id})
    assert [m["user_id"] for m in page["online"]] == [str(community.residents[0].id)]


async def test_a_member_who_comes_and_goes_within_a_window_is_never_announced(
    settings: Settings,
    core: Core,
    node_server: Any,
    community: CommunityWorld,
    clients: list[ChannelClient],
) -> None:
    # A window of 2 s, so that the visit below surely falls inside the one the watcher's own
    # announcement opened: online and gone again by its end, the visitor is announced neither way.
    url = await one_node(settings, core, node_server, presence_update_ms=2_000)
    watcher_of, visitor_of, late_of = community.residents
    watcher = await connect(clients, url, watcher_of.access_token)
    assert (await watcher.join(community.id))["ok"]
    visitor = await connect(clients, url, visitor_of.access_token)
    assert (await visitor.join(community.id))["ok"]
    await visitor.close()
    late = await connect(clients, url, late_of.access_token)
    assert (await late.join(community.id))["ok"]
    # The late member's announcement comes at the window's end, with or after the visitor's
    # net change — nothing.
    await watcher.wait_until(
        lambda: any(str(late_of.id) in presence_changes(e)[0] for e in watcher.events)
    )
    seen = {u for e in watcher.events for side in presence_changes(e) for u in side}
    assert str(visitor_of.id) not in seen
    assert str(late_of.id) in seen


async def test_a_large_channel_announces_presence_less_often(
    settings: Settings,
    core: Core,
    node_server: Any,
    community: CommunityWorld,
    clients: list[ChannelClient],
) -> None:
    """Each announcement is a write to every member online, so the window widens with the
    audience (announce_window_ms): with 60 online and a 20 ms base it is 240 ms. A change right
    after an announcement waits for the window's end — measured from the watcher's side, where
    lateness can only make the gap longer."""
    url = await one_node(settings, core, node_server, presence_update_ms=20)
    watcher = await connect(clients, url, community.residents[0].access_token)
    assert (await watcher.join(community.id))["ok"]
    crowd = await bulk_residents(core, community.id, 60)
    sockets = await asyncio.gather(*(connect(clients, url, r.access_token) for r in crowd))
    assert all(j["ok"] for j in await asyncio.gather(*(s.join(community.id) for s in sockets)))
    everyone = {str(r.id) for r in crowd}

    def came() -> set[str]:
        return {u for e in watcher.events for u in presence_changes(e)[0]}

    def gone() -> set[str]:
        return {u for e in watcher.events for u in presence_changes(e)[1]}

    await watcher.wait_until(lambda: everyone <= came())
    online = 61
    window_s = announce_window_ms(20, online) / 1000
    assert window_s == pytest.approx(0.244)
    loop = asyncio.get_running_loop()
    gaps = []
    announced_at = None
    for leaving, member in zip(sockets[:3], crowd[:3], strict=True):
        await leaving.close()
        await watcher.wait_until(lambda m=member: str(m.id) in gone())  # type: ignore[misc]
        now = loop.time()
        if announced_at is not None:
            gaps.append(now - announced_at)
        announced_at = now
    # Each close came right after the previous announcement, so each waited for a window of
    # about 240 ms (59–60 online); the base window would have let it out after 20 ms.
    assert all(gap >= 0.5 * window_s for gap in gaps), gaps


async def test_changes_an_owner_had_not_announced_when_it_died_are_announced_by_the_next(
    settings: Settings,
    core: Core,
    node_server: Any,
    community: CommunityWorld,
    clients: list[ChannelClient],
) -> None:
    # Windows of a minute, so that the owner (node A) holds the joins below unannounced until it
    # loses the channel; node B takes over and must tell the members what A had not.
    (url_a, node_a), (url_b, node_b) = await start_nodes(
        settings, core, node_server, presence_update_ms=60_000
    )
    first_of, watcher_of, late_of = community.residents
    first = await connect(clients, url_a, first_of.access_token)
    assert (await first.join(community.id))["ok"]  # a lone change: announced at once
    assert node_a.host.actor(community.id) is not None
    watcher = await connect(clients, url_b, watcher_of.access_token)
    assert (await watcher.join(community.id))["ok"]
    late = await connect(clients, url_b, late_of.access_token)
    assert (await late.join(community.id))["ok"]
    await first.close()  # its last device: a change to announce too
    seen = {u for e in watcher.events for side in presence_changes(e) for u in side}
    assert not seen & {str(late_of.id), str(first_of.id)}  # held for the window's end

    # Node A stalls past its lease; the next command takes the channel to node B.
    await core.redis.delete(ActorKeys(settings.redis_prefix, "ch", community.id).lease)
    page = await watcher.call("channel:presence", {"community_id": community.id})
    assert node_b.host.actor(community.id) is not None
    assert {m["user_id"] for m in page["online"]} == {str(watcher_of.id), str(late_of.id)}
    await watcher.wait_until(
        lambda: any(str(late_of.id) in presence_changes(e)[0] for e in watcher.events)
    )
    await watcher.wait_until(
        lambda: any(str(first_of.id) in presence_changes(e)[1] for e in watcher.events)
    )
    # Announced, the set is empty: a third owner would announce nothing again.
    pending = ActorKeys(settings.redis_prefix, "ch", community.id).extra("presence-pending")
    assert await core.redis.exists(pending) == 0


async def test_outsiders_and_bad_payloads_are_refused(
    nodes: list[tuple[str, RtNode]], community: CommunityWorld, clients: list[ChannelClient]
) -> None:
    url_a, _ = nodes[0]
    outsider = await connect(clients, url_a, community.outsider.access_token)
    refused = await outsider.join(community.id)
    assert refused == {
        "ok": False,
        "error": {"code": "not_a_member", "message": refused["error"]["message"], "details": None},
    }
    not_joined = await outsider.send(community.id, "hi")
    assert not_joined["error"]["code"] == "not_joined"
    for bad in ({"community_id": "nope"}, {"community_id": community.id, "extra": 1}, ["x"], None):
        reply = await outsider.call("channel:join", bad)
        assert reply["ok"] is False
        assert reply["error"]["code"] == "invalid_input"
    member = await connect(clients, url_a, community.residents[0].access_token)
    await member.join(community.id)
    too_long = await member.send(community.id, "字" * 2001)
    assert too_long["error"]["code"] == "invalid_input"


async def test_flooding_client_is_cut_off_others_keep_working(
    nodes: list[tuple[str, RtNode]], community: CommunityWorld, clients: list[ChannelClient]
) -> None:
    url_a, _ = nodes[0]
    alice, bob, _ = community.residents
    flooder = await connect(clients, url_a, alice.access_token)
    calm = await connect(clients, url_a, bob.access_token)
    await flooder.join(community.id)
    await calm.join(community.id)
    # Messages from the cut on go unanswered: collect what comes rather than wait on each.
    replies: list[dict[str, Any]] = []
    for _ in range(80):
        await flooder.sio.emit("whoami", callback=replies.append)
    await flooder.disconnected.wait()
    limited = [r for r in replies if not r["ok"]]
    assert limited
    assert all(r["error"]["code"] == "rate_limited" for r in limited)
    ok = await calm.send(community.id, "still here")
    assert ok["ok"]


async def test_oversized_message_closes_the_socket(
    nodes: list[tuple[str, RtNode]],
    community: CommunityWorld,
    clients: list[ChannelClient],
    settings: Settings,
) -> None:
    url_a, _ = nodes[0]
    alice, bob, _ = community.residents
    big = await connect(clients, url_a, alice.access_token)
    calm = await connect(clients, url_a, bob.access_token)
    await calm.join(community.id)
    await big.sio.emit(
        "chat:send",
        {
            "community_id": community.id,
            "client_msg_id": "x",
            "text": "x" * settings.max_message_bytes,
        },
    )
    await big.disconnected.wait()
    assert (await calm.send(community.id, "fine"))["ok"]


async def test_moderation(
    nodes: list[tuple[str, RtNode]],
    community: CommunityWorld,
    clients: list[ChannelClient],
    core: Core,
) -> None:
    url_a, node_a = nodes[0]
    alice, bob, _ = community.residents
    staff = await connect(clients, url_a, community.staff.access_token)
    ca = await connect(clients, url_a, alice.access_token)
    cb = await connect(clients, url_a, bob.access_token)
    for client in (staff, ca, cb):
        assert (await client.join(community.id))["ok"]
    bad = await ca.send(community.id, "广告：加微信")
    # A resident may not delete or mute.
    denied = await cb.call("chat:delete", {"community_id": community.id, "seq": bad["seq"]})
    assert denied["error"]["code"] == "forbidden"
    reported = await cb.call(
        "chat:report", {"community_id": community.id, "seq": bad["seq"], "reason": "广告"}
    )
    assert reported["ok"]
    deleted = await staff.call(
        "chat:delete", {"community_id": community.id, "seq": bad["seq"], "reason": "广告"}
    )
    assert deleted["ok"]
    await cb.wait_until(lambda: "chat.deleted" in [e["type"] for e in cb.events])
    history = await cb.call("chat:history", {"community_id": community.id})
    assert bad["seq"] not in [m["seq"] for m in history["messages"]]
    muted = await staff.call(
        "chat:mute",
        {"community_id": community.id, "user_id": str(alice.id), "minutes": 10, "reason": "广告"},
    )
    assert muted["ok"]
    refused = await ca.send(community.id, "再发一次")
    assert refused["error"]["code"] == "muted"
    assert refused["error"]["details"]["until"] == muted["until"]
    unmuted = await staff.call(
        "chat:unmute", {"community_id": community.id, "user_id": str(alice.id)}
    )
    assert unmuted["ok"]
    assert (await ca.send(community.id, "我改正"))["ok"]
    await node_a.host.tick_all()
    row = await core.pool.fetchrow(
        "SELECT deleted_at, deleted_by FROM channel_events WHERE seq = $1", bad["seq"]
    )
    assert row["deleted_by"] == community.staff.id
    assert (
        await core.pool.fetchval("SELECT count(*) FROM message_reports WHERE status = 'open'") == 1
    )


async def test_history_pages_from_stream_into_archive(
    settings: Settings,
    core: Core,
    node_server: Any,
    community: CommunityWorld,
    clients: list[ChannelClient],
) -> None:
    # A short stream: most history must come from the PostgreSQL archive.
    small = replace(
        settings, channel_stream_max=100, client_msgs_per_s=10_000, client_msg_burst=10_000
    )
    server: NodeServer = await node_server(create_rt_app(small, core=core))
    node: RtNode = server.app[RT_NODE]
    client = await connect(
        clients, f"http://127.0.0.1:{server.port}", community.residents[0].access_token
    )
    await client.join(community.id)
    sent = []
    for i in range(300):
        sent.append((await client.send(community.id, f"第{i}条"))["seq"])
        if i % 100 == 99:
            await node.host.tick_all()
    await node.host.tick_all()
    seen: list[int] = []
    before = None
    while True:
        page = await client.call(
            "chat:history",
            {
                "community_id": community.id,
                "limit": 70,
                **({"before_seq": before} if before else {}),
            },
        )
        assert page["ok"], page
        seen += [m["seq"] for m in page["messages"]]
        before = page["next_before_seq"]
        if before is None:
            break
    assert seen == sorted(sent, reverse=True)


async def test_a_client_that_does_not_read_is_cut_off(
    settings: Settings,
    core: Core,
    node_server: Any,
    community: CommunityWorld,
    clients: list[ChannelClient],
) -> None:
    from .rt_client import RawMember

    tight = replace(
        settings,
        client_send_buffer_bytes=64 * 1024,
        client_msgs_per_s=100_000,
        client_msg_burst=100_000,
    )
    server: NodeServer = await node_server(create_rt_app(tight, core=core))
    node: RtNode = server.app[RT_NODE]
    alice, bob, _ = community.residents
    stalled = await RawMember.join(server.port, bob.access_token, community.id)
    sender = await connect(clients, f"http://127.0.0.1:{server.port}", alice.access_token)
    await sender.join(community.id)
    try:
        text = "字" * 2_000  # about 6 KB a frame
        sent = 0
        while len(node.joined(community.id)) > 1:
            assert sent < 3_000, "the stalled member was never cut off"
            ack = await sender.send(community.id, text)
            assert ack["ok"], ack
            sent += 1
        # Everything kept working for the member that reads.
        await sender.wait_until(lambda: len(sender.seqs("chat.message")) == sent)
        # Kernel buffers hold a few MB; the server gave up soon after them, not at 3,000 messages.
        assert sent < 2_000
    finally:
        stalled.close()


async def test_presence_is_paged(
    nodes: list[tuple[str, RtNode]], community: CommunityWorld, clients: list[ChannelClient]
) -> None:
    from lago_rt.channel.presence import SNAPSHOT_ONLINE

    url_a, _ = nodes[0]
    members = [*community.residents, community.staff]
    for account in members:
        client = await connect(clients, url_a, account.access_token)
        joined = await client.join(community.id)
    presence = joined["snapshot"]["presence"]
    assert presence["count"] == len(members)
    assert presence["more"] is (len(members) > SNAPSHOT_ONLINE)
    first = await client.call("channel:presence", {"community_id": community.id, "limit": 2})
    rest = await client.call(
        "channel:presence",
        {
            "community_id": community.id,
            "limit": 10,
            "after_user_id": first["online"][-1]["user_id"],
        },
    )
    assert first["more"] is True
    assert rest["more"] is False
    paged = [m["user_id"] for m in first["online"] + rest["online"]]
    assert paged == sorted(str(a.id) for a in members)
