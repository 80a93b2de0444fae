"""Pushing to connected clients from any process: one message format, one channel.

REST handlers and workers do not import the real-time node: they publish a :class:`Push` on the
deployment's push channel (:func:`push_channel`), which every node hears and delivers to its own
sockets in the push's room (``lago_rt/gateway/broker.py``). The rooms are a contract between this
pusher and the nodes' gateways, which put sockets in them: both take the names from the
functions below, and both sides import :class:`Push`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson
import redis.asyncio as aioredis

from lago_core.logging import get_logger
from lago_core.metrics import PUSH_FAILURES
from lago_core.redis import create_redis, pubsub_client
from lago_core.settings import Settings

__all__ = [
    "Push",
    "Pusher",
    "community_of_room",
    "community_room",
    "locker_room",
    "merchant_room",
    "push_channel",
    "user_room",
]


def user_room(user_id: UUID | str) -> str:
    """Every socket of a user on ``/``."""
    return f"user:{user_id}"


def merchant_room(merchant_id: UUID | str) -> str:
    """The merchant's staff on ``/merchant``."""
    return f"merchant:{merchant_id}"


def community_room(community_id: UUID | str) -> str:
    """Every member joined to a community channel on ``/``."""
    return f"community:{community_id}"


def community_of_room(room: str) -> str | None:
    """The community id of a :func:`community_room` name, None for any other room."""
    prefix = "community:"
    return room[len(prefix) :] if room.startswith(prefix) else None


def locker_room(locker_id: UUID | str) -> str:
    """A toy locker's connection on ``/device``."""
    return f"locker:{locker_id}"


def push_channel(settings: Settings) -> str:
    """The pub/sub channel every real-time node listens to for pushes (classic pub/sub: on a
    Redis Cluster every node hears it, whichever shard it is connected to)."""
    return settings.key("push")


@dataclass(frozen=True, slots=True)
class Push:
    """An event for every socket in ``room`` on ``namespace``, on whichever node it is."""

    namespace: str
    room: str
    event: str
    data: Any

    def encode(self) -> bytes:
        return orjson.dumps(
            {"ns": self.namespace, "room": self.room, "event": self.event, "data": self.data}
        )

    @classmethod
    def decode(cls, raw: bytes) -> Push:
        """Raises ValueError for anything but a push."""
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise ValueError("a push is JSON") from exc
        if not isinstance(body, dict):
            raise ValueError("a push is an object")
        fields = (body.get("ns"), body.get("room"), body.get("event"))
        if not all(isinstance(f, str) and f for f in fields):
            raise ValueError("a push names its namespace, room and event")
        return cls(str(body["ns"]), str(body["room"]), str(body["event"]), body.get("data"))


log = get_logger(__name__)


class Pusher:
    """Publishes pushes. Given no Redis client it opens its own (and closes it)."""

    def __init__(self, settings: Settings, redis: aioredis.Redis | None = None) -> None:
        self._channel = push_channel(settings)
        self._own = redis is None
        self._redis = (
            redis
            if redis is not None
            else create_redis(settings.redis_url, cluster=settings.redis_cluster)
        )

    async def _publish(self, namespace: str, room: str, event: str, data: Any) -> None:
        message = Push(namespace, room, event, data).encode()
        try:
            await pubsub_client(self._redis).publish(self._channel, message)
        except Exception:
            # Counted here, once for every caller; each caller logs and decides what follows.
            PUSH_FAILURES.labels(event).inc()
            raise

    async def to_user(self, user_id: UUID, event: str, data: Any) -> None:
        await self._publish("/", user_room(user_id), event, data)

    async def to_merchant(self, merchant_id: UUID, event: str, data: Any) -> None:
        await self._publish("/merchant", merchant_room(merchant_id), event, data)

    async def to_community(self, community_id: UUID, event: str, data: Any) -> None:
        """A notice to everyone in a community channel (not part of its sequenced history)."""
        await self._publish("/", community_room(community_id), event, data)

    async def to_room(self, room: str, event: str, data: Any, *, namespace: str = "/") -> None:
        """Any other room, e.g. ``support:agents`` on ``/support`` (customer-service accounts)."""
        await self._publish(namespace, room, event, data)

    async def to_device(self, locker_id: UUID, event: str, data: Any) -> None:
        """A command to a toy locker's connection on ``/device`` (at most once; resends reuse ids)."""
        await self._publish("/device", locker_room(locker_id), event, data)

    async def close(self) -> None:
        if self._own:
            try:
                await self._redis.aclose()
            except Exception:
                log.exception("push.close_failed")
