"""Names of an actor's Redis keys and channels (defined in :mod:`lago_core.actor_keys`, so that
processes without actors — REST, workers — can address an actor too)."""

from lago_core.actor_keys import ActorKeys, NodeKeys

__all__ = ["ActorKeys", "NodeKeys"]
