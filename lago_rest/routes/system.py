"""Health, readiness, metrics and the OpenAPI document (not under /api/v1 except the document)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from lago_core.metrics import render_metrics
from lago_core.settings import Settings
from lago_rest.api import json_response
from lago_rest.context import CORE

__all__ = ["add_system_routes", "readiness"]

OPENAPI: web.AppKey[dict[str, Any]] = web.AppKey("openapi", dict)


async def readiness(checks: dict[str, Callable[[], Awaitable[object]]]) -> web.Response:
    """Run each dependency check with a short timeout; 503 with the failures when any fail."""
    results: dict[str, str] = {}

    async def run(name: str, check: Callable[[], Awaitable[object]]) -> None:
        try:
            await asyncio.wait_for(check(), timeout=2)
            results[name] = "ok"
        except Exception as exc:
            results[name] = f"failed: {type(exc).__name__}"

    await asyncio.gather(*(run(n, c) for n, c in checks.items()))
    ok = all(v == "ok" for v in results.values())
    return json_response(
        {"status": "ok" if ok else "unavailable", "checks": results}, 200 if ok else 503
    )


async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    core = request.app[CORE]
    return await readiness(
        {"postgres": lambda: core.pool.fetchval("SELECT 1"), "redis": core.redis.ping}
    )


async def metrics(request: web.Request) -> web.Response:
    body, content_type = render_metrics()
    return web.Response(body=body, headers={"Content-Type": content_type})


async def openapi(request: web.Request) -> web.Response:
    return json_response(request.app[OPENAPI])


def add_system_routes(app: web.Application, settings: Settings, document: dict[str, Any]) -> None:
    app[OPENAPI] = document
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    if settings.metrics_enabled:
        app.router.add_get("/metrics", metrics)
    app.router.add_get("/api/v1/openapi.json", openapi)
