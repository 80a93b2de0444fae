"""The customer-service agent's memory of a conversation, and the last check on what it says.

:class:`DialogueState` is what the agent carries from one turn to the next: the order in
question (its focus), the orders it last listed (for "the second one"), an action that changes
money and waits for the resident's confirmation, what was last asked, how many turns in a row it
did not understand, and a short history. It lives in Redis under one key per conversation
(:meth:`DialogueStore.key`) with a TTL: a conversation left for :data:`STATE_TTL_S` starts afresh,
and a confirmation typed then finds nothing pending — a stale "好的" never moves money.

:func:`polish` is applied to every reply: no word doubled by accident ("的的", "order order"),
no line said twice, and never the same reply twice in a row.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from typing import Any
from uuid import UUID

import orjson
import redis.asyncio as aioredis

from lago_core.settings import Settings

__all__ = [
    "HISTORY_TURNS",
    "STATE_TTL_S",
    "DialogueBusy",
    "DialogueState",
    "DialogueStore",
    "polish",
]

STATE_TTL_S = 1_800
HISTORY_TURNS = 8
LOCK_TTL_MS = 30_000  # longer than a turn with a slow model (LAGO_AI_TIMEOUT_S, one retry)
LOCK_WAIT_S = 25.0


@dataclass
class DialogueState:
    # {"order_id", "short", "title", "status", "mode", "role"}: the order "it" refers to.
    focus: dict[str, Any] | None = None
    # Order ids in the order last shown to the resident: "第二个" is listed[1].
    listed: list[str] = field(default_factory=list)
    # {"action": "refund"|"cancel", "order_id", "title", "amount_fen", "proposed_in"}.
    pending: dict[str, Any] | None = None
    # The order tool waiting for the resident to say which order ("哪一个？").
    choosing: str | None = None
    last_intent: str | None = None
    last_topic: str | None = None
    misunderstood: int = 0
    last_reply: str = ""
    history: list[dict[str, Any]] = field(default_factory=list)

    def remember(self, text: str, intent: str | None, reply: str) -> None:
        self.history.append({"user": text[:200], "intent": intent, "reply": reply[:200]})
        del self.history[:-HISTORY_TURNS]
        self.last_reply = reply

    def public(self) -> dict[str, Any]:
        """What a client may show: the order in question and the action awaiting confirmation."""
        return {"focus": self.focus, "pending": self.pending}

    def for_model(self) -> str:
        """The state as the model's system message: it resolves references against it."""
        return "对话状态（以此为准，用户说“它/那个订单/刚才那个”指 focus）：" + orjson.dumps(
            {
                "focus": self.focus,
                "listed_order_ids": self.listed,
                "pending_action": self.pending,
                "waiting_for_order_choice": self.choosing,
                "last_intent": self.last_intent,
            },
            default=str,
        ).decode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes | str | None) -> DialogueState:
        if not raw:
            return cls()
        data = orjson.loads(raw)
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self), default=str)


class DialogueBusy(Exception):
    """Another turn of the conversation held it too long; the job is retried."""


# Delete the lock only if it is still ours (it may have expired and been taken by another turn).
_RELEASE = """if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0"""


class DialogueStore:
    """One Redis key per conversation holds its state, refreshed (TTL) on every turn."""

    def __init__(
        self, redis: aioredis.Redis, settings: Settings, lock_wait_s: float = LOCK_WAIT_S
    ) -> None:
        self._redis = redis
        self._settings = settings
        self._lock_wait_s = lock_wait_s

    def key(self, conversation_id: UUID) -> str:
        return self._settings.key("support", "dialogue", str(conversation_id))

    async def load(self, conversation_id: UUID) -> DialogueState:
        return DialogueState.from_json(await self._redis.get(self.key(conversation_id)))

    async def save(self, conversation_id: UUID, state: DialogueState) -> None:
        await self._redis.set(self.key(conversation_id), state.to_json(), ex=STATE_TTL_S)

    async def forget(self, conversation_id: UUID) -> None:
        await self._redis.delete(self.key(conversation_id))

    @contextlib.asynccontextmanager
    async def turn(self, conversation_id: UUID) -> AsyncIterator[None]:
        """One turn at a time per conversation: two messages sent in quick succession are
        answered by jobs that may run at once, and each reads and writes the whole state."""
        key = self._settings.key("support", "dialogue-turn", str(conversation_id))
        token = secrets.token_hex(8)
        deadline = asyncio.get_running_loop().time() + self._lock_wait_s
        while not await self._redis.set(key, token, nx=True, px=LOCK_TTL_MS):
            if asyncio.get_running_loop().time() > deadline:
                raise DialogueBusy(str(conversation_id))
            await asyncio.sleep(0.05)
        try:
            yield
        finally:
            await self._redis.eval(_RELEASE, 1, key, token)  # type: ignore[misc]


# Two or more CJK characters repeated at once ("订单订单"), a function word doubled ("的的"), a
# Latin word repeated ("the the"). Reduplications people write on purpose ("谢谢", "看看") are
# single characters outside the function-word list and are left alone; so are titles in 「」,
# which are the seller's words.
_DOUBLED_CJK = re.compile(r"([\u4e00-\u9fff]{2,8})\1+")
_DOUBLED_PARTICLE = re.compile(r"([的了是在您我和请把被就也都])\1+")
_DOUBLED_LATIN = re.compile(r"\b([A-Za-z]+)(\s+\1\b)+", re.IGNORECASE)
_QUOTED = re.compile(r"(「[^」]*」)")
_AGAIN = ("如前所述：", "再说明一下：", "还是刚才的答复：")


def _undouble(line: str) -> str:
    parts = _QUOTED.split(line)
    for i in range(0, len(parts), 2):  # the odd parts are quoted titles
        part = _DOUBLED_CJK.sub(r"\1", parts[i])
        part = _DOUBLED_PARTICLE.sub(r"\1", part)
        parts[i] = _DOUBLED_LATIN.sub(r"\1", part)
    return "".join(parts)


def polish(reply: str, previous: str, turn: int = 0) -> str:
    """The reply as sent: doubled words collapsed, repeated lines dropped, and not identical to
    the previous reply (a resident who asks again is told it is the same answer)."""
    lines: list[str] = []
    for raw in reply.split("\n"):
        line = _undouble(raw.strip())
        if line and line not in lines:
            lines.append(line)
    out = "\n".join(lines)
    if out and out == previous:
        out = _AGAIN[turn % len(_AGAIN)] + out
    return out
