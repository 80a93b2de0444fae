"""Probes, metrics and the OpenAPI document."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from lago_core.http import Check, add_probe_routes, json_response
from lago_core.settings import Settings
from lago_rest.context import CORE

__all__ = ["add_system_routes"]

OPENAPI: web.AppKey[dict[str, Any]] = web.AppKey("openapi", dict)


def _checks(app: web.Application) -> dict[str, Check]:
    core = app[CORE]
    return {"postgres": lambda: core.pool.fetchval("SELECT 1"), "redis": core.redis.ping}


async def openapi(request: web.Request) -> web.Response:
    return json_response(request.app[OPENAPI])


def add_system_routes(app: web.Application, settings: Settings, document: dict[str, Any]) -> None:
    app[OPENAPI] = document
    add_probe_routes(
        app, identity={"service": "rest"}, checks=_checks, metrics=settings.metrics_enabled
    )
    app.router.add_get("/api/v1/openapi.json", openapi)
