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

Reading: an event message is taken as aiohttp parses it (:class:`_OfferingQueue`), in the
protocol's ``data_received``, instead of being queued for the coroutine that waits on the socket.
Queued, every message cost a future, a wake-up of three suspended coroutines and a loop turn
before it was even looked at — and, since each wait makes a new coroutine chain per socket, a
node with thousands of busy sockets had tens of thousands of those young objects for every
young-generation collection to walk. Taken at once, the waiting chain stays as it is.

Memory per idle connection (issue 8 asks at most 30 KB): the same driver makes engine.io's
per-socket machinery lighter without changing what goes on the wire — the writer no longer keeps
the last packet it sent (the join reply, ≈ 14 KB), pings run on a timer instead of a sleeping task
per socket, and the outgoing queue is a list-based one instead of ``asyncio.Queue``. Measured
on 1,000 idle joined sockets: 47 → 28 KB per connection (docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import socket
import struct
import sys
import termios
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSMsgType, web
from aiohttp._websocket.reader import WebSocketDataQueue, WebSocketReader
from aiohttp.helpers import DEFAULT_CHUNK_SIZE
from engineio.async_drivers.aiohttp import WebSocket as EngineIoWebSocket
from engineio.async_socket import AsyncSocket
from engineio.exceptions import QueueEmpty
from engineio.packet import PING, Packet

from lago_core.logging import get_logger
from lago_rt.metrics import INBOUND_ON_PARSE, SLOW_CONSUMERS

__all__ = [
    "SocketRegistry",
    "event_frame",
    "install_tracked_websockets",
    "reset",
    "websocket_frame",
]

log = get_logger(__name__)

# Linux's SIOCOUTQ; elsewhere TIOCOUTQ means something else for a socket, so the kernel's share
# is then taken as its whole send buffer.
_SIOCOUTQ: int | None = getattr(termios, "TIOCOUTQ", None) if sys.platform == "linux" else None


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
    """engine.io session id -> the transport under its WebSocket (while it is open), and the rule
    that cuts a socket whose client does not read.

    ``inbound``, when set, is offered every ``42...`` text message of an upgraded WebSocket before
    engine.io reads it; it returns True when it took the message (``gateway/inbound.py``).

    What is outstanding for a socket is what the process holds (the transport's buffer) plus what
    the kernel holds (its send queue: written, not yet acknowledged by the peer). Counting only the
    first let a client that stopped reading take 5 MB: Linux grows a socket's send buffer up to
    ``net.ipv4.tcp_wmem``'s maximum (4 MiB) before the transport buffers anything. So each socket's
    send buffer is fixed (``SO_SNDBUF``, a quarter of the limit: the kernel doubles it for its own
    bookkeeping and reports the doubled figure), which bounds the kernel's share; and only when the
    transport holds more than the limit less that share is the kernel asked exactly how much it
    holds (Linux ``SIOCOUTQ``, the same request number as ``TIOCOUTQ``: bytes not yet acknowledged,
    see tcp(7)). A healthy socket's transport buffer is empty, so the fan-out pays one comparison
    per delivery, as before, and a system call only for a socket that is backed up. (Polling
    ``SIOCOUTQ`` on every write would be exact too, but a system call per delivery.)
    """

    def __init__(self, send_buffer_limit: int = 1 << 20) -> None:
        self.transports: dict[str, asyncio.Transport] = {}
        self.inbound: Callable[[str, str], bool] | None = None
        self.limit = send_buffer_limit
        self._sndbuf = max(4_096, send_buffer_limit // 4)
        # The most the kernel may hold for a socket, as it reports it once the size is set.
        self.kernel_cap = 2 * self._sndbuf
        # A transport holding at most this much is under the limit whatever the kernel holds.
        self.headroom = max(0, send_buffer_limit - self.kernel_cap)
        # How long a connection may stay open once engine.io has closed its session.
        self.close_grace_s = 5.0

    def transport(self, eio_sid: str) -> asyncio.Transport | None:
        transport = self.transports.get(eio_sid)
        if transport is None or transport.is_closing():
            return None
        return transport

    def adopt(self, eio_sid: str, transport: asyncio.Transport) -> None:
        """Track ``transport`` for ``eio_sid`` and bound what its kernel send queue may hold."""
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self._sndbuf)
                granted = sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
            except OSError:
                log.warning("wire.sndbuf_not_set", eio_sid=eio_sid)
                granted = self.limit
            if granted > self.kernel_cap:
                # Not what we asked for (another OS, a clamp): count the kernel in full from
                # now on rather than cut late.
                self.kernel_cap = granted
                self.headroom = max(0, self.limit - granted)
        self.transports[eio_sid] = transport

    def outstanding(self, transport: asyncio.Transport) -> int:
        """Bytes written to ``transport`` that its peer has not acknowledged yet."""
        buffered = transport.get_write_buffer_size()
        return buffered + _kernel_unacked(transport, self.kernel_cap)

    def over_limit(self, transport: asyncio.Transport) -> bool:
        """Whether the socket's client is that far behind: cut it (:meth:`cut`)."""
        return (
            transport.get_write_buffer_size() > self.headroom
            and self.outstanding(transport) > self.limit
        )

    def cut(self, eio_sid: str, transport: asyncio.Transport, reason: str) -> None:
        """Close a connection for good at once: reset it, dropping what is queued for it.

        Nothing more can reach a client that does not read, so nothing is queued behind the data
        (a disconnect packet there would wait as long as the data); engine.io's reader sees the
        connection gone and runs the disconnect (presence leave and all) as for any other.
        """
        SLOW_CONSUMERS.inc()
        log.warning(
            "wire.connection_cut",
            eio_sid=eio_sid,
            reason=reason,
            outstanding=self.outstanding(transport),
        )
        reset(transport)

    def closed_by_engineio(self, eio_sid: str) -> None:
        """engine.io closed ``eio_sid`` (a ping timeout, a server disconnect): make sure the
        connection goes too.

        Its WebSocket handler ends only when its writer task does, and the writer waits for a
        client that reads nothing as long as that client likes: with less than the limit queued
        (nothing to cut it for) the TCP connection stayed open, pings and all, after the session
        was gone. A connection still open ``close_grace_s`` later is reset; one that closed as
        usual is no longer in ``transports`` by then.
        """
        asyncio.get_running_loop().call_later(self.close_grace_s, self._reset_if_open, eio_sid)

    def _reset_if_open(self, eio_sid: str) -> None:
        transport = self.transports.get(eio_sid)
        if transport is not None and (
            not transport.is_closing() or transport.get_write_buffer_size()
        ):
            self.cut(eio_sid, transport, "closed_session_still_open")

    def close(self, eio_sid: str, last: bytes, *, grace_s: float = 2.0) -> None:
        """Write ``last`` (complete frames) and a WebSocket close, then close the connection; a
        client that does not read them within ``grace_s`` is reset."""
        transport = self.transport(eio_sid)
        if transport is None:
            return
        transport.write(last + websocket_frame(b"", opcode=0x8))
        transport.close()
        asyncio.get_running_loop().call_later(grace_s, reset, transport)


def reset(transport: asyncio.Transport) -> None:
    """Abort ``transport`` with a TCP reset: the kernel drops its send queue at once.

    A plain close of a socket with unsent data leaves the kernel holding it and probing a peer
    whose window is shut, for minutes; ``SO_LINGER`` with a zero timeout makes the close a reset.
    """
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def _kernel_unacked(transport: asyncio.Transport, otherwise: int) -> int:
    sock = transport.get_extra_info("socket")
    if sock is None or _SIOCOUTQ is None:
        return otherwise
    try:
        raw = fcntl.ioctl(sock.fileno(), _SIOCOUTQ, b"\0\0\0\0")
    except OSError:
        return otherwise
    unacked: int = struct.unpack("i", raw)[0]
    return unacked


class _Encoded:
    """A text packet already encoded, which lets go of its text once it has been sent.

    engine.io's writer task keeps the last packet it sent (its loop variable) until the next one,
    both the packet's data and its encoded copy. On an idle socket that is the ``channel:join``
    acknowledgement — a presence page of several KB, twice — held for the life of the
    connection; channel events do not replace it, since they bypass the writer (see
    ``LocalFanout``). Measured on 1,000 idle joined sockets: 14 of 47 KB per connection.
    """

    __slots__ = ("_text",)

    def __init__(self, text: str) -> None:
        self._text: str | None = text

    def encode(self, b64: bool = False) -> str:
        # b64 only changes binary packets, which are never wrapped.
        text, self._text = self._text, None
        assert text is not None, "an encoded packet is sent once"
        return text


class _OfferingQueue(WebSocketDataQueue):
    """aiohttp's queue of parsed messages for one WebSocket, which first offers each text
    message to ``take``; a message taken is not queued (the socket's reader never sees it).

    Only when nothing is queued before it, so that messages are still handled in the order they
    came: behind a queued message (a ping answer, a connect) the next ones wait their turn, and
    the reader offers them as it takes them from the queue (``TrackedWebSocket.wait``).
    """

    # A slot, not an instance dict: this is one per connection (issue 8's memory per socket).
    __slots__ = ("_take",)

    def __init__(
        self,
        protocol: Any,
        limit: int,
        *,
        loop: asyncio.AbstractEventLoop,
        take: Callable[[str], bool],
    ) -> None:
        super().__init__(protocol, limit, loop=loop)
        self._take = take

    def feed_data(self, data: Any, size: int) -> None:
        if not self._buffer and data.type is WSMsgType.TEXT and self._take(data.data):
            INBOUND_ON_PARSE.inc()
            return
        super().feed_data(data, size)


def _take_nothing(data: str) -> bool:
    return False


class _OfferingResponse(web.WebSocketResponse):
    """A ``WebSocketResponse`` whose parsed messages go through an :class:`_OfferingQueue`.

    ``_post_start`` is aiohttp's own (3.14), with the queue swapped: aiohttp builds the queue and
    its parser there and offers no other way in. ``tests/test_rt_inbound.py`` checks that the
    queue is in place, so an aiohttp that changes this fails a test instead of quietly falling
    back to the slower path (which still works: ``TrackedWebSocket.wait`` offers every message
    it reads).
    """

    __slots__ = ("_take",)

    def __init__(self, *, take: Callable[[str], bool], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._take = take

    def release_take(self) -> None:
        """Let go of ``take`` once the socket is done: it is the driver's bound method, and the
        driver holds this response — a cycle only the garbage collector would free."""
        self._take = _take_nothing
        if isinstance(self._reader, _OfferingQueue):
            self._reader._take = _take_nothing

    def _post_start(self, request: Any, protocol: Any, writer: Any) -> None:
        self._ws_protocol = protocol
        self._writer = writer
        self._reset_heartbeat()
        loop = self._loop
        assert loop is not None
        self._reader = _OfferingQueue(
            request._protocol, DEFAULT_CHUNK_SIZE, loop=loop, take=self._take
        )
        self._parser = WebSocketReader(
            self._reader,
            self._max_msg_size,
            compress=bool(self._compress),
            decode_text=self._decode_text,
        )
        callback = None if self._heartbeat is None else self._on_data_received
        request.protocol.set_parser(self._parser, data_received_cb=callback)
        request.protocol.keep_alive(False)


def _light_poll(eio_socket: Any) -> Callable[[], Awaitable[list[Any]]]:
    """engine.io's ``AsyncSocket.poll`` for the WebSocket writer, lighter on an idle socket.

    Same contract as the original (wait up to ping interval + timeout for the first packet, then
    take what else is queued; ``[]`` once closed; ``QueueEmpty`` on timeout or cancellation),
    but with ``asyncio.timeout`` instead of ``wait_for`` — no extra task around ``queue.get()``
    for each wait — and text packets handed over as :class:`_Encoded`.
    """
    queue = eio_socket.queue
    server = eio_socket.server

    async def poll() -> list[Any]:
        try:
            async with asyncio.timeout(server.ping_interval + server.ping_timeout):
                first = await queue.get()
            queue.task_done()
        except (TimeoutError, asyncio.CancelledError):
            raise QueueEmpty() from None
        if first is None:
            return []
        packets = [first]
        while True:
            try:
                pkt = queue.get_nowait()
            except asyncio.QueueEmpty:
                break
            queue.task_done()
            if pkt is None:
                queue.put_nowait(None)
                break
            packets.append(pkt)
        return [p if p.binary else _Encoded(p.encode()) for p in packets]

    return poll


class _LightQueue:
    """The part of ``asyncio.Queue`` engine.io uses for a socket's outgoing packets, on lists.

    ``asyncio.Queue`` allocates three deques (≈ 1.9 KB) per socket that sit empty on an idle
    connection; lists cost 56 bytes each. Unbounded, FIFO, several getters woken in order, and
    ``join``/``task_done`` as in asyncio.
    """

    __slots__ = ("_finished", "_getters", "_items", "_unfinished")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._getters: list[asyncio.Future[None]] = []
        self._unfinished = 0
        self._finished: list[asyncio.Future[None]] = []

    def qsize(self) -> int:
        return len(self._items)

    def empty(self) -> bool:
        return not self._items

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        self._unfinished += 1
        self._wake_getter()

    async def put(self, item: Any) -> None:
        self.put_nowait(item)

    def get_nowait(self) -> Any:
        if not self._items:
            raise asyncio.QueueEmpty
        return self._items.pop(0)

    async def get(self) -> Any:
        while not self._items:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._getters.append(waiter)
            try:
                await waiter
            except BaseException:
                waiter.cancel()
                with contextlib.suppress(ValueError):
                    self._getters.remove(waiter)
                # Woken and then cancelled: pass the wake-up on, as asyncio.Queue does.
                if self._items:
                    self._wake_getter()
                raise
        return self._items.pop(0)

    def task_done(self) -> None:
        if self._unfinished <= 0:
            raise ValueError("task_done() called too many times")
        self._unfinished -= 1
        if self._unfinished == 0:
            finished, self._finished = self._finished, []
            for waiter in finished:
                if not waiter.done():
                    waiter.set_result(None)

    async def join(self) -> None:
        if self._unfinished:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._finished.append(waiter)
            await waiter

    def _wake_getter(self) -> None:
        while self._getters:
            waiter = self._getters.pop(0)
            if not waiter.done():
                waiter.set_result(None)
                return


def _timer_pings(eio_server: Any) -> None:
    """Schedule engine.io's pings with a timer instead of a task that sleeps.

    engine.io starts ``socket._send_ping`` (sleep ``ping_interval``, then queue a PING) as a task
    per socket and per ping: on an idle socket that task, its coroutines and its future are alive
    nearly all the time. A timer that queues the PING when it is due does the same for less.
    """
    start_background_task = eio_server.start_background_task
    sending: set[asyncio.Task[Any]] = set()

    def ping_due(eio_socket: Any) -> None:
        if eio_socket.closing or eio_socket.closed:
            return
        eio_socket.last_ping = time.time()
        task = asyncio.ensure_future(eio_socket.send(Packet(PING)))
        sending.add(task)
        task.add_done_callback(sending.discard)

    def start(target: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(target, "__func__", None) is AsyncSocket._send_ping and not args and not kwargs:
            loop = asyncio.get_running_loop()
            return loop.call_later(eio_server.ping_interval, ping_due, target.__self__)
        return start_background_task(target, *args, **kwargs)

    eio_server.start_background_task = start


def install_tracked_websockets(
    eio_server: Any, registry: SocketRegistry, max_msg_size: int
) -> None:
    """Give ``eio_server`` a WebSocket driver that records each socket's transport."""

    class TrackedWebSocket(EngineIoWebSocket):  # type: ignore[misc]
        _eio_sid: str | None = None
        _eio_socket: Any = None

        async def __call__(self, environ: dict[str, Any]) -> web.WebSocketResponse:
            request: web.Request = environ["aiohttp.request"]
            # compress=False: a frame built once must be valid on every socket (no per-socket
            # deflate context). Oversized client messages close the socket (1009).
            self._sock = _OfferingResponse(
                take=self._offered, max_msg_size=max_msg_size, compress=False
            )
            await self._sock.prepare(request)
            self.environ = environ
            eio_socket = getattr(self.handler, "__self__", None)
            eio_sid = getattr(eio_socket, "sid", None)
            self._eio_sid, self._eio_socket = eio_sid, eio_socket
            if eio_sid is not None and request.transport is not None:
                registry.adopt(eio_sid, request.transport)
            if eio_socket is not None:
                eio_socket.poll = _light_poll(eio_socket)
            try:
                await self.handler(self)
            finally:
                self._sock.release_take()
                if eio_sid is not None:
                    registry.transports.pop(eio_sid, None)
            return self._sock

        async def wait(self) -> str | bytes:
            """The next message for engine.io, after offering events to ``registry.inbound``.

            Same contract as engine.io's driver (the message's data; ``OSError`` once closed).
            Messages taken by the inbound path never reach engine.io; engine.io still sees every
            ping answer, so its ping timeout keeps working.
            """
            sock = self._sock
            while True:
                msg = await sock.receive()
                data = msg.data
                if type(data) is str:
                    if self._offered(data):
                        continue
                    return data
                if isinstance(data, bytes):
                    return data
                raise OSError()

        def _offered(self, data: str) -> bool:
            """Whether ``registry.inbound`` took ``data`` (an event of an upgraded socket).

            Also called from aiohttp's parser, inside ``data_received``: it must not raise.
            """
            offer = registry.inbound
            if (
                offer is None
                or not data.startswith("42")
                or self._eio_sid is None
                or not self._eio_socket.upgraded
                or self._sock.closed
            ):
                return False
            try:
                return offer(self._eio_sid, data)
            except Exception:
                log.exception("wire.offer_failed", eio_sid=self._eio_sid)
                return False

    on_disconnect = eio_server.handlers.get("disconnect")

    async def disconnected(eio_sid: str, reason: Any = None) -> Any:
        try:
            if on_disconnect is not None:
                return await on_disconnect(eio_sid, reason)
            return None
        finally:
            registry.closed_by_engineio(eio_sid)

    # Wraps python-socketio's handler (registered when the server was made), as engine.io
    # calls it: with the reason (engine.io 4.x).
    eio_server.handlers["disconnect"] = disconnected
    # engine.io keeps its drivers in a module-level dict; copy it so only this server changes.
    eio_server._async = {**eio_server._async, "websocket": TrackedWebSocket}
    _timer_pings(eio_server)
    eio_server.create_queue = lambda *args, **kwargs: _LightQueue()
