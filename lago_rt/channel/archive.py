"""Archiving channel events to PostgreSQL in batches, fenced by the actor's epoch.

The Redis stream is bounded and can be lost with Redis; the archive keeps chat and moderation
history for good. The actor answers a command that emitted archived events only once they are
here (``ChannelActor.handle``: one write per batch of commands), so an acknowledged message
survives the loss of Redis; the next owner also archives whatever tail of the stream lies beyond
the archive when it activates.

No one event may stop the archive (issue 16): a batch PostgreSQL refuses is split in halves
until the event it refuses is alone, and that event is set aside in ``channel_archive_rejects``
(raw bytes and the error) so the archive moves past it. A failure that is not about the data (the
connection, the server going away) leaves the batch pending and is retried with backoff.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from lago_core.logging import get_logger
from lago_rt.channel.events import ChannelEvent, read_after
from lago_rt.metrics import ARCHIVE_REJECTS, ARCHIVE_RETRIES, labelled
from lago_rt.runtime.actor import ActorContext, Executor, Fenced

__all__ = ["ARCHIVED_TYPES", "ChannelArchive", "is_transient"]

log = get_logger(__name__)

ARCHIVED_TYPES = frozenset({"chat.message", "chat.deleted", "member.muted", "member.unmuted"})
_FLUSH_AT = 200
# Backoff of a transiently failing archive: from the first to the longest wait between attempts.
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0
# SQLSTATE classes that say nothing about the rows: connection exceptions, transaction rollbacks
# (serialization, deadlock), insufficient resources, operator intervention, system errors.
_TRANSIENT_CLASSES = frozenset({"08", "40", "53", "57", "58"})


# $1-$3 the fence (actor kind, key, epoch); $4-$11 the events, one array per column; $12-$14
# deletions of messages archived earlier. Data-modifying CTEs run whether or not the final SELECT
# reads them; it counts the fence row, 0 when a newer owner claimed the channel (nothing written).
_ARCHIVE_SQL = """
WITH fence AS (
    SELECT 1 FROM actor_epochs WHERE kind = $1 AND key = $2 AND epoch = $3 FOR SHARE
), added AS (
    INSERT INTO channel_events
        (community_id, seq, type, user_id, client_msg_id, data, created_at, deleted_at, deleted_by)
    SELECT $2::uuid, r.seq, r.type, r.user_id, r.client_msg_id, r.data::jsonb, r.created_at,
           r.deleted_at, r.deleted_by
    FROM unnest($4::bigint[], $5::text[], $6::uuid[], $7::text[], $8::text[],
                $9::timestamptz[], $10::timestamptz[], $11::uuid[])
        AS r(seq, type, user_id, client_msg_id, data, created_at, deleted_at, deleted_by)
    WHERE EXISTS (SELECT 1 FROM fence)
    ON CONFLICT DO NOTHING
), removed AS (
    UPDATE channel_events e SET deleted_at = d.at, deleted_by = d.by
    FROM unnest($12::bigint[], $13::timestamptz[], $14::uuid[]) AS d(seq, at, by)
    WHERE e.community_id = $2::uuid AND e.seq = d.seq AND e.deleted_at IS NULL
      AND EXISTS (SELECT 1 FROM fence)
)
SELECT count(*) FROM fence
"""


def is_transient(exc: BaseException) -> bool:
    """True for a failure worth retrying as it is; False when the rows themselves were refused."""
    if isinstance(exc, asyncpg.PostgresError):
        return str(exc.sqlstate or "")[:2] in _TRANSIENT_CLASSES
    if isinstance(exc, ValueError):
        return False  # includes asyncpg's client-side DataError: a value it cannot encode
    return isinstance(exc, (OSError, TimeoutError, asyncpg.InterfaceError))


class ChannelArchive:
    def __init__(self, ctx: ActorContext) -> None:
        self._ctx = ctx
        self._pending: list[ChannelEvent] = []
        self._pending_seqs: set[int] = set()
        self._failures = 0
        self._retry_at = 0.0
        # How many events were ever queued: a command compares it before and after to know
        # whether it emitted something the archive must hold before the command is answered.
        self.added = 0

    def add(self, event: ChannelEvent) -> None:
        if event.type in ARCHIVED_TYPES:
            self._pending.append(event)
            self._pending_seqs.add(event.seq)
            self.added += 1

    @property
    def pending(self) -> int:
        return len(self._pending)

    def holds(self, seq: int) -> bool:
        """True while the event ``seq`` waits to be archived."""
        return seq in self._pending_seqs

    async def catch_up(
        self,
        archived: int,
        *,
        last_seq: int | None,
        replayed_after: int,
        replayed: list[ChannelEvent],
    ) -> None:
        """Archive what the stream holds beyond the archive (after a crash of the last owner).

        ``last_seq`` is the stream's last event when the actor activated (it does not grow
        before this runs) and ``replayed`` every event the stream holds after ``replayed_after``
        (activation read them): when that is at or below ``archived`` nothing more is read.
        A transient failure leaves the rest pending for the ticks: activation goes on.
        """
        if last_seq is None or archived >= last_seq:
            return
        if replayed_after <= archived:
            for event in replayed:
                if event.seq > archived:
                    self.add(event)
            await self.flush(now=True)
            return
        after = archived
        while after < last_seq:
            batch = await read_after(self._ctx.redis, self._ctx.keys, after, until=last_seq)
            if not batch:
                break
            for event in batch:
                self.add(event)
            after = batch[-1].seq
            if len(self._pending) >= _FLUSH_AT and not await self.flush(now=True):
                return
        await self.flush(now=True)

    async def flush(self, *, now: bool = False) -> bool:
        """Write what is pending; True when nothing is left pending.

        Without ``now`` a write that failed transiently is not tried again before its backoff
        ends (the ticks); a command that waits for its events to be archived passes ``now``.
        Raises :class:`Fenced` only: every other failure is retried later or set aside.
        """
        if not self._pending:
            return True
        loop = asyncio.get_running_loop()
        if not now and loop.time() < self._retry_at:
            return False
        batch = list(self._pending)
        try:
            await self._store(batch)
        except Fenced:
            raise
        except Exception as exc:
            self._failures += 1
            wait = min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** (self._failures - 1))
            self._retry_at = loop.time() + wait
            ARCHIVE_RETRIES.inc()
            log.warning(
                "channel.archive_retry",
                community_id=self._ctx.key,
                events=len(batch),
                retry_in_s=wait,
                error=repr(exc),
            )
            return False
        self._failures = 0
        self._retry_at = 0.0
        # Only what was flushed leaves the queue; events added during the await stay.
        del self._pending[: len(batch)]
        self._pending_seqs.difference_update(e.seq for e in batch)
        return True

    async def _store(self, batch: list[ChannelEvent]) -> None:
        """Write ``batch``, splitting it around events PostgreSQL refuses (set aside)."""
        try:
            await self._write(batch)
        except Fenced:
            raise
        except Exception as exc:
            if is_transient(exc):
                raise
            if len(batch) == 1:
                await self._set_aside(batch[0], exc)
                return
            middle = len(batch) // 2
            await self._store(batch[:middle])
            await self._store(batch[middle:])

    async def _write(self, batch: list[ChannelEvent]) -> None:
        """One fenced statement on the actor's kept connection: a command waits for this before
        it is answered, and BEGIN, the fence check, the inserts and COMMIT as separate round
        trips cost several milliseconds per acknowledgement."""
        rows: dict[int, list[Any]] = {}
        deletions: list[tuple[int, datetime, Any]] = []
        for event in batch:
            data = event.data
            at = datetime.fromisoformat(event.at)
            if event.type == "chat.deleted":
                target = int(data["seq"])
                if target in rows:
                    # The statement's UPDATE cannot see rows its own INSERT adds.
                    rows[target][6:8] = [at, data.get("by")]
                else:
                    deletions.append((target, at, data.get("by")))
            rows[event.seq] = [
                event.seq,
                event.type,
                data.get("user_id") or data.get("by"),
                data.get("client_msg_id"),
                orjson.dumps(data).decode(),
                at,
                None,
                None,
            ]
        columns: list[Any] = [list(c) for c in zip(*rows.values(), strict=True)]
        removed: list[Any] = [list(c) for c in zip(*deletions, strict=True)] or [[], [], []]

        async def write(executor: Executor, kind: str, key: str, epoch: int) -> int | None:
            fenced = await executor.fetchval(_ARCHIVE_SQL, kind, key, epoch, *columns, *removed)
            return None if fenced == 0 else 1

        await self._ctx.fenced_statement(write)

    async def _set_aside(self, event: ChannelEvent, error: BaseException) -> None:
        labelled(ARCHIVE_REJECTS, event.type).inc()
        log.error(
            "channel.archive_rejected",
            community_id=self._ctx.key,
            seq=event.seq,
            type=event.type,
            error=repr(error),
        )
        try:
            raw = event.encode()
        except Exception:
            raw = repr(event).encode("utf-8", "backslashreplace")
        try:
            async with self._ctx.fenced_transaction() as conn:
                await conn.execute(
                    """
                    INSERT INTO channel_archive_rejects (community_id, seq, type, raw, error)
                    VALUES ($1, $2, $3, $4, $5)
                    ON CONFLICT DO NOTHING
                    """,
                    self._ctx.key,
                    event.seq,
                    # repr() escapes what may have made the event unstorable.
                    repr(event.type)[1:-1],
                    raw,
                    repr(error),
                )
        except Fenced:
            raise
        except Exception as exc:
            if is_transient(exc):
                raise
            # Not even the dead-letter row can be stored: the log line above is all that is
            # left of it, and the archive still moves on.
            log.error(
                "channel.archive_reject_unstorable",
                community_id=self._ctx.key,
                seq=event.seq,
                raw=repr(raw),
                error=repr(exc),
            )
