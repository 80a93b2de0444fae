"""Pushing to connected clients from any process, through socket.io's write-only Redis manager.

REST handlers and workers do not import the real-time node: they publish on the same Redis
channel the nodes' socket.io managers listen to, and every node delivers to its own sockets.
The rooms are a contract between this pusher and the nodes' gateways, which put sockets in them:
both take the names from the functions below.
"""

from __future__ import annotations

import contextlib
from typing import Any
from uuid import UUID

import socketio

from lago_core.settings import Settings

__all__ = [
    "Pusher",
    "community_room",
    "locker_room",
    "merchant_room",
    "socketio_channel",
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


def locker_room(locker_id: UUID | str) -> str:
    """A toy locker's connection on ``/device``."""
    return f"locker:{locker_id}"


def socketio_channel(settings: Settings) -> str:
    """The pub/sub channel shared by every node's socket.io manager and this pusher."""
    return settings.key("socketio")


class Pusher:
    def __init__(self, settings: Settings) -> None:
        self._manager = socketio.AsyncRedisManager(
            settings.redis_url, channel=socketio_channel(settings), write_only=True
        )

    async def to_user(self, user_id: UUID, event: str, data: Any) -> None:
        await self._manager.emit(event, data, room=user_room(user_id), namespace="/")

    async def to_merchant(self, merchant_id: UUID, event: str, data: Any) -> None:
        await self._manager.emit(event, data, room=merchant_room(merchant_id), namespace="/merchant")

    async def to_community(self, community_id: UUID, event: str, data: Any) -> None:
        """A notice to everyone in a community channel (not part of its sequenced history)."""
        await self._manager.emit(event, data, room=community_room(community_id), namespace="/")

    async def to_room(self, room: str, event: str, data: Any, *, namespace: str = "/") -> None:
        """Any other room, e.g. ``support:agents`` on ``/support`` (customer-service accounts)."""
        await self._manager.emit(event, data, room=room, namespace=namespace)

    async def to_device(self, locker_id: UUID, event: str, data: Any) -> None:
        """A command to a toy locker's connection on ``/device`` (at most once; resends reuse ids)."""
        await self._manager.emit(event, data, room=locker_room(locker_id), namespace="/device")

    async def close(self) -> None:
        redis = getattr(self._manager, "redis", None)
        if redis is not None:
            with contextlib.suppress(Exception):
                await redis.aclose()
