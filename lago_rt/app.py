"""The real-time node's aiohttp application: socket.io gateways over the channel actor runtime.

Security at the door: the handshake must carry a valid access token (``auth={"token": ...}``);
a browser's ``Origin`` must be on ``LAGO_ALLOWED_ORIGINS``; messages above
``LAGO_MAX_MESSAGE_BYTES`` close the socket. Cross-node delivery: channel events through each
community's pub/sub channel (see ``gateway/fanout.py``), everything else through socket.io's Redis
manager on a channel inside this deployment's Redis prefix.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

import socketio
from aiohttp import web

from lago_core.clock import Clock
from lago_core.container import Core, build_core
from lago_core.http import Check, add_probe_routes
from lago_core.process_health import LoopLagMonitor, watch_gc
from lago_core.push import socketio_channel
from lago_core.settings import Settings
from lago_rt.channel.actor import ChannelActor
from lago_rt.channel.chat import Chat
from lago_rt.channel.groupbuys import GroupBuys
from lago_rt.channel.live import Live
from lago_rt.channel.lockers import Lockers
from lago_rt.channel.lottery import Lottery
from lago_rt.channel.presence import Presence
from lago_rt.gateway import sio_json
from lago_rt.gateway.channels import ChannelGateway
from lago_rt.gateway.device import DeviceGateway
from lago_rt.gateway.fanout import LocalFanout
from lago_rt.gateway.groupbuys import GroupBuyGateway
from lago_rt.gateway.inbound import InboundEvents
from lago_rt.gateway.live import LiveGateway
from lago_rt.gateway.merchant import MerchantGateway
from lago_rt.gateway.sessions import SessionWatch
from lago_rt.gateway.support import SupportGateway
from lago_rt.gateway.unknown import answer_unknown_events
from lago_rt.gateway.wire import SocketRegistry, install_tracked_websockets
from lago_rt.media import create_media_backend
from lago_rt.runtime import ActorContext, ActorHost

__all__ = ["RT_NODE", "RtNode", "create_rt_app"]


def channel_actor(ctx: ActorContext, core: Core) -> ChannelActor:
    """The features of a community channel: a new feature is one more entry in this list; the
    runtime does not change."""
    return ChannelActor(
        ctx,
        [Presence(), Chat(), GroupBuys(core.groupbuys), Lockers(), Live(), Lottery()],
    )


@dataclass
class RtNode:
    """The parts of one real-time node, reachable from tests and the benchmark."""

    settings: Settings
    core: Core
    sio: socketio.AsyncServer
    host: ActorHost
    fanout: LocalFanout
    channels: ChannelGateway
    live: LiveGateway
    devices: DeviceGateway | None = None
    registry: SocketRegistry | None = None
    sessions: SessionWatch | None = None


RT_NODE: web.AppKey[RtNode] = web.AppKey("rt_node", RtNode)


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
    manager = socketio.AsyncRedisManager(settings.redis_url, channel=socketio_channel(settings))
    sio = socketio.AsyncServer(
        async_mode="aiohttp",
        client_manager=manager,
        cors_allowed_origins=list(settings.allowed_origins),
        max_http_buffer_size=settings.max_message_bytes,
        transports=["websocket", "polling"],
        json=sio_json,
    )
    registry = SocketRegistry(settings.client_send_buffer_bytes)
    install_tracked_websockets(sio.eio, registry, settings.max_message_bytes)
    sio.attach(app)

    async def lifespan(app: web.Application) -> AsyncIterator[None]:
        own_core = core is None
        node_core = core if core is not None else await build_core(settings, clock=clock)
        # Node-level settings (node id, limits, timings) come from this app's settings even when
        # a Core is shared, as tests do to run two nodes in one process.
        node_settings = replace(settings, jwt_secret=node_core.settings.jwt_secret)
        host = ActorHost(
            kind="ch",
            factory=lambda ctx: channel_actor(ctx, node_core),
            redis=node_core.redis,
            pool=node_core.pool,
            settings=node_settings,
            clock=node_core.clock,
        )
        fanout = LocalFanout(sio, registry, node_core.redis, node_settings)
        inbound = InboundEvents(sio, registry)
        sessions = SessionWatch(
            sio, node_core.identity, node_core.redis, node_settings, node_core.clock, inbound
        )
        channels = ChannelGateway(
            sio, node_core, host, fanout, node_core.moderation, node_settings, inbound, sessions
        )
        MerchantGateway(sio, node_core, sessions)
        GroupBuyGateway(channels)
        SupportGateway(sio, node_core, sessions)
        devices = DeviceGateway(sio, node_core, host, node_settings)
        live = LiveGateway(
            channels, node_core, host, create_media_backend(node_settings), node_settings
        )
        answer_unknown_events(sio)
        await host.start()
        await fanout.start()
        await sessions.start()
        await devices.start()
        watch_gc()
        lag = LoopLagMonitor()
        lag.start()
        app[RT_NODE] = RtNode(
            node_settings,
            node_core,
            sio,
            host,
            fanout,
            channels,
            live=live,
            devices=devices,
            registry=registry,
            sessions=sessions,
        )
        yield
        await lag.stop()
        await sessions.stop()
        await devices.close()
        await sio.shutdown()
        await live.close()
        await inbound.close()
        await channels.close()
        await fanout.stop()
        await host.stop()
        await _close_manager(manager)
        if own_core:
            await node_core.close()

    app.cleanup_ctx.append(lifespan)

    def checks(app: web.Application) -> dict[str, Check]:
        node_core = app[RT_NODE].core
        return {
            "postgres": lambda: node_core.pool.fetchval("SELECT 1"),
            "redis": node_core.redis.ping,
        }

    add_probe_routes(
        app,
        identity={"service": "rt", "node_id": settings.node_id},
        checks=checks,
        metrics=settings.metrics_enabled,
    )
    return app
