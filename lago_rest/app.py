"""The REST application: middleware, endpoint groups, system routes."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from lago_core.clock import Clock
from lago_core.container import Core, build_core
from lago_core.settings import Settings
from lago_rest.api import Api
from lago_rest.budgets import write_budget_middleware
from lago_rest.context import CORE
from lago_rest.media import add_media_route
from lago_rest.middleware import (
    auth_middleware,
    error_middleware,
    request_id_middleware,
    security_headers,
)
from lago_rest.routes import (
    ai,
    auth,
    client,
    communities,
    conversations,
    coupons,
    courses,
    events,
    groupbuys,
    insights,
    invoices,
    listings,
    live,
    lockers,
    lottery,
    merchants,
    moderation,
    moneyout,
    notifications,
    orders,
    payments,
    points,
    settlement,
    sponsored,
    subscriptions,
    swaps,
)
from lago_rest.routes.system import add_system_routes
from lago_rest.web import add_web_routes

__all__ = ["build_api", "create_app"]

VERSION = "0.1.0"


def build_api() -> Api:
    api = Api()
    for group in (
        auth.api,
        client.api,
        communities.api,
        merchants.api,
        listings.api,
        conversations.api,
        moderation.api,
        payments.api,
        orders.api,
        settlement.api,
        moneyout.api,
        invoices.api,
        lottery.api,
        groupbuys.api,
        coupons.api,
        ai.api,
        lockers.api,
        live.api,
        points.api,
        notifications.api,
        subscriptions.api,
        insights.api,
        events.api,
        swaps.api,
        sponsored.api,
        courses.api,
    ):
        api.include(group)
    return api


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI document. Every app of a process serves the same one (the routes are declared
    when their modules are imported), and generating it takes a third of a second: once."""
    return build_api().openapi(title="Lago REST API", version=VERSION)


def create_app(
    settings: Settings, *, core: Core | None = None, clock: Clock | None = None
) -> web.Application:
    """Build the app; it opens its own Core on start-up unless one is given (tests share one)."""
    app = web.Application(
        middlewares=[
            request_id_middleware,
            error_middleware,
            auth_middleware,
            write_budget_middleware,
        ],
        client_max_size=settings.max_upload_bytes,
    )
    owns_core = core is None

    async def lifespan(app: web.Application) -> AsyncIterator[None]:
        if owns_core:
            app[CORE] = await build_core(settings, clock=clock)
        yield
        if owns_core:
            await app[CORE].close()

    if core is not None:
        app[CORE] = core
    app.cleanup_ctx.append(lifespan)
    api = build_api()
    api.add_to(app)
    app.on_response_prepare.append(security_headers)
    if settings.storage_backend == "local" and settings.media_base_url.startswith("/"):
        add_media_route(app, settings)
    add_system_routes(app, settings, openapi_document())
    # Last: its fallback answers every path the API and the probes do not.
    add_web_routes(app, settings)
    return app
