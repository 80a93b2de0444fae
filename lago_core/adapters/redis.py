"""redis-py's private and undocumented members, reached only here (redis is pinned exactly).

redis-py 5 (arq pins ``redis<6``) has no sharded pub/sub on its asyncio clients.
:class:`NodeShardPubSub` is its ``PubSub`` speaking SSUBSCRIBE to one cluster node, for
:class:`lago_core.redis.ShardedPubSub`. Why each member is needed:

- ``PubSub._normalize_keys(data)``: how redis-py turns channel names into the keys of its
  ``channels`` map; ours must match them so redis-py's own bookkeeping (and ``on_connect``, which
  subscribes again after a reconnection) sees the shard channels like classic ones.
- ``PubSub.channels`` and ``PubSub.pending_unsubscribe_channels``: that bookkeeping, kept up to
  date by the overridden ``subscribe`` and ``unsubscribe``.
- ``PubSub.PUBLISH_MESSAGE_TYPES`` and ``UNSUBSCRIBE_MESSAGE_TYPES``: the message kinds
  ``handle_message`` delivers and treats as unsubscriptions; extended with ``smessage`` and
  ``sunsubscribe``.
- ``PubSub.handle_message``: overridden to tell a server-side ``sunsubscribe`` (the channel's
  slot moved to another node) from one we asked for, and to deliver ``smessage`` as ``message``.
- ``PubSub.on_connect`` calling ``self.subscribe(**channels)``: why overriding ``subscribe`` is
  enough for a reconnection to subscribe the shard channels again.

tests/test_private_members.py checks these members against the pinned redis-py, and
tests/test_redis_cluster.py exercises sharded pub/sub on a real cluster.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub

__all__ = ["NodeShardPubSub"]


class NodeShardPubSub(PubSub):
    """redis-py's PubSub speaking SSUBSCRIBE to one node. ``subscribe`` is overridden, so a
    reconnection (``on_connect``) subscribes the shard channels again, as redis-py does for
    classic channels. ``on_moved(channel)`` is called when the server drops a channel whose slot
    moved to another node."""

    PUBLISH_MESSAGE_TYPES = ("message", "pmessage", "smessage")  # type: ignore[assignment]
    UNSUBSCRIBE_MESSAGE_TYPES = ("unsubscribe", "punsubscribe", "sunsubscribe")  # type: ignore[assignment]

    def __init__(
        self, connection_pool: aioredis.ConnectionPool, on_moved: Callable[[Any], None]
    ) -> None:
        super().__init__(connection_pool, ignore_subscribe_messages=True)
        self._on_moved = on_moved

    async def subscribe(self, *args: Any, **kwargs: Any) -> Any:
        # One command per channel: a node refuses shard channels of several slots in one.
        for channel in (*args, *kwargs):
            await self.execute_command("SSUBSCRIBE", channel)
            names = self._normalize_keys(dict.fromkeys([channel]))
            self.channels.update(names)
            self.pending_unsubscribe_channels.difference_update(names)

    def unsubscribe(self, *args: Any) -> Any:
        names = self._normalize_keys(dict.fromkeys(args))
        self.pending_unsubscribe_channels.update(names)
        return self._sunsubscribe(args)

    async def _sunsubscribe(self, channels: tuple[Any, ...]) -> None:
        for channel in channels:
            await self.execute_command("SUNSUBSCRIBE", channel)

    async def handle_message(self, response: Any, ignore_subscribe_messages: bool = False) -> Any:
        kind = response[0] if isinstance(response, list) and response else None
        if kind in (b"sunsubscribe", "sunsubscribe") and (
            response[1] not in self.pending_unsubscribe_channels
        ):
            # Not asked for: the server dropped the channel because its slot moved to another
            # node. Subscribe again where the slot is now.
            self.channels.pop(response[1], None)
            self._on_moved(response[1])
            return None
        message: Any = await super().handle_message(  # type: ignore[no-untyped-call]
            response, ignore_subscribe_messages
        )
        if message is not None and message.get("type") == "smessage":
            message["type"] = "message"
        return message
