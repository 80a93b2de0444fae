"""Base schema and shapes shared by every endpoint: the error envelope and cursor pages."""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

import orjson
from pydantic import ConfigDict, Field

from lago_core.errors import InvalidInput
from lago_core.text import StorableInput, unconvertible

__all__ = [
    "ErrorBody",
    "ErrorEnvelope",
    "Page",
    "PageQuery",
    "Schema",
    "decode_cursor",
    "encode_cursor",
]

T = TypeVar("T")


class Schema(StorableInput):
    """Request and response models: unknown fields are refused, strings are stripped, and text
    or integers PostgreSQL cannot store are refused (:mod:`lago_core.text`)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class ErrorBody(Schema):
    code: str = Field(description="stable machine-readable error code")
    message: str = Field(description="human-readable explanation")
    details: Any = Field(default=None, description="field errors or other context")


class ErrorEnvelope(Schema):
    error: ErrorBody


class PageQuery(Schema):
    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=200)


class Page(Schema, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="pass as ?cursor= for the next page; null at the end"
    )


def encode_cursor(*values: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(values))).decode().rstrip("=")


P = TypeVar("P", bound="Page[Any]")


def keyset_after(cursor: str | None, *parsers: Callable[[str], Any]) -> tuple[Any, ...] | None:
    """Decode a keyset cursor, converting each part with its parser (``datetime.fromisoformat``,
    ``UUID``, ``str``); a cursor that does not decode is ``invalid_cursor``, never a 500."""
    if not cursor:
        return None
    values = decode_cursor(cursor, len(parsers))
    try:
        parsed = tuple(parse(str(value)) for parse, value in zip(parsers, values, strict=True))
    except ValueError:
        raise InvalidInput("malformed cursor", code="invalid_cursor") from None
    for value in parsed:
        # The server's cursors carry aware times in range; anything else was made up.
        if isinstance(value, datetime) and (value.tzinfo is None or unconvertible(value)):
            raise InvalidInput("malformed cursor", code="invalid_cursor")
    return parsed


def page_of(
    page_type: type[P], items: list[Any], limit: int, key: Callable[[Any], Sequence[Any]]
) -> P:
    """A page from ``limit + 1`` fetched items: the extra one only says there is a next page."""
    shown = items[:limit]
    more = len(items) > limit
    cursor = encode_cursor(*(_jsonable(v) for v in key(shown[-1]))) if more else None
    return page_type(items=shown, next_cursor=cursor)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    return value


def decode_cursor(cursor: str, arity: int) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = orjson.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, orjson.JSONDecodeError):
        raise InvalidInput("malformed cursor", code="invalid_cursor") from None
    if not isinstance(values, list) or len(values) != arity:
        raise InvalidInput("malformed cursor", code="invalid_cursor")
    return values
