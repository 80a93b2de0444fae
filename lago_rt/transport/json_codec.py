"""The one JSON reading and writing of Socket.IO payloads, on every transport.

orjson is several times faster than the standard library on the large payloads some events
carry (join snapshots, presence pages). It is stricter, though: it refuses a string holding an
escaped lone surrogate (``"\\ud800"``, valid JSON grammar that ``JSON.stringify`` produces for
such a string) as it refuses broken JSON. What orjson refuses is read again by the standard
library, so a lone surrogate reaches the payload models, which refuse it ``invalid_text`` naming
the field (lago_core/text.py), instead of the whole packet being answered ``invalid_json``. On
that path integers are limited to 100 digits (slow to parse) and NaN and infinities refused.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

from lago_core.text import MAX_NESTING, too_deep

__all__ = ["dumpb", "dumps", "loads"]

_MAX_INT_DIGITS = 100  # engine.io's json guard against slow parsing of huge numbers


def dumpb(obj: Any) -> bytes:
    """Compact JSON. A string read with a lone surrogate (an unknown event's name echoed in
    ``details``) has no UTF-8 encoding, so orjson refuses it; it is written escaped instead, as
    it came, rather than leave the packet unwritten."""
    try:
        return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=True).encode()


def dumps(obj: Any, **_: Any) -> str:
    # python-socketio passes separators=(',', ':'); orjson's output is already compact.
    return dumpb(obj).decode()


def _int(text: str) -> int:
    if len(text) > _MAX_INT_DIGITS:
        raise ValueError("integer is too large")
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number is infinite")
    return value


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def loads(data: str | bytes, **_: Any) -> Any:
    """Raises ValueError for text that is not JSON, or that nests deeper than any payload of
    ours (lago_core/text.py, ``MAX_NESTING``)."""
    value = _parse(data)
    if too_deep(value):
        raise ValueError(f"JSON nested more than {MAX_NESTING} levels")
    return value


def _parse(data: str | bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    # Rare: text orjson refuses. The standard library takes escaped lone surrogates; it recurses
    # per nesting level, so arrays nested past orjson's depth limit (1024) would raise
    # RecursionError, which no caller expects: the connection's reader died with it.
    try:
        return json.loads(data, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
