"""Lookups asked in the same turn of the event loop, answered by one batched call.

A storm of handshakes (a node restarting, thousands of residents reconnecting) asks PostgreSQL
the same question for thousands of sessions within a few milliseconds; one query with
``= ANY($1)`` for each turn's worth costs a round trip instead of one each, and keeps the pool
free for everything else.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

from lago_core.logging import get_logger

__all__ = ["Coalescer"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

log = get_logger(__name__)


class Coalescer(Generic[K, V]):
    """``await get(key)``: the value ``fetch(keys)`` found for ``key`` (None if it found none),
    where ``keys`` are every key asked for in the same turn of the loop (at most ``max_batch``
    a call). A failed ``fetch`` fails each of its callers with its exception."""

    def __init__(
        self, fetch: Callable[[list[K]], Awaitable[dict[K, V]]], *, max_batch: int = 1_000
    ) -> None:
        self._fetch = fetch
        self._max_batch = max_batch
        self._waiting: dict[K, list[asyncio.Future[V | None]]] = {}
        self._scheduled = False
        self._tasks: set[asyncio.Task[Any]] = set()

    async def get(self, key: K) -> V | None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[V | None] = loop.create_future()
        self._waiting.setdefault(key, []).append(future)
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        self._scheduled = False
        waiting, self._waiting = self._waiting, {}
        keys = list(waiting)
        for start in range(0, len(keys), self._max_batch):
            batch = {k: waiting[k] for k in keys[start : start + self._max_batch]}
            task = asyncio.ensure_future(self._answer(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _answer(self, batch: dict[K, list[asyncio.Future[V | None]]]) -> None:
        try:
            found = await self._fetch(list(batch))
        except Exception as exc:
            # Not swallowed: every caller gets it (and logs or answers it as its own).
            for futures in batch.values():
                for future in futures:
                    if not future.done():
                        future.set_exception(exc)
            return
        for key, futures in batch.items():
            value = found.get(key)
            for future in futures:
                if not future.done():
                    future.set_result(value)
