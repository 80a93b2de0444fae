"""How long the process stops answering: garbage-collector pauses and event-loop lag, as metrics.

A real-time node's latency tail is set less by its handlers than by the moments it runs none of
them: a collection of the older generations walks every long-lived object, and one slow callback
holds up every socket. Both are exported so the tail can be explained from ``/metrics`` (and the
group-buy benchmark reports them per step) instead of guessed from a profile.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from typing import Any

from prometheus_client import Counter, Histogram

__all__ = ["GC_COLLECTED", "GC_PAUSE", "LOOP_LAG", "LoopLagMonitor", "watch_gc"]

_PAUSE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)

GC_PAUSE = Histogram(
    "lago_gc_pause_seconds",
    "garbage-collector pauses, by generation collected",
    ["generation"],
    buckets=_PAUSE_BUCKETS,
)
# Objects a collection found unreachable and freed: cyclic garbage. Reference counting frees
# everything else at once, so a rising count points at cycles made on a hot path (an exception
# kept with its traceback holds the frame that holds it), which the pauses above then pay for.
GC_COLLECTED = Counter(
    "lago_gc_collected_objects",
    "objects the garbage collector freed (reference cycles), by generation collected",
    ["generation"],
)
LOOP_LAG = Histogram(
    "lago_event_loop_lag_seconds",
    "how late the event loop ran a callback scheduled at a fixed interval",
    buckets=_PAUSE_BUCKETS,
)

_started: list[float] = []
_observers = {str(g): GC_PAUSE.labels(str(g)) for g in range(3)}
_collected = {str(g): GC_COLLECTED.labels(str(g)) for g in range(3)}


def _on_gc(phase: str, info: dict[str, Any]) -> None:
    # Called by the interpreter around every collection; it must stay cheap and never raise.
    if phase == "start":
        _started.append(time.perf_counter())
    elif _started:
        generation = str(info.get("generation", 2))
        _observers[generation].observe(time.perf_counter() - _started.pop())
        _collected[generation].inc(info.get("collected", 0))


def watch_gc() -> None:
    """Time every collection of this process (idempotent)."""
    if _on_gc not in gc.callbacks:
        gc.callbacks.append(_on_gc)


class LoopLagMonitor:
    """Schedules a callback every ``interval_s`` and records how late it ran."""

    def __init__(self, interval_s: float = 0.05) -> None:
        self._interval = interval_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="loop-lag")

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self._interval
            await asyncio.sleep(self._interval)
            LOOP_LAG.observe(max(0.0, loop.time() - due))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
