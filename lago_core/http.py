"""aiohttp pieces every Lago HTTP process serves the same way: JSON, health, readiness, metrics."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from lago_core.metrics import render_metrics

__all__ = ["add_probe_routes", "json_response"]

Check = Callable[[], Awaitable[object]]


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


async def _readiness(checks: dict[str, Check]) -> web.Response:
    """Run each dependency check with a short timeout; 503 naming the failures when any fail."""
    results: dict[str, str] = {}

    async def run(name: str, check: Check) -> None:
        try:
            await asyncio.wait_for(check(), timeout=2)
            results[name] = "ok"
        except Exception as exc:
            results[name] = f"failed: {type(exc).__name__}"

    await asyncio.gather(*(run(n, c) for n, c in checks.items()))
    ok = all(v == "ok" for v in results.values())
    body = {"status": "ok" if ok else "unavailable", "checks": results}
    return json_response(body, 200 if ok else 503)


def add_probe_routes(
    app: web.Application,
    *,
    identity: dict[str, str],
    checks: Callable[[web.Application], dict[str, Check]],
    metrics: bool,
) -> None:
    """``/healthz`` (the process answers), ``/readyz`` (its dependencies answer), ``/metrics``."""

    async def healthz(request: web.Request) -> web.Response:
        return json_response({"status": "ok", **identity})

    async def readyz(request: web.Request) -> web.Response:
        return await _readiness(checks(request.app))

    async def prometheus(request: web.Request) -> web.Response:
        body, content_type = render_metrics()
        return web.Response(body=body, headers={"Content-Type": content_type})

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    if metrics:
        app.router.add_get("/metrics", prometheus)
