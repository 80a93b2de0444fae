"""Base schema and shapes shared by every endpoint: the error envelope and cursor pages."""

from __future__ import annotations

import base64
from typing import Any, Generic, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, Field

from lago_core.errors import InvalidInput

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


class Schema(BaseModel):
    """Request and response models: unknown fields are refused, strings are stripped."""

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


def decode_cursor(cursor: str, arity: int) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = orjson.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, orjson.JSONDecodeError):
        raise InvalidInput("malformed cursor", code="invalid_cursor") from None
    if not isinstance(values, list) or len(values) != arity:
        raise InvalidInput("malformed cursor", code="invalid_cursor")
    return values
