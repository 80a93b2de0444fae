"""Prometheus metrics of the real-time node."""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "ACTOR_FAILURES",
    "ACTOR_WORK",
    "ARCHIVE_REJECTS",
    "ARCHIVE_RETRIES",
    "CHANNEL_FAILURES",
    "CHANNEL_NEW_EPOCHS",
    "CONNECTIONS",
    "DELIVERIES",
    "FLOOD_CUTS",
    "INBOUND_DIRECT",
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
BROKER_FAILURES = Counter(
    "lago_rt_broker_failures_total",
    "channel events the node failed to read from Redis or to deliver (gaps are filled later)",
    ["stage"],
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


CONNECTIONS = Gauge("lago_rt_connections", "open sockets per namespace", ["namespace"])
INBOUND_DIRECT = Counter(
    "lago_rt_inbound_direct_total",
    "socket events answered without a task: straight into a local actor's mailbox",
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
    "socket events: from the message read to its acknowledgement written",
    ["event"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)

# Failures that are isolated rather than allowed to stop a channel (docs/architecture.md,
# "Channel actor: failures and durability"): each is logged too.
CHANNEL_FAILURES = Counter(
    "lago_rt_channel_failures_total",
    "channel work that failed and was isolated: one feature's tick, activation, restore or apply",
    ["feature", "stage"],
)
ARCHIVE_REJECTS = Counter(
    "lago_rt_archive_rejects_total",
    "channel events PostgreSQL refused, set aside in channel_archive_rejects",
    ["type"],
)
ARCHIVE_RETRIES = Counter(
    "lago_rt_archive_retries_total", "archive writes that failed transiently, retried later"
)
ACTOR_FAILURES = Counter(
    "lago_rt_actor_failures_total",
    "actor host work that failed outside any command (ticks, stops, lease releases)",
    ["kind", "work"],
)
CHANNEL_NEW_EPOCHS = Counter(
    "lago_rt_channel_new_epochs_total",
    "channels whose Redis stream was lost and that started a new epoch above every given seq",
)

# Live-class recordings (docs/courses.md): frames or files that could not be written.
RECORDING_ERRORS = Counter(
    "lago_live_recording_errors_total", "frames or files a live recording failed to write"
)
