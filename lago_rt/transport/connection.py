"""One Engine.IO session: how its messages reach the client, and the rule that cuts a client that
does not read.

A connection is written to in one of two ways. Over a WebSocket, every message is a complete
frame written straight to the socket's transport (``request.transport``, aiohttp's public
API): a channel event is framed once and the same bytes go to every member. aiohttp's own writer
is never used for messages, so nothing interleaves with these writes; it only answers WebSocket
pings and writes the closing frame, each a whole frame written synchronously as well. Over
long-polling, messages wait in a list until the client's next GET takes them.

What is outstanding for a WebSocket is what the process holds (the transport's buffer) plus what
the kernel holds (its send queue: written, not yet acknowledged by the peer). Counting only the
first let a client that stopped reading take 5 MB: Linux grows a socket's send buffer up to
``net.ipv4.tcp_wmem``'s maximum (4 MiB) before the transport buffers anything. So each socket's
send buffer is fixed (``SO_SNDBUF``, a quarter of the limit: the kernel doubles it for its own
bookkeeping and reports the doubled figure), which bounds the kernel's share; and only when the
transport holds more than the limit less that share is the kernel asked exactly how much it holds
(Linux ``SIOCOUTQ``: bytes not yet acknowledged, see tcp(7)). A healthy socket's transport buffer
is empty, so a write pays one comparison, and a system call only for a socket that is backed up.
For long-polling the same limit applies to the bytes waiting for the next GET.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import socket
import struct
import sys
import termios
from typing import TYPE_CHECKING

from lago_core.logging import get_logger
from lago_rt.metrics import SLOW_CONSUMERS
from lago_rt.transport.packets import websocket_frame

if TYPE_CHECKING:
    from lago_rt.transport.hub import Socket

__all__ = ["Connection", "WriteLimits", "reset"]

log = get_logger(__name__)

# Linux's SIOCOUTQ; elsewhere TIOCOUTQ means something else for a socket, so the kernel's share
# is then taken as its whole send buffer.
_SIOCOUTQ: int | None = getattr(termios, "TIOCOUTQ", None) if sys.platform == "linux" else None
_CLOSE_FRAME = websocket_frame(b"", opcode=0x8)
# Engine.IO joins long-polling packets with the record separator.
SEPARATOR = "\x1e"


class WriteLimits:
    """The slow-consumer rule's figures, shared by every connection of a node."""

    __slots__ = ("headroom", "kernel_cap", "limit", "sndbuf")

    def __init__(self, send_buffer_limit: int) -> None:
        self.limit = send_buffer_limit
        self.sndbuf = max(4_096, send_buffer_limit // 4)
        # The most the kernel may hold for a socket, as it reports it once the size is set.
        self.kernel_cap = 2 * self.sndbuf
        # A transport holding at most this much is under the limit whatever the kernel holds.
        self.headroom = max(0, send_buffer_limit - self.kernel_cap)

    def adopt(self, listening: socket.socket) -> None:
        """Bound the kernel send queue of every connection accepted on ``listening``: an accepted
        socket starts with its listener's ``SO_SNDBUF`` (Linux copies it, with the lock that
        keeps the kernel from growing it), so this is one system call for the node, not two
        per connection (they were 2 % of a join storm's time)."""
        try:
            listening.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.sndbuf)
            granted = listening.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
        except OSError:
            log.warning("transport.sndbuf_not_set")
            granted = self.limit
        if granted > self.kernel_cap:
            # Not what we asked for (another OS, a clamp): count the kernel in full from now on
            # rather than cut late.
            self.kernel_cap = granted
            self.headroom = max(0, self.limit - granted)

    def outstanding(self, transport: asyncio.WriteTransport) -> int:
        """Bytes written to ``transport`` that its peer has not acknowledged yet."""
        return transport.get_write_buffer_size() + _kernel_unacked(transport, self.kernel_cap)

    def over(self, transport: asyncio.WriteTransport) -> bool:
        return (
            transport.get_write_buffer_size() > self.headroom
            and self.outstanding(transport) > self.limit
        )


class Connection:
    """An Engine.IO session: its sockets (one per namespace) and its way to the client."""

    # Slots: one of these per connected client (memory per idle connection, issue 22).
    __slots__ = (
        "closed",
        "closing",
        "connect_by",
        "cookie",
        "limits",
        "owed",
        "ping_at",
        "polls",
        "pong_by",
        "probing",
        "queue",
        "queued",
        "sid",
        "skip_binary",
        "sockets",
        "transport",
        "waiter",
    )

    def __init__(self, sid: str, limits: WriteLimits, ping_at: float, connect_by: float) -> None:
        self.sid = sid
        # By when a client with no namespace connected must connect one (0: it has one).
        self.connect_by = connect_by
        # The browser's session cookie from the handshake, until a namespace connects with it.
        self.cookie: str | None = None
        self.limits = limits
        self.sockets: dict[str, Socket] = {}
        # WebSocket: the transport every frame is written to (None while long-polling).
        self.transport: asyncio.WriteTransport | None = None
        # Long-polling: messages waiting for the next GET, their size, and that GET's wake-up.
        self.queue: list[str] | None = None
        self.queued = 0
        self.waiter: asyncio.Future[None] | None = None
        self.polls = 0
        self.probing = False
        # Pings: when the next is due, and by when its answer must have come (0: none owed).
        self.ping_at = ping_at
        self.pong_by = 0.0
        # Acknowledgements owed for events taken; closing: take nothing more, close once none.
        self.owed = 0
        self.closing = False
        self.closed = False
        # Binary attachments announced by a packet we refused, to be read and dropped.
        self.skip_binary = 0

    @property
    def polling(self) -> bool:
        return self.transport is None

    # --- writing -------------------------------------------------------------------------------

    def send(self, message: str) -> None:
        """Send one Engine.IO message (``4...`` for Socket.IO packets)."""
        if self.closed:
            return
        transport = self.transport
        if transport is not None:
            self.write(websocket_frame(message.encode()))
            return
        self._enqueue(message)

    def send_prepared(self, frame: bytes, message: bytes) -> bool:
        """Send a message framed once for many connections; False if it could not be."""
        if self.closed:
            return False
        if self.transport is not None:
            return self.write(frame)
        self._enqueue(message.decode())
        return True

    def write(self, frame: bytes) -> bool:
        """Write a complete WebSocket frame, or cut a client that does not read."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return False
        limits = self.limits
        if transport.get_write_buffer_size() > limits.headroom and limits.over(transport):
            self.cut("slow_consumer")
            return False
        transport.write(frame)
        return True

    def _enqueue(self, message: str) -> None:
        queue = self.queue
        if queue is None:
            queue = self.queue = []
        queue.append(message)
        self.queued += len(message)
        if self.queued > self.limits.limit:
            self.cut("slow_consumer")
            return
        self.wake()

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def take(self) -> str:
        """What a long-polling GET answers: every waiting message, joined."""
        queue, self.queue, self.queued = self.queue, None, 0
        return SEPARATOR.join(queue) if queue else ""

    # --- ending --------------------------------------------------------------------------------

    def cut(self, reason: str) -> None:
        """Drop the connection at once, with what is queued for it (nothing reaches a client that
        does not read, so nothing waits behind its data). The server notices and disconnects its
        sockets as for any other end."""
        SLOW_CONSUMERS.inc()
        transport = self.transport
        log.warning(
            "transport.connection_cut",
            eio_sid=self.sid,
            reason=reason,
            outstanding=self.limits.outstanding(transport) if transport else self.queued,
        )
        self.closed = True
        if transport is not None:
            reset(transport)
        else:
            self.queue, self.queued = None, 0
            self.wake()

    def close(self, last: str | None = None, *, grace_s: float = 2.0) -> None:
        """Send ``last`` (if any) and close: a WebSocket with a closing frame, reset if its client
        has not read it within ``grace_s``; long-polling with Engine.IO's CLOSE on the next GET."""
        if self.closed:
            return
        self.closed = True
        transport = self.transport
        if transport is not None:
            if not transport.is_closing():
                head = websocket_frame(last.encode()) if last else b""
                transport.write(head + _CLOSE_FRAME)
                transport.close()
                asyncio.get_running_loop().call_later(grace_s, reset, transport)
            return
        queue = self.queue = self.queue or []
        if last:
            queue.append(last)
        queue.append("1")
        self.wake()


def reset(transport: asyncio.BaseTransport) -> None:
    """Abort ``transport`` with a TCP reset: the kernel drops its send queue at once.

    A plain close of a socket with unsent data leaves the kernel holding it and probing a peer
    whose window is shut, for minutes; ``SO_LINGER`` with a zero timeout makes the close a reset.
    """
    sock = transport.get_extra_info("socket")
    if sock is not None:
        if sock.fileno() == -1:
            return  # closed meanwhile (the usual end of a close's grace period)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    if isinstance(transport, asyncio.WriteTransport):
        transport.abort()
    else:
        transport.close()


def _kernel_unacked(transport: asyncio.BaseTransport, otherwise: int) -> int:
    sock = transport.get_extra_info("socket")
    if sock is None or _SIOCOUTQ is None:
        return otherwise
    try:
        raw = fcntl.ioctl(sock.fileno(), _SIOCOUTQ, b"\0\0\0\0")
    except OSError:
        return otherwise
    unacked: int = struct.unpack("i", raw)[0]
    return unacked
