"""Lookups asked close together, answered by one batched call.

A storm of handshakes (a node restarting, thousands of residents reconnecting) asks PostgreSQL
the same question for thousands of sessions within a few milliseconds; one query with
``= ANY($1)`` for many of them costs a round trip instead of one each, and keeps the pool free
for everything else.

Which keys share a call: those asked in the same turn of the event loop, and — under load —
those asked while ``max_inflight`` calls are already running, which wait for the first of them
to finish and then go together. A turn of a busy node holds only a handful of handshakes, so
batching by turn alone still made one query per handshake or two in a storm (each costing more
of the node's CPU than the rest of the lookup); with the wait, batches grow with the database's
latency, and a quiet node answers as soon as before. One call at a time by default: two at once
split a storm's keys between them (twice the queries, half the keys each). And a call may start
no sooner than ``min_interval_s`` after the one before, so that under load keys gather for that
long too (``STORM_BATCH_INTERVAL_S`` for the handshake lookups).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

from lago_core.logging import get_logger

__all__ = ["STORM_BATCH_INTERVAL_S", "Coalescer"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

log = get_logger(__name__)

# The lookups of a handshake storm (sessions, channel people) start at most this often: a busy
# node's keys gather for up to 10 ms instead of going as soon as the call before returns. With
# 5,000 members joining, each lookup made about 700 queries of 7 keys; each query costs the node
# ~0.15 ms of CPU whatever its size, and the storm was 10 % shorter with the interval
# (docs/benchmarks.md, "Idle connections"). A quiet node's lookup still goes at once.
STORM_BATCH_INTERVAL_S = 0.01


class Coalescer(Generic[K, V]):
    """``await get(key)``: the value ``fetch(keys)`` found for ``key`` (None if it found none),
    where ``keys`` are the keys asked for together (see the module's docstring; at most
    ``max_batch`` a call, at most ``max_inflight`` calls at once, calls started at least
    ``min_interval_s`` apart). A failed ``fetch`` fails each of its callers with its exception; a
    caller that is cancelled leaves the others waiting."""

    def __init__(
        self,
        fetch: Callable[[list[K]], Awaitable[dict[K, V]]],
        *,
        max_batch: int = 1_000,
        max_inflight: int = 1,
        min_interval_s: float = 0.0,
    ) -> None:
        if max_batch < 1 or max_inflight < 1:
            raise ValueError("max_batch and max_inflight must be at least 1")
        self._fetch = fetch
        self._max_batch = max_batch
        self._max_inflight = max_inflight
        self._min_interval = min_interval_s
        self._last_call = float("-inf")
        self._waiting: dict[K, list[asyncio.Future[V | None]]] = {}
        self._scheduled = False
        self._inflight = 0
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def inflight(self) -> int:
        """Calls of ``fetch`` running now."""
        return self._inflight

    async def get(self, key: K) -> V | None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[V | None] = loop.create_future()
        self._waiting.setdefault(key, []).append(future)
        self._schedule(loop)
        return await future

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        # After the current turn, so that the keys it asks for go together; not while every
        # call allowed is running (the first to finish schedules the next batch).
        if not self._scheduled and self._waiting and self._inflight < self._max_inflight:
            self._scheduled = True
            due = self._last_call + self._min_interval
            if due > loop.time():
                loop.call_at(due, self._flush)
            else:
                loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        self._last_call = asyncio.get_running_loop().time()
        keys = list(self._waiting)
        while keys and self._inflight < self._max_inflight:
            chunk, keys = keys[: self._max_batch], keys[self._max_batch :]
            batch = {k: self._waiting.pop(k) for k in chunk}
            self._inflight += 1
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
        except BaseException:
            # Cancelled (the node is stopping): nobody may be left waiting for this batch.
            for futures in batch.values():
                for future in futures:
                    future.cancel()
            raise
        finally:
            self._inflight -= 1
            self._schedule(asyncio.get_running_loop())
        for key, futures in batch.items():
            value = found.get(key)
            for future in futures:
                if not future.done():
                    future.set_result(value)

    async def close(self) -> None:
        """Cancel the calls running and everyone waiting (the process is stopping)."""
        for futures in self._waiting.values():
            for future in futures:
                future.cancel()
        self._waiting.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
