"""A small virtual-actor runtime: one live instance per key across all nodes, placed by Redis leases.

- :mod:`.keys` names every Redis key and channel of an actor.
- :mod:`.fencing` holds the Lua scripts: lease acquire/renew/release and fenced writes.
- :mod:`.actor` is what an actor implements and the context it is given.
- :mod:`.host` runs actors on a node: activation, mailboxes, forwarding, renewal, passivation.
"""

from lago_rt.runtime.actor import Actor, ActorContext, Command, NotOwner
from lago_rt.runtime.host import ActorHost

__all__ = ["Actor", "ActorContext", "ActorHost", "Command", "NotOwner"]
