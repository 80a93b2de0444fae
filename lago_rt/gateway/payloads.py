"""Socket payloads validated strictly: a field is the JSON type the protocol names, or refused.

pydantic's default (lax) mode converts what it can — ``"5"``, ``5.0`` and ``true`` all become
the integer 5 — so a client written against a wrong reading of docs/protocol.md was served
instead of told. Validating the payload as the JSON it arrived as, in strict mode, keeps the
conversions JSON itself needs (a UUID or a time from a string) and refuses the rest, for every
event that goes through here, whatever its model says.
"""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from lago_core.errors import InvalidInput

__all__ = ["parse_payload"]

M = TypeVar("M", bound=BaseModel)


def parse_payload(model: type[M], data: Any) -> M:
    """``data`` as ``model``, or ``InvalidInput`` naming each field that is not what it must be."""
    if not isinstance(data, dict):
        raise InvalidInput("the payload must be an object")
    try:
        raw = orjson.dumps(data)
    except TypeError:
        raise InvalidInput("the payload must be plain JSON") from None
    try:
        return model.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        details = [
            {"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        raise InvalidInput("invalid payload", details=details) from None
