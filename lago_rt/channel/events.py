"""Channel events: their shape on the wire and in the bounded Redis stream.

Each event is encoded to JSON once, by the actor; the same bytes go into the stream, over pub/sub
to every node and, wrapped in a socket.io frame, to every client.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import redis.asyncio as aioredis

from lago_rt.runtime.keys import ActorKeys

__all__ = [
    "ChannelEvent",
    "StreamWindow",
    "decode_entry",
    "read_after",
    "stream_window",
    "stream_window_and_get",
]


@dataclass(frozen=True, slots=True)
class ChannelEvent:
    community_id: str
    seq: int
    type: str
    data: dict[str, Any]
    at: str
    # The stream epoch the event was given in: sequence numbers are compared within one epoch
    # (a node's dedupe of repeats, a client's recovery). Empty in events written before it.
    epoch: str = ""

    def encode(self) -> bytes:
        return orjson.dumps(
            {
                "community_id": self.community_id,
                "seq": self.seq,
                "type": self.type,
                "data": self.data,
                "at": self.at,
                "epoch": self.epoch,
            }
        )

    @classmethod
    def decode(cls, raw: bytes | str) -> ChannelEvent:
        obj = orjson.loads(raw)
        return cls(
            obj["community_id"],
            int(obj["seq"]),
            obj["type"],
            obj["data"],
            obj["at"],
            str(obj.get("epoch", "")),
        )


def decode_entry(entry: tuple[Any, dict[Any, Any]]) -> ChannelEvent:
    _id, fields = entry
    return ChannelEvent.decode(fields[b"e"] if b"e" in fields else fields["e"])


@dataclass(frozen=True, slots=True)
class StreamWindow:
    """What the stream still holds: its epoch and the first and last sequence numbers."""

    epoch: str | None
    first_seq: int | None
    last_seq: int | None


def _seq_of(entry_id: bytes | str) -> int:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.split("-", 1)[1])


async def stream_window(redis: aioredis.Redis, keys: ActorKeys) -> StreamWindow:
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hget(keys.meta, "epoch")
        pipe.xrange(keys.events, count=1)
        pipe.xrevrange(keys.events, count=1)
        epoch, first, last = await pipe.execute()
    return _window(epoch, first, last)


async def stream_window_and_get(
    redis: aioredis.Redis, keys: ActorKeys, key: str
) -> tuple[StreamWindow, bytes | None]:
    """The stream's window and the value of ``key`` (an actor's snapshot) in one round trip."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hget(keys.meta, "epoch")
        pipe.xrange(keys.events, count=1)
        pipe.xrevrange(keys.events, count=1)
        pipe.get(key)
        epoch, first, last, value = await pipe.execute()
    return _window(epoch, first, last), value


def _window(epoch: Any, first: Any, last: Any) -> StreamWindow:
    return StreamWindow(
        epoch=epoch.decode() if isinstance(epoch, bytes) else epoch,
        first_seq=_seq_of(first[0][0]) if first else None,
        last_seq=_seq_of(last[0][0]) if last else None,
    )


async def read_after(
    redis: aioredis.Redis, keys: ActorKeys, seq: int, *, until: int | None = None, count: int = 1000
) -> list[ChannelEvent]:
    """Events with sequence numbers in ``(seq, until]``, in order."""
    end = f"0-{until}" if until is not None else "+"
    entries = await redis.xrange(keys.events, min=f"(0-{seq}", max=end, count=count)
    return [decode_entry(e) for e in entries]
