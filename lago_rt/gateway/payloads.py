"""Socket payloads validated strictly: a field is the JSON type the protocol names, or refused.

pydantic's default (lax) mode converts what it can — ``"5"``, ``5.0`` and ``true`` all become
the integer 5 — so a client written against a wrong reading of docs/protocol.md was served
instead of told. Validating the payload as the JSON it arrived as, in strict mode, keeps the
conversions JSON itself needs (a UUID or a time from a string) and refuses the rest, for every
event that goes through here, whatever its model says. Text and integers PostgreSQL cannot store
are refused first, with ``invalid_text`` naming the field (lago_core/text.py): a lone surrogate
could not even be encoded as the JSON validated below.
"""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from pydantic import ValidationError

from lago_core.errors import InvalidInput
from lago_core.text import refuse_unstorable
from lago_rt.gateway.schemas import Payload, payload_error

__all__ = ["parse_payload"]

M = TypeVar("M", bound=Payload)


def parse_payload(model: type[M], data: Any) -> M:
    """``data`` as ``model``, or ``InvalidInput`` naming each field that is not what it must be."""
    if not isinstance(data, dict):
        raise InvalidInput("the payload must be an object")
    refuse_unstorable(data, "")
    try:
        raw = orjson.dumps(data)
    except TypeError:
        raise InvalidInput("the payload must be plain JSON") from None
    try:
        return model.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        raise payload_error(exc) from None
