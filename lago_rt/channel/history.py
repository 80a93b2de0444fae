"""Chat history paging: the recent part from the Redis stream, the rest from the archive."""

from __future__ import annotations

from typing import Any

import asyncpg
import redis.asyncio as aioredis

from lago_rt.channel.events import decode_entry, stream_window
from lago_rt.runtime.keys import ActorKeys

__all__ = ["chat_history", "chat_message_exists"]


async def chat_history(
    redis: aioredis.Redis,
    pool: asyncpg.Pool,
    keys: ActorKeys,
    before: int | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Up to ``limit`` chat messages with ``seq < before`` (all when None), newest first.

    Deleted messages are left out. Sequence numbers the stream still holds are read from it;
    older ones from ``channel_events`` — the archive may lag the stream by one flush, never the
    other way round, so together they cover every message.
    """
    window = await stream_window(redis, keys)
    upper = (before - 1) if before is not None else None
    out: list[dict[str, Any]] = []
    floor = window.first_seq
    if floor is not None and (upper is None or upper >= floor):
        deleted_key = keys.extra("deleted")
        cursor = f"0-{upper}" if upper is not None else "+"
        while len(out) < limit:
            entries = await redis.xrevrange(keys.events, max=cursor, min="-", count=limit * 2)
            if not entries:
                break
            events = [decode_entry(e) for e in entries]
            messages = [e for e in events if e.type == "chat.message"]
            if messages:
                flags = await redis.smismember(deleted_key, [str(m.seq) for m in messages])  # type: ignore[misc]
                for message, gone in zip(messages, flags, strict=True):
                    if not gone:
                        out.append({"seq": message.seq, "at": message.at, **message.data})
            cursor = f"(0-{events[-1].seq}"
            if len(entries) < limit * 2:
                break
        out = out[:limit]
    if len(out) < limit:
        below = floor if floor is not None else ((upper + 1) if upper is not None else None)
        if upper is not None and (below is None or upper + 1 < below):
            below = upper + 1
        rows = await pool.fetch(
            """
            SELECT seq, created_at, data FROM channel_events
            WHERE community_id = $1 AND type = 'chat.message' AND deleted_at IS NULL
              AND ($2::bigint IS NULL OR seq < $2)
            ORDER BY seq DESC
            LIMIT $3
            """,
            keys.key,
            below,
            limit - len(out),
        )
        out += [{"seq": r["seq"], "at": r["created_at"].isoformat(), **r["data"]} for r in rows]
    return out


async def chat_message_exists(
    redis: aioredis.Redis, pool: asyncpg.Pool, keys: ActorKeys, seq: int
) -> bool:
    """Whether the channel has a chat message numbered ``seq`` (deleted ones too): from the
    stream while it holds it, else from the archive (which has everything the stream let go)."""
    window = await stream_window(redis, keys)
    if window.first_seq is not None and seq >= window.first_seq:
        entries = await redis.xrange(keys.events, min=f"0-{seq}", max=f"0-{seq}", count=1)
        return bool(entries) and decode_entry(entries[0]).type == "chat.message"
    found: bool | None = await pool.fetchval(
        """SELECT true FROM channel_events
           WHERE community_id = $1 AND seq = $2 AND type = 'chat.message'""",
        keys.key,
        seq,
    )
    return bool(found)
