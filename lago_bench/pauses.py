"""Where a benchmark step's time went inside the node, from its ``/metrics``.

Read before and after a step, the histograms of lago_core/process_health.py (garbage-collector
pauses, event-loop lag) and lago_rt/metrics.py (time the channel actor spent per command, and
per event from the message read to its acknowledgement) say what explains a p99 far above the
p50: a stalled process, a busy actor, or time spent before the node even read the message.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

__all__ = ["PauseReading", "pause_report", "read_pauses"]

# (sample name, labels as a sorted tuple) -> value, for the samples of _FAMILIES.
PauseReading = dict[tuple[str, tuple[tuple[str, str], ...]], float]
_FAMILIES = (
    "lago_gc_pause_seconds",
    "lago_event_loop_lag_seconds",
    "lago_rt_actor_work_seconds",
    "lago_rt_inbound_seconds",
    "lago_gc_collected_objects",
)
_OVER_S = 0.05


async def read_pauses(port: int) -> PauseReading:
    """The node's pause histograms now; empty if it does not answer (metrics off, busy)."""
    try:
        async with aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{port}/metrics"
            async with http.get(url, timeout=aiohttp.ClientTimeout(total=5)) as r:
                text = await r.text()
    except (aiohttp.ClientError, OSError, TimeoutError):
        return {}
    out: PauseReading = {}
    for family in text_string_to_metric_families(text):
        if family.name not in _FAMILIES:
            continue
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = float(sample.value)
    return out


def _delta(before: PauseReading, after: PauseReading, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


def _over(before: PauseReading, after: PauseReading, name: str, **labels: str) -> int:
    """Observations above ``_OVER_S`` (from the cumulative buckets)."""
    count = _delta(before, after, f"{name}_count", **labels)
    within = _delta(before, after, f"{name}_bucket", **labels, le=str(_OVER_S))
    return round(count - within)


def _worst_ms(before: PauseReading, after: PauseReading, name: str, **labels: str) -> float:
    """The upper bound of the highest bucket that gained an observation, in ms (0 if none)."""
    bounds: list[float] = []
    for (sample, sample_labels), _ in after.items():
        label_map = dict(sample_labels)
        if sample != f"{name}_bucket" or any(label_map.get(k) != v for k, v in labels.items()):
            continue
        bounds.append(float(label_map["le"]))
    worst = 0.0
    previous = 0.0
    for le in sorted(bounds):
        cumulative = _delta(before, after, f"{name}_bucket", **labels, le=_le(le))
        if cumulative > previous:
            worst = le
        previous = cumulative
    return round(1000 * worst, 1) if not math.isinf(worst) else math.inf


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else str(bound)


def _summary(
    before: PauseReading, after: PauseReading, name: str, **labels: str
) -> dict[str, float]:
    return {
        "count": round(_delta(before, after, f"{name}_count", **labels)),
        "total_ms": round(1000 * _delta(before, after, f"{name}_sum", **labels), 1),
        "over_50ms": _over(before, after, name, **labels),
        "worst_le_ms": _worst_ms(before, after, name, **labels),
    }


def _per_label(
    before: PauseReading, after: PauseReading, name: str, key: Callable[[dict[str, str]], str]
) -> dict[str, dict[str, float]]:
    """One summary per label set of ``name`` that saw observations in the window."""
    out: dict[str, dict[str, float]] = {}
    for sample, labels in after:
        if sample == f"{name}_count":
            label_map = dict(labels)
            summary = _summary(before, after, name, **label_map)
            if summary["count"]:
                out[key(label_map)] = summary
    return out


def pause_report(before: PauseReading, after: PauseReading) -> dict[str, object]:
    """GC pauses per generation, loop lag and actor work over a window; {} without readings."""
    if not before or not after:
        return {}
    gc_name, lag_name, work_name, inbound_name, collected_name = _FAMILIES
    collections = {gen: _summary(before, after, gc_name, generation=gen) for gen in "012"}
    for gen, summary in collections.items():
        # prometheus_client exposes a counter's samples with the suffix "_total".
        summary["collected"] = round(
            _delta(before, after, f"{collected_name}_total", generation=gen)
        )
    actor = _per_label(before, after, work_name, lambda w: f"{w['kind']}:{w['work']}")
    inbound = _per_label(before, after, inbound_name, lambda e: e["event"])
    return {
        "actor": actor,
        "inbound": inbound,
        "gc": collections,
        "loop_lag": _summary(before, after, lag_name),
    }
