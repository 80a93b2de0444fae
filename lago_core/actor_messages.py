"""What processes say to an actor's node: the inbox command, its reply, and the lease value.

These cross processes (a REST handler or a worker tells a real-time node's actor; one node
forwards to another) and versions (during a rolling deploy a node of the previous release reads
what this one writes), so their wire format is defined here once and both sides import it
(docs/architecture.md, "Cross-process contracts"). The field names are those of the first
release; change them only with a version that reads both.

``decode`` refuses anything malformed with :class:`MalformedMessage`, which a listener logs and
counts: pub/sub carries whatever anyone publishes on the channel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Self

import orjson

from lago_core.errors import LagoError

__all__ = [
    "GROUPBUY_SYNC",
    "InboxCommand",
    "InboxReply",
    "LeaseValue",
    "MalformedMessage",
]

# Commands to the community channel actor (kind ``CHANNEL_KIND`` in lago_core/actor_keys.py) that
# processes without actors send with ``tell_actor``; lago_rt/channel serves them.
GROUPBUY_SYNC = "groupbuy.sync"

# Separates a lease's holder from its fencing epoch. The lease is written by the ACQUIRE script
# (lago_rt/runtime/fencing.py, inside Redis, where the epoch is taken), which splits at the first
# separator: a holder may therefore contain none (Settings refuses such a LAGO_NODE_ID).
_LEASE_SEP = "|"


class MalformedMessage(ValueError):
    """Bytes that are not the message they were read as; the reason says what is wrong."""


def _object(raw: bytes | str, what: str) -> dict[str, Any]:
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MalformedMessage(f"{what}: not JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise MalformedMessage(f"{what}: not a JSON object")
    return obj


def _text(obj: dict[str, Any], name: str, what: str) -> str:
    value = obj.get(name)
    if not isinstance(value, str) or not value:
        raise MalformedMessage(f"{what}: {name!r} must be a non-empty string")
    return value


def _mapping(obj: dict[str, Any], name: str, what: str) -> dict[str, Any]:
    value = obj.get(name, {})
    if not isinstance(value, dict):
        raise MalformedMessage(f"{what}: {name!r} must be an object")
    return value


@dataclass(frozen=True, slots=True)
class InboxCommand:
    """A command for actor ``key``, published on the inbox channel of the node that holds it.

    ``reply_to`` is the sending node's instance (``"from"`` on the wire): the holder answers on
    that node's replies channel with an :class:`InboxReply` of the same ``id``. Without it
    (``tell_actor``) nobody waits and no reply is sent.
    """

    id: str
    key: str
    name: str
    payload: dict[str, Any] = field(default_factory=dict)
    caller: dict[str, Any] = field(default_factory=dict)
    reply_to: str | None = None

    def encode(self) -> bytes:
        message: dict[str, Any] = {"id": self.id}
        if self.reply_to is not None:
            message["from"] = self.reply_to
        message.update(key=self.key, name=self.name, payload=self.payload, caller=self.caller)
        return orjson.dumps(message)

    @classmethod
    def decode(cls, raw: bytes | str) -> Self:
        what = "inbox command"
        obj = _object(raw, what)
        reply_to = obj.get("from")
        if reply_to is not None and (not isinstance(reply_to, str) or not reply_to):
            raise MalformedMessage(f"{what}: 'from' must be a non-empty string")
        return cls(
            id=_text(obj, "id", what),
            key=_text(obj, "key", what),
            name=_text(obj, "name", what),
            payload=_mapping(obj, "payload", what),
            caller=_mapping(obj, "caller", what),
            reply_to=reply_to,
        )


@dataclass(frozen=True, slots=True)
class InboxReply:
    """The holder's answer to a forwarded :class:`InboxCommand`: ``result`` when ``ok``, else
    ``error`` as :meth:`LagoError.to_dict` gives it (``code``, ``message``, ``details``)."""

    id: str
    ok: bool
    result: Any = None
    error: dict[str, Any] | None = None

    @classmethod
    def success(cls, request_id: str, result: Any) -> Self:
        return cls(id=request_id, ok=True, result=result)

    @classmethod
    def failure(cls, request_id: str, error: LagoError) -> Self:
        return cls(id=request_id, ok=False, error=error.to_dict())

    def encode(self) -> bytes:
        if self.ok:
            return orjson.dumps({"id": self.id, "result": self.result, "ok": True})
        return orjson.dumps({"id": self.id, "ok": False, "error": self.error or {}})

    @classmethod
    def decode(cls, raw: bytes | str) -> Self:
        what = "inbox reply"
        obj = _object(raw, what)
        request_id = _text(obj, "id", what)
        ok = obj.get("ok")
        if not isinstance(ok, bool):
            raise MalformedMessage(f"{what}: 'ok' must be true or false")
        if ok:
            return cls(id=request_id, ok=True, result=obj.get("result"))
        error = obj.get("error")
        if not isinstance(error, dict):
            raise MalformedMessage(f"{what}: a failure needs an 'error' object")
        return cls(id=request_id, ok=False, error=error)


@dataclass(frozen=True, slots=True)
class LeaseValue:
    """An actor's lease: the node instance that holds it and its fencing epoch
    (``"<holder>|<epoch>"``). The lease scripts compare it byte for byte."""

    holder: str
    epoch: int

    def __post_init__(self) -> None:
        if not self.holder or _LEASE_SEP in self.holder:
            raise ValueError(f"a lease holder is non-empty without {_LEASE_SEP!r}: {self.holder!r}")

    def __str__(self) -> str:
        return f"{self.holder}{_LEASE_SEP}{self.epoch}"

    def encode(self) -> bytes:
        return str(self).encode()

    @classmethod
    def decode(cls, raw: bytes | str) -> Self:
        text = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
        holder, sep, epoch = text.partition(_LEASE_SEP)
        if not sep or not holder or not (epoch.isascii() and epoch.isdigit()):
            raise MalformedMessage(f"lease: {text!r} is not '<holder>|<epoch>'")
        return cls(holder=holder, epoch=int(epoch))
