"""Prometheus metrics, defined once per process (the default registry refuses duplicates)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

__all__ = [
    "HTTP_LATENCY",
    "HTTP_REQUESTS",
    "PUSH_FAILURES",
    "STORAGE_FAILURES",
    "render_metrics",
]

HTTP_REQUESTS = Counter(
    "lago_http_requests_total", "HTTP requests answered", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "lago_http_request_seconds",
    "HTTP request latency",
    ["service", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)

# Pushes are at most once and callers go on without them (logging why); this counts them.
PUSH_FAILURES = Counter("lago_push_failures_total", "pushes that could not be published", ["event"])
# Objects nothing points at any more whose deletion failed: orphan files, found by this count.
STORAGE_FAILURES = Counter(
    "lago_storage_failures_total", "storage operations that failed and were let go", ["op"]
)


def render_metrics() -> tuple[bytes, str]:
    return generate_latest(), CONTENT_TYPE_LATEST
