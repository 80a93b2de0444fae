"""The Broker: what reaches this node's sockets from Redis — channel events and pushes.

Channel events. The node subscribes to the ``live`` pub/sub channel of every community that has
members joined on it (the Hub's room of the community, ``lago_core.push.community_room``).
Events arrive in sequence order (one publisher, the owning actor); a gap (a pub/sub message lost
while Redis reconnected) is filled from the stream before the next event is delivered, and a
repeat is dropped, so members see each sequence number once and in order. Numbers are compared
within one stream epoch: the first event of a new epoch (Redis lost the stream) is never taken
for a repeat, and what the new stream holds before it (its ``channel.epoch`` event) is delivered
first.

Pushes. Other processes (REST, workers) publish :class:`lago_core.push.Push` messages on the
deployment's push channel; every node delivers each to the sockets of its room here. Both kinds
go out through :meth:`Hub.broadcast` / :meth:`Hub.emit` — one path to the sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import redis.asyncio as aioredis

from lago_core.actor_keys import CHANNEL_KIND
from lago_core.logging import get_logger
from lago_core.push import Push, community_room, push_channel
from lago_core.redis import open_pubsub, pubsub_client
from lago_core.settings import Settings
from lago_rt.channel.events import ChannelEvent, read_after
from lago_rt.metrics import BROKER_FAILURES
from lago_rt.runtime.keys import ActorKeys
from lago_rt.transport import Hub

__all__ = ["EVENT_NAME", "Broker"]

log = get_logger(__name__)

EVENT_NAME = "channel:event"
_EVENT = EVENT_NAME.encode()
# Pub/sub messages read in a row before the event loop is let through.
BURST_MAX = 64


class Broker:
    def __init__(self, hub: Hub, redis: aioredis.Redis, settings: Settings) -> None:
        self._hub = hub
        self._redis = redis
        self._settings = settings
        # Communities this node is subscribed to: live channel name -> community id.
        self._channels: dict[bytes, str] = {}
        self._followed: set[str] = set()
        # community id -> (stream epoch, last sequence number delivered in it)
        self._last_seq: dict[str, tuple[str, int]] = {}
        self._pubsub: Any = None
        self._pushes: Any = None
        self._tasks: set[asyncio.Task[Any]] = set()
        # redis-py's listen() returns at once while nothing is subscribed; wait on this instead.
        self._subscribed = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None
        # Events read but not yet delivered, per community, in arrival order.
        self._arrivals: dict[str, list[bytes]] = {}
        self._delivering: asyncio.Future[None] | None = None

    def _keys(self, community_id: str) -> ActorKeys:
        return ActorKeys(self._settings.redis_prefix, CHANNEL_KIND, community_id)

    async def start(self) -> None:
        self._pubsub = await open_pubsub(self._redis)
        self._pushes = pubsub_client(self._redis).pubsub(ignore_subscribe_messages=True)
        await self._pushes.subscribe(push_channel(self._settings))
        self._spawn(self._listen_pushes())

    async def stop(self) -> None:
        for task in [*self._tasks, *([self._listener] if self._listener else [])]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for pubsub in (self._pubsub, self._pushes):
            if pubsub is not None:
                try:
                    await pubsub.aclose()
                except Exception:
                    log.exception("broker.close_failed")

    # --- channel events ------------------------------------------------------------------------

    async def follow(self, community_id: str) -> None:
        """Deliver a community's events here (subscribing the node if it is not yet)."""
        if community_id in self._followed:
            return
        self._followed.add(community_id)
        channel = self._keys(community_id).live
        self._channels[channel.encode()] = community_id
        try:
            await self._pubsub.subscribe(channel)
        except BaseException:
            self._followed.discard(community_id)
            self._channels.pop(channel.encode(), None)
            raise
        self._subscribed.set()
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen(), name="broker-listen")

    async def unfollow_if_empty(self, community_id: str) -> None:
        """Stop following a community none of this node's sockets has joined any more."""
        if community_id not in self._followed or self._hub.members(community_room(community_id)):
            return
        self._followed.discard(community_id)
        self._last_seq.pop(community_id, None)
        channel = self._keys(community_id).live
        self._channels.pop(channel.encode(), None)
        if not self._followed:
            self._subscribed.clear()
        try:
            await self._pubsub.unsubscribe(channel)
        except Exception:
            # The subscription is harmless: its events find no members and are dropped.
            log.exception("broker.unsubscribe_failed", community_id=community_id)

    def following(self, community_id: str) -> bool:
        return community_id in self._followed

    async def _listen(self) -> None:
        while True:
            await self._subscribed.wait()
            try:
                read = 0
                async for message in self._pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    community_id = self._channels.get(message["channel"])
                    if community_id is not None:
                        self._arrived(community_id, message["data"])
                    # redis-py hands over messages already buffered without suspending, so a
                    # burst is read whole before the delivery task runs and goes out together;
                    # a long one is let through now and then (heartbeats, lease renewals).
                    read += 1
                    if read >= BURST_MAX:
                        read = 0
                        await asyncio.sleep(0)
            except asyncio.CancelledError:
                raise
            except Exception:
                BROKER_FAILURES.labels("listen").inc()
                log.exception("broker.listen_failed")
                await asyncio.sleep(0.1)

    def _arrived(self, community_id: str, payload: bytes) -> None:
        self._arrivals.setdefault(community_id, []).append(payload)
        if self._delivering is None or self._delivering.done():
            self._delivering = asyncio.ensure_future(self._deliver_arrivals())
            self._tasks.add(self._delivering)
            self._delivering.add_done_callback(self._tasks.discard)

    async def _deliver_arrivals(self) -> None:
        """Deliver what arrived, each community's events in order and together; one task at a
        time, so that order holds across bursts."""
        while self._arrivals:
            arrivals, self._arrivals = self._arrivals, {}
            for community_id, payloads in arrivals.items():
                try:
                    await self._receive(community_id, payloads)
                except Exception:
                    # The sequence mark was not moved past what failed: the next event of the
                    # community finds the gap and fills it from the stream.
                    BROKER_FAILURES.labels("deliver").inc()
                    log.exception("broker.deliver_failed", community_id=community_id)

    async def _receive(self, community_id: str, payloads: list[bytes]) -> None:
        """Deliver a community's events as they arrived: repeats dropped, gaps filled from the
        stream first."""
        out: list[bytes] = []
        for payload in payloads:
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
                continue  # already delivered
            if last is not None and seq > last + 1:
                missed = await read_after(
                    self._redis, self._keys(community_id), last, until=seq - 1
                )
                out.extend(m.encode() for m in missed)
            self._last_seq[community_id] = (event.epoch, seq)
            out.append(payload)
        if out:
            await self._hub.broadcast_many(community_room(community_id), _EVENT, out)

    async def deliver(self, community_id: str, payload: bytes) -> int:
        """Write one channel event (as stored) to every member joined on this node."""
        return await self._hub.broadcast(community_room(community_id), _EVENT, payload)

    # --- pushes --------------------------------------------------------------------------------

    async def _listen_pushes(self) -> None:
        while True:
            try:
                async for message in self._pushes.listen():
                    if message.get("type") != "message":
                        continue
                    try:
                        push = Push.decode(message["data"])
                    except ValueError:
                        log.error("broker.push_unreadable", size=len(message["data"]))
                        continue
                    self._hub.emit(push.event, push.data, push.room, push.namespace)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("broker.push_listen_failed")
                await asyncio.sleep(0.1)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
