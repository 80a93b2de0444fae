"""The error vocabulary shared by every Lago process.

Domain code raises :class:`LagoError` subclasses; the REST layer renders them as the error envelope
``{"error": {"code", "message", "details"}}`` and the real-time gateway as an acknowledgement error.
Codes are stable strings that clients may switch on; messages are for people.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "Conflict",
    "Forbidden",
    "InvalidInput",
    "LagoError",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "Unauthenticated",
    "Unavailable",
    "UnsupportedMediaType",
]


class LagoError(Exception):
    status: ClassVar[int] = 400
    default_code: ClassVar[str] = "bad_request"

    def __init__(
        self, message: str, *, code: str | None = None, details: Any | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class InvalidInput(LagoError):
    status = 422
    default_code = "invalid_input"


class Unauthenticated(LagoError):
    status = 401
    default_code = "unauthenticated"


class Forbidden(LagoError):
    status = 403
    default_code = "forbidden"


class NotFound(LagoError):
    status = 404
    default_code = "not_found"


class Conflict(LagoError):
    status = 409
    default_code = "conflict"


class PayloadTooLarge(LagoError):
    status = 413
    default_code = "payload_too_large"


class UnsupportedMediaType(LagoError):
    status = 415
    default_code = "unsupported_media_type"


class RateLimited(LagoError):
    status = 429
    default_code = "rate_limited"


class Unavailable(LagoError):
    status = 503
    default_code = "unavailable"
