"""Archiving channel events to PostgreSQL in batches, fenced by the actor's epoch.

The Redis stream is bounded; the archive keeps chat and moderation history for good. An event
is acknowledged once it is in the stream, so a crash before a flush loses nothing: the next owner
archives the stream's tail beyond the archive's last sequence number when it activates.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lago_core.logging import get_logger
from lago_rt.channel.events import ChannelEvent, read_after
from lago_rt.runtime.actor import ActorContext

__all__ = ["ARCHIVED_TYPES", "ChannelArchive"]

log = get_logger(__name__)

ARCHIVED_TYPES = frozenset({"chat.message", "chat.deleted", "member.muted", "member.unmuted"})
_FLUSH_AT = 200


class ChannelArchive:
    def __init__(self, ctx: ActorContext) -> None:
        self._ctx = ctx
        self._pending: list[ChannelEvent] = []

    def add(self, event: ChannelEvent) -> None:
        if event.type in ARCHIVED_TYPES:
            self._pending.append(event)

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def max_seq(self) -> int:
        value = await self._ctx.pool.fetchval(
            "SELECT max(seq) FROM channel_events WHERE community_id = $1", self._ctx.key
        )
        return int(value or 0)

    async def catch_up(self, archived: int) -> None:
        """Archive what the stream holds beyond the archive (after a crash of the last owner)."""
        after = archived
        while True:
            batch = await read_after(self._ctx.redis, self._ctx.keys, after)
            if not batch:
                break
            for event in batch:
                self.add(event)
            after = batch[-1].seq
            if len(self._pending) >= _FLUSH_AT:
                await self.flush()
        await self.flush()

    async def flush(self) -> None:
        if not self._pending:
            return
        batch = list(self._pending)
        rows: list[tuple[Any, ...]] = []
        deletions: list[tuple[Any, ...]] = []
        for event in batch:
            data = event.data
            at = datetime.fromisoformat(event.at)
            rows.append(
                (
                    self._ctx.key,
                    event.seq,
                    event.type,
                    data.get("user_id") or data.get("by"),
                    data.get("client_msg_id"),
                    data,
                    at,
                )
            )
            if event.type == "chat.deleted":
                deletions.append((self._ctx.key, int(data["seq"]), at, data.get("by")))
        async with self._ctx.fenced_transaction() as conn:
            await conn.executemany(
                """
                INSERT INTO channel_events
                    (community_id, seq, type, user_id, client_msg_id, data, created_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7)
                ON CONFLICT DO NOTHING
                """,
                rows,
            )
            if deletions:
                await conn.executemany(
                    """
                    UPDATE channel_events SET deleted_at = $3, deleted_by = $4
                    WHERE community_id = $1 AND seq = $2 AND deleted_at IS NULL
                    """,
                    deletions,
                )
        # Only what was flushed leaves the queue; events added during the await stay.
        del self._pending[: len(batch)]
