"""Direct WebSocket writes for channel fan-out.

python-socketio encodes and queues every emit once per recipient, with a task per recipient and
a writer task per socket; measured here that tops out near 19k deliveries/s (FIELD-NOTES). A
channel event is the same bytes for every member, so we build the complete WebSocket frame once
and write it to each member's transport. To do that we need each engine.io socket's aiohttp
WebSocket, which engine.io does not expose: :class:`TrackedWebSocket` replaces engine.io's aiohttp
WebSocket driver for this server only, records the response (and its transport) per engine.io
session id, and turns per-message compression off so one frame is valid for every socket.

Writes from here and from engine.io's own writer task never interleave: both write whole frames
to the transport synchronously, and the event loop runs one of them at a time.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any

from aiohttp import web
from engineio.async_drivers.aiohttp import WebSocket as EngineIoWebSocket

__all__ = ["SocketRegistry", "event_frame", "install_tracked_websockets", "websocket_frame"]


def websocket_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """An unmasked, final server frame (RFC 6455 §5.2) carrying ``payload``."""
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, length)
    elif length < 65_536:
        header = struct.pack("!BBH", 0x80 | opcode, 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, length)
    return header + payload


def event_frame(event_name: bytes, payload_json: bytes) -> bytes:
    """A WebSocket frame with the engine.io message carrying a socket.io EVENT on ``/``.

    ``4`` is engine.io MESSAGE, ``2`` socket.io EVENT; the default namespace needs no prefix.
    """
    return websocket_frame(b'42["' + event_name + b'",' + payload_json + b"]")


class SocketRegistry:
    """engine.io session id -> the transport under its WebSocket (while it is open)."""

    def __init__(self) -> None:
        self.transports: dict[str, asyncio.Transport] = {}

    def transport(self, eio_sid: str) -> asyncio.Transport | None:
        transport = self.transports.get(eio_sid)
        if transport is None or transport.is_closing():
            return None
        return transport


def install_tracked_websockets(
    eio_server: Any, registry: SocketRegistry, max_msg_size: int
) -> None:
    """Give ``eio_server`` a WebSocket driver that records each socket's transport."""

    class TrackedWebSocket(EngineIoWebSocket):  # type: ignore[misc]
        async def __call__(self, environ: dict[str, Any]) -> web.WebSocketResponse:
            request: web.Request = environ["aiohttp.request"]
            # compress=False: a frame built once must be valid on every socket (no per-socket
            # deflate context). Oversized client messages close the socket (1009).
            self._sock = web.WebSocketResponse(max_msg_size=max_msg_size, compress=False)
            await self._sock.prepare(request)
            self.environ = environ
            eio_sid = getattr(getattr(self.handler, "__self__", None), "sid", None)
            if eio_sid is not None and request.transport is not None:
                registry.transports[eio_sid] = request.transport
            try:
                await self.handler(self)
            finally:
                if eio_sid is not None:
                    registry.transports.pop(eio_sid, None)
            return self._sock

    # engine.io keeps its drivers in a module-level dict; copy it so only this server changes.
    eio_server._async = {**eio_server._async, "websocket": TrackedWebSocket}
