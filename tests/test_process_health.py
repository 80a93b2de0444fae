"""GC pauses and event-loop lag reach the metrics (lago_core/process_health.py)."""

from __future__ import annotations

import gc
import time

from prometheus_client import REGISTRY

from lago_bench.pauses import PauseReading, pause_report
from lago_core.process_health import LoopLagMonitor, watch_gc

from .waiting import until


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_every_collection_is_timed() -> None:
    watch_gc()
    watch_gc()  # idempotent: one callback, one observation per collection
    before = _sample("lago_gc_pause_seconds_count", generation="2")
    gc.collect()
    assert _sample("lago_gc_pause_seconds_count", generation="2") == before + 1


def test_cyclic_garbage_is_counted() -> None:
    watch_gc()
    gc.collect()
    before = _sample("lago_gc_collected_objects_total", generation="2")

    class Node:
        pass

    for _ in range(100):  # a hundred pairs that only a collection can free
        a, b = Node(), Node()
        a.other, b.other = b, a  # type: ignore[attr-defined]
    del a, b
    gc.collect()
    # Each pair is two objects and their two attribute dicts.
    assert _sample("lago_gc_collected_objects_total", generation="2") - before >= 200


async def test_a_blocked_loop_shows_as_lag() -> None:
    monitor = LoopLagMonitor(interval_s=0.01)
    count, within = "lago_event_loop_lag_seconds_count", "lago_event_loop_lag_seconds_bucket"
    before = _sample(count) - _sample(within, le="0.05")
    samples = _sample(count)
    monitor.start()
    await until(lambda: _sample(count) > samples)  # the monitor is running
    # The point of the test: work that holds the event loop for 80 ms.
    held_until = time.perf_counter() + 0.08
    while time.perf_counter() < held_until:
        pass
    # The monitor's next observation is the blocked stretch, above 50 ms.
    await until(lambda: _sample(count) - _sample(within, le="0.05") > before)
    await monitor.stop()
    assert _sample(count) - _sample(within, le="0.05") == before + 1


def test_pause_report_takes_differences_of_the_histograms() -> None:
    def reading(count: float, within_50ms: float, total: float) -> PauseReading:
        lag = "lago_event_loop_lag_seconds"
        work = "lago_rt_actor_work_seconds"
        labels = (("kind", "ch"), ("work", "groupbuy.join"))
        return {
            (f"{lag}_count", ()): count,
            (f"{lag}_sum", ()): total,
            (f"{lag}_bucket", (("le", "0.05"),)): within_50ms,
            (f"{lag}_bucket", (("le", "0.1"),)): count,
            (f"{lag}_bucket", (("le", "+Inf"),)): count,
            (f"{work}_count", labels): count,
            (f"{work}_sum", labels): total,
            (f"{work}_bucket", tuple(sorted((*labels, ("le", "0.05"))))): count,
            ("lago_gc_collected_objects_total", (("generation", "0"),)): 3 * count,
        }

    report = pause_report(reading(10, 10, 0.1), reading(25, 20, 0.9))
    assert report["loop_lag"] == {
        "count": 15,
        "total_ms": 800.0,
        "over_50ms": 5,
        "worst_le_ms": 100.0,
    }
    assert report["actor"] == {
        "ch:groupbuy.join": {"count": 15, "total_ms": 800.0, "over_50ms": 0, "worst_le_ms": 50.0}
    }
    collections = report["gc"]
    assert isinstance(collections, dict)
    assert collections["0"]["collected"] == 45
    assert pause_report({}, reading(1, 1, 0.0)) == {}
