"""Lottery draws in a channel: commit, countdown on the injected clock, eligibility, one result
however often (or wherever) it is triggered, reveal, and verification of the published data."""

from __future__ import annotations

import asyncio
import hashlib
import io
import uuid
from dataclasses import replace
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient

from lago_core.clock import ManualClock
from lago_core.container import Core
from lago_core.errors import NotFound
from lago_core.lottery import entries_hash
from lago_core.settings import Settings
from lago_rt.app import RT_NODE, RtNode, channel_actor, create_rt_app
from lago_rt.channel.actor import ChannelActor
from lago_rt.channel.lottery import Lottery
from lago_rt.runtime import ActorHost, Command
from lago_rt.runtime.actor import Fenced
from lago_rt.runtime.keys import ActorKeys

from .conftest import CommunityWorld
from .node_server import NodeServer
from .rt_client import ChannelClient
from .waiting import until

Client = TestClient[Any, Any]


@pytest.fixture
async def nodes(settings: Settings, core: Core, node_server: Any) -> list[tuple[str, RtNode]]:
    out = []
    for name in ("a", "b"):
        server: NodeServer = await node_server(
            create_rt_app(replace(settings, node_id=f"node-{name}"), core=core)
        )
        out.append((f"http://127.0.0.1:{server.port}", server.app[RT_NODE]))
    return out


async def joined(clients: list[ChannelClient], url: str, token: str, cid: str) -> ChannelClient:
    client = await ChannelClient(url, token).connect()
    clients.append(client)
    reply = await client.join(cid)
    assert reply["ok"], reply
    return client


def events(client: ChannelClient, type_: str) -> list[dict[str, Any]]:
    return [e for e in client.events if e["type"] == type_]


async def tick_owner(nodes: list[tuple[str, RtNode]]) -> None:
    for _, rt in nodes:
        await rt.host.tick_all()


async def verify(client: Client, draw: dict[str, Any], **tamper: Any) -> dict[str, Any]:
    body = {
        "commitment": draw["commitment"],
        "seed": draw["seed"],
        "entries": draw["entries"],
        "entries_hash": draw["entries_hash"],
        "winners": draw["winners"],
        "winner_count": draw["winner_count"],
        **tamper,
    }
    response = await client.post(
        "/api/v1/lottery/verify",
        # A file-like body: aiohttp warns about (and the suite fails on) multi-MB raw bytes.
        data=io.BytesIO(orjson.dumps(body)),
        headers={"Content-Type": "application/json"},
    )
    assert response.status == 200, await response.text()
    result: dict[str, Any] = await response.json()
    return result


async def test_keyword_draw_counts_down_reveals_and_verifies(
    nodes: list[tuple[str, RtNode]],
    community: CommunityWorld,
    clients: list[ChannelClient],
    client: Client,
    clock: ManualClock,
) -> None:
    (url_a, _), (url_b, _) = nodes
    cid = community.id
    staff = await joined(clients, url_a, community.staff.access_token, cid)
    r0, r1, r2 = [
        await joined(clients, url, r.access_token, cid)
        for url, r in zip((url_a, url_b, url_b), community.residents, strict=True)
    ]
    # Before the draw opens a keyword does not count.
    await r2.send(cid, "我要抽奖 乐高")
    opened = await staff.call(
        "lottery:open",
        {
            "community_id": cid,
            "prize": "乐高城市系列一套",
            "winner_count": 1,
            "eligibility": "keyword",
            "keyword": "乐高",
            "countdown_s": 60,
        },
    )
    assert opened["ok"], opened
    draw = opened["draw"]
    assert draw["status"] == "open"
    assert "seed" not in draw
    draw_id = draw["id"]
    await r0.send(cid, "想要乐高!")
    await r1.send(cid, "乐高乐高")
    await r1.send(cid, "第二条也算一次")
    await r2.send(cid, "路过")
    # A member sees the commitment, never the seed, while the draw is open.
    await r0.wait_until(lambda: bool(events(r0, "lottery.opened")))
    assert events(r0, "lottery.opened")[0]["data"]["commitment"] == draw["commitment"]
    assert all("seed" not in e["data"] for e in events(r0, "lottery.opened"))
    early = await client.get(
        f"/api/v1/lottery/draws/{draw_id}", headers=community.residents[0].headers
    )
    assert (await early.json())["seed"] is None
    clock.advance(59)
    await tick_owner(nodes)
    assert not events(staff, "lottery.drawn")
    clock.advance(2)
    await tick_owner(nodes)
    for member in (staff, r0, r1, r2):
        await member.wait_until(lambda m=member: bool(events(m, "lottery.revealed")))  # type: ignore[misc]
    drawn = events(r2, "lottery.drawn")[0]["data"]
    revealed = events(r2, "lottery.revealed")[0]["data"]
    assert drawn["entry_count"] == 2
    assert hashlib.sha256(bytes.fromhex(revealed["seed"])).hexdigest() == draw["commitment"]
    # The published draw has the frozen entry list; verify recomputes the same winner.
    response = await client.get(
        f"/api/v1/lottery/draws/{draw_id}", headers=community.residents[2].headers
    )
    published = await response.json()
    assert sorted(published["entries"]) == sorted(str(r.id) for r in community.residents[:2])
    assert published["winners"] == drawn["winners"]
    assert published["seed"] == revealed["seed"]
    good = await verify(client, published)
    assert good["valid"] is True
    assert good["recomputed_winners"] == drawn["winners"]
    # Tampering with the list (adding the resident who sent the keyword too early) or the seed
    # fails verification.
    added = await verify(
        client, published, entries=[*published["entries"], str(community.residents[2].id)]
    )
    assert added["valid"] is False
    assert added["checks"]["entries_hash_matches"] is False
    other_seed = await verify(client, published, seed="00" * 32)
    assert other_seed["valid"] is False
    assert other_seed["checks"]["seed_matches_commitment"] is False
    listed = await client.get(
        f"/api/v1/communities/{cid}/lottery/draws", headers=community.staff.headers
    )
    assert [d["id"] for d in await listed.json()] == [draw_id]
    outsider = await client.get(
        f"/api/v1/lottery/draws/{draw_id}", headers=community.outsider.headers
    )
    assert outsider.status == 403


async def test_double_trigger_gives_one_result(
    nodes: list[tuple[str, RtNode]],
    community: CommunityWorld,
    clients: list[ChannelClient],
    core: Core,
) -> None:
    (url_a, _), (url_b, _) = nodes
    cid = community.id
    on_a = await joined(clients, url_a, community.staff.access_token, cid)
    on_b = await joined(clients, url_b, community.staff.access_token, cid)
    opened = await on_a.call(
        "lottery:open",
        {
            "community_id": cid,
            "prize": "毛绒玩具",
            "winner_count": 2,
            "eligibility": "members",
            "countdown_s": 600,
        },
    )
    draw_id = opened["draw"]["id"]
    # The organiser presses "draw now" on two devices at once, through two nodes.
    first, second = await asyncio.gather(
        on_a.call("lottery:draw", {"community_id": cid, "draw_id": draw_id}),
        on_b.call("lottery:draw", {"community_id": cid, "draw_id": draw_id}),
    )
    assert first["ok"], first
    assert second["ok"], second
    assert sorted([first["already"], second["already"]]) == [False, True]
    assert first["draw"]["winners"] == second["draw"]["winners"]
    assert len(first["draw"]["winners"]) == 2
    # ...and once more later, and the countdown runs out: still that one result.
    again = await on_b.call("lottery:draw", {"community_id": cid, "draw_id": draw_id})
    assert again["draw"]["winners"] == first["draw"]["winners"]
    await tick_owner(nodes)
    assert await core.pool.fetchval("SELECT count(*) FROM lottery_results") == 1
    entries = await core.pool.fetchval("SELECT entries FROM lottery_results")
    assert sorted(entries) == sorted(str(r.id) for r in community.residents)
    await on_b.wait_until(lambda: bool(events(on_b, "lottery.revealed")))
    assert len(events(on_b, "lottery.drawn")) == 1
    assert len(events(on_b, "lottery.revealed")) == 1
    # A resident neither opens nor triggers draws.
    resident = await joined(clients, url_b, community.residents[0].access_token, cid)
    refused = await resident.call(
        "lottery:open",
        {
            "community_id": cid,
            "prize": "x",
            "winner_count": 1,
            "eligibility": "members",
            "countdown_s": 0,
        },
    )
    assert refused["error"]["code"] == "not_a_host"
    trigger = await resident.call("lottery:draw", {"community_id": cid, "draw_id": draw_id})
    assert trigger["error"]["code"] == "forbidden"


async def test_viewers_online_enter(
    nodes: list[tuple[str, RtNode]],
    community: CommunityWorld,
    clients: list[ChannelClient],
    clock: ManualClock,
) -> None:
    (url_a, _), (url_b, _) = nodes
    cid = community.id
    staff = await joined(clients, url_a, community.staff.access_token, cid)
    online = [await joined(clients, url_b, r.access_token, cid) for r in community.residents[:2]]
    opened = await staff.call(
        "lottery:open",
        {
            "community_id": cid,
            "prize": "积木",
            "winner_count": 5,
            "eligibility": "viewers",
            "countdown_s": 30,
        },
    )
    assert opened["ok"], opened
    # One viewer leaves before the draw; a latecomer joins in time.
    await online[1].close()
    await joined(clients, url_a, community.residents[2].access_token, cid)

    gone = str(community.residents[1].id)

    async def gone_offline() -> bool:
        # Asked rather than heard: a viewer who came and went within one presence window is
        # never announced either way.
        page = await staff.call("channel:presence", {"community_id": cid})
        return gone not in {m["user_id"] for m in page["online"]}

    await until(gone_offline)
    clock.advance(31)
    await tick_owner(nodes)
    await staff.wait_until(lambda: bool(events(staff, "lottery.drawn")))
    winners = events(staff, "lottery.drawn")[0]["data"]["winners"]
    # Everyone online but the organiser, and everyone wins with 5 prizes for 2 entrants.
    assert sorted(winners) == sorted(str(community.residents[i].id) for i in (0, 2))


def caller(world: CommunityWorld) -> dict[str, Any]:
    return {"user_id": str(world.staff.id), "name": "物业小李", "role": "staff"}


async def test_failover_mid_countdown_draws_exactly_once(
    core: Core, settings: Settings, community: CommunityWorld, clock: ManualClock
) -> None:
    hosts = []
    for name in ("a", "b"):
        host = ActorHost(
            kind="ch",
            factory=lambda ctx: channel_actor(ctx, core),
            redis=core.redis,
            pool=core.pool,
            settings=replace(settings, node_id=f"node-{name}", actor_idle_s=60),
            clock=clock,
        )
        await host.start()
        hosts.append(host)
    a, b = hosts
    try:
        opened = await a.call(
            community.id,
            Command(
                "lottery.open",
                {
                    "draw_id": "6b1f0a3e-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
                    "prize": "遥控车",
                    "winner_count": 1,
                    "eligibility": "members",
                    "countdown_s": 120,
                },
                caller(community),
            ),
        )
        draw_id = opened["draw"]["id"]
        stale = a.actor(community.id)
        assert isinstance(stale, ChannelActor)
        # Node A pauses past its lease mid-countdown; node B takes the channel over and has the
        # draw (from the stream) and its seed (from PostgreSQL).
        keys = ActorKeys(settings.redis_prefix, "ch", community.id)
        await core.redis.delete(keys.lease)
        state = await b.call(community.id, Command("lottery.get", {"draw_id": draw_id}))
        assert state["draw"]["status"] == "open"
        clock.advance(121)
        # A wakes up and its countdown fires: every write it tries is refused.
        stale_lottery = stale.feature("lottery")
        assert isinstance(stale_lottery, Lottery)
        with pytest.raises(Fenced):
            await stale_lottery.draw(draw_id)
        await b.tick_all()
        result = await b.call(community.id, Command("lottery.get", {"draw_id": draw_id}))
        assert result["draw"]["status"] == "revealed"
        # Triggered again on the new owner, and by the stale one routing through: one result.
        again = await a.call(
            community.id, Command("lottery.draw", {"draw_id": draw_id}, caller(community))
        )
        assert again["already"] is True
        assert again["draw"]["winners"] == result["draw"]["winners"]
        assert await core.pool.fetchval("SELECT count(*) FROM lottery_results") == 1
        stream = [e[1][b"e"] for e in await core.redis.xrange(keys.events)]
        assert sum(b'"lottery.drawn"' in e for e in stream) == 1
        assert sum(b'"lottery.revealed"' in e for e in stream) == 1
    finally:
        for host in hosts:
            await host.stop()


async def test_result_stored_but_not_announced_is_announced_by_the_next_owner(
    core: Core, settings: Settings, community: CommunityWorld, clock: ManualClock
) -> None:
    """The owner dies between storing the result and publishing it: the next owner publishes
    the stored result rather than drawing again."""
    host_settings = replace(settings, node_id="node-a", actor_idle_s=60)
    a = ActorHost(
        kind="ch",
        factory=lambda ctx: channel_actor(ctx, core),
        redis=core.redis,
        pool=core.pool,
        settings=host_settings,
        clock=clock,
    )
    await a.start()
    try:
        opened = await a.call(
            community.id,
            Command(
                "lottery.open",
                {
                    "draw_id": "0f1e2d3c-4b5a-4968-8776-655443322110",
                    "prize": "拼图",
                    "winner_count": 1,
                    "eligibility": "members",
                    "countdown_s": 10,
                },
                caller(community),
            ),
        )
        draw_id = opened["draw"]["id"]
        # What the dying owner managed to write: the result row, no event.
        winners = [str(community.residents[0].id)]
        entries = sorted(str(r.id) for r in community.residents)
        await core.pool.execute(
            """INSERT INTO lottery_results (draw_id, entries, entries_hash, winners, drawn_at)
               VALUES ($1, $2, $3, $4, now())""",
            uuid.UUID(draw_id),
            entries,
            entries_hash(entries),
            winners,
        )
        await a.stop()
        keys = ActorKeys(settings.redis_prefix, "ch", community.id)
        await core.redis.delete(keys.lease)
        b = ActorHost(
            kind="ch",
            factory=lambda ctx: channel_actor(ctx, core),
            redis=core.redis,
            pool=core.pool,
            settings=replace(settings, node_id="node-b", actor_idle_s=60),
            clock=clock,
        )
        await b.start()
        try:
            state = await b.call(community.id, Command("lottery.get", {"draw_id": draw_id}))
            assert state["draw"]["status"] == "revealed"
            assert state["draw"]["winners"] == winners
        finally:
            await b.stop()
    finally:
        await a.stop()


async def test_verify_takes_a_draw_of_100000_entries(client: Client) -> None:
    from lago_core.lottery import commitment_of, draw_winners, new_seed

    entries = [str(uuid.UUID(int=i + 1)) for i in range(100_000)]
    seed = new_seed()
    published = {
        "commitment": commitment_of(seed),
        "seed": seed,
        "entries": entries,
        "entries_hash": entries_hash(entries),
        "winners": draw_winners(seed, entries, 10),
        "winner_count": 10,
    }
    # ≈3.9 MB of JSON: above the global body limit, within this endpoint's own.
    result = await verify(client, published)
    assert result["valid"] is True


async def test_stream_viewers_enter_a_viewers_draw(
    core: Core, settings: Settings, community: CommunityWorld, clock: ManualClock
) -> None:
    """Someone watching the stream (say, on a phone without the channel open) is online too."""
    host = ActorHost(
        kind="ch",
        factory=lambda ctx: channel_actor(ctx, core),
        redis=core.redis,
        pool=core.pool,
        settings=settings,
        clock=clock,
    )
    await host.start()
    try:
        staff = caller(community)
        await host.call(
            community.id,
            Command(
                "live.start",
                {"session_id": "s1", "title": "直播", "media_node": host.instance},
                staff,
            ),
        )
        watcher = community.residents[1]
        await host.call(
            community.id,
            Command(
                "live.viewer_join",
                {"session_id": "s1", "sid": "sid-1", "node": host.instance},
                {"user_id": str(watcher.id), "name": "张先生", "role": "member"},
            ),
        )
        opened = await host.call(
            community.id,
            Command(
                "lottery.open",
                {
                    "draw_id": str(uuid.uuid4()),
                    "prize": "玩具车",
                    "winner_count": 3,
                    "eligibility": "viewers",
                    "countdown_s": 0,
                    "live_session": "s1",
                },
                staff,
            ),
        )
        assert opened["draw"]["live_session"] == "s1"
        drawn = await host.call(
            community.id, Command("lottery.draw", {"draw_id": opened["draw"]["id"]}, staff)
        )
        assert drawn["draw"]["winners"] == [str(watcher.id)]
        # A draw cannot name a stream that is not on.
        with pytest.raises(NotFound):
            await host.call(
                community.id,
                Command(
                    "lottery.open",
                    {
                        "draw_id": str(uuid.uuid4()),
                        "prize": "x",
                        "winner_count": 1,
                        "eligibility": "viewers",
                        "countdown_s": 0,
                        "live_session": "other",
                    },
                    staff,
                ),
            )
    finally:
        await host.stop()
