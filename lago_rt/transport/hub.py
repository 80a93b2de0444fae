"""The Hub: the one registry of a node's connections, their sockets and the rooms they are in.

A *connection* is an Engine.IO session (one client); a *socket* is that client on one namespace
(``/``, ``/merchant``, ...), with an id of its own; a *room* is a named set of sockets of one
namespace. Joining a community channel is entering its room (``lago_core.push.community_room``):
there is no other record of who has joined, so delivery, "join first" checks and disconnects all
read the same one.

Delivery: a message for a room is encoded once (and framed once for WebSockets) and written to
each member's connection (``Connection.send_prepared``). Large rooms go out in slices with the
event loop let through between them (:meth:`Hub.broadcast`).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from lago_rt.metrics import DELIVERIES
from lago_rt.transport import json_codec
from lago_rt.transport.connection import Connection
from lago_rt.transport.packets import EVENT, event_message, sio_packet, websocket_frame

__all__ = ["SLICE", "SLICE_BYTES", "Hub", "Socket"]

# Sockets written to between two turns of the event loop (see ``Hub.broadcast``): about 2–4 ms
# of writes of a small event on the 2-core machine of docs/benchmarks.md. A large event goes in
# smaller slices, at most ``SLICE_BYTES`` a turn: a group-buy rush's update (≈ 60 KB) written to
# 512 members at a time took ≈ 15 ms a slice, and every join waiting on the loop paid it at each
# of its steps — the node's p99 had a 50–60 ms bump every second.
SLICE = 512
SLICE_BYTES = 512 * 1024


class Socket:
    """A client on one namespace: its id, its connection, the rooms it is in."""

    __slots__ = ("conn", "connected", "namespace", "rooms", "sid")

    def __init__(self, sid: str, namespace: str, conn: Connection) -> None:
        self.sid = sid
        self.namespace = namespace
        self.conn = conn
        self.rooms: list[str] = []
        # False while the namespace's connect handler runs.
        self.connected = False


class Hub:
    def __init__(self) -> None:
        self.connections: dict[str, Connection] = {}
        self.sockets: dict[str, Socket] = {}
        # (namespace, room) -> {socket id: socket}
        self._rooms: dict[tuple[str, str], dict[str, Socket]] = {}

    # --- registry ------------------------------------------------------------------------------

    def add_socket(self, socket: Socket) -> None:
        self.sockets[socket.sid] = socket
        socket.conn.sockets[socket.namespace] = socket

    def remove_socket(self, socket: Socket) -> None:
        for room in socket.rooms:
            self._drop(socket.namespace, room, socket.sid)
        socket.rooms = []
        self.sockets.pop(socket.sid, None)
        if socket.conn.sockets.get(socket.namespace) is socket:
            del socket.conn.sockets[socket.namespace]

    def socket(self, sid: str, namespace: str | None = None) -> Socket | None:
        found = self.sockets.get(sid)
        if found is None or (namespace is not None and found.namespace != namespace):
            return None
        return found

    def enter_room(self, sid: str, room: str, namespace: str = "/") -> bool:
        """Put socket ``sid`` in ``room``; False if no such socket (it disconnected meanwhile)."""
        socket = self.socket(sid, namespace)
        if socket is None:
            return False
        # One string per room name, however many sockets list it (memory per connection).
        room = sys.intern(room)
        members = self._rooms.get((namespace, room))
        if members is None:
            members = self._rooms[(namespace, room)] = {}
        if sid not in members:
            members[sid] = socket
            socket.rooms.append(room)
        return True

    def leave_room(self, sid: str, room: str, namespace: str = "/") -> None:
        socket = self.socket(sid, namespace)
        if socket is not None and room in socket.rooms:
            socket.rooms.remove(room)
        self._drop(namespace, room, sid)

    def _drop(self, namespace: str, room: str, sid: str) -> None:
        members = self._rooms.get((namespace, room))
        if members is not None:
            members.pop(sid, None)
            if not members:
                del self._rooms[(namespace, room)]

    def in_room(self, sid: str, room: str, namespace: str = "/") -> bool:
        members = self._rooms.get((namespace, room))
        return members is not None and sid in members

    def members(self, room: str, namespace: str = "/") -> dict[str, Socket]:
        """The sockets in ``room`` (a live view: copy it before awaiting)."""
        return self._rooms.get((namespace, room)) or {}

    def rooms_of(self, sid: str) -> list[str]:
        socket = self.sockets.get(sid)
        return list(socket.rooms) if socket is not None else []

    def __iter__(self) -> Iterator[Connection]:
        return iter(list(self.connections.values()))

    # --- delivery ------------------------------------------------------------------------------

    def emit(self, event: str, data: Any, to: str, namespace: str = "/") -> int:
        """Send an event to socket ``to`` or to every socket in room ``to``; how many it reached."""
        single = self.socket(to, namespace)
        targets: list[Socket] = (
            [single] if single is not None else list(self.members(to, namespace).values())
        )
        if not targets:
            return 0
        message = sio_packet(EVENT, namespace, [event, data])
        if len(targets) == 1:
            targets[0].conn.send(message)
            return 1
        raw = message.encode()
        frame = websocket_frame(raw)
        return sum(1 for s in targets if s.conn.send_prepared(frame, raw))

    async def broadcast(
        self, room: str, event: bytes, payload_json: bytes, namespace: str = "/"
    ) -> int:
        """Write one event (``payload_json`` already encoded) to every socket in ``room``; how
        many sockets it reached (:meth:`broadcast_many`)."""
        return await self.broadcast_many(room, event, (payload_json,), namespace)

    async def broadcast_many(
        self, room: str, event: bytes, payloads: Sequence[bytes], namespace: str = "/"
    ) -> int:
        """Write events (each payload already encoded), in order, to every socket in ``room``;
        how many sockets they reached.

        Several events go to each WebSocket in one write: at saturation a channel's events
        arrive in bursts (the actor serves its waiting commands together), and a write is a
        system call per member — the node's fan-out is those calls (docs/benchmarks.md), so a
        burst of four costs a member one call instead of four.

        The writes go out in slices of ``SLICE`` sockets (fewer for large events, see
        ``SLICE_BYTES``) with the event loop let through between them: a large channel's event
        costs tens of milliseconds of writes (3,000 members × a few µs), and in one piece that
        stalls every other socket, reply and database answer of the node for as long. Callers
        that need order await each broadcast before the next.
        """
        members = self.members(room, namespace)
        if not members or not payloads:
            return 0
        messages = [event_message(event, p, namespace) for p in payloads]
        frames = [websocket_frame(m) for m in messages]
        frame = frames[0] if len(frames) == 1 else b"".join(frames)
        reached = 0
        # A copy: members may join or leave while the loop runs between slices.
        targets = list(members.values())
        per_slice = max(1, min(SLICE, SLICE_BYTES // len(frame)))
        for start in range(0, len(targets), per_slice):
            if start:
                await asyncio.sleep(0)
            # The hot loop of the node: ``Connection.send_prepared`` inlined for WebSockets
            # (two calls fewer per delivery); the slow-consumer rule is the same one.
            for socket in targets[start : start + per_slice]:
                conn = socket.conn
                transport = conn.transport
                if transport is None or conn.closed:
                    # Long-polling (or closing): each message queued on its own.
                    if all(conn.send_prepared(f, m) for f, m in zip(frames, messages, strict=True)):
                        reached += 1
                elif transport.get_write_buffer_size() > conn.limits.headroom:
                    if conn.write(frame):
                        reached += 1
                elif not transport.is_closing():
                    transport.write(frame)
                    reached += 1
        DELIVERIES.inc(reached * len(payloads))
        return reached


def encode(data: Any) -> bytes:
    """A payload encoded once for :meth:`Hub.broadcast`."""
    return json_codec.dumpb(data)
