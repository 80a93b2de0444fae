"""``lago_core/coalesce.py``: keys asked together share one call; under load (every call
allowed already running) the keys asked meanwhile wait and go together; failures and a stopping
process leave nobody waiting."""

from __future__ import annotations

import asyncio

import pytest

from lago_core.coalesce import Coalescer


class Gate:
    """A fetch whose calls are held until the test opens them, recording each call's keys."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []
        self.open = asyncio.Event()
        self.fail: Exception | None = None
        self._called = asyncio.Condition()

    async def started(self, n: int) -> None:
        """Once ``n`` calls have started."""
        async with self._called:
            await self._called.wait_for(lambda: len(self.calls) >= n)

    async def __call__(self, keys: list[int]) -> dict[int, str]:
        self.calls.append(sorted(keys))
        async with self._called:
            self._called.notify_all()
        await self.open.wait()
        if self.fail is not None:
            raise self.fail
        return {k: f"v{k}" for k in keys if k >= 0}


async def test_keys_of_one_turn_share_a_call_and_each_gets_its_own_value() -> None:
    gate = Gate()
    gate.open.set()
    coalescer: Coalescer[int, str] = Coalescer(gate)
    values = await asyncio.gather(*(coalescer.get(k) for k in (1, 2, 2, 3, -1)))
    assert values == ["v1", "v2", "v2", "v3", None]
    assert gate.calls == [[-1, 1, 2, 3]]


async def test_keys_asked_while_every_call_runs_wait_and_go_together() -> None:
    gate = Gate()
    coalescer: Coalescer[int, str] = Coalescer(gate, max_inflight=2)
    first = asyncio.ensure_future(coalescer.get(1))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    second = asyncio.ensure_future(coalescer.get(2))
    await gate.started(2)
    assert coalescer.inflight == 2
    # Twenty more, one per turn of the loop: none starts a call while two are running.
    later = []
    for k in range(10, 30):
        later.append(asyncio.ensure_future(coalescer.get(k)))
        await asyncio.sleep(0)
    assert gate.calls == [[1], [2]]
    gate.open.set()
    assert await asyncio.gather(first, second, *later) == [f"v{k}" for k in (1, 2, *range(10, 30))]
    assert gate.calls == [[1], [2], list(range(10, 30))]
    assert coalescer.inflight == 0


async def test_a_large_wait_is_cut_into_batches_of_max_batch() -> None:
    gate = Gate()
    gate.open.set()
    coalescer: Coalescer[int, str] = Coalescer(gate, max_batch=4, max_inflight=1)
    values = await asyncio.gather(*(coalescer.get(k) for k in range(10)))
    assert values == [f"v{k}" for k in range(10)]
    assert gate.calls == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


async def test_a_failed_call_fails_its_callers_and_the_waiting_keys_still_get_a_call() -> None:
    gate = Gate()
    coalescer: Coalescer[int, str] = Coalescer(gate, max_inflight=1)
    failing = asyncio.ensure_future(coalescer.get(1))
    await gate.started(1)
    waiting = asyncio.ensure_future(coalescer.get(2))
    await asyncio.sleep(0)
    gate.fail = ConnectionError("database went away")
    gate.open.set()
    with pytest.raises(ConnectionError):
        await failing
    with pytest.raises(ConnectionError):
        await waiting  # the same broken fetch, in its own call
    assert gate.calls == [[1], [2]]
    gate.fail = None
    assert await coalescer.get(3) == "v3"


async def test_close_cancels_the_running_call_and_everyone_waiting() -> None:
    gate = Gate()
    coalescer: Coalescer[int, str] = Coalescer(gate, max_inflight=1)
    running = asyncio.ensure_future(coalescer.get(1))
    await gate.started(1)
    waiting = asyncio.ensure_future(coalescer.get(2))
    await asyncio.sleep(0)
    await coalescer.close()
    results = await asyncio.gather(running, waiting, return_exceptions=True)
    assert all(isinstance(r, asyncio.CancelledError) for r in results), results


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Coalescer(Gate(), max_inflight=0)


async def test_calls_start_min_interval_apart_and_keys_asked_meanwhile_go_together() -> None:
    """Under load a call waits out the interval since the one before (keys gather meanwhile);
    the first call, on a quiet coalescer, goes at once."""
    gate = Gate()
    gate.open.set()
    coalescer: Coalescer[int, str] = Coalescer(gate, min_interval_s=0.3)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await coalescer.get(1) == "v1"
    first_answered = loop.time()
    # Asked in separate turns, well within the interval after the first call started.
    later = [asyncio.ensure_future(coalescer.get(k)) for k in (2, 3)]
    await asyncio.sleep(0)
    later.append(asyncio.ensure_future(coalescer.get(4)))
    assert await asyncio.gather(*later) == ["v2", "v3", "v4"]
    assert gate.calls == [[1], [2, 3, 4]]
    assert first_answered - started < 0.3 <= loop.time() - started
