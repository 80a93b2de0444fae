"""Redis clients: one pool per process, decoding left to callers (streams carry bytes).

``create_redis`` is the one place that chooses between a single Redis and Redis Cluster
(``LAGO_REDIS_CLUSTER``); every other module uses the client it is given, and reaches classic
pub/sub through :func:`pubsub_client` (docs/architecture.md, "Redis Cluster").
"""

from __future__ import annotations

from typing import cast

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

__all__ = ["create_redis", "is_cluster", "pubsub_client"]

_OPTIONS: dict[str, float] = {"health_check_interval": 30, "socket_connect_timeout": 5}


class _Cluster(RedisCluster):
    """A cluster client and the one node this process does classic pub/sub on.

    In a cluster, classic PUBLISH reaches subscribers on every node, but its answer (how many
    received it) and PUBSUB NUMSUB count only the node asked. Forwarding to an actor's owner reads
    both to tell a listening owner from a dead one (``ActorHost.call``, ``tell_actor``), so every
    process subscribes and publishes on the same node: the one REDIS_URL names, where
    python-socketio's Redis manager (which knows nothing of clusters) subscribes too.
    redis-py 5 (arq pins ``redis<6``) has no pub/sub on its asyncio cluster client at all.
    """

    bus: aioredis.Redis

    async def aclose(self) -> None:
        try:
            await super().aclose()
        finally:
            await self.bus.aclose()


def create_redis(url: str, *, cluster: bool = False) -> aioredis.Redis:
    if not cluster:
        client: aioredis.Redis = aioredis.Redis.from_url(url, **_OPTIONS)  # type: ignore[arg-type]
        return client
    node = _Cluster.from_url(url, **_OPTIONS)
    node.bus = aioredis.Redis.from_url(url, **_OPTIONS)  # type: ignore[arg-type]
    # The cluster client offers the same command methods (keys routed by slot, pipelines split
    # per node); what it lacks — pub/sub and a connection pool — callers reach through
    # `pubsub_client` and `is_cluster`, so the rest of the code keeps one client type.
    return cast(aioredis.Redis, node)


def is_cluster(client: object) -> bool:
    return isinstance(client, RedisCluster)


def pubsub_client(client: aioredis.Redis) -> aioredis.Redis:
    """The client to publish, subscribe and count subscribers with (classic pub/sub)."""
    return client.bus if isinstance(client, _Cluster) else client
