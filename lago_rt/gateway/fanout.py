"""Delivering channel events to this node's members: one frame per event, written to each socket.

Each node subscribes to the ``live`` pub/sub channel of every community that has members connected
to it. Events arrive in sequence order (one publisher, the owning actor); a gap (a pub/sub message
lost while Redis reconnected) is filled from the stream before the next event is delivered, and a
repeat is dropped, so members see each sequence number once and in order. Numbers are compared
within one stream epoch: the first event of a new epoch (Redis lost the stream) is never taken
for a repeat, and what the new stream holds before it (its ``channel.epoch`` event) is delivered
first.

A member whose socket does not drain — more than ``client_send_buffer_bytes`` written and not yet
acknowledged by its client, counting the kernel's send queue (``wire.SocketRegistry``) — is reset
rather than buffered without end; on reconnect it recovers from the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import orjson
import redis.asyncio as aioredis
import socketio

from lago_core.logging import get_logger
from lago_core.redis import open_pubsub
from lago_core.settings import Settings
from lago_rt.channel.events import ChannelEvent, read_after
from lago_rt.gateway.wire import SocketRegistry, event_frame
from lago_rt.metrics import DELIVERIES
from lago_rt.runtime.keys import ActorKeys

__all__ = ["EVENT_NAME", "LocalFanout"]

log = get_logger(__name__)

EVENT_NAME = "channel:event"
# Sockets written to between two turns of the event loop (see ``LocalFanout.deliver``): about
# 2–4 ms of writes of a small event on the 2-core machine of docs/benchmarks.md. A large event
# goes in smaller slices, at most ``SLICE_BYTES`` a turn: a group-buy rush's update (≈ 60 KB)
# written to 512 members at a time took ≈ 15 ms a slice, and every join waiting on the loop
# paid it at each of its steps (read, actor, database, acknowledgement) — the node's p99 had a
# 50–60 ms bump every second.
SLICE = 512
SLICE_BYTES = 512 * 1024


class LocalFanout:
    def __init__(
        self,
        sio: socketio.AsyncServer,
        registry: SocketRegistry,
        redis: aioredis.Redis,
        settings: Settings,
    ) -> None:
        self._sio = sio
        self._registry = registry
        self._redis = redis
        self._settings = settings
        # community id -> {socket.io sid: engine.io sid}
        self.members: dict[str, dict[str, str]] = {}
        self._channels: dict[bytes, str] = {}
        # community id -> (stream epoch, last sequence number delivered in it)
        self._last_seq: dict[str, tuple[str, int]] = {}
        self._pubsub: Any = None
        self._listener: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        # redis-py's listen() returns at once while nothing is subscribed; wait on this instead.
        self._subscribed = asyncio.Event()

    def _keys(self, community_id: str) -> ActorKeys:
        return ActorKeys(self._settings.redis_prefix, "ch", community_id)

    async def start(self) -> None:
        self._pubsub = await open_pubsub(self._redis)

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
        for task in list(self._tasks):
            task.cancel()
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()

    async def add(self, community_id: str, sid: str) -> None:
        """Start delivering a community's events to ``sid`` (subscribing the node if needed)."""
        eio_sid = self._sio.manager.eio_sid_from_sid(sid, "/")
        members = self.members.get(community_id)
        if members is None:
            members = self.members[community_id] = {}
            channel = self._keys(community_id).live
            self._channels[channel.encode()] = community_id
            await self._pubsub.subscribe(channel)
            self._subscribed.set()
            if self._listener is None:
                self._listener = asyncio.create_task(self._listen(), name="fanout-listen")
        members[sid] = eio_sid or ""

    async def remove(self, community_id: str, sid: str) -> None:
        members = self.members.get(community_id)
        if members is None:
            return
        members.pop(sid, None)
        if not members:
            del self.members[community_id]
            self._last_seq.pop(community_id, None)
            channel = self._keys(community_id).live
            self._channels.pop(channel.encode(), None)
            if not self.members:
                self._subscribed.clear()
            with contextlib.suppress(Exception):
                await self._pubsub.unsubscribe(channel)

    def communities_of(self, sid: str) -> list[str]:
        return [cid for cid, members in self.members.items() if sid in members]

    async def _listen(self) -> None:
        while True:
            await self._subscribed.wait()
            try:
                async for message in self._pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    community_id = self._channels.get(message["channel"])
                    if community_id is not None:
                        await self._receive(community_id, message["data"])
                    # redis-py hands over messages already buffered without suspending: in a
                    # burst of events (a join storm) this loop would otherwise keep the event
                    # loop from everything else — heartbeats and lease renewals included.
                    await asyncio.sleep(0)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("fanout.listen_failed")
                await asyncio.sleep(0.1)

    async def _receive(self, community_id: str, payload: bytes) -> None:
        # One decode per event (not per recipient) to read its sequence number and epoch.
        event = ChannelEvent.decode(payload)
        seq = event.seq
        known = self._last_seq.get(community_id)
        last = None
        if known is not None:
            # An event without an epoch (written before events carried one) continues any.
            same = known[0] == event.epoch or not known[0] or not event.epoch
            last = known[1] if same else 0
        if last is not None and seq <= last:
            return  # already delivered
        if last is not None and seq > last + 1:
            for missed in await read_after(
                self._redis, self._keys(community_id), last, until=seq - 1
            ):
                await self.deliver(community_id, missed.encode())
        self._last_seq[community_id] = (event.epoch, seq)
        await self.deliver(community_id, payload)

    async def deliver(self, community_id: str, payload: bytes) -> int:
        """Write one event to every local member; returns how many sockets it was written to.

        The writes go out in slices of ``SLICE`` sockets (fewer for a large event, see
        ``SLICE_BYTES``) with the event loop let through between them: a large channel's event
        costs tens of milliseconds of writes (3,000 members × a few µs), and in one piece that
        stalls every other socket, reply and database answer of the node for as long. The next
        event waits for this one (``_listen`` awaits each), so every member still sees events in
        order.
        """
        members = self.members.get(community_id)
        if not members:
            return 0
        frame = event_frame(EVENT_NAME.encode(), payload)
        registry = self._registry
        transports = registry.transports
        # The cheap half of the slow-consumer rule (``SocketRegistry``): a transport holding
        # less than this is under the limit whatever its kernel holds.
        headroom = registry.headroom
        written = 0
        fallback: list[str] = []
        # A copy: members may join or leave while the loop runs between slices.
        targets = list(members.items())
        per_slice = max(1, min(SLICE, SLICE_BYTES // len(frame)))
        for start in range(0, len(targets), per_slice):
            if start:
                await asyncio.sleep(0)
            for sid, eio_sid in targets[start : start + per_slice]:
                transport = transports.get(eio_sid)
                if transport is None:
                    fallback.append(sid)
                elif transport.is_closing():
                    continue  # cut or closing: its disconnect removes it from the members
                elif transport.get_write_buffer_size() > headroom and registry.over_limit(
                    transport
                ):
                    # Not reading: reset now. The member stays listed until engine.io runs its
                    # disconnect, which is what announces it gone (presence leave).
                    registry.cut(eio_sid, transport, "slow_consumer")
                else:
                    transport.write(frame)
                    written += 1
        if fallback:
            # Long-polling sockets (or ones mid-upgrade) go through python-socketio's queue.
            event = orjson.loads(payload)
            for sid in fallback:
                self._spawn(self._sio.emit(EVENT_NAME, event, to=sid))
            written += len(fallback)
        DELIVERIES.inc(written)
        return written

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
