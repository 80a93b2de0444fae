"""Rate limits shared by every node, on Redis, using the maintained `limits` library."""

from __future__ import annotations

import redis.asyncio as aioredis
from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import FixedWindowRateLimiter

from lago_core.errors import RateLimited

__all__ = ["RateLimiter"]


class RateLimiter:
    """Fixed-window counters keyed by ``(name, identity)``; limits are strings like ``"10/minute"``."""

    def __init__(self, redis: aioredis.Redis, redis_url: str, prefix: str) -> None:
        uri = "async+" + redis_url if not redis_url.startswith("async+") else redis_url
        # Share the process's connection pool so the limiter's connections close with it.
        self._storage = RedisStorage(
            uri,
            implementation="redispy",
            key_prefix=prefix + "rl",
            # limits types its options narrowly; redis-py accepts a pool here.
            connection_pool=redis.connection_pool,  # type: ignore[arg-type]
        )
        self._limiter = FixedWindowRateLimiter(self._storage)
        self._items: dict[str, RateLimitItem] = {}

    def _item(self, limit: str) -> RateLimitItem:
        item = self._items.get(limit)
        if item is None:
            item = self._items[limit] = parse(limit)
        return item

    async def hit_or_raise(self, limit: str, *identity: str) -> None:
        item = self._item(limit)
        if not await self._limiter.hit(item, *identity):
            stats = await self._limiter.get_window_stats(item, *identity)
            raise RateLimited(
                "too many requests: slow down",
                details={"limit": limit, "reset_at": int(stats.reset_time)},
            )

    async def check_or_raise(self, limit: str, *identity: str) -> None:
        """Refuse when the window is already full, without counting this call."""
        item = self._item(limit)
        if not await self._limiter.test(item, *identity):
            stats = await self._limiter.get_window_stats(item, *identity)
            raise RateLimited(
                "too many attempts: try again later",
                details={"limit": limit, "reset_at": int(stats.reset_time)},
            )
