"""One Engine.IO WebSocket connection, read straight from its socket.

The listener (``listener.py``) hands a connection here once it has answered the handshake with
``101``. Frames are parsed by wsproto's sans-I/O ``Connection`` (masking, fragmentation, control
frames, UTF-8, close codes); each complete text message goes to the server's packet handling in
the same call, with no task, queue or future per connection or per message. Frames from the
server are written by :class:`~lago_rt.transport.connection.Connection`, framed by us once for
many sockets; wsproto only reads.

One shortcut: what Socket.IO clients send is, nearly always, one final masked text frame per
message, under 64 KiB. Such frames are unmasked and read here (:meth:`_read_whole_frames`);
wsproto took 10 µs a message, a fifth of a node's CPU at 8,000 group-buy joins a second
(docs/benchmarks.md). The first frame that is anything else — a fragment, a control frame,
binary, a reserved bit, text that is not UTF-8, a length not minimally encoded — and everything
after it on that connection go to wsproto, whose state is then exactly that of a connection it
has read from the start (the shortcut only ever takes whole, unfragmented messages), so every
rule and close code stays wsproto's.

A long-polling session moving to WebSocket (``sid`` in the handshake) first goes through
Engine.IO's probe: ``2probe`` answered ``3probe``, then ``5``; only then do the session's
messages go over this socket. A probe that fails closes this socket and leaves the session on
long-polling, as the protocol says.
"""

from __future__ import annotations

import asyncio
import struct
from typing import TYPE_CHECKING

from wsproto.connection import Connection as FrameReader
from wsproto.connection import ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Ping, TextMessage

from lago_core.logging import get_logger
from lago_rt.metrics import count_refusal
from lago_rt.transport.connection import Connection
from lago_rt.transport.packets import EIO_PING, EIO_PONG, EIO_UPGRADE, websocket_frame

if TYPE_CHECKING:
    from lago_rt.transport.server import SocketServer

__all__ = ["WebSocketProtocol"]

log = get_logger(__name__)

_OPEN, _PROBE, _UPGRADE, _DONE = range(4)
# RFC 6455 §7.4.1 close codes we send.
_TOO_BIG = 1009
_UNSUPPORTED = 1003
_NORMAL = 1000


def _close_frame(code: int) -> bytes:
    return websocket_frame(struct.pack("!H", code), opcode=0x8)


class WebSocketProtocol(asyncio.Protocol):
    """Reads one WebSocket and feeds its messages to the server (one per connected client)."""

    __slots__ = (
        "_conn",
        "_cut",
        "_parts",
        "_probe_timer",
        "_reader",
        "_server",
        "_size",
        "_state",
        "_transport",
    )

    def __init__(
        self,
        server: SocketServer,
        conn: Connection,
        transport: asyncio.Transport,
        trailing: bytes,
        *,
        upgrading: bool,
    ) -> None:
        self._server = server
        self._conn = conn
        self._transport = transport
        # wsproto, from the first frame the shortcut does not take (None until then).
        self._reader: FrameReader | None = None
        # The start of a frame cut by TCP, until the rest arrives (the shortcut's only buffer).
        self._cut = b""
        # A message in fragments: its parts so far and their size (bounded by max_message_bytes).
        self._parts: list[str] | None = None
        self._size = 0
        self._state = _PROBE if upgrading else _OPEN
        self._probe_timer: asyncio.TimerHandle | None = None
        if upgrading:
            self._probe_timer = asyncio.get_running_loop().call_later(
                server.options.ping_timeout_s, self._fail_probe
            )
        if trailing:
            self.data_received(trailing)

    # --- asyncio.Protocol ------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._state == _DONE:
            return  # closed by us: what the client still sends is not read
        reader = self._reader
        if reader is None:
            data = self._read_whole_frames(data)
            if not data:
                return
            reader = self._reader = FrameReader(ConnectionType.SERVER)
        reader.receive_data(data)
        for event in reader.events():
            kind = type(event)
            if kind is TextMessage:
                assert isinstance(event, TextMessage)
                self._text(event.data, event.message_finished)
            elif kind is Ping:
                assert isinstance(event, Ping)
                self._transport.write(websocket_frame(bytes(event.payload), opcode=0xA))
            elif kind is BytesMessage:
                assert isinstance(event, BytesMessage)
                self._binary(len(event.data), event.message_finished)
            elif kind is CloseConnection:
                assert isinstance(event, CloseConnection)
                # The client's close (echoed), or a protocol error wsproto found (its code).
                self._close(event.code if event.code != 1005 else _NORMAL)
            if self._state == _DONE:
                return

    def _read_whole_frames(self, data: bytes) -> bytes:
        """Read the whole, final, masked text frames under 64 KiB at the start of ``data``;
        return the rest from the first frame that is anything else (for wsproto), or b"". A frame
        cut short waits in ``_cut`` for its rest."""
        if self._cut:
            data, self._cut = self._cut + data, b""
        size = len(data)
        at = 0
        while size - at >= 2:
            length = data[at + 1] ^ 0x80  # the mask bit must be set: clients mask every frame
            if data[at] != 0x81 or length > 126:  # FIN and text, no reserved bits
                return data[at:]
            start = at + 6
            if length == 126:
                if size - at < 4:
                    break
                length = data[at + 2] << 8 | data[at + 3]
                if length < 126:
                    return data[at:]  # not minimally encoded: wsproto refuses it
                start = at + 8
            end = start + length
            if end > size:
                break
            mask = data[start - 4 : start]
            masked = int.from_bytes(data[start:end], "little")
            key = int.from_bytes((mask * ((length >> 2) + 1))[:length], "little")
            try:
                text = (masked ^ key).to_bytes(length, "little").decode()
            except UnicodeDecodeError:
                return data[at:]  # wsproto closes with 1007
            at = end
            self._text(text, True)
            if self._state == _DONE:
                return b""
        self._cut = data[at:]
        return b""

    def eof_received(self) -> bool:
        return False  # the transport closes itself; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        state, self._state = self._state, _DONE
        if self._probe_timer is not None:
            self._probe_timer.cancel()
            self._probe_timer = None
        if state in (_PROBE, _UPGRADE):
            self._conn.probing = False  # the session stays on long-polling
        elif self._conn.transport is self._transport:
            self._server.transport_lost(self._conn)

    # --- messages ----------------------------------------------------------------------------------

    def _text(self, data: str, finished: bool) -> None:
        if self._parts is not None or not finished:
            parts = self._parts if self._parts is not None else []
            self._parts = parts
            self._size += len(data)
            if self._size > self._server.options.max_message_bytes:
                count_refusal("message_too_big")
                self._close(_TOO_BIG)
                return
            parts.append(data)
            if not finished:
                return
            data = "".join(parts)
            self._parts, self._size = None, 0
        elif len(data) > self._server.options.max_message_bytes:
            count_refusal("message_too_big")
            self._close(_TOO_BIG)
            return
        if self._state == _OPEN:
            self._server.on_message(self._conn, data)
        elif self._state == _PROBE:
            if data != EIO_PING + "probe":
                self._close(_NORMAL)
                return
            self._transport.write(websocket_frame((EIO_PONG + "probe").encode()))
            self._state = _UPGRADE
            self._server.probed(self._conn)
        elif self._state == _UPGRADE:
            if data != EIO_UPGRADE or not self._server.upgraded(self._conn, self._transport):
                self._close(_NORMAL)
                return
            if self._probe_timer is not None:
                self._probe_timer.cancel()
                self._probe_timer = None
            self._state = _OPEN

    def _binary(self, size: int, finished: bool) -> None:
        conn = self._conn
        if self._state == _OPEN and conn.skip_binary > 0:
            self._size += size
            if self._size > self._server.options.max_message_bytes:
                count_refusal("message_too_big")
                self._close(_TOO_BIG)
            elif finished:
                conn.skip_binary -= 1  # an attachment of a packet we refused
                self._size = 0
            return
        count_refusal("invalid_packet")
        self._close(_UNSUPPORTED)

    # --- ending ------------------------------------------------------------------------------------

    def _fail_probe(self) -> None:
        self._probe_timer = None
        if self._state in (_PROBE, _UPGRADE):
            self._close(_NORMAL)

    def _close(self, code: int) -> None:
        """Close this WebSocket with ``code``; the session ends with it unless it is still on
        long-polling (a failed probe)."""
        if self._state == _DONE:
            return
        transport = self._transport
        if not transport.is_closing():
            transport.write(_close_frame(code))
            transport.close()
        if self._state == _OPEN and self._conn.transport is transport:
            self._state = _DONE
            self._server.transport_lost(self._conn)
        else:
            self._state = _DONE
            self._conn.probing = False
