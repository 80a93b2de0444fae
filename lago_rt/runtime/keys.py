"""Names of an actor's Redis keys and channels.

Every key of one actor shares the hash tag ``{kind:key}``, so on Redis Cluster they live in one
slot and the Lua scripts that touch several of them stay legal.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ActorKeys", "NodeKeys"]


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
