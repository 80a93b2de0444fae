"""The real-time node's port: Engine.IO WebSockets taken from the socket, the rest served by aiohttp.

Why: a WebSocket connection through aiohttp costs a request handler, a request, a
``WebSocketResponse`` with its reader, and a task awaiting every message — per connection, for
as long as it lives. Measured with the benchmark's load client on the 2-core machine of
docs/benchmarks.md, 5,000 clients opening a WebSocket and exchanging three messages took 1.6–2.3 s
through a bare aiohttp handler and 0.6 s when the handshake is read here and frames by wsproto
(docs/architecture.md, "The transport").

How: each accepted connection starts with a :class:`_Sniffer`. It reads the request line; a
``GET`` of the Engine.IO path asking for ``transport=websocket`` is read to the end of its head
and, when :meth:`SocketServer.accepts_websocket` takes it, answered ``101`` here and handed to a
:class:`~lago_rt.transport.websocket.WebSocketProtocol`. Every other request — long-polling,
health, metrics, a handshake the server refuses — goes, with the bytes read so far, to the
protocol aiohttp's ``web.Server`` makes for a connection (``AppRunner.server``, public), so the
app's routes and refusals answer it exactly as if aiohttp had accepted the connection itself.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import socket
from typing import cast
from urllib.parse import parse_qsl

from aiohttp import web

from lago_core.logging import get_logger
from lago_rt.metrics import count_refusal
from lago_rt.transport.server import SOCKET_SERVER, Handshake, SocketServer
from lago_rt.transport.websocket import WebSocketProtocol

__all__ = ["NodeSite", "accept_key", "parse_head"]

log = get_logger(__name__)

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# A head longer than this is not one of ours: aiohttp reads it and answers with its own limits.
MAX_HEAD = 8_192
BACKLOG = 1_024
# A connection that has not sent a whole request line and head by then is closed: an idle socket
# would otherwise hold a file descriptor and a sniffer for as long as its client likes.
HEAD_TIMEOUT_S = 10.0


def accept_key(key: str) -> str:
    """``Sec-WebSocket-Accept`` for a client's ``Sec-WebSocket-Key`` (RFC 6455 §4.2.2)."""
    return base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest()).decode()


def parse_head(head: bytes) -> Handshake | None:
    """The request of an HTTP/1.1 head (without its blank line) if it is a well-formed WebSocket
    upgrade (RFC 6455 §4.2.1); None for anything else."""
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
        return None
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or parts[0] != "GET" or parts[2] != "HTTP/1.1":
        return None
    path, _, query_string = parts[1].partition("?")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip() or name[0] in " \t":
            return None  # obsolete folding, a space before the colon: aiohttp refuses it
        name = name.lower()
        value = value.strip(" \t")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    if "websocket" not in _tokens(headers.get("upgrade")):
        return None
    if "upgrade" not in _tokens(headers.get("connection")):
        return None
    if headers.get("sec-websocket-version") != "13":
        return None
    key = headers.get("sec-websocket-key", "")
    try:
        if len(base64.b64decode(key, validate=True)) != 16:
            return None
    except (binascii.Error, ValueError):
        return None
    query: dict[str, str] = {}
    for name, value in parse_qsl(query_string, keep_blank_values=True):
        query.setdefault(name, value)
    return Handshake(path=path, query=query, headers=headers, key=key)


def _tokens(value: str | None) -> set[str]:
    return {token.strip().lower() for token in value.split(",")} if value else set()


class _Sniffer(asyncio.Protocol):
    """The first reader of every connection: ours if a WebSocket for the Engine.IO path,
    aiohttp's otherwise."""

    __slots__ = ("_buffer", "_head_timeout", "_http", "_server", "_timer", "_transport")

    def __init__(self, server: SocketServer, http: web.Server, head_timeout_s: float) -> None:
        self._server = server
        self._http = http
        self._head_timeout = head_timeout_s
        self._buffer = b""
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not subclasses of asyncio's; this is a TCP stream transport.
        self._transport = cast(asyncio.Transport, transport)
        self._timer = asyncio.get_running_loop().call_later(self._head_timeout, self._too_slow)

    def _too_slow(self) -> None:
        self._timer = None
        count_refusal("head_timeout")
        if self._transport is not None:
            self._transport.close()

    def _handed_over(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._buffer = b""

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer = self._buffer + data
        line_end = buffer.find(b"\r\n")
        if line_end < 0:
            if len(buffer) > MAX_HEAD:
                self._to_aiohttp()
            return
        if not self._server.may_be_websocket(buffer[:line_end]):
            self._to_aiohttp()
            return
        head_end = buffer.find(b"\r\n\r\n")
        if head_end < 0:
            if len(buffer) > MAX_HEAD:
                self._to_aiohttp()
            return
        handshake = parse_head(buffer[:head_end]) if head_end <= MAX_HEAD else None
        transport = self._transport
        assert transport is not None
        taken = (
            self._server.take_websocket(handshake, transport, accept_key(handshake.key))
            if handshake is not None
            else None
        )
        if taken is None:
            self._to_aiohttp()
            return
        conn, upgrading = taken
        self._handed_over()
        protocol = WebSocketProtocol(
            self._server, conn, transport, buffer[head_end + 4 :], upgrading=upgrading
        )
        transport.set_protocol(protocol)

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._handed_over()

    def _to_aiohttp(self) -> None:
        """aiohttp serves this connection from here on, starting with what was read."""
        transport = self._transport
        assert transport is not None
        buffer = self._buffer
        self._handed_over()
        protocol = self._http()
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        if not transport.is_closing():
            protocol.data_received(buffer)


class NodeSite:
    """Serves a real-time app on ``host:port`` through the sniffing listener (instead of
    aiohttp's ``TCPSite``). Start after ``runner.setup()``; :meth:`stop` before
    ``runner.cleanup()`` (which closes the connections, ours through the app's shutdown)."""

    def __init__(
        self,
        runner: web.AppRunner,
        host: str,
        port: int,
        *,
        backlog: int = BACKLOG,
        head_timeout_s: float = HEAD_TIMEOUT_S,
    ) -> None:
        self._runner = runner
        self._host = host
        self._port = port
        self._backlog = backlog
        self._head_timeout = head_timeout_s
        self._listening: asyncio.Server | None = None

    async def start(self) -> None:
        http = self._runner.server
        if http is None:
            raise RuntimeError("NodeSite.start: call runner.setup() first")
        server = self._runner.app[SOCKET_SERVER]
        loop = asyncio.get_running_loop()
        self._listening = await loop.create_server(
            lambda: _Sniffer(server, http, self._head_timeout),
            self._host,
            self._port,
            backlog=self._backlog,
            reuse_address=True,
        )
        for listening in self._listening.sockets:
            server.limits.adopt(listening)

    @property
    def addresses(self) -> list[tuple[str, int]]:
        if self._listening is None:
            return []
        found: list[tuple[str, int]] = []
        for sock in self._listening.sockets:
            address = sock.getsockname()
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                found.append((str(address[0]), int(address[1])))
        return found

    @property
    def url(self) -> str:
        host, port = self.addresses[0]
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    async def stop(self) -> None:
        if self._listening is not None:
            self._listening.close()
            self._listening = None
