"""Webhook signatures: HMAC-SHA256 over ``timestamp + "." + raw body``, with a replay window.

The header is ``Lago-Signature: t=<unix seconds>,v1=<hex digest>[,v1=<hex digest>...]`` — the
shape Stripe uses, so the same receiving code would serve a real provider. Several ``v1`` values
are accepted so a sender can sign with an old and a new secret while the secret rotates. Signing
the timestamp together with the body means a captured request cannot be replayed later with a
fresh timestamp; the window bounds how long a captured request stays valid at all, and the event
id (applied once) covers replays inside the window.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from lago_core.errors import LagoError, Unauthenticated

__all__ = ["SIGNATURE_HEADER", "InvalidSignature", "StaleWebhook", "sign", "verify"]

SIGNATURE_HEADER = "Lago-Signature"
_MAX_HEADER = 1_000


class InvalidSignature(Unauthenticated):
    default_code = "invalid_signature"


class StaleWebhook(LagoError):
    status = 400
    default_code = "stale_webhook"


def _digest(secret: bytes, timestamp: int, body: bytes) -> str:
    return hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The header value for ``body`` sent at ``timestamp``."""
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


def verify(secret: bytes, header: str | None, body: bytes, now: datetime, tolerance_s: int) -> int:
    """Check a signature header against ``body``; returns its timestamp.

    Raises :class:`InvalidSignature` for a missing, malformed or wrong signature and
    :class:`StaleWebhook` for a timestamp outside ``now ± tolerance_s``. The digest is compared
    in constant time; the timestamp is checked after the signature, so an attacker learns
    nothing about the window from unsigned requests.
    """
    if not header or len(header) > _MAX_HEADER:
        raise InvalidSignature(f"missing or oversized {SIGNATURE_HEADER} header")
    timestamp: int | None = None
    candidates: list[str] = []
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        if name == "t" and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif name == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        raise InvalidSignature(f"malformed {SIGNATURE_HEADER} header: want t=<unix>,v1=<hex>")
    expected = _digest(secret, timestamp, body)
    # Every candidate is compared, matched or not, so timing does not say which one matched.
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(expected.encode(), candidate.encode())
    if not matched:
        raise InvalidSignature("the webhook signature does not match")
    age = now.timestamp() - timestamp
    if abs(age) > tolerance_s:
        raise StaleWebhook(
            "the webhook timestamp is outside the replay window",
            details={"tolerance_s": tolerance_s, "age_s": int(age)},
        )
    return timestamp
