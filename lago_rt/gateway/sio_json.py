"""orjson for python-socketio's and engine.io's packets (``AsyncServer(json=...)``).

Both libraries encode and decode with the standard library's ``json`` unless given a module with
``dumps``/``loads``; orjson is several times faster on the large payloads some events carry
(join snapshots, presence pages). It also refuses integers beyond 64 bits, which is the guard
engine.io's own ``json`` adds against slow parsing of huge numbers.
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["dumps", "loads"]


def dumps(obj: Any, **_: Any) -> str:
    # python-socketio passes separators=(',', ':'); orjson's output is already compact.
    return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS).decode()


def loads(data: str | bytes, **_: Any) -> Any:
    return orjson.loads(data)
