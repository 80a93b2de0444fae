"""The community channel actor: sequence numbers, the event stream, snapshots and features.

State is event-sourced. A command handler (in a feature) decides and calls :meth:`emit`; the event
gets the next sequence number, is appended to the Redis stream with a fenced write (which also
publishes it to every node), and only then applied to each feature's in-memory state. Activation
rebuilds that state from the last snapshot plus the stream's tail, so features that plug in later
(group buys, live streams, lotteries, lockers) get failover for free by implementing ``apply``.

No single event, batch or feature may stop a channel or its activation (issue 16): each feature's
restore, apply, ``on_activate`` and ``on_tick`` runs on its own, and a failure is logged and
counted (``lago_rt_channel_failures_total``) while the others go on; the archive sets aside what
PostgreSQL refuses (see archive.py). Sequence numbers are reserved in PostgreSQL in blocks ahead
of use, so an owner that finds the stream lost (Redis restarted empty) starts above every number
ever given and tells members of the new epoch with a ``channel.epoch`` event
(docs/architecture.md, "Channel actor: failures and durability").
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

import orjson

from lago_core.errors import InvalidInput, Unavailable
from lago_core.logging import get_logger
from lago_rt.channel.archive import ChannelArchive
from lago_rt.channel.events import ChannelEvent, StreamWindow, read_after, stream_window_and_get
from lago_rt.metrics import CHANNEL_FAILURES, CHANNEL_NEW_EPOCHS, labelled
from lago_rt.runtime.actor import ActorContext, Command, Fenced

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
# Sequence numbers reserved in PostgreSQL at a time (one write per block, and the most a new
# epoch skips after Redis lost the stream).
SEQ_BLOCK = 1_000
EPOCH_EVENT = "channel.epoch"


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
        # True when this activation found the stream lost and started a new epoch: features
        # whose state lived only in Redis rebuild it from PostgreSQL (chat from the archive).
        self.stream_lost = False
        self._ceiling = 0
        self._since_snapshot = 0
        # Features activate concurrently; their events must still take numbers one at a time.
        self._emitting = asyncio.Lock()
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
        # The lease and its epoch were taken by the host before this runs, so nobody else writes
        # the stream now: what Redis and PostgreSQL hold is read once, the two servers at the same
        # time (every join of the channel waits for this; issue 22, docs/benchmarks.md).
        (window, replayed_after, replayed), (archived, ceiling) = await asyncio.gather(
            self._read_stream(), self._read_archive()
        )
        self.seq = max(self.seq, archived, window.last_seq or 0)
        fresh = window.epoch is None or (window.last_seq is None and self.seq > 0)
        if fresh:
            # No stream (first use, or Redis lost it): a new epoch tells reconnecting clients that
            # the history they hold cannot be continued from here. Numbers given before the loss
            # may lie above anything archived (events not archived, gaps): start above the
            # reserved ceiling so none is given twice.
            self.stream_lost = max(self.seq, ceiling) > 0
            self.seq = max(self.seq, ceiling)
            self.stream_epoch = secrets.token_hex(6)
            await self.ctx.fenced("hset", [self.ctx.keys.meta], "epoch", self.stream_epoch)
        else:
            self.stream_epoch = window.epoch or ""
        await self._reserve(self.seq + SEQ_BLOCK)
        if self.stream_lost:
            CHANNEL_NEW_EPOCHS.inc()
            log.warning(
                "channel.stream_lost", community_id=self.community_id, epoch=self.stream_epoch
            )
            # Members connected through the loss learn of it live (docs/protocol.md, "Epochs").
            await self.emit(EPOCH_EVENT, {"epoch": self.stream_epoch, "archived_seq": archived})
        await self.archive.catch_up(
            archived, last_seq=window.last_seq, replayed_after=replayed_after, replayed=replayed
        )
        # Each feature reads its own state: they wait for their servers together. Their events
        # still go out one at a time (``emit`` holds a lock), and a failure stays the feature's.
        outcomes = await asyncio.gather(
            *(self._activate_feature(f) for f in self.features), return_exceptions=True
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome  # Fenced (or cancellation): this instance stops
        log.info("channel.activated", community_id=self.community_id, seq=self.seq)

    async def _activate_feature(self, feature: ChannelFeature) -> None:
        try:
            await feature.on_activate()
        except Fenced:
            raise
        except Exception:
            # Degraded rather than unavailable: the feature keeps what it restored and its
            # ticks reconcile; every other feature serves as usual.
            self._failed(feature.name, "activate")

    async def _read_stream(self) -> tuple[StreamWindow, int, list[ChannelEvent]]:
        """Restore from the snapshot and replay the stream's tail after it; the stream's window
        and the events replayed. The window and the snapshot come in one round trip, and the
        replay stops at the window's last event: the stream does not grow while we hold the
        lease, so no round trip is spent finding its end. Returns the window, the snapshot's
        sequence number and the events after it."""
        window, raw = await stream_window_and_get(
            self.ctx.redis, self.ctx.keys, self.ctx.keys.snapshot
        )
        after = first = self._restore(raw)
        replayed: list[ChannelEvent] = []
        last = window.last_seq
        while last is not None and after < last:
            batch = await read_after(self.ctx.redis, self.ctx.keys, after, until=last)
            if not batch:
                break
            for event in batch:
                self._apply(event)
            replayed += batch
            after = batch[-1].seq
        return window, first, replayed

    async def _read_archive(self) -> tuple[int, int]:
        """The highest archived (or set aside) sequence number and the reserved ceiling."""
        row = await self.ctx.pool.fetchrow(
            """
            SELECT greatest(
                (SELECT max(seq) FROM channel_events WHERE community_id = $1),
                (SELECT max(seq) FROM channel_archive_rejects WHERE community_id = $1)) AS archived,
                (SELECT ceiling FROM channel_seq_ceilings WHERE community_id = $1) AS ceiling
            """,
            self.community_id,
        )
        assert row is not None
        return int(row["archived"] or 0), int(row["ceiling"] or 0)

    def _restore(self, raw: bytes | None) -> int:
        """Restore features from a snapshot; the sequence number the stream's replay starts after."""
        if raw is None:
            return 0
        try:
            snap = orjson.loads(raw)
            after = int(snap["seq"])
            states = dict(snap["features"])
        except Exception:
            # A snapshot that cannot be read is ignored: the stream's replay rebuilds what it can.
            self._failed("channel", "snapshot")
            return 0
        self.seq = after
        for feature in self.features:
            try:
                feature.restore(states.get(feature.name, {}))
            except Exception:
                self._failed(feature.name, "restore")
        return after

    async def handle(self, command: Command) -> Any:
        added = self.archive.added
        batch_handler = self._batch_handlers.get(command.name)
        if batch_handler is not None:
            (result,) = await batch_handler([command])
            if isinstance(result, BaseException):
                raise result
        else:
            handler = self._handlers.get(command.name)
            if handler is None:
                raise InvalidInput(
                    f"unknown channel command {command.name!r}", code="unknown_command"
                )
            result = await handler(command)
        if self.archive.added != added:
            await self.archived()
        return result

    async def handle_batch(self, commands: list[Command]) -> list[Any]:
        added = self.archive.added
        results = await self._batch_handlers[commands[0].name](commands)
        if self.archive.added != added:
            # One archive write for the whole batch (group commit); nobody is answered before it.
            try:
                await self.archived()
            except Unavailable as exc:
                results = [r if isinstance(r, BaseException) else exc for r in results]
        return results

    async def tick(self) -> None:
        await self.archive.flush()
        for feature in self.features:
            try:
                await feature.on_tick()
            except Fenced:
                raise
            except Exception:
                self._failed(feature.name, "tick")

    def idle(self) -> bool:
        return not any(feature.busy() for feature in self.features)

    async def passivate(self) -> None:
        await self.archive.flush()
        await self.save_snapshot()

    # --- used by features --------------------------------------------------------------------------

    async def emit(
        self, type_: str, data: dict[str, Any], *, clear: str | None = None
    ) -> ChannelEvent:
        """Append an event (fenced), publish it to every node, then apply it.

        ``clear``: a key deleted by the same fenced call, after the append (presence's pending
        set): one round trip, and an owner that dies leaves both done or neither.
        """
        async with self._emitting:
            return (await self._emit_events([(type_, data)], clear))[0]

    async def emit_many(self, items: list[tuple[str, dict[str, Any]]]) -> list[ChannelEvent]:
        """Append several events (fenced, in one round trip), publish them, then apply them in
        order. A batch of chat messages goes out this way: published together, they reach each
        node's subscriber together and each member in one write (``Hub.broadcast_many``); one
        at a time they were a round trip and a write per member each. All or none are appended
        (one script)."""
        if not items:
            return []
        async with self._emitting:
            return await self._emit_events(items, None)

    async def _emit_events(
        self, items: list[tuple[str, dict[str, Any]]], clear: str | None
    ) -> list[ChannelEvent]:
        at = self.now().isoformat()
        events = [
            ChannelEvent(
                community_id=self.community_id,
                seq=self.seq + i,
                type=type_,
                data=data,
                at=at,
                epoch=self.stream_epoch,
            )
            for i, (type_, data) in enumerate(items, 1)
        ]
        last = events[-1].seq
        if last > self._ceiling:
            await self._reserve(last + SEQ_BLOCK)
        keys = self.ctx.keys
        settings = self.ctx.settings
        pairs: list[str | int | bytes] = []
        for event in events:
            pairs += [event.seq, event.encode()]
        try:
            await self.ctx.fenced(
                "append",
                [keys.events, keys.meta] if clear is None else [keys.events, keys.meta, clear],
                settings.channel_stream_max,
                keys.live,
                self.stream_epoch,
                self.ctx.publish_command,
                *pairs,
            )
        except Fenced:
            raise
        except Exception:
            # The append may have reached the stream before the failure (a lost reply): never
            # try these numbers again, or every later append would be refused as not growing.
            self.seq = max(self.seq, last)
            raise
        for event in events:
            self._apply(event)
            self.archive.add(event)
        self._since_snapshot += len(events)
        if self._since_snapshot >= SNAPSHOT_EVERY:
            await self.save_snapshot()
        return events

    def now(self) -> datetime:
        return self.ctx.clock.now()

    def feature(self, name: str) -> ChannelFeature | None:
        """Another feature of this channel by name (a lottery asks presence and live who is online)."""
        return next((f for f in self.features if f.name == name), None)

    async def archived(self) -> None:
        """Return once every archived event emitted so far is in PostgreSQL (see archive.py).

        Raises ``channel_unavailable`` while the archive cannot be written: the events stay
        queued, and a resend (same ``client_msg_id``) is answered once they are stored.
        """
        if not await self.archive.flush(now=True):
            raise Unavailable(
                "the message could not be stored yet; send it again", code="channel_unavailable"
            )

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
            try:
                feature.apply(event)
            except Exception:
                # This feature skips the event; the others, and the archive, still take it.
                self._failed(feature.name, "apply", seq=event.seq, type=event.type)

    def _failed(self, feature: str, stage: str, **details: Any) -> None:
        """Log (with the exception being handled) and count one isolated failure."""
        labelled(CHANNEL_FAILURES, feature, stage).inc()
        log.exception(
            "channel.feature_failed",
            community_id=self.community_id,
            feature=feature,
            stage=stage,
            **details,
        )

    async def _reserve(self, upto: int) -> None:
        """Record in PostgreSQL that numbers up to ``upto`` may be given, before giving them.

        Not fenced: the ceiling only grows (``greatest``), and an owner that lost the lease cannot
        give a number anyway (its appends are fenced in Redis), so the worst a stale write does is
        leave a gap.
        """
        self._ceiling = int(
            await self.ctx.pool.fetchval(
                """
                INSERT INTO channel_seq_ceilings (community_id, ceiling) VALUES ($1, $2)
                ON CONFLICT (community_id) DO UPDATE
                    SET ceiling = greatest(channel_seq_ceilings.ceiling, EXCLUDED.ceiling)
                RETURNING ceiling
                """,
                self.community_id,
                upto,
            )
        )

    async def _snapshot_for(self, command: Command) -> dict[str, Any]:
        state: dict[str, Any] = {"epoch": self.stream_epoch, "seq": self.seq}
        for feature in self.features:
            state[feature.name] = feature.public_state(command.caller)
        return state
