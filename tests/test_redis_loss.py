"""Redis killed and restarted empty mid-conversation (issue 16, item 2).

Runs its OWN redis-server on a free loopback port (never the shared one): two real-time nodes use
it, clients talk, the server is SIGKILLed right after a run of acknowledged messages and started
again, empty, on the same port. Heartbeats are a minute long so that nothing the ticks would do
(the archive's periodic flush) happens between the acknowledgements and the kill; the test drives
the heartbeat itself afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from lago_core.clock import ManualClock
from lago_core.container import Core, build_core
from lago_core.settings import Settings
from lago_rt.app import RT_NODE, RtNode, create_rt_app
from lago_rt.runtime import ActorHost
from lago_rt.runtime.keys import ActorKeys, NodeKeys

from .conftest import CommunityWorld
from .dedicated_redis import DedicatedRedis, dedicated_redis
from .node_server import NodeServer
from .rt_client import ChannelClient
from .waiting import until


@pytest.fixture
async def own_redis(tmp_path: Path) -> AsyncIterator[DedicatedRedis]:
    async with dedicated_redis(tmp_path) as server:
        yield server


async def beat_until_redis_is_back(hosts: list[ActorHost]) -> None:
    """Drive each node's heartbeat until it reaches Redis again (pooled connections to the killed
    server fail once before they reconnect)."""
    for host in hosts:

        async def beat(host: ActorHost = host) -> bool:
            try:
                await host.tick_all()
            except (OSError, aioredis.ConnectionError):
                return False
            return True

        await until(beat, within=10, every=0.02)


async def subscribed_again(redis: aioredis.Redis, wanted: dict[str, int]) -> None:
    """Wait until the nodes' pub/sub connections subscribed again after the restart (redis-py
    does it on its next read), so that the conversation resumes against a whole system."""

    async def subscribed() -> bool:
        counts = {
            (name.decode() if isinstance(name, bytes) else name): int(n)
            for name, n in await redis.pubsub_numsub(*wanted)
        }
        return all(counts.get(name, 0) >= n for name, n in wanted.items())

    await until(subscribed, within=10, every=0.02)


async def test_acknowledged_messages_survive_redis_restarting_empty(
    own_redis: DedicatedRedis,
    settings: Settings,
    clock: ManualClock,
    community: CommunityWorld,
    node_server: Any,
    clients: list[ChannelClient],
) -> None:
    node_settings = replace(
        settings, redis_url=own_redis.url, node_heartbeat_ms=60_000, actor_lease_ms=240_000
    )
    core: Core = await build_core(node_settings, clock=clock)
    servers: list[NodeServer] = []
    try:
        nodes: list[tuple[str, RtNode]] = []
        for name in ("a", "b"):
            app = create_rt_app(replace(node_settings, node_id=f"node-{name}"), core=core)
            server: NodeServer = await node_server(app)
            servers.append(server)
            nodes.append((f"http://127.0.0.1:{server.port}", server.app[RT_NODE]))
        await run_conversation(own_redis, core, nodes, community, clients)
    finally:
        # The nodes first: they stop with this core's connections.
        for client in clients:
            await client.close()
        for server in servers:
            await server.close()
        await core.close()


async def run_conversation(
    own_redis: DedicatedRedis,
    core: Core,
    nodes: list[tuple[str, RtNode]],
    community: CommunityWorld,
    clients: list[ChannelClient],
) -> None:
    (url_a, node_a), (url_b, node_b) = nodes
    cid = community.id
    alice, bob, carol = community.residents
    talkers = []
    for url, who in ((url_a, alice), (url_b, bob)):
        talker = await ChannelClient(url, who.access_token).connect()
        clients.append(talker)
        assert (await talker.join(cid))["ok"]
        talkers.append(talker)
    watcher = await ChannelClient(url_b, carol.access_token).connect()
    clients.append(watcher)
    joined = await watcher.join(cid)
    first_epoch = joined["epoch"]

    acked: dict[str, int] = {}  # text -> seq

    async def say(count: int, tag: str) -> None:
        for i in range(count):
            text = f"{tag}-{i}"
            ack = await talkers[i % 2].send(cid, text, client_msg_id=text)
            assert ack["ok"], ack
            acked[text] = ack["seq"]

    await say(12, "before")
    old_max = max(acked.values())
    await watcher.wait_until(lambda: old_max in watcher.seqs())

    # Right after the acknowledgements, before any tick could archive them.
    await own_redis.kill()
    await own_redis.start()
    await beat_until_redis_is_back([node_a.host, node_b.host])
    prefix = core.settings.redis_prefix
    await subscribed_again(
        core.redis,
        {
            NodeKeys(prefix).inbox(node_a.host.instance): 1,
            NodeKeys(prefix).inbox(node_b.host.instance): 1,
            ActorKeys(prefix, "ch", cid).live: 2,
        },
    )

    await say(8, "after")
    new = [acked[f"after-{i}"] for i in range(8)]
    assert min(new) > old_max
    assert len(set(acked.values())) == len(acked)

    # The watcher, connected throughout, is told of the new epoch live...
    def epoch_event() -> dict[str, Any] | None:
        return next((e for e in watcher.events if e["type"] == "channel.epoch"), None)

    await watcher.wait_until(lambda: epoch_event() is not None and max(new) in watcher.seqs())
    told = epoch_event()
    assert told is not None
    assert told["data"]["epoch"] != first_epoch
    assert told["seq"] > old_max
    # ...and recovers: what it misses below the epoch's first event comes from history.
    seen = {e["data"]["text"] for e in watcher.events if e["type"] == "chat.message"}
    before_seq: int | None = told["seq"]
    while before_seq is not None:
        page = await watcher.call(
            "chat:history", {"community_id": cid, "before_seq": before_seq, "limit": 50}
        )
        assert page["ok"], page
        seen |= {m["text"] for m in page["messages"]}
        before_seq = page["next_before_seq"]
    assert set(acked) <= seen

    # Every acknowledged message is archived exactly once, under the seq it was acknowledged with.
    rows = await core.pool.fetch(
        "SELECT seq, data->>'text' AS text FROM channel_events "
        "WHERE community_id = $1 AND type = 'chat.message'",
        uuid.UUID(cid),
    )
    stored = [(r["text"], r["seq"]) for r in rows]
    assert len(stored) == len({text for text, _ in stored})
    assert dict(stored) == acked
