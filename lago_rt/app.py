"""The real-time node's aiohttp application with its socket.io server.

Security at the door: the handshake must carry a valid access token (``auth={"token": ...}``) and,
when a browser sends an ``Origin``, it must be on ``LAGO_ALLOWED_ORIGINS``; engine.io's buffer limit
caps message size. Cross-node fan-out goes through socket.io's Redis manager on a channel inside
this deployment's Redis prefix.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import socketio
from aiohttp import web

from lago_core.clock import Clock
from lago_core.container import Core, build_core
from lago_core.errors import LagoError
from lago_core.http import Check, add_probe_routes
from lago_core.logging import get_logger
from lago_core.settings import Settings

__all__ = ["RT_CORE", "SIO", "create_rt_app"]

log = get_logger("lago_rt")

RT_CORE: web.AppKey[Core] = web.AppKey("rt_core", Core)
SIO: web.AppKey[socketio.AsyncServer] = web.AppKey("sio", socketio.AsyncServer)
# A socket.io message larger than this is refused by engine.io and the client is cut off.
MAX_MESSAGE_BYTES = 64 * 1024


async def _close_manager(manager: socketio.AsyncRedisManager) -> None:
    """Stop the Redis manager's listener and close its connections.

    python-socketio's ``shutdown()`` leaves the manager's pub/sub listener task and Redis client
    open; a node that stops (or a test that builds many nodes) must close them itself.
    """
    listener = getattr(manager, "thread", None)
    if isinstance(listener, asyncio.Task):
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await listener
    pubsub = getattr(manager, "pubsub", None)
    if pubsub is not None:
        await pubsub.aclose()
    redis = getattr(manager, "redis", None)
    if redis is not None:
        await redis.aclose()


def create_rt_app(
    settings: Settings, *, core: Core | None = None, clock: Clock | None = None
) -> web.Application:
    app = web.Application()
    manager = socketio.AsyncRedisManager(settings.redis_url, channel=settings.key("socketio"))
    sio = socketio.AsyncServer(
        async_mode="aiohttp",
        client_manager=manager,
        cors_allowed_origins=list(settings.allowed_origins),
        max_http_buffer_size=MAX_MESSAGE_BYTES,
        transports=["websocket", "polling"],
    )
    sio.attach(app)
    app[SIO] = sio
    owns_core = core is None
    if core is not None:
        app[RT_CORE] = core

    async def lifespan(app: web.Application) -> AsyncIterator[None]:
        if owns_core:
            app[RT_CORE] = await build_core(settings, clock=clock)
        yield
        await sio.shutdown()
        await _close_manager(manager)
        if owns_core:
            await app[RT_CORE].close()

    app.cleanup_ctx.append(lifespan)

    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        if not isinstance(token, str) or not token:
            raise socketio.exceptions.ConnectionRefusedError(
                "send auth={token: <access token>}", {"code": "unauthenticated"}
            )
        try:
            principal = await app[RT_CORE].identity.authenticate(token)
        except LagoError as exc:
            raise socketio.exceptions.ConnectionRefusedError(
                exc.message, {"code": exc.code}
            ) from None
        await sio.save_session(sid, {"user_id": str(principal.user_id)})
        await sio.enter_room(sid, f"user:{principal.user_id}")
        log.info("rt.connected", sid=sid, user_id=str(principal.user_id))

    async def whoami(sid: str, data: Any = None) -> dict[str, Any]:
        session = await sio.get_session(sid)
        return {"ok": True, "user_id": session["user_id"], "node_id": settings.node_id}

    def checks(app: web.Application) -> dict[str, Check]:
        core = app[RT_CORE]
        return {"postgres": lambda: core.pool.fetchval("SELECT 1"), "redis": core.redis.ping}

    sio.on("connect", handler=connect)
    sio.on("whoami", handler=whoami)
    add_probe_routes(
        app,
        identity={"service": "rt", "node_id": settings.node_id},
        checks=checks,
        metrics=settings.metrics_enabled,
    )
    return app
