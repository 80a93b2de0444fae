"""The real-time node's aiohttp application: Socket.IO gateways over the channel actor runtime.

The wiring, in one place: the transport (``lago_rt/transport``: our Engine.IO/Socket.IO server,
its Hub of connections and rooms), the Broker (channel events and pushes from Redis to the Hub),
the actor host, and the gateways that register each namespace's events once.

Security at the door: the handshake must carry a valid access token (``auth={"token": ...}``, or
for a browser page of an allowed origin the ``lago_access`` session cookie); a browser's
``Origin`` must be on ``LAGO_ALLOWED_ORIGINS``; messages above
``LAGO_MAX_MESSAGE_BYTES`` close the socket.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

from aiohttp import web

from lago_core.actor_keys import CHANNEL_KIND
from lago_core.clock import Clock
from lago_core.container import Core, build_core
from lago_core.db import fill_pool
from lago_core.http import Check, add_probe_routes
from lago_core.process_health import LoopLagMonitor, watch_gc
from lago_core.push import community_room
from lago_core.security.cookies import ACCESS_COOKIE
from lago_core.settings import Settings
from lago_rt.channel.actor import ChannelActor
from lago_rt.channel.chat import Chat
from lago_rt.channel.groupbuys import GroupBuys
from lago_rt.channel.live import Live
from lago_rt.channel.lockers import Lockers
from lago_rt.channel.lottery import Lottery
from lago_rt.channel.presence import Presence
from lago_rt.channel.sponsored import Sponsored
from lago_rt.gateway.broker import Broker
from lago_rt.gateway.channels import ChannelGateway
from lago_rt.gateway.conversations import ConversationGateway
from lago_rt.gateway.courses import CourseClassGateway
from lago_rt.gateway.device import DeviceGateway
from lago_rt.gateway.groupbuys import GroupBuyGateway
from lago_rt.gateway.live import LiveGateway
from lago_rt.gateway.merchant import MerchantGateway
from lago_rt.gateway.sessions import SessionWatch
from lago_rt.gateway.support import SupportGateway
from lago_rt.media import create_media_backend
from lago_rt.runtime import ActorContext, ActorHost
from lago_rt.transport import ServerOptions, SocketServer

__all__ = ["RT_NODE", "RtNode", "create_rt_app"]


def channel_actor(ctx: ActorContext, core: Core) -> ChannelActor:
    """The features of a community channel: a new feature is one more entry in this list; the
    runtime does not change."""
    return ChannelActor(
        ctx,
        [
            Presence(),
            Chat(),
            GroupBuys(core.groupbuys),
            Lockers(),
            Live(),
            Lottery(),
            Sponsored(core.sponsored),
        ],
    )


@dataclass
class RtNode:
    """The parts of one real-time node, reachable from tests and the benchmark."""

    settings: Settings
    core: Core
    server: SocketServer
    host: ActorHost
    broker: Broker
    channels: ChannelGateway
    live: LiveGateway
    devices: DeviceGateway | None = None
    sessions: SessionWatch | None = None
    courses: CourseClassGateway | None = None

    def joined(self, community_id: str) -> list[str]:
        """The sockets of this node joined to a community's channel."""
        return list(self.server.hub.members(community_room(community_id)))


RT_NODE: web.AppKey[RtNode] = web.AppKey("rt_node", RtNode)


def create_rt_app(
    settings: Settings, *, core: Core | None = None, clock: Clock | None = None
) -> web.Application:
    app = web.Application()
    server = SocketServer(
        ServerOptions(
            allowed_origins=settings.browser_origins,
            session_cookie=ACCESS_COOKIE,
            max_message_bytes=settings.max_message_bytes,
            send_buffer_bytes=settings.client_send_buffer_bytes,
            ping_interval_s=settings.ping_interval_ms / 1000,
            ping_timeout_s=settings.ping_timeout_ms / 1000,
            connect_timeout_s=settings.connect_timeout_ms / 1000,
        )
    )
    server.attach(app)

    async def lifespan(app: web.Application) -> AsyncIterator[None]:
        own_core = core is None
        node_core = core if core is not None else await build_core(settings, clock=clock)
        if own_core:
            await fill_pool(node_core.pool)
        # Node-level settings (node id, limits, timings) come from this app's settings even when
        # a Core is shared, as tests do to run two nodes in one process.
        node_settings = replace(settings, jwt_secret=node_core.settings.jwt_secret)
        host = ActorHost(
            kind=CHANNEL_KIND,
            factory=lambda ctx: channel_actor(ctx, node_core),
            redis=node_core.redis,
            pool=node_core.pool,
            settings=node_settings,
            clock=node_core.clock,
        )
        broker = Broker(server.hub, node_core.redis, node_settings)
        sessions = SessionWatch(
            server, node_core.identity, node_core.redis, node_settings, node_core.clock
        )
        channels = ChannelGateway(
            server, node_core, host, broker, node_core.moderation, node_settings, sessions
        )
        MerchantGateway(server, node_core, sessions)
        GroupBuyGateway(channels)
        ConversationGateway(channels, node_core)
        SupportGateway(server, node_core, sessions)
        devices = DeviceGateway(server, node_core, host, node_settings)
        live = LiveGateway(
            channels, node_core, host, create_media_backend(node_settings), node_settings
        )
        # Live classes of courses share the node's media backend (docs/courses.md).
        courses = CourseClassGateway(
            channels, node_core, live.media, node_settings, instance=host.instance
        )
        await host.start()
        await broker.start()
        await sessions.start()
        await devices.start()
        watch_gc()
        lag = LoopLagMonitor()
        lag.start()
        app[RT_NODE] = RtNode(
            node_settings,
            node_core,
            server,
            host,
            broker,
            channels,
            live=live,
            devices=devices,
            sessions=sessions,
            courses=courses,
        )
        yield
        await lag.stop()
        await sessions.stop()
        await devices.close()
        await server.shutdown()
        await live.close()
        await channels.close()
        await broker.stop()
        await host.stop()
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
