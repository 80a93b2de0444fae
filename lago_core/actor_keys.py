"""Names of an actor's Redis keys and channels.

Every key of one actor shares the hash tag ``{kind:key}``, so on Redis Cluster they live in one
slot and the Lua scripts that touch several of them stay legal.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from lago_core.actor_messages import InboxCommand, LeaseValue
from lago_core.redis import publish

__all__ = ["CHANNEL_KIND", "ActorKeys", "NodeKeys", "tell_actor"]

# The community channel actors' kind: the real-time nodes host them under it, and any process
# addresses them by it (their keys' hash tag is ``{ch:<community id>}``).
CHANNEL_KIND = "ch"


@dataclass(frozen=True, slots=True)
class ActorKeys:
    prefix: str
    kind: str
    key: str

    def _k(self, suffix: str) -> str:
        return f"{self.prefix}{{{self.kind}:{self.key}}}:{suffix}"

    @property
    def lease(self) -> str:
        return self._k("lease")

    @property
    def epoch(self) -> str:
        return self._k("epoch")

    @property
    def events(self) -> str:
        return self._k("events")

    @property
    def meta(self) -> str:
        return self._k("meta")

    @property
    def snapshot(self) -> str:
        return self._k("snap")

    @property
    def live(self) -> str:
        """Pub/sub channel carrying each appended event to every node."""
        return self._k("live")

    def extra(self, suffix: str) -> str:
        """A feature's own key inside the actor's hash slot."""
        return self._k(suffix)


@dataclass(frozen=True, slots=True)
class NodeKeys:
    prefix: str

    def alive(self, instance: str) -> str:
        return f"{self.prefix}node:{instance}:alive"

    def inbox(self, instance: str) -> str:
        return f"{self.prefix}node:{instance}:inbox"

    def replies(self, instance: str) -> str:
        return f"{self.prefix}node:{instance}:replies"


async def tell_actor(
    redis: Any, prefix: str, kind: str, key: str, name: str, payload: dict[str, Any]
) -> bool:
    """Deliver a command to the node that holds actor ``kind:key``, without waiting for a reply.

    For processes that host no actors (workers, REST) and only need to wake an actor up: the
    command runs in its mailbox like any other. False when no node holds the actor or the holder
    did not receive it — callers must not depend on delivery (the actor reconciles on activation
    and on its ticks); this only makes the update immediate.
    """
    raw = await redis.get(ActorKeys(prefix, kind, key).lease)
    if raw is None:
        return False
    holder = LeaseValue.decode(raw).holder
    message = InboxCommand(id=secrets.token_hex(8), key=key, name=name, payload=payload)
    return await publish(redis, NodeKeys(prefix).inbox(holder), message.encode()) > 0
