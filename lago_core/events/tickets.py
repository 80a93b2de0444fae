"""Check-in tickets: the signed text a confirmed registration's QR code holds.

``LE1.<base64url(event id ‖ registration id ‖ nonce ‖ mac)>`` — 16 + 16 + 8 bytes of payload and
the first 16 bytes of an HMAC-SHA256 over a label and the payload: 79 characters, a small QR code
(version 5 at level M). The nonce is the registration's ``ticket_nonce``, renewed when a cancelled
registration is taken up again, so a QR code of an earlier sign-up no longer matches. Truncating
the MAC to 128 bits keeps forgeries out of reach and the code easy to scan from a phone screen.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import secrets
from dataclasses import dataclass
from uuid import UUID

from lago_core.errors import InvalidInput

__all__ = ["TICKET_MAX_CHARS", "Ticket", "new_nonce", "sign_ticket", "verify_ticket"]

_PREFIX = "LE1."
_LABEL = b"lago-event-ticket:v1\x00"
_NONCE_BYTES = 8
_MAC_BYTES = 16
_BODY_BYTES = 16 + 16 + _NONCE_BYTES + _MAC_BYTES
_SHAPE = re.compile(r"LE1\.[A-Za-z0-9_-]{75}")
TICKET_MAX_CHARS = 200


@dataclass(frozen=True, slots=True)
class Ticket:
    event_id: UUID
    registration_id: UUID
    nonce: str


def new_nonce() -> str:
    return _b64(secrets.token_bytes(_NONCE_BYTES))


def sign_ticket(key: bytes, event_id: UUID, registration_id: UUID, nonce: str) -> str:
    payload = event_id.bytes + registration_id.bytes + _unb64(nonce)
    return _PREFIX + _b64(payload + _mac(key, payload))


def verify_ticket(key: bytes, text: str) -> Ticket:
    """The ticket ``text`` names, when it was signed with ``key``; InvalidInput ``invalid_ticket``
    for anything else (malformed, altered, signed with another key)."""
    text = text.strip()
    if not _SHAPE.fullmatch(text):
        raise InvalidInput("this is not a Lago event ticket", code="invalid_ticket")
    try:
        body = _unb64(text[len(_PREFIX) :])
    except (binascii.Error, ValueError):
        raise InvalidInput("this is not a Lago event ticket", code="invalid_ticket") from None
    if len(body) != _BODY_BYTES:
        raise InvalidInput("this is not a Lago event ticket", code="invalid_ticket")
    payload, mac = body[:-_MAC_BYTES], body[-_MAC_BYTES:]
    if not hmac.compare_digest(mac, _mac(key, payload)):
        raise InvalidInput("this ticket's signature does not match", code="invalid_ticket")
    return Ticket(UUID(bytes=payload[:16]), UUID(bytes=payload[16:32]), _b64(payload[32:]))


def _mac(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, _LABEL + payload, "sha256").digest()[:_MAC_BYTES]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
