"""Prometheus metrics of the real-time node."""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "ACTOR_WORK",
    "CONNECTIONS",
    "DELIVERIES",
    "FLOOD_CUTS",
    "INBOUND_FAST",
    "INBOUND_SECONDS",
    "REFUSED",
    "SESSION_CHECK_FAILURES",
    "SESSION_DISCONNECTS",
    "SLOW_CONSUMERS",
    "count_refusal",
    "labelled",
]

DELIVERIES = Counter("lago_rt_deliveries_total", "channel events written to member sockets")
SLOW_CONSUMERS = Counter(
    "lago_rt_slow_consumers_total",
    "connections reset because their client did not read (outstanding bytes above the limit)",
)
FLOOD_CUTS = Counter(
    "lago_rt_flood_cuts_total", "connections closed for sending past their rate limit"
)
SESSION_DISCONNECTS = Counter(
    "lago_rt_session_disconnects_total", "sockets disconnected because their session ended"
)
SESSION_CHECK_FAILURES = Counter(
    "lago_rt_session_check_failures_total",
    "session look-ups or session-ended notices that failed (sockets then end at a later check)",
)
REFUSED = Counter("lago_rt_refused_total", "socket events refused", ["code"])
_CHILDREN: dict[tuple[int, tuple[str, ...]], Any] = {}


def labelled(metric: Any, *labels: str) -> Any:
    """``metric.labels(*labels)``, looked up once per label set: ``labels()`` takes a lock and
    builds a key, and on the join path it ran for every event, refusal and actor batch."""
    key = (id(metric), labels)
    child = _CHILDREN.get(key)
    if child is None:
        child = _CHILDREN[key] = metric.labels(*labels)
    return child


def count_refusal(code: str) -> None:
    labelled(REFUSED, code).inc()


CONNECTIONS = Gauge("lago_rt_connections", "open socket.io connections", ["namespace"])
INBOUND_FAST = Counter(
    "lago_rt_inbound_fast_total",
    "socket events served straight off the WebSocket (gateway/inbound.py), not by python-socketio",
)
INBOUND_ON_PARSE = Counter(
    "lago_rt_inbound_on_parse_total",
    "of those, events taken as aiohttp parsed them, before a coroutine read them (gateway/wire.py)",
)
# An actor serves one command at a time: time spent here is time every later command waits.
ACTOR_WORK = Histogram(
    "lago_rt_actor_work_seconds",
    "time an actor spent on one command, batch of commands or tick",
    ["kind", "work"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
INBOUND_SECONDS = Histogram(
    "lago_rt_inbound_seconds",
    "socket events served off the WebSocket: from the message read to its acknowledgement written",
    ["event"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
