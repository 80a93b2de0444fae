"""Socket.io events on ``/`` served straight off the WebSocket, acknowledged with one write.

python-socketio and engine.io spend more on each incoming message than most of our handlers do:
engine.io reads every message in a task of its own (``wait_for`` around the read), hands it to
python-socketio in another task, which decodes it with the standard library's ``json``, walks the
payload looking for binary data, and starts one more task for the handler; the acknowledgement is
encoded again (stdlib ``json``, the same walk), queued, and written by the socket's writer task.
Measured on a group-buy join rush that machinery was more than half of the node's CPU.

Here the tracked WebSocket (``wire.py``) offers every text message that starts with ``42`` (an
EVENT on the default namespace) to :meth:`InboundEvents.offer` before engine.io sees it. An event
we serve runs its handler in one task, and the acknowledgement is written to the transport as one
pre-built frame when that task finishes (an event nobody serves is answered ``unknown_event``
the same way, :meth:`InboundEvents.serve_unknown`). Anything else — other namespaces, binary
events, a socket not yet connected to ``/``, JSON we cannot read — goes on to engine.io unchanged, so python-socketio's own behaviour is kept for every case this path does not
claim. An event whose JSON cannot be read is answered ``invalid_json`` here (python-socketio
would log a traceback for each). Long-polling sockets never reach this path.

Ordering is what python-socketio gives as well: each event runs in its own task
(``async_handlers``), so a client that needs an order waits for an acknowledgement first.

Closing after the answers (:meth:`InboundEvents.close_after_acks`, the flood cut-off): the events
taken before the decision may be in a channel actor's hands — a message stored, its sequence
number on the way. The connection takes nothing more from then on (later messages are dropped
unanswered) and is closed once every acknowledgement owed for what it took is written, so a
stored message is never left unacknowledged by the cut. The count of owed acknowledgements is one
dictionary update per event each way.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import socketio

from lago_core.logging import get_logger
from lago_rt.gateway import sio_json
from lago_rt.gateway.wire import SocketRegistry, websocket_frame
from lago_rt.metrics import INBOUND_FAST, INBOUND_SECONDS, count_refusal, labelled

__all__ = ["NO_ANSWER", "UNKNOWN_LABEL", "Direct", "InboundEvents", "Pending", "ack_frame"]

log = get_logger(__name__)

# The metric label of every event nobody serves. The name is the client's choice: as a label it
# would add a time series per name sent (without bound), and one holding a lone surrogate would
# make /metrics fail to encode at all.
UNKNOWN_LABEL = "(unknown)"
# A socket.io ack id is a non-negative integer; more digits than this is not a client of ours.
MAX_ACK_DIGITS = 15
Handler = Callable[..., Coroutine[Any, Any, Any]]


@dataclass(slots=True)
class Pending:
    """An acknowledgement still to come: ``finish(future)``, once ``future`` is done, makes it
    (or another Pending, when the work must be routed again)."""

    future: asyncio.Future[Any]
    finish: Callable[[asyncio.Future[Any]], dict[str, Any] | Pending]


# ``direct(sid, args)`` answers at once (an acknowledgement) or with a Pending; it never raises.
Direct = Callable[[str, list[Any]], "dict[str, Any] | Pending"]
_INTERNAL = {
    "ok": False,
    "error": {"code": "internal", "message": "internal error", "details": None},
}
# A handler's answer that says nothing: the connection is being closed (see the docstring). Compared
# by identity; if python-socketio (long-polling) sends it, the client reads why.
NO_ANSWER: dict[str, Any] = {
    "ok": False,
    "error": {"code": "disconnected", "message": "the connection is closing", "details": None},
}
# Owed acknowledgements are awaited this long at most before a closing connection is closed
# anyway (an actor command is answered within the forward timeout, 5 s by default).
CLOSE_WAIT_S = 10.0
# The socket.io DISCONNECT of ``/`` in a WebSocket frame: python-socketio and socket.io-client
# take it as the server's disconnect (and do not reconnect on their own).
_DISCONNECT_FRAME = websocket_frame(b"41")
_UNREADABLE: dict[str, Any] = {
    "ok": False,
    "error": {"code": "invalid_json", "message": "the message is not valid JSON", "details": None},
}


def ack_frame(ack_id: int, result: Any) -> bytes:
    """A WebSocket frame with the engine.io message carrying a socket.io ACK on ``/``."""
    return websocket_frame(b"43" + str(ack_id).encode() + sio_json.dumpb([result]))


class InboundEvents:
    """The events of ``/`` that this node serves without python-socketio's per-message tasks."""

    def __init__(self, sio: socketio.AsyncServer, registry: SocketRegistry) -> None:
        self._sio = sio
        self._registry = registry
        # engine.io sid -> acknowledgements owed for events taken, and the connections to close
        # once they are written (engine.io sid -> socket.io sid).
        self._owed: dict[str, int] = {}
        self._closing: dict[str, str] = {}
        self._handlers: dict[str, Handler] = {}
        self._unknown: Handler | None = None
        self._direct: dict[str, Direct] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        registry.inbound = self.offer

    def serve(self, event: str, handler: Handler) -> None:
        """Serve ``event`` here; ``handler(sid, *args)`` returns the acknowledgement's payload."""
        self._handlers[event] = handler

    def serve_unknown(self, handler: Handler) -> None:
        """Serve every other event here: ``handler(event, sid, *args)``, as python-socketio
        calls a catch-all. Taken here rather than left to python-socketio so that its answers
        are written in order with the others and counted as owed (a flood of unknown events
        is cut like any other)."""
        self._unknown = handler

    def serve_direct(self, event: str, direct: Direct) -> None:
        """Serve ``event`` here without a task: ``direct`` runs inside :meth:`offer` and returns
        the acknowledgement or a Pending for it. For commands a channel actor of this node can
        take straight into its mailbox: the answer is written when the actor's future is done,
        one callback later, instead of after a task, a coroutine chain and a timeout wrapper —
        each a turn of the event loop, and under load a turn is several milliseconds."""
        self._direct[event] = direct

    def offer(self, eio_sid: str, data: str) -> bool:
        """Take a ``42...`` message if it is an event we serve; False hands it to engine.io."""
        # 42[<ack id>][<event>, <data>]: no namespace (that would be "42/ns,"), no attachments.
        end = len(data)
        i = 2
        while i < end and "0" <= data[i] <= "9":
            i += 1
        if i >= end or data[i] != "[" or i - 2 > MAX_ACK_DIGITS:
            return False
        if eio_sid in self._closing:
            return True  # being closed: nothing more is taken, nothing answered
        manager = self._sio.manager
        sid = manager.sid_from_eio_sid(eio_sid, "/")
        if sid is None or not manager.is_connected(sid, "/"):
            return False  # mid-connect or mid-disconnect: python-socketio decides
        try:
            # The reading python-socketio's packets get too: the same answer on every transport.
            args = sio_json.loads(data[i:])
        except ValueError:
            # python-socketio would raise and log a traceback per packet; answer instead.
            count_refusal(_UNREADABLE["error"]["code"])
            if i > 2:
                self._write_ack(eio_sid, sid, int(data[2:i]), _UNREADABLE)
            return True
        owed = self._owed
        if not isinstance(args, list) or not args or not isinstance(args[0], str):
            return False
        direct = self._direct.get(args[0])
        if direct is not None:
            INBOUND_FAST.inc()
            ack_id = int(data[2:i]) if i > 2 else None
            if ack_id is not None:
                owed[eio_sid] = owed.get(eio_sid, 0) + 1
            read_at = time.perf_counter()
            try:
                answer = direct(sid, args[1:])
            except Exception:
                log.exception("inbound.direct_raised", sid=sid, socket_event=args[0])
                answer = _INTERNAL
            self._settle(eio_sid, sid, ack_id, args[0], read_at, answer)
            return True
        handler = self._handlers.get(args[0])
        if handler is not None:
            # Called as python-socketio calls it: the socket id, then every argument sent.
            work = handler(sid, *args[1:])
            label = args[0]
        elif self._unknown is not None:
            work = self._unknown(args[0], sid, *args[1:])
            label = UNKNOWN_LABEL
        else:
            return False
        task: asyncio.Task[Any] = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if i > 2:
            ack_id = int(data[2:i])
            owed[eio_sid] = owed.get(eio_sid, 0) + 1
            timer = labelled(INBOUND_SECONDS, label)
            read_at = time.perf_counter()

            def acknowledge(t: asyncio.Task[Any]) -> None:
                self._acknowledge(eio_sid, sid, ack_id, t)
                timer.observe(time.perf_counter() - read_at)

            task.add_done_callback(acknowledge)
        INBOUND_FAST.inc()
        return True

    def _settle(
        self,
        eio_sid: str,
        sid: str,
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
                    log.exception("inbound.finish_raised", sid=sid, socket_event=event)
                    then = _INTERNAL
                self._settle(eio_sid, sid, ack_id, event, read_at, then)

            pending.future.add_done_callback(done)
            return
        if ack_id is not None:
            self._write_ack(eio_sid, sid, ack_id, answer)
            self._answered(eio_sid)
            labelled(INBOUND_SECONDS, event).observe(time.perf_counter() - read_at)

    def _acknowledge(self, eio_sid: str, sid: str, ack_id: int, task: asyncio.Task[Any]) -> None:
        try:
            if task.cancelled():
                return
            exc = task.exception()
            if exc is not None:
                # Handlers turn every error into an error acknowledgement; this is a bug.
                log.error("inbound.handler_raised", sid=sid, exc_info=exc)
                return
            self._write_ack(eio_sid, sid, ack_id, task.result())
        finally:
            self._answered(eio_sid)

    def _answered(self, eio_sid: str) -> None:
        """One owed acknowledgement is written (or can no longer be): close a closing
        connection once it owes none."""
        left = self._owed.get(eio_sid, 1) - 1
        if left > 0:
            self._owed[eio_sid] = left
            return
        self._owed.pop(eio_sid, None)
        if eio_sid in self._closing:
            self._close_now(eio_sid)

    def close_after_acks(self, sid: str) -> None:
        """Take nothing more from ``sid`` (on ``/``) and close its connection for good once the
        acknowledgements owed for what it sent before are written (at most ``CLOSE_WAIT_S``)."""
        eio_sid = self._sio.manager.eio_sid_from_sid(sid, "/")
        if eio_sid is None or eio_sid in self._closing:
            return
        self._closing[eio_sid] = sid
        if eio_sid not in self._owed:
            self._close_now(eio_sid)
            return
        asyncio.get_running_loop().call_later(CLOSE_WAIT_S, self._close_now, eio_sid)

    def _close_now(self, eio_sid: str) -> None:
        sid = self._closing.pop(eio_sid, None)
        if sid is None:
            return  # closed already
        self._owed.pop(eio_sid, None)
        if self._registry.transport(eio_sid) is not None:
            # engine.io's reader sees the connection end and runs the disconnect as for any other.
            self._registry.close(eio_sid, _DISCONNECT_FRAME)
        else:
            self.spawn(self._sio.disconnect(sid))  # long-polling: through engine.io's queue

    def _write_ack(self, eio_sid: str, sid: str, ack_id: int, result: Any) -> None:
        if result is NO_ANSWER:
            return
        registry = self._registry
        transport = registry.transport(eio_sid)
        if transport is None:
            return  # gone meanwhile: nobody to tell
        if transport.get_write_buffer_size() > registry.headroom and registry.over_limit(transport):
            # Not reading: the same rule as channel fan-out (``SocketRegistry``).
            registry.cut(eio_sid, transport, "slow_consumer")
            return
        try:
            frame = ack_frame(ack_id, result)
        except TypeError:
            log.exception("inbound.ack_not_serialisable", sid=sid, ack_id=ack_id)
            return
        transport.write(frame)

    def spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Wait (briefly) for handlers still running, then cancel what is left."""
        if self._tasks:
            _, pending = await asyncio.wait(list(self._tasks), timeout=2)
            for task in pending:
                task.cancel()
