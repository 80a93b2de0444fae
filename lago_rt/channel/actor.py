"""The community channel actor: sequence numbers, the event stream, snapshots and features.

State is event-sourced. A command handler (in a feature) decides and calls :meth:`emit`; the event
gets the next sequence number, is appended to the Redis stream with a fenced write (which also
publishes it to every node), and only then applied to each feature's in-memory state. Activation
rebuilds that state from the last snapshot plus the stream's tail, so features that plug in later
(group buys, live streams, lotteries, lockers) get failover for free by implementing ``apply``.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

import orjson

from lago_core.errors import InvalidInput
from lago_core.logging import get_logger
from lago_rt.channel.archive import ChannelArchive
from lago_rt.channel.events import ChannelEvent, read_after, stream_window
from lago_rt.runtime.actor import ActorContext, Command

__all__ = [
    "AnnounceWindow",
    "BatchHandler",
    "ChannelActor",
    "ChannelFeature",
    "CommandHandler",
    "FeatureBase",
]

log = get_logger(__name__)

CommandHandler = Callable[[Command], Awaitable[Any]]
# Serves many commands of one name at once: one result (or exception) per command, in order.
BatchHandler = Callable[[list[Command]], Awaitable[list[Any]]]
# Snapshot every so many events, so a rebuild replays a bounded tail (the stream keeps far more).
SNAPSHOT_EVERY = 500


class AnnounceWindow:
    """At most one announcement per window for a feature that gathers changes (group-buy joins,
    presence): the first after a quiet spell goes out at once, the ones within the window after
    it together when the window ends — ``command``, posted to the actor's own mailbox, whose
    handler is :meth:`due`. ``announce`` says whether it emitted anything: only that opens a
    window.
    """

    def __init__(self, command: str, announce: Callable[[], Awaitable[bool]]) -> None:
        self.command = command
        self._announce = announce
        self._last = float("-inf")  # event-loop time of the last announcement
        self._posted = False

    async def soon(self, ctx: ActorContext, every_ms: int) -> None:
        wait = self._last + every_ms / 1000 - asyncio.get_running_loop().time()
        if wait <= 0 or ctx.post_later is None:
            await self.now()
        elif not self._posted:
            self._posted = True
            ctx.post_later(wait, Command(self.command))

    async def due(self, command: Command) -> dict[str, Any]:
        self._posted = False
        await self.now()
        return {}

    async def now(self) -> None:
        started = asyncio.get_running_loop().time()
        if await self._announce():
            self._last = started


class ChannelFeature(Protocol):
    name: str

    def bind(self, channel: ChannelActor) -> None:
        """Receive the channel (to emit events and reach its context)."""

    def commands(self) -> dict[str, CommandHandler]:
        """Command names this feature handles, e.g. ``"chat.send"``."""

    def batch_commands(self) -> dict[str, BatchHandler]:
        """Commands served in batches when several wait in the mailbox (see ``Actor``)."""

    def apply(self, event: ChannelEvent) -> None:
        """Update in-memory state from an event; deterministic, no I/O."""

    def snapshot(self) -> dict[str, Any]: ...

    def restore(self, state: dict[str, Any]) -> None: ...

    def public_state(self, caller: dict[str, Any]) -> dict[str, Any]:
        """This feature's part of the snapshot a joining member receives."""

    def busy(self) -> bool:
        """True while the feature needs the actor alive (members online, a draw running, ...)."""

    async def on_activate(self) -> None: ...

    async def on_tick(self) -> None: ...


class FeatureBase:
    """Defaults for a :class:`ChannelFeature`: keeps the channel, does nothing else."""

    name = "feature"

    def __init__(self) -> None:
        self._channel: ChannelActor | None = None

    @property
    def channel(self) -> ChannelActor:
        assert self._channel is not None, "feature used before bind()"
        return self._channel

    def bind(self, channel: ChannelActor) -> None:
        self._channel = channel

    def commands(self) -> dict[str, CommandHandler]:
        return {}

    def batch_commands(self) -> dict[str, BatchHandler]:
        return {}

    def apply(self, event: ChannelEvent) -> None:
        return None

    def snapshot(self) -> dict[str, Any]:
        return {}

    def restore(self, state: dict[str, Any]) -> None:
        return None

    def public_state(self, caller: dict[str, Any]) -> dict[str, Any]:
        return {}

    def busy(self) -> bool:
        return False

    async def on_activate(self) -> None:
        return None

    async def on_tick(self) -> None:
        return None


class ChannelActor:
    def __init__(self, ctx: ActorContext, features: list[ChannelFeature]) -> None:
        self.ctx = ctx
        self.community_id = ctx.key
        self.features = features
        self.seq = 0
        self.stream_epoch = ""
        self._since_snapshot = 0
        self.archive = ChannelArchive(ctx)
        self._handlers: dict[str, CommandHandler] = {"channel.snapshot": self._snapshot_for}
        self._batch_handlers: dict[str, BatchHandler] = {}
        for feature in features:
            feature.bind(self)
            for name, handler in feature.commands().items():
                if name in self._handlers:
                    raise ValueError(f"two features handle {name!r}")
                self._handlers[name] = handler
            for name, batch_handler in feature.batch_commands().items():
                if name in self._handlers or name in self._batch_handlers:
                    raise ValueError(f"two features handle {name!r}")
                self._batch_handlers[name] = batch_handler
        self.batchable = frozenset(self._batch_handlers)

    # --- Actor protocol ----------------------------------------------------------------------------

    async def activate(self) -> None:
        keys = self.ctx.keys
        window = await stream_window(self.ctx.redis, keys)
        snap_raw = await self.ctx.redis.get(keys.snapshot)
        after = 0
        if snap_raw is not None:
            snap = orjson.loads(snap_raw)
            after = int(snap["seq"])
            self.seq = after
            for feature in self.features:
                feature.restore(snap["features"].get(feature.name, {}))
        while True:
            batch = await read_after(self.ctx.redis, keys, after)
            if not batch:
                break
            for event in batch:
                self._apply(event)
            after = batch[-1].seq
        archived = await self.archive.max_seq()
        self.seq = max(self.seq, archived, window.last_seq or 0)
        if window.epoch is None or (window.last_seq is None and self.seq > 0):
            # No stream (first use, or Redis lost it): a new epoch tells reconnecting clients that
            # the history they hold cannot be continued from here.
            self.stream_epoch = secrets.token_hex(6)
            await self.ctx.fenced("hset", [keys.meta], "epoch", self.stream_epoch)
        else:
            self.stream_epoch = window.epoch
        await self.archive.catch_up(archived)
        for feature in self.features:
            await feature.on_activate()
        log.info("channel.activated", community_id=self.community_id, seq=self.seq)

    async def handle(self, command: Command) -> Any:
        batch_handler = self._batch_handlers.get(command.name)
        if batch_handler is not None:
            (result,) = await batch_handler([command])
            if isinstance(result, BaseException):
                raise result
            return result
        handler = self._handlers.get(command.name)
        if handler is None:
            raise InvalidInput(f"unknown channel command {command.name!r}", code="unknown_command")
        return await handler(command)

    async def handle_batch(self, commands: list[Command]) -> list[Any]:
        return await self._batch_handlers[commands[0].name](commands)

    async def tick(self) -> None:
        await self.archive.flush()
        for feature in self.features:
            await feature.on_tick()

    def idle(self) -> bool:
        return not any(feature.busy() for feature in self.features)

    async def passivate(self) -> None:
        await self.archive.flush()
        await self.save_snapshot()

    # --- used by features --------------------------------------------------------------------------

    async def emit(self, type_: str, data: dict[str, Any]) -> ChannelEvent:
        """Append an event (fenced), publish it to every node, then apply it."""
        event = ChannelEvent(
            community_id=self.community_id,
            seq=self.seq + 1,
            type=type_,
            data=data,
            at=self.now().isoformat(),
        )
        keys = self.ctx.keys
        await self.ctx.fenced(
            "append",
            [keys.events, keys.meta],
            event.seq,
            event.encode(),
            self.ctx.settings.channel_stream_max,
            keys.live,
            self.stream_epoch,
        )
        self._apply(event)
        self.archive.add(event)
        self._since_snapshot += 1
        if self._since_snapshot >= SNAPSHOT_EVERY:
            await self.save_snapshot()
        return event

    def now(self) -> datetime:
        return self.ctx.clock.now()

    def feature(self, name: str) -> ChannelFeature | None:
        """Another feature of this channel by name (a lottery asks presence and live who is online)."""
        return next((f for f in self.features if f.name == name), None)

    async def save_snapshot(self) -> None:
        state = {
            "seq": self.seq,
            "features": {f.name: f.snapshot() for f in self.features},
        }
        await self.ctx.fenced("set", [self.ctx.keys.snapshot], orjson.dumps(state))
        self._since_snapshot = 0

    # --- internals -----------------------------------------------------------------------------------

    def _apply(self, event: ChannelEvent) -> None:
        self.seq = max(self.seq, event.seq)
        for feature in self.features:
            feature.apply(event)

    async def _snapshot_for(self, command: Command) -> dict[str, Any]:
        state: dict[str, Any] = {"epoch": self.stream_epoch, "seq": self.seq}
        for feature in self.features:
            state[feature.name] = feature.public_state(command.caller)
        return state
