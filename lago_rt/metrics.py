"""Prometheus metrics of the real-time node."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

__all__ = ["CONNECTIONS", "DELIVERIES", "INBOUND_FAST", "REFUSED", "SLOW_CONSUMERS"]

DELIVERIES = Counter("lago_rt_deliveries_total", "channel events written to member sockets")
SLOW_CONSUMERS = Counter(
    "lago_rt_slow_consumers_total", "sockets disconnected because they did not read"
)
REFUSED = Counter("lago_rt_refused_total", "socket events refused", ["code"])
CONNECTIONS = Gauge("lago_rt_connections", "open socket.io connections", ["namespace"])
INBOUND_FAST = Counter(
    "lago_rt_inbound_fast_total",
    "socket events served straight off the WebSocket (gateway/inbound.py), not by python-socketio",
)
