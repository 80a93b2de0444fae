"""Rate limits shared by every node, on Redis, using the maintained `limits` library."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from limits import RateLimitItem, parse
from limits.aio.storage import RedisClusterStorage, RedisStorage
from limits.aio.strategies import FixedWindowRateLimiter
from prometheus_client import Counter

from lago_core.errors import RateLimited

__all__ = ["RATE_LIMIT_REFUSALS", "RateLimiter"]

# Labelled by the limit's name (the first part of its identity: "sms-address", "login-global",
# ...), never by the address or phone, so the label set stays small.
RATE_LIMIT_REFUSALS = Counter(
    "lago_rate_limit_refusals_total", "Requests refused by a rate limit", ["limit"]
)


class RateLimiter:
    """Fixed-window counters keyed by ``(name, identity...)``; limits are strings like ``"10/minute"``.

    The first identity part names the limit: refusals are counted per name in
    ``lago_rate_limit_refusals_total``.
    """

    def __init__(
        self, redis: aioredis.Redis, redis_url: str, prefix: str, *, cluster: bool = False
    ) -> None:
        storage: RedisStorage
        if cluster:
            # Each counter is one key (one slot); `limits` keeps its own cluster client, since
            # a cluster client has no connection pool to share.
            parts = urlsplit(redis_url)
            storage = RedisClusterStorage(
                f"async+redis+cluster://{parts.netloc}",
                implementation="redispy",
                key_prefix=prefix + "rl",
            )
        else:
            uri = "async+" + redis_url if not redis_url.startswith("async+") else redis_url
            # Share the process's connection pool so the limiter's connections close with it.
            storage = RedisStorage(
                uri,
                implementation="redispy",
                key_prefix=prefix + "rl",
                # limits types its options narrowly; redis-py accepts a pool here.
                connection_pool=redis.connection_pool,  # type: ignore[arg-type]
            )
        self._storage = storage
        self._cluster = cluster
        self._limiter = FixedWindowRateLimiter(self._storage)
        self._items: dict[str, RateLimitItem] = {}

    async def close(self) -> None:
        if self._cluster:
            # The cluster client `limits` built for itself: its bridge's `storage`, which
            # limits does not type on the abstract bridge and offers no close of its own for.
            bridge: Any = self._storage.bridge
            await bridge.storage.aclose()

    def _item(self, limit: str) -> RateLimitItem:
        item = self._items.get(limit)
        if item is None:
            item = self._items[limit] = parse(limit)
        return item

    async def hit(self, limit: str, name: str, *identity: str) -> bool:
        """Count one use; False when that use is past the limit (the caller decides what then)."""
        return await self._limiter.hit(self._item(limit), name, *identity)

    async def allows(self, limit: str, name: str, *identity: str) -> bool:
        """Whether one more use fits, without counting it."""
        return await self._limiter.test(self._item(limit), name, *identity)

    async def hit_or_raise(self, limit: str, name: str, *identity: str) -> None:
        if not await self.hit(limit, name, *identity):
            await self._refuse(limit, name, identity, "too many requests: slow down")

    async def check_or_raise(self, limit: str, name: str, *identity: str) -> None:
        """Refuse when the window is already full, without counting this call."""
        if not await self.allows(limit, name, *identity):
            await self._refuse(limit, name, identity, "too many attempts: try again later")

    async def _refuse(self, limit: str, name: str, identity: tuple[str, ...], message: str) -> None:
        RATE_LIMIT_REFUSALS.labels(limit=name).inc()
        stats = await self._limiter.get_window_stats(self._item(limit), name, *identity)
        raise RateLimited(
            message,
            details={"limit": limit, "scope": name, "reset_at": int(stats.reset_time)},
        )

    @staticmethod
    def count_refusal(name: str) -> None:
        """For a refusal decided outside this class (a limit that asks for more proof)."""
        RATE_LIMIT_REFUSALS.labels(limit=name).inc()
