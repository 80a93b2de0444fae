"""Lago's Engine.IO v4 / Socket.IO v5 server, on aiohttp's and wsproto's public APIs.

Why our own: python-socketio's server spent more on each message than most of our handlers do
(a task to read it, another to hand it over, another for the handler, JSON encoded twice, a
writer task and queue per socket), and to be fast the node had to reach into python-engineio,
python-socketio and aiohttp internals (docs/architecture.md, "The transport"). Here a message
is read by the connection's own reader, decoded once, and its handler started at once; an
acknowledgement or an event is one write to the socket's transport. Clients do not change:
python-socketio's client, socket.io-client 4 (``tests/test_js_client.py``) and anything else that
speaks the protocol connect over WebSocket or long-polling (with upgrade).

The parts:

- :class:`EventRegistry` — for each namespace, its ``connect`` and ``disconnect`` handlers and
  its events, each registered once; an event nobody serves is answered ``unknown_event``.
- :class:`~lago_rt.transport.hub.Hub` — connections, sockets, rooms; delivery.
- :class:`~lago_rt.transport.connection.Connection` — writing to one client, the slow-consumer
  rule.
- :mod:`~lago_rt.transport.listener` — the node's port: WebSocket handshakes answered there,
  everything else handed to aiohttp; :mod:`~lago_rt.transport.websocket` — reading one
  WebSocket (and a long-polling session's probe and upgrade).
- This module — the long-polling endpoint (an aiohttp route), the decisions on a WebSocket
  handshake (:meth:`SocketServer.take_websocket`), pings, and dispatching packets.

Handlers: ``connect(sid, auth)`` raises :class:`ConnectionRefused` to refuse; ``disconnect(sid,
reason)``; an event handler ``handler(sid, *args)`` returns the acknowledgement's payload; a
catch-all ``handler(event, sid, *args)``; a *direct* handler ``direct(sid, args)`` answers at once
or with a :class:`Pending` (a future and what to make of it) without a task of its own — for
commands a channel actor of this node takes straight into its mailbox.

Ordering: each event runs on its own (a task, or a future in an actor's mailbox), so a client
that needs an order waits for an acknowledgement first, as with any Socket.IO server.

Closing after the answers (:meth:`SocketServer.close_after_acks`, the flood cut-off): the events
taken before the decision may be in a channel actor's hands — a message stored, its sequence
number on the way. The connection takes nothing more from then on (later messages are dropped
unanswered) and is closed once every acknowledgement owed for what it took is written, so a
stored message is never left unacknowledged by the cut.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import Any

import orjson
from aiohttp import web

from lago_core.logging import get_logger
from lago_rt.metrics import INBOUND_DIRECT, INBOUND_SECONDS, count_refusal, labelled
from lago_rt.transport import json_codec
from lago_rt.transport.connection import SEPARATOR, Connection, WriteLimits
from lago_rt.transport.hub import Hub, Socket
from lago_rt.transport.packets import (
    ACK,
    BINARY_ACK,
    BINARY_EVENT,
    CONNECT,
    CONNECT_ERROR,
    DISCONNECT,
    EIO_CLOSE,
    EIO_MESSAGE,
    EIO_NOOP,
    EIO_OPEN,
    EIO_PING,
    EIO_PONG,
    EVENT,
    PacketError,
    SioPacket,
    parse_sio,
    sio_packet,
    websocket_frame,
)

__all__ = [
    "NO_ANSWER",
    "SOCKET_SERVER",
    "UNKNOWN_LABEL",
    "ConnectionRefused",
    "Direct",
    "EventRegistry",
    "Handshake",
    "Pending",
    "ServerOptions",
    "SocketServer",
    "unknown_event_answer",
]

log = get_logger(__name__)

Handler = Callable[..., Awaitable[Any]]
# The metric label of every event nobody serves. The name is the client's choice: as a label it
# would add a time series per name sent (without bound), and one holding a lone surrogate would
# make /metrics fail to encode at all.
UNKNOWN_LABEL = "(unknown)"
# Owed acknowledgements are awaited this long at most before a closing connection is closed
# anyway (an actor command is answered within the forward timeout, 5 s by default).
CLOSE_WAIT_S = 10.0
# Binary attachments announced by one packet; Lago's clients send none.
MAX_ATTACHMENTS = 10
# A session cookie longer than this is not one of ours (an access token is ~300 characters).
MAX_COOKIE = 2_048


def _error(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"ok": False, "error": {"code": code, "message": message, "details": details}}


_INTERNAL = _error("internal", "internal error")
_UNREADABLE = _error("invalid_json", "the message is not valid JSON")
_NOT_AN_EVENT = _error("invalid_input", "an event is [name, ...arguments] with a string name")
_BINARY = _error("invalid_input", "binary attachments are not accepted: send JSON")
# A handler's answer that says nothing: the connection is being closed (see the docstring).
# Compared by identity.
NO_ANSWER: dict[str, Any] = _error("disconnected", "the connection is closing")


def unknown_event_answer(event: str) -> dict[str, Any]:
    """The acknowledgement of an event the namespace does not serve."""
    count_refusal("unknown_event")
    return _error("unknown_event", "no such event on this namespace", {"event": event[:100]})


class ConnectionRefused(Exception):
    """Raised by a ``connect`` handler: the client gets CONNECT_ERROR with ``message`` and
    ``data`` (``{"code": ...}`` for Lago's refusals)."""

    def __init__(self, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data


@dataclass(slots=True)
class Pending:
    """An acknowledgement still to come: ``finish(future)``, once ``future`` is done, makes it
    (or another Pending, when the work must be routed again)."""

    future: asyncio.Future[Any]
    finish: Callable[[asyncio.Future[Any]], dict[str, Any] | Pending]


# ``direct(sid, args)`` answers at once (an acknowledgement) or with a Pending; it never raises.
Direct = Callable[[str, list[Any]], "dict[str, Any] | Pending"]


@dataclass
class _Namespace:
    connect: Handler | None = None
    disconnect: Handler | None = None
    catch_all: Handler | None = None
    events: dict[str, Handler] = field(default_factory=dict)
    direct: dict[str, Direct] = field(default_factory=dict)


class EventRegistry:
    """Every namespace's handlers, each event registered once (a second registration of the same
    event is a bug: it fails at start-up)."""

    def __init__(self) -> None:
        self._namespaces: dict[str, _Namespace] = {}

    def namespace(self, name: str) -> _Namespace:
        found = self._namespaces.get(name)
        if found is None:
            found = self._namespaces[name] = _Namespace()
        return found

    def get(self, name: str) -> _Namespace | None:
        return self._namespaces.get(name)

    def names(self) -> list[str]:
        return list(self._namespaces)

    def on(self, event: str, handler: Handler, namespace: str = "/") -> None:
        ns = self.namespace(namespace)
        if event in ("connect", "disconnect", "*"):
            attr = {"connect": "connect", "disconnect": "disconnect", "*": "catch_all"}[event]
            if getattr(ns, attr) is not None:
                raise ValueError(f"{event!r} on {namespace} is registered twice")
            setattr(ns, attr, handler)
            return
        if event in ns.events or event in ns.direct:
            raise ValueError(f"event {event!r} on {namespace} is registered twice")
        ns.events[event] = handler

    def on_direct(self, event: str, direct: Direct, namespace: str = "/") -> None:
        ns = self.namespace(namespace)
        if event in ns.events or event in ns.direct:
            raise ValueError(f"event {event!r} on {namespace} is registered twice")
        ns.direct[event] = direct

    def events(self, namespace: str) -> list[str]:
        ns = self._namespaces.get(namespace)
        return sorted([*ns.events, *ns.direct]) if ns is not None else []


@dataclass(frozen=True, slots=True)
class Handshake:
    """A WebSocket upgrade request as the listener read it: header names in lower case."""

    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    key: str


@dataclass(frozen=True)
class ServerOptions:
    allowed_origins: tuple[str, ...]
    max_message_bytes: int
    send_buffer_bytes: int
    ping_interval_s: float = 25.0
    ping_timeout_s: float = 20.0
    # A connection with no namespace connected is closed after this long (socket.io's
    # ``connectTimeout``): an Engine.IO session costs memory before anyone has authenticated.
    connect_timeout_s: float = 45.0
    path: str = "/socket.io/"
    # A cookie that may stand in for ``auth`` at the handshake of a browser page of an allowed
    # origin (the session cookie, lago_core/security/cookies.py); None: no cookie is read.
    session_cookie: str | None = None


class SocketServer:
    def __init__(self, options: ServerOptions) -> None:
        self.options = options
        self.hub = Hub()
        self.registry = EventRegistry()
        self.limits = WriteLimits(options.send_buffer_bytes)
        self._tasks: set[asyncio.Future[Any]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._stopping = False
        # A request line that may be a WebSocket for us (the listener reads the rest).
        self._websocket_line = b"GET " + options.path.encode()
        self._open_packet = orjson.dumps(
            {
                "pingInterval": int(options.ping_interval_s * 1000),
                "pingTimeout": int(options.ping_timeout_s * 1000),
                "maxPayload": options.max_message_bytes,
            }
        )

    # --- wiring --------------------------------------------------------------------------------

    def attach(self, app: web.Application) -> None:
        app[SOCKET_SERVER] = self
        app.router.add_route("*", self.options.path, self._http)
        app.on_startup.append(self._start)
        app.on_shutdown.append(self._on_shutdown)

    def on(self, event: str, handler: Handler, namespace: str = "/") -> None:
        self.registry.on(event, handler, namespace)

    def on_direct(self, event: str, direct: Direct, namespace: str = "/") -> None:
        self.registry.on_direct(event, direct, namespace)

    async def _start(self, app: web.Application) -> None:
        self._sweeper = asyncio.create_task(self._sweep(), name="transport-pings")

    async def _on_shutdown(self, app: web.Application) -> None:
        await self.shutdown()

    async def shutdown(self) -> None:
        """Close every connection (their disconnect handlers run), then stop."""
        if self._stopping:
            return
        self._stopping = True
        if self._sweeper is not None:
            self._sweeper.cancel()
        for conn in self.hub:
            self._end(conn, "server shutdown", close=True)
        if self._tasks:
            _, pending = await asyncio.wait(list(self._tasks), timeout=2)
            for task in pending:
                task.cancel()

    # --- actions for gateways ------------------------------------------------------------------

    def emit(self, event: str, data: Any, to: str, namespace: str = "/") -> int:
        return self.hub.emit(event, data, to, namespace)

    def enter_room(self, sid: str, room: str, namespace: str = "/") -> bool:
        return self.hub.enter_room(sid, room, namespace)

    def leave_room(self, sid: str, room: str, namespace: str = "/") -> None:
        self.hub.leave_room(sid, room, namespace)

    def handshake_cookie(self, sid: str) -> str | None:
        """The session cookie socket ``sid``'s browser sent with its handshake, until a
        namespace of its connection has connected (see :meth:`_session_cookie`)."""
        socket = self.hub.socket(sid)
        return socket.conn.cookie if socket is not None else None

    def connected(self, sid: str, namespace: str = "/") -> bool:
        socket = self.hub.socket(sid, namespace)
        return socket is not None and socket.connected and not socket.conn.closed

    async def disconnect(self, sid: str, namespace: str = "/") -> None:
        """Disconnect socket ``sid`` (the client is told); a connection left with no socket is
        closed too — a client that ignored the disconnect would otherwise keep it open."""
        socket = self.hub.socket(sid, namespace)
        if socket is None:
            return
        conn = socket.conn
        conn.send(sio_packet(DISCONNECT, namespace))
        await self._drop_socket(socket, "server namespace disconnect")
        if not conn.sockets:
            self._end(conn, "server disconnect", close=True)

    def close_after_acks(self, sid: str) -> None:
        """Take nothing more from ``sid``'s connection and close it for good once the
        acknowledgements owed for what it sent before are written (at most ``CLOSE_WAIT_S``)."""
        socket = self.hub.socket(sid)
        if socket is None or socket.conn.closing:
            return
        conn = socket.conn
        conn.closing = True
        if conn.owed == 0:
            self._close_now(conn)
            return
        asyncio.get_running_loop().call_later(CLOSE_WAIT_S, self._close_now, conn)

    def _close_now(self, conn: Connection) -> None:
        if conn.sid not in self.hub.connections:
            return  # closed already
        # DISCONNECT of every namespace: python-socketio and socket.io-client take it as the
        # server's disconnect and do not reconnect on their own.
        for namespace in list(conn.sockets):
            conn.send(sio_packet(DISCONNECT, namespace))
        conn.close()
        self._end(conn, "server disconnect")

    # --- HTTP ----------------------------------------------------------------------------------

    def _origin_refused(self, origin: str | None) -> bool:
        allowed = self.options.allowed_origins
        return origin is not None and "*" not in allowed and origin not in allowed

    def _session_cookie(self, origin: str | None, cookies: Mapping[str, str]) -> str | None:
        """The session cookie of a handshake from a page of an explicitly allowed origin.

        Browsers send a host's cookies to all its ports, so the page REST serves reaches this
        node with its session cookie. It is taken only with an ``Origin`` on the allow-list by
        name (``*`` is not enough: any page could then use a visitor's session), never from a
        request without one, and kept on the connection only until a namespace connects with
        it: a token per idle connection would be memory for nothing (issue 22)."""
        name = self.options.session_cookie
        if name is None or not self._may_read_cookie(origin):
            return None
        value = cookies.get(name)
        return value if value and len(value) <= MAX_COOKIE else None

    def _may_read_cookie(self, origin: str | None) -> bool:
        return (
            self.options.session_cookie is not None
            and origin is not None
            and origin in self.options.allowed_origins
        )

    def _handshake_cookie(self, handshake: Handshake) -> str | None:
        """:meth:`_session_cookie` of a handshake the listener read."""
        origin = handshake.headers.get("origin")
        header = handshake.headers.get("cookie")
        if header is None or not self._may_read_cookie(origin):
            return None
        try:
            parsed = SimpleCookie(header)
        except CookieError:
            return None
        return self._session_cookie(origin, {name: m.value for name, m in parsed.items()})

    def _cors(self, request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if origin is not None:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Credentials"] = "true"
            response.headers["Vary"] = "Origin"
        return response

    def _refuse(self, request: web.Request, status: int, code: int, message: str) -> web.Response:
        count_refusal("transport_refused")
        body = orjson.dumps({"code": code, "message": message})
        response = web.Response(status=status, body=body, content_type="application/json")
        self._cors(request, response)
        return response

    async def _http(self, request: web.Request) -> web.StreamResponse:
        response = await self._answer_http(request)
        # Not kept alive: only a fresh connection reaches the listener, and a client reusing
        # this one for its WebSocket upgrade (python-socketio's does) would be refused.
        response.force_close()
        return response

    async def _answer_http(self, request: web.Request) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if self._origin_refused(origin):
            return self._refuse(request, 400, 4, "Not an accepted origin")
        if request.method == "OPTIONS":
            response = web.Response(status=204)
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = "content-type"
            return self._cors(request, response)
        query = request.query
        if query.get("EIO") != "4":
            return self._refuse(request, 400, 5, "Unsupported protocol version")
        transport = query.get("transport")
        sid = query.get("sid")
        if transport == "websocket":
            # The listener takes every WebSocket it may (listener.py); one that reaches aiohttp
            # is refused, saying why.
            if sid is not None and self._upgradable(sid) is None:
                return self._refuse(request, 400, 1, "Session ID unknown")
            return self._refuse(request, 400, 3, "Bad request")
        if transport != "polling":
            return self._refuse(request, 400, 0, "Transport unknown")
        if sid is None:
            if request.method != "GET":
                return self._refuse(request, 400, 3, "Bad request")
            opened = self._open(["websocket"], self._session_cookie(origin, request.cookies))
            return self._cors(request, self._text(opened.sid_packet))
        conn = self.hub.connections.get(sid)
        if conn is None or (conn.closed and not conn.queue):
            return self._refuse(request, 400, 1, "Session ID unknown")
        if request.method == "GET":
            return self._cors(request, await self._poll(conn))
        if request.method == "POST":
            return self._cors(request, await self._receive_posted(request, conn))
        return self._refuse(request, 400, 2, "Bad handshake method")

    @staticmethod
    def _text(body: str) -> web.Response:
        return web.Response(text=body, content_type="text/plain", charset="utf-8")

    # --- handshake -----------------------------------------------------------------------------

    @dataclass(slots=True)
    class _Opened:
        conn: Connection
        sid_packet: str

    def _open(self, upgrades: list[str], cookie: str | None) -> SocketServer._Opened:
        sid = secrets.token_urlsafe(15)
        now = time.monotonic()
        conn = Connection(
            sid,
            self.limits,
            now + self.options.ping_interval_s,
            now + self.options.connect_timeout_s,
        )
        conn.cookie = cookie
        self.hub.connections[sid] = conn
        packet = (
            EIO_OPEN
            + (
                b'{"sid":"%s","upgrades":%s,' % (sid.encode(), orjson.dumps(upgrades))
                + self._open_packet[1:]
            ).decode()
        )
        return SocketServer._Opened(conn, packet)

    # --- long-polling --------------------------------------------------------------------------

    async def _poll(self, conn: Connection) -> web.Response:
        if conn.polls or conn.transport is not None:
            # One GET at a time (the protocol's rule), and none once upgraded.
            self._end(conn, "bad polling request", close=True)
            return self._text(EIO_CLOSE)
        conn.polls += 1
        try:
            while not conn.queue and not conn.closed:
                waiter = conn.waiter = asyncio.get_running_loop().create_future()
                try:
                    await waiter
                finally:
                    conn.waiter = None
            body = conn.take()
        finally:
            conn.polls -= 1
        if conn.closed:
            self._end(conn, "transport close")
            body = body or EIO_CLOSE
        return self._text(body or EIO_NOOP)

    async def _receive_posted(self, request: web.Request, conn: Connection) -> web.Response:
        size = request.content_length
        limit = self.options.max_message_bytes
        if size is not None and size > limit:
            self._end(conn, "message too big", close=True)
            return web.Response(status=413, text="payload too large")
        body = await request.content.read(limit + 1)
        if len(body) > limit:
            self._end(conn, "message too big", close=True)
            return web.Response(status=413, text="payload too large")
        try:
            text = body.decode()
        except UnicodeDecodeError:
            self._end(conn, "invalid payload", close=True)
            return web.Response(status=400, text="invalid payload")
        for message in text.split(SEPARATOR):
            self.on_message(conn, message)
        return self._text("ok")

    # --- WebSocket (the listener's side, listener.py and websocket.py) -------------------------

    def may_be_websocket(self, request_line: bytes) -> bool:
        """Whether a request line may open a WebSocket for us (read its head to know)."""
        return request_line.startswith(self._websocket_line) and b"transport=websocket" in (
            request_line
        )

    def take_websocket(
        self, handshake: Handshake, transport: asyncio.Transport, accept: str
    ) -> tuple[Connection, bool] | None:
        """Answer an acceptable WebSocket handshake with ``101`` and return its connection (and
        whether it is a long-polling session's upgrade); None leaves the request to aiohttp,
        whose handler refuses it saying why (:meth:`_http`)."""
        query = handshake.query
        if (
            handshake.path != self.options.path
            or self._origin_refused(handshake.headers.get("origin"))
            or query.get("EIO") != "4"
            or query.get("transport") != "websocket"
            or self._stopping
        ):
            return None
        sid = query.get("sid")
        switching = _SWITCHING % accept.encode()
        if sid is not None:
            conn = self._upgradable(sid)
            if conn is None:
                return None
            transport.write(switching)
            return conn, True
        opened = self._open([], self._handshake_cookie(handshake))
        conn = opened.conn
        conn.transport = transport
        transport.write(switching + websocket_frame(opened.sid_packet.encode()))
        return conn, False

    def _upgradable(self, sid: str) -> Connection | None:
        conn = self.hub.connections.get(sid)
        if conn is None or conn.transport is not None or conn.closed or conn.probing:
            return None
        return conn

    def probed(self, conn: Connection) -> None:
        """A long-polling session's WebSocket answered the probe: release the GET the client has
        waiting, so it can pause polling."""
        conn.probing = True
        if not conn.queue:
            conn.queue = [EIO_NOOP]
        conn.wake()

    def upgraded(self, conn: Connection, transport: asyncio.Transport) -> bool:
        """The session moves to ``transport`` (the client sent ``5``); False if it has ended."""
        conn.probing = False
        if conn.closed or conn.sid not in self.hub.connections:
            return False
        waiting = conn.take()
        conn.transport = transport
        for message in waiting.split(SEPARATOR) if waiting else ():
            if message != EIO_NOOP:
                conn.send(message)
        return True

    def transport_lost(self, conn: Connection) -> None:
        """The session's WebSocket closed or failed."""
        self._end(conn, "transport close")

    # --- packets -------------------------------------------------------------------------------

    def on_message(self, conn: Connection, text: str) -> None:
        """One Engine.IO message from ``conn``'s client."""
        if conn.closing or conn.closed:
            return  # being closed: nothing more is taken, nothing answered
        kind = text[:1]
        if kind == EIO_MESSAGE:
            self._on_packet(conn, text[1:])
        elif kind == EIO_PONG:
            conn.pong_by = 0.0
        elif kind == EIO_CLOSE:
            self._end(conn, "client close", close=True)
        elif kind in (EIO_NOOP, EIO_PING):
            return
        elif kind == "b" and conn.skip_binary > 0:
            conn.skip_binary -= 1  # long-polling's base64 attachment of a packet we refused
        else:
            count_refusal("invalid_packet")
            self._end(conn, "invalid packet", close=True)

    def _on_packet(self, conn: Connection, text: str) -> None:
        try:
            packet = parse_sio(text)
        except PacketError:
            count_refusal("invalid_packet")
            self._end(conn, "invalid packet", close=True)
            return
        socket = conn.sockets.get(packet.namespace)
        kind = packet.kind
        if kind == EVENT:
            if socket is not None and socket.connected:
                self._on_event(socket, packet)
            elif packet.ack_id is not None:
                conn.send(
                    sio_packet(
                        ACK,
                        packet.namespace,
                        [_error("not_connected", "connect first")],
                        packet.ack_id,
                    )
                )
        elif kind == CONNECT:
            if socket is not None:
                return  # connected, or connecting: one socket per namespace
            self._spawn(self._connect(conn, packet))
        elif kind == DISCONNECT:
            if socket is not None:
                self._spawn(self._drop_socket(socket, "client namespace disconnect"))
                if len(conn.sockets) == 1:
                    # Its last namespace: the connection has connect_timeout to connect another.
                    conn.connect_by = time.monotonic() + self.options.connect_timeout_s
        elif kind in (BINARY_EVENT, BINARY_ACK):
            self._refuse_binary(conn, text)
        elif kind == ACK:
            return  # the server never asks a client for an acknowledgement
        else:
            count_refusal("invalid_packet")
            self._end(conn, "invalid packet", close=True)

    def _refuse_binary(self, conn: Connection, text: str) -> None:
        """A packet with binary attachments: answered, its attachments read and dropped."""
        dash = text.find("-", 1, 4)
        count = text[1:dash] if dash > 0 else ""
        if not count.isdigit() or int(count) > MAX_ATTACHMENTS:
            count_refusal("invalid_packet")
            self._end(conn, "invalid packet", close=True)
            return
        conn.skip_binary += int(count)
        count_refusal("invalid_input")
        try:
            packet = parse_sio("2" + text[dash + 1 :])
        except PacketError:
            return
        if packet.ack_id is not None and text[0] == "5":
            conn.send(sio_packet(ACK, packet.namespace, [_BINARY], packet.ack_id))

    async def _connect(self, conn: Connection, packet: SioPacket) -> None:
        namespace = packet.namespace
        handlers = self.registry.get(namespace)
        if handlers is None or handlers.connect is None:
            conn.send(sio_packet(CONNECT_ERROR, namespace, {"message": "Invalid namespace"}))
            return
        auth: Any = None
        if packet.data:
            try:
                auth = json_codec.loads(packet.data)
            except ValueError:
                conn.send(sio_packet(CONNECT_ERROR, namespace, {"message": "invalid JSON"}))
                return
        socket = Socket(secrets.token_urlsafe(15), namespace, conn)
        self.hub.add_socket(socket)
        try:
            await handlers.connect(socket.sid, auth)
        except ConnectionRefused as exc:
            self.hub.remove_socket(socket)
            refusal: dict[str, Any] = {"message": exc.message}
            if exc.data is not None:
                refusal["data"] = exc.data
            conn.send(sio_packet(CONNECT_ERROR, namespace, refusal))
            return
        except Exception:
            log.exception("transport.connect_failed", namespace=namespace)
            self.hub.remove_socket(socket)
            conn.send(sio_packet(CONNECT_ERROR, namespace, {"message": "internal error"}))
            return
        socket.connected = True
        conn.connect_by = 0.0
        if all(other.connected for other in conn.sockets.values()):
            # The cookie has served: namespaces sent together have all read it by now.
            conn.cookie = None
        if conn.closed or conn.sid not in self.hub.connections:
            # Gone while the handler ran: its disconnect runs now.
            await self._drop_socket(socket, "transport close")
            return
        conn.send(sio_packet(CONNECT, namespace, {"sid": socket.sid}))

    async def _drop_socket(self, socket: Socket, reason: str) -> None:
        """Run the namespace's disconnect handler, then forget the socket."""
        if socket.sid not in self.hub.sockets:
            return
        connected, socket.connected = socket.connected, False
        try:
            handlers = self.registry.get(socket.namespace)
            if connected and handlers is not None and handlers.disconnect is not None:
                await handlers.disconnect(socket.sid, reason)
        except Exception:
            log.exception("transport.disconnect_failed", namespace=socket.namespace)
        finally:
            self.hub.remove_socket(socket)

    def _end(self, conn: Connection, reason: str, *, close: bool = False) -> None:
        """The connection is over: every socket disconnects (once, whoever notices first)."""
        if self.hub.connections.pop(conn.sid, None) is None:
            return
        if close:
            conn.close()
        else:
            conn.closed = True
            conn.wake()
        for socket in list(conn.sockets.values()):
            self._spawn(self._drop_socket(socket, reason))

    # --- events --------------------------------------------------------------------------------

    def _on_event(self, socket: Socket, packet: SioPacket) -> None:
        conn = socket.conn
        ack_id = packet.ack_id
        try:
            args = json_codec.loads(packet.data)
        except ValueError:
            count_refusal("invalid_json")
            if ack_id is not None:
                self._write_ack(socket, ack_id, _UNREADABLE)
            return
        if not isinstance(args, list) or not args or not isinstance(args[0], str):
            count_refusal("invalid_input")
            if ack_id is not None:
                self._write_ack(socket, ack_id, _NOT_AN_EVENT)
            return
        name = args[0]
        handlers = self.registry.get(socket.namespace)
        assert handlers is not None  # the socket connected through them
        read_at = time.perf_counter()
        direct = handlers.direct.get(name)
        if direct is not None:
            INBOUND_DIRECT.inc()
            if ack_id is not None:
                conn.owed += 1
            try:
                answer = direct(socket.sid, args[1:])
            except Exception:
                log.exception("transport.direct_raised", sid=socket.sid, socket_event=name)
                answer = _INTERNAL
            self._settle(socket, ack_id, name, read_at, answer)
            return
        handler = handlers.events.get(name)
        if handler is not None:
            work = handler(socket.sid, *args[1:])
            label = name
        elif handlers.catch_all is not None:
            work = handlers.catch_all(name, socket.sid, *args[1:])
            label = UNKNOWN_LABEL
        else:
            if ack_id is not None:
                self._write_ack(socket, ack_id, unknown_event_answer(name))
            return
        if ack_id is not None:
            conn.owed += 1
        task = asyncio.ensure_future(self._run(socket, ack_id, label, read_at, work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(
        self,
        socket: Socket,
        ack_id: int | None,
        label: str,
        read_at: float,
        work: Awaitable[Any],
    ) -> None:
        """Run a handler and write its acknowledgement as soon as it returns — in the same step
        of the task, so before anything the handler started (a disconnect, say) can run."""
        try:
            result = await work
        except asyncio.CancelledError:
            if ack_id is not None:
                self._answered(socket.conn)
            raise
        except Exception:
            # Handlers turn every error into an error acknowledgement; this is a bug.
            log.exception("transport.handler_raised", sid=socket.sid, socket_event=label)
            result = _INTERNAL
        if ack_id is None:
            return
        self._write_ack(socket, ack_id, result)
        labelled(INBOUND_SECONDS, label).observe(time.perf_counter() - read_at)
        self._answered(socket.conn)

    @staticmethod
    def _log_failure(task: asyncio.Future[Any]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("transport.handler_raised", exc_info=task.exception())

    def _settle(
        self,
        socket: Socket,
        ack_id: int | None,
        event: str,
        read_at: float,
        answer: dict[str, Any] | Pending,
    ) -> None:
        if isinstance(answer, Pending):
            pending = answer

            def done(fut: asyncio.Future[Any]) -> None:
                try:
                    then = pending.finish(fut)
                except Exception:
                    log.exception("transport.finish_raised", sid=socket.sid, socket_event=event)
                    then = _INTERNAL
                self._settle(socket, ack_id, event, read_at, then)

            pending.future.add_done_callback(done)
            return
        if ack_id is not None:
            self._write_ack(socket, ack_id, answer)
            self._answered(socket.conn)
            labelled(INBOUND_SECONDS, event).observe(time.perf_counter() - read_at)

    def _answered(self, conn: Connection) -> None:
        """One owed acknowledgement is written (or can no longer be): close a closing
        connection once it owes none."""
        conn.owed = max(0, conn.owed - 1)
        if conn.owed == 0 and conn.closing:
            self._close_now(conn)

    def _write_ack(self, socket: Socket, ack_id: int, result: Any) -> None:
        if result is NO_ANSWER:
            return
        try:
            message = sio_packet(ACK, socket.namespace, [result], ack_id)
        except TypeError:
            log.exception("transport.ack_not_serialisable", sid=socket.sid, ack_id=ack_id)
            message = sio_packet(ACK, socket.namespace, [_INTERNAL], ack_id)
        socket.conn.send(message)

    # --- pings ---------------------------------------------------------------------------------

    async def _sweep(self) -> None:
        """Ping every connection when due and end those whose answer is late: one timer for the
        node instead of one per connection (memory per idle connection, issue 22)."""
        interval = self.options.ping_interval_s
        timeout = self.options.ping_timeout_s
        tick = max(0.01, min(1.0, interval / 4, timeout / 4, self.options.connect_timeout_s / 4))
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            try:
                for conn in self.hub:
                    if conn.closed:
                        self._end(conn, "transport close")
                    elif conn.pong_by and now > conn.pong_by:
                        self._end(conn, "ping timeout", close=True)
                    elif conn.connect_by and now > conn.connect_by and not conn.sockets:
                        count_refusal("connect_timeout")
                        self._end(conn, "connect timeout", close=True)
                    elif not conn.pong_by and now >= conn.ping_at and not conn.probing:
                        conn.ping_at = now + interval
                        conn.pong_by = now + timeout
                        conn.send(EIO_PING)
            except Exception:
                log.exception("transport.sweep_failed")

    # --- tasks ---------------------------------------------------------------------------------

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(self._log_failure)

    def spawn(self, coro: Awaitable[Any]) -> None:
        """Run ``coro`` in the background, tracked (waited for at shutdown), failures logged."""
        self._spawn(coro)


SOCKET_SERVER: web.AppKey[SocketServer] = web.AppKey("socket_server", SocketServer)
# The answer to an accepted WebSocket handshake; %s is Sec-WebSocket-Accept.
_SWITCHING = (
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: %s\r\n\r\n"
)
