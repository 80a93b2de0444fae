"""What outside input may hold: text and integers PostgreSQL can store.

PostgreSQL's UTF-8 ``text`` (and ``jsonb``) refuses U+0000, and a lone surrogate (U+D800–U+DFFF)
cannot be encoded as UTF-8 at all; every other code point is stored. ``bigint`` holds signed 64-bit
integers. Input that breaks either rule used to be accepted and then fail deep inside a write — a
500 on REST, and on a channel an archive batch that could never be written (issue 16, item 1).
So the rule is applied once, where input is parsed: every model that validates a REST body or
query, or a socket payload, derives from :class:`StorableInput`; the REST registry checks path
segments and multipart headers with :func:`refuse_unstorable`. The refusal's code is
``invalid_text`` (or ``invalid_input`` for an integer out of range) and it names the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from lago_core.errors import InvalidInput

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "MAX_NESTING",
    "StorableInput",
    "input_error",
    "refuse_unstorable",
    "too_deep",
    "unconvertible",
    "unstorable",
]

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_CANNOT_STORE = ", which cannot be stored"


def unstorable(text: str) -> str | None:
    """Why PostgreSQL would refuse ``text``, or None when it can be stored."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    char = found.group()
    what = "U+0000 (NUL)" if char == "\x00" else f"a lone surrogate U+{ord(char):04X}"
    return f"contains {what} at position {found.start()}{_CANNOT_STORE}"


_NO_UTC = "is a time that has no UTC equivalent (out of range)"
# Deeper than any request of ours nests. The checks of input (here, pydantic's, the error
# reports) recurse per level: a 2 KB body of 960 nested arrays, within orjson's own limit of
# 1024, overflowed Python's stack inside a request and hung it while the error was logged.
MAX_NESTING = 32


def too_deep(value: Any, limit: int = MAX_NESTING) -> bool:
    """Whether decoded JSON nests arrays and objects more than ``limit`` levels (iterative, so
    that asking never recurses itself)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def unconvertible(value: datetime) -> str | None:
    """Why an aware ``value`` cannot be written as a ``timestamptz``, or None. Its conversion to
    UTC, which every write makes, overflows at the ends of the calendar (year 1 east of
    Greenwich, year 9999 west of it): a 500 deep inside a write otherwise."""
    if value.tzinfo is None:
        return None
    try:
        value.astimezone(UTC)
    except OverflowError:
        return _NO_UTC
    return None


def _problem(value: Any) -> tuple[str, str] | None:
    """(path below ``value``, problem) of the first unstorable string, integer or time in it."""
    if isinstance(value, datetime):
        reason = unconvertible(value)
        return ("", reason) if reason else None
    if isinstance(value, str):
        reason = unstorable(value)
        return ("", reason) if reason else None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        if INT64_MIN <= value <= INT64_MAX:
            return None
        return "", f"is outside the 64-bit integer range [{INT64_MIN}, {INT64_MAX}]"
    if isinstance(value, Mapping):
        for key, item in value.items():
            found = _problem(key) or _problem(item)
            if found is not None:
                return _join(_escaped(str(key)), found)
        return None
    if isinstance(value, (list, tuple, set, frozenset)):
        for index, item in enumerate(value):
            found = _problem(item)
            if found is not None:
                return _join(str(index), found)
    # Nested models validated themselves; other values (UUID, datetime, Decimal) were parsed
    # from text that passed, or are refused by their own parsers.
    return None


def _escaped(text: str) -> str:
    """``text`` with what cannot be stored (or encoded) written as ``\\uXXXX``, to name it."""
    return _UNSTORABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _join(head: str, found: tuple[str, str]) -> tuple[str, str]:
    path, problem = found
    return (f"{head}.{path}" if path else head), problem


class StorableInput(BaseModel):
    """The base of every model that parses outside input: unknown fields refused, and no
    string or integer that PostgreSQL would refuse, at any depth (list items, dict keys)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _storable_input(cls, data: Any) -> Any:
        # The raw input, before anything else looks at it: an unknown key holding a lone
        # surrogate must not reach an error report that is then encoded as UTF-8.
        if isinstance(data, Mapping):
            _raise_if_found(_problem(data), None)
        return data

    @field_validator("*", mode="after")
    @classmethod
    def _storable_value(cls, value: Any, info: ValidationInfo) -> Any:
        # Parsed values: an integer parsed from a query string or coerced from a float.
        _raise_if_found(_problem(value), info.field_name)
        return value


def _raise_if_found(found: tuple[str, str] | None, field: str | None) -> None:
    """A validation error for ``found``; ``field`` is the error's location already (a field
    validator's), so the context's ``path`` is what lies below it."""
    if found is not None:
        path, problem = found
        where = ".".join(p for p in (field, path) if p)
        raise PydanticCustomError(
            _kind(problem), "{where} {problem}", {"where": where, "path": path, "problem": problem}
        )


def refuse_unstorable(value: Any, field: str) -> None:
    """Raise, naming ``field``, when ``value`` holds text or an integer that cannot be stored:
    ``invalid_text`` for text, ``invalid_input`` for an integer out of range."""
    found = _problem(value)
    if found is None:
        return
    path, problem = found
    where = ".".join(p for p in (_escaped(field), path) if p)
    kind = _kind(problem)
    raise InvalidInput(
        f"{where} {problem}",
        code="invalid_text" if kind == "invalid_text" else None,
        details=[{"field": where, "problem": problem, "type": kind}],
    )


def _kind(problem: str) -> str:
    if problem.endswith(_CANNOT_STORE):
        return "invalid_text"
    return "datetime_out_of_range" if problem == _NO_UTC else "int_out_of_range"


def input_error(exc: ValidationError, message: str) -> InvalidInput:
    """The refusal of input that failed validation: one report per field, never echoing the
    input; ``invalid_text`` when text that cannot be stored is among the reasons, so a client
    can tell it from a shape error."""
    details: list[dict[str, Any]] = []
    for err in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(p) for p in err["loc"]) or None
        if err["type"] in _OURS:
            # Our own reports name the field themselves, below the model's location.
            field = ".".join(p for p in (field, err.get("ctx", {}).get("path")) if p) or None
        details.append({"field": field, "problem": err["msg"], "type": err["type"]})
    code = "invalid_text" if any(d["type"] == "invalid_text" for d in details) else None
    return InvalidInput(message, code=code, details=details)


_OURS = frozenset({"invalid_text", "int_out_of_range", "datetime_out_of_range"})
