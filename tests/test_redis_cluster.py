"""The real-time node on a local three-master Redis Cluster (docs/architecture.md, "Redis Cluster").

Two ``lago rt`` processes and this test's own core all use the cluster (``LAGO_REDIS_CLUSTER``);
arq's queue stays on the shared single Redis (``LAGO_JOBS_REDIS_URL``), which arq needs.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from lago_core.actor_messages import LeaseValue
from lago_core.container import Core
from lago_core.jobs import SWEEP_PAYMENTS, queue_name
from lago_core.redis import (
    SHARD_PUBSUB_FAILURES,
    count_subscribers,
    create_redis,
    is_cluster,
    open_pubsub,
    publish,
)
from lago_core.settings import Settings, SettingsError
from lago_rt.channel.presence import presence_changes
from lago_rt.runtime.keys import ActorKeys

from .conftest import CommunityWorld
from .redis_cluster import ClusterUnavailable, LocalCluster, local_cluster, redis_7_binaries
from .rt_client import ChannelClient
from .test_multinode import LEASE_MS, NodeProcess, connect, start_node
from .waiting import until

__all__ = ["start_node"]  # the fixture, imported for this module's tests


def _without_redis_7() -> str:
    try:
        redis_7_binaries()
    except ClusterUnavailable as exc:
        return str(exc)
    return ""


_MISSING = _without_redis_7()
pytestmark = pytest.mark.skipif(bool(_MISSING), reason=f"no local Redis Cluster: {_MISSING}")


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[LocalCluster]:
    async with local_cluster(tmp_path / "cluster") as started:
        yield started


@pytest.fixture
async def cluster_client(cluster: LocalCluster) -> AsyncIterator[aioredis.Redis]:
    client = create_redis(cluster.url, cluster=True)
    yield client
    await client.aclose()


@pytest.fixture
def settings(settings: Settings, cluster: LocalCluster) -> Settings:
    return dataclasses.replace(
        settings,
        redis_url=cluster.url,
        redis_cluster=True,
        jobs_redis_url=settings.redis_url,
    )


def test_cluster_needs_a_jobs_redis_of_its_own() -> None:
    with pytest.raises(SettingsError, match="LAGO_JOBS_REDIS_URL"):
        Settings(redis_cluster=True).validate()
    with pytest.raises(SettingsError, match="LAGO_JOBS_REDIS_URL"):
        Settings(redis_cluster=True, jobs_redis_url=Settings().redis_url).validate()
    Settings(redis_cluster=True, jobs_redis_url="redis://127.0.0.1:6380/0").validate()
    with pytest.raises(SettingsError, match="REDIS_URL"):
        Settings(
            redis_cluster=True,
            redis_url="rediss://127.0.0.1:7000/0",
            jobs_redis_url="redis://127.0.0.1:6380/0",
        ).validate()
    assert Settings().jobs_url == Settings().redis_url


async def _move_slot(cluster: LocalCluster, slot: int, source: int, target: int) -> None:
    """Give an empty slot to another node, as a resharding does (CLUSTER SETSLOT)."""
    ids: dict[int, str] = {}
    for port in cluster.ports:
        node = aioredis.Redis(host="127.0.0.1", port=port)
        try:
            ids[port] = (await node.execute_command("CLUSTER", "MYID")).decode()
        finally:
            await node.aclose()
    steps = [
        (target, ("IMPORTING", ids[source])),
        (source, ("MIGRATING", ids[target])),
        (target, ("NODE", ids[target])),
        (source, ("NODE", ids[target])),
    ]
    steps += [(p, ("NODE", ids[target])) for p in cluster.ports if p not in (source, target)]
    for port, args in steps:
        node = aioredis.Redis(host="127.0.0.1", port=port)
        try:
            await node.execute_command("CLUSTER", "SETSLOT", slot, *args)
        finally:
            await node.aclose()


async def test_a_shard_channel_follows_its_slot_to_another_node(
    cluster_client: aioredis.Redis, cluster: LocalCluster, settings: Settings
) -> None:
    channel = ActorKeys(settings.redis_prefix, "ch", "moving").live
    await cluster_client.initialize()  # type: ignore[attr-defined]
    slot = cluster_client.keyslot(channel)  # type: ignore[attr-defined]
    source = int(cluster_client.get_node_from_key(channel).port)  # type: ignore[attr-defined]
    target = next(p for p in cluster.ports if p != source)
    moved = SHARD_PUBSUB_FAILURES.labels(kind="moved")._value.get()
    pubsub = await open_pubsub(cluster_client)
    try:
        await pubsub.subscribe(channel)
        assert await publish(cluster_client, channel, b"before") == 1
        messages = pubsub.listen()
        async with asyncio.timeout(5):
            assert (await anext(messages))["data"] == b"before"

        await _move_slot(cluster, slot, source, target)

        # The old node drops the subscription; the subscriber finds the slot's new node. A
        # publish before it has subscribed there reaches nobody, so publish until one arrives.
        async def reached() -> bool:
            return await publish(cluster_client, channel, b"after") > 0

        await until(reached, within=10)
        async with asyncio.timeout(5):
            assert (await anext(messages))["data"] == b"after"
        assert SHARD_PUBSUB_FAILURES.labels(kind="moved")._value.get() == moved + 1
        node = cluster_client.get_node_from_key(channel)  # type: ignore[attr-defined]
        assert int(node.port) == target
    finally:
        await pubsub.aclose()


async def test_jobs_go_to_the_jobs_redis_not_the_cluster(
    core: Core, settings: Settings, run_redis: aioredis.Redis, cluster_client: aioredis.Redis
) -> None:
    assert await core.jobs.enqueue(SWEEP_PAYMENTS, job_id="cluster-test-sweep")
    queue = queue_name(settings)
    # arq's queue is on the single Redis of LAGO_JOBS_REDIS_URL; the cluster never saw it.
    assert await run_redis.zcard(queue) == 1
    assert await cluster_client.exists(queue) == 0


async def owner_of(client: aioredis.Redis, settings: Settings, community_id: str) -> str:
    raw = await client.get(ActorKeys(settings.redis_prefix, "ch", community_id).lease)
    assert raw is not None
    # The holder is the node's instance, "<node id>:<random>" (ActorHost).
    return LeaseValue.decode(raw).holder.split(":", 1)[0]


async def test_shard_channels_on_every_node_read_through_one_listener(
    cluster_client: aioredis.Redis, settings: Settings
) -> None:
    # Channels whose slots fall on different nodes (one per community id tag).
    channels = [ActorKeys(settings.redis_prefix, "ch", f"c{i}").live for i in range(12)]
    await cluster_client.initialize()  # type: ignore[attr-defined]
    nodes = {cluster_client.get_node_from_key(c).name for c in channels}  # type: ignore[attr-defined]
    assert len(nodes) == 3
    pubsub = await open_pubsub(cluster_client)
    try:
        await pubsub.subscribe(*channels)
        for channel in channels:
            assert await count_subscribers(cluster_client, channel) == 1
            assert await publish(cluster_client, channel, channel.encode()) == 1
        got: set[bytes] = set()
        async with asyncio.timeout(5):
            async for message in pubsub.listen():
                assert message["type"] == "message"
                assert message["data"] == message["channel"]
                got.add(message["data"])
                if len(got) == len(channels):
                    break
        assert got == {c.encode() for c in channels}
        # Our own SUNSUBSCRIBE is not taken for a slot move, and the rest keep arriving.
        moved = SHARD_PUBSUB_FAILURES.labels(kind="moved")._value.get()
        await pubsub.unsubscribe(channels[0])
        assert await publish(cluster_client, channels[1], b"after") == 1
        async with asyncio.timeout(5):
            async for message in pubsub.listen():
                assert message["data"] == b"after"
                break
        assert SHARD_PUBSUB_FAILURES.labels(kind="moved")._value.get() == moved
    finally:
        await pubsub.aclose()


async def test_two_nodes_chat_presence_and_failover_on_a_cluster(
    start_node: Callable[[str], Awaitable[NodeProcess]],
    community: CommunityWorld,
    clients: list[ChannelClient],
    settings: Settings,
    cluster_client: aioredis.Redis,
) -> None:
    client = cluster_client
    assert is_cluster(client)
    # Every key of the channel in one slot, so its scripts stay legal on a cluster.
    keys = ActorKeys(settings.redis_prefix, "ch", str(community.id))
    slots = {client.keyslot(k) for k in (keys.lease, keys.epoch, keys.events, keys.meta, keys.live)}  # type: ignore[attr-defined]
    assert len(slots) == 1

    one, two = await asyncio.gather(start_node("n1"), start_node("n2"))
    alice, bob, carol = community.residents
    ca = await connect(clients, one.url, alice.access_token)
    first = await ca.join(community.id)
    assert first["ok"], first
    epoch = first["epoch"]
    cc = await connect(clients, one.url, carol.access_token)
    assert (await cc.join(community.id))["ok"]
    cb = await connect(clients, two.url, bob.access_token)
    joined = await cb.join(community.id)
    assert joined["ok"], joined
    assert await owner_of(client, settings, str(community.id)) == "n1"
    # Both nodes hear the channel's events on its shard, not through classic pub/sub.
    assert await count_subscribers(client, keys.live) == 2
    classic = await client.bus.pubsub_numsub(keys.live)  # type: ignore[attr-defined]
    assert classic[0][1] == 0
    # Presence crosses nodes: Bob's join on n2 was forwarded to n1's actor, which knows Carol.
    online = {m["user_id"] for m in joined["snapshot"]["presence"]["online"]}
    assert {str(alice.id), str(carol.id), str(bob.id)} <= online

    acked: dict[int, str] = {}
    for i in range(5):
        for member, who in ((ca, "alice"), (cb, "bob")):
            ack = await member.send(community.id, f"{who} {i}")
            assert ack["ok"], ack
            acked[ack["seq"]] = f"{who} {i}"
    for member in (ca, cb):
        await member.wait_until(lambda m=member: set(acked) <= set(m.seqs("chat.message")))  # type: ignore[misc]
    alice_last = ca.seqs()[-1]

    loop = asyncio.get_running_loop()
    killed_at = loop.time()
    one.kill()
    await one.process.wait()
    after = await cb.send(community.id, "bob after the crash")
    took = loop.time() - killed_at
    assert after["ok"], after
    acked[after["seq"]] = "bob after the crash"
    assert took < LEASE_MS / 1000 + 1.5, f"failover took {took:.2f}s"
    assert await owner_of(client, settings, str(community.id)) == "n2"

    back = await connect(clients, two.url, alice.access_token)
    recovered = await back.join(community.id, since={"seq": alice_last, "epoch": epoch})
    assert recovered["recovered"] is True, recovered
    missed_chat = [e["seq"] for e in recovered["events"] if e["type"] == "chat.message"]
    assert missed_chat == sorted(s for s in acked if s > alice_last)

    # Every acknowledged message was delivered live to Bob and is in the history.
    await cb.wait_until(lambda: set(acked) <= set(cb.seqs("chat.message")))
    history = await back.call("chat:history", {"community_id": community.id, "limit": 100})
    texts = {m["seq"]: m["text"] for m in history["messages"]}
    assert {s: texts.get(s) for s in acked} == acked

    # Carol was on the crashed node: her session is pruned by the new owner.
    await cb.wait_until(
        lambda: any(str(carol.id) in presence_changes(e)[1] for e in cb.events), within=5
    )
