"""Redis clients: one pool per process, decoding left to callers (streams carry bytes)."""

from __future__ import annotations

import redis.asyncio as aioredis

__all__ = ["create_redis"]


def create_redis(url: str) -> aioredis.Redis:
    client: aioredis.Redis = aioredis.Redis.from_url(
        url, health_check_interval=30, socket_connect_timeout=5
    )
    return client
