"""Redis clients: one pool per process, decoding left to callers (streams carry bytes).

``create_redis`` is the one place that chooses between a single Redis and Redis Cluster
(``LAGO_REDIS_CLUSTER``); every other module uses the client it is given. Pub/sub that has to
know which it is goes through the functions here (docs/architecture.md, "Redis Cluster"):

- :func:`open_pubsub`, :func:`publish`, :func:`count_subscribers` — channels that belong to one
  place (a channel's ``live`` events, a node's inbox and replies). On a cluster whose servers
  have it (Redis 7) they are *sharded* channels: SSUBSCRIBE on the node that holds the channel's
  slot, SPUBLISH routed there, counted with PUBSUB SHARDNUMSUB — only that shard carries the
  message, where classic pub/sub copies every message to every node of the cluster.
- :func:`pubsub_client` — classic pub/sub for what every node must hear (session-ended
  notices); on a cluster, always on the node REDIS_URL names.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, cast

import redis.asyncio as aioredis
from prometheus_client import Counter
from redis.asyncio.cluster import RedisCluster

from lago_core.adapters.redis import NodeShardPubSub
from lago_core.logging import get_logger

__all__ = [
    "SHARD_PUBSUB_FAILURES",
    "ShardedPubSub",
    "count_subscribers",
    "create_redis",
    "is_cluster",
    "open_pubsub",
    "publish",
    "publish_command",
    "pubsub_client",
]

log = get_logger(__name__)

SHARD_PUBSUB_FAILURES = Counter(
    "lago_redis_shard_pubsub_failures_total",
    "Sharded pub/sub readers that failed (reconnected) or lost a channel to a slot move",
    ["kind"],
)

_OPTIONS: dict[str, Any] = {"health_check_interval": 30, "socket_connect_timeout": 5}


class _Cluster(RedisCluster):
    """A cluster client, the node its classic pub/sub uses, and whether the servers shard pub/sub.

    Classic PUBLISH in a cluster reaches subscribers on every node, but its answer (how many
    received it) and PUBSUB NUMSUB count only the node asked. So classic pub/sub always uses
    the node REDIS_URL names — the same for every process, and where python-socketio's Redis
    manager (which knows nothing of clusters) subscribes too. redis-py 5 (arq pins ``redis<6``)
    has no pub/sub on its asyncio cluster client at all.
    """

    bus: aioredis.Redis
    _sharded: bool | None = None

    async def aclose(self) -> None:
        try:
            await super().aclose()
        finally:
            await self.bus.aclose()

    async def sharded(self) -> bool:
        """Whether the servers have sharded pub/sub (Redis 7.0), asked once."""
        if self._sharded is None:
            info = await self.bus.info("server")
            major = int(str(info.get("redis_version", "0")).split(".", 1)[0])
            self._sharded = major >= 7
        return self._sharded


def create_redis(url: str, *, cluster: bool = False) -> aioredis.Redis:
    if not cluster:
        client: aioredis.Redis = aioredis.Redis.from_url(url, **_OPTIONS)
        return client
    node = _Cluster.from_url(url, **_OPTIONS)
    node.bus = aioredis.Redis.from_url(url, **_OPTIONS)
    # The cluster client offers the same command methods (keys routed by slot, pipelines split
    # per node); what it lacks — pub/sub and a connection pool — is reached through the
    # functions of this module and `is_cluster`, so the rest of the code keeps one client type.
    return cast(aioredis.Redis, node)


def is_cluster(client: object) -> bool:
    return isinstance(client, RedisCluster)


def pubsub_client(client: aioredis.Redis) -> aioredis.Redis:
    """The client for classic pub/sub that every node hears (broadcast)."""
    return client.bus if isinstance(client, _Cluster) else client


async def _sharded(client: aioredis.Redis) -> bool:
    return isinstance(client, _Cluster) and await client.sharded()


async def publish_command(client: aioredis.Redis) -> str:
    """The command that publishes a channel's own messages (inside a script too)."""
    return "SPUBLISH" if await _sharded(client) else "PUBLISH"


async def publish(client: aioredis.Redis, channel: str, message: bytes) -> int:
    """Publish on a channel that belongs to one place; the number of subscribers reached."""
    if await _sharded(client):
        # Routed by the channel's slot, like a key.
        return int(await client.execute_command("SPUBLISH", channel, message))  # type: ignore[no-untyped-call]
    return int(await pubsub_client(client).publish(channel, message))


async def count_subscribers(client: aioredis.Redis, channel: str) -> int:
    if isinstance(client, _Cluster) and await client.sharded():
        _ = await client.initialize()  # the slot map, which a new client has not read yet
        node = client.get_node_from_key(channel)
        counts = await client.execute_command("PUBSUB SHARDNUMSUB", channel, target_nodes=node)
    else:
        counts = await pubsub_client(client).pubsub_numsub(channel)
    return int(counts[0][1]) if counts else 0


async def open_pubsub(client: aioredis.Redis) -> Any:
    """A subscriber for channels that belong to one place: redis-py's ``PubSub`` on a single
    Redis, :class:`ShardedPubSub` on a cluster with sharded pub/sub. Both offer ``subscribe``,
    ``unsubscribe``, ``listen`` and ``aclose``; subscribe messages are left out."""
    if isinstance(client, _Cluster) and await client.sharded():
        return ShardedPubSub(client)
    return pubsub_client(client).pubsub(ignore_subscribe_messages=True)


class ShardedPubSub:
    """Shard channels on the nodes that hold their slots, read through one ``listen()``."""

    def __init__(self, cluster: _Cluster) -> None:
        self._cluster = cluster
        self._nodes: dict[str, tuple[aioredis.Redis, NodeShardPubSub]] = {}
        self._readers: dict[str, asyncio.Task[None]] = {}
        self._where: dict[str, str] = {}
        # What the caller subscribed to: a channel unsubscribed while its slot moved stays gone.
        self._wanted: set[str] = set()
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._tasks: set[asyncio.Task[None]] = set()

    async def subscribe(self, *channels: str) -> None:
        _ = await self._cluster.initialize()  # a no-op once the slot map is known
        self._wanted.update(channels)
        for channel in channels:
            node = self._cluster.get_node_from_key(channel)
            if node is None:
                raise aioredis.ConnectionError(f"no cluster node holds the slot of {channel}")
            entry = self._nodes.get(node.name)
            if entry is None:
                conn = aioredis.Redis(host=node.host, port=int(node.port), **_OPTIONS)
                entry = (conn, NodeShardPubSub(conn.connection_pool, self._moved))
                self._nodes[node.name] = entry
            await entry[1].subscribe(channel)
            self._where[channel] = node.name
            reader = self._readers.get(node.name)
            if reader is None or reader.done():
                self._readers[node.name] = asyncio.create_task(
                    self._read(node.name, entry[1]), name=f"shard-pubsub-{node.name}"
                )

    async def unsubscribe(self, *channels: str) -> None:
        self._wanted.difference_update(channels)
        for channel in channels:
            name = self._where.pop(channel, None)
            if name is not None and name in self._nodes:
                await self._nodes[name][1].unsubscribe(channel)

    async def listen(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            yield await self._queue.get()

    async def aclose(self) -> None:
        for task in (*self._readers.values(), *self._tasks):
            task.cancel()
        for task in (*self._readers.values(), *self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for conn, pubsub in self._nodes.values():
            await pubsub.aclose()  # type: ignore[no-untyped-call]
            await conn.aclose()
        self._nodes.clear()

    async def _read(self, name: str, pubsub: NodeShardPubSub) -> None:
        delay = 0.05
        while pubsub.subscribed:
            try:
                async for message in pubsub.listen():
                    self._queue.put_nowait(message)
                    delay = 0.05
            except asyncio.CancelledError:
                raise
            except Exception:
                # redis-py reconnects and subscribes again on the next read (`on_connect`).
                SHARD_PUBSUB_FAILURES.labels(kind="read").inc()
                log.exception("redis.shard_pubsub_failed", node=name)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    def _moved(self, channel: bytes | str) -> None:
        name = channel.decode() if isinstance(channel, bytes) else channel
        SHARD_PUBSUB_FAILURES.labels(kind="moved").inc()
        log.warning("redis.shard_channel_moved", channel=name)
        self._where.pop(name, None)
        task = asyncio.create_task(self._resubscribe(name))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _resubscribe(self, channel: str) -> None:
        delay = 0.05
        while True:
            try:
                # The slot map first: the channel's slot is elsewhere now.
                await self._cluster.nodes_manager.initialize()
                if channel in self._wanted:
                    await self.subscribe(channel)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                SHARD_PUBSUB_FAILURES.labels(kind="resubscribe").inc()
                log.exception("redis.shard_resubscribe_failed", channel=channel)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
