"""JWT access tokens (HS256; issued with PyJWT) and opaque refresh tokens.

Access tokens are short-lived and stateless apart from one Redis check for revoked sessions, so the
REST API and every real-time node verify them the same way. Refresh tokens are random strings
stored only as SHA-256 digests; they rotate on every use (see ``identity.service``).

Reading a token is ours (:func:`hs256_claims`), not PyJWT's ``decode``: every handshake reads
one, and PyJWT's took 37 µs (it prepares the key, checks it is not a PEM or DER key, walks its
options) — 9 % of a node's CPU in a storm of 5,000 handshakes; this takes about 6 µs. It accepts
only what PyJWT would accept from us: HS256 with our key, a compact token of three base64url
parts, a JSON object of claims; tests/test_tokens.py checks both against each other, tampered
and foreign tokens included.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import jwt
import orjson

from lago_core.errors import Unauthenticated

__all__ = [
    "AccessClaims",
    "InvalidToken",
    "TokenCodec",
    "hash_refresh_token",
    "hs256_claims",
    "new_refresh_token",
]

_ALGORITHM = "HS256"


# How far ahead of this process's clock another process's may run when it issues a token.
_ISSUED_AT_SKEW_S = 60
# Longer than any token of ours (about 300 characters): not read at all.
MAX_TOKEN_CHARS = 4_096
_REQUIRED = ("exp", "iat", "sub", "sid", "iss")
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")


class InvalidToken(ValueError):
    """Not a token signed with our key, or not one of ours."""


def _b64url(segment: bytes) -> bytes:
    # Strict: only the base64url alphabet, no padding (RFC 7515 §2); a2b_base64's strict mode
    # refuses anything else once translated, where the base64 module would skip it silently.
    if b"+" in segment or b"/" in segment or b"=" in segment:
        raise InvalidToken("not base64url")
    padded = segment.translate(_FROM_URLSAFE) + b"=" * (-len(segment) % 4)
    try:
        return binascii.a2b_base64(padded, strict_mode=True)
    except binascii.Error:
        raise InvalidToken("not base64url") from None


def hs256_claims(token: str, key: bytes) -> dict[str, Any]:
    """The claims of a compact JWS that ``key`` signed with HS256; :class:`InvalidToken` for
    anything else. The signature is checked before anything in the token is parsed."""
    if len(token) > MAX_TOKEN_CHARS or not token.isascii():
        raise InvalidToken("not a token")
    raw = token.encode()
    parts = raw.split(b".")
    if len(parts) != 3:
        raise InvalidToken("not a compact JWS")
    header_b64, claims_b64, signature_b64 = parts
    expected = hmac.new(key, raw[: len(header_b64) + 1 + len(claims_b64)], hashlib.sha256)
    if not hmac.compare_digest(expected.digest(), _b64url(signature_b64)):
        raise InvalidToken("bad signature")
    try:
        header = orjson.loads(_b64url(header_b64))
        claims = orjson.loads(_b64url(claims_b64))
    except orjson.JSONDecodeError:
        raise InvalidToken("not JSON") from None
    # We sign every token HS256, with no critical extensions: a header saying otherwise is not
    # ours, whatever its signature (PyJWT refuses the same).
    if not isinstance(header, dict) or header.get("alg") != _ALGORITHM or "crit" in header:
        raise InvalidToken("not an HS256 token")
    if not isinstance(claims, dict):
        raise InvalidToken("claims are not an object")
    return claims


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: UUID
    session_id: UUID
    expires_at: datetime


class TokenCodec:
    def __init__(self, secret: str, issuer: str, access_ttl_s: int) -> None:
        self._secret = secret
        self._key = secret.encode()
        self._issuer = issuer
        self.access_ttl = timedelta(seconds=access_ttl_s)

    def issue_access(self, user_id: UUID, session_id: UUID, now: datetime) -> tuple[str, datetime]:
        expires = now + self.access_ttl
        claims = {
            "iss": self._issuer,
            "sub": str(user_id),
            "sid": str(session_id),
            "typ": "access",
            "iat": int(now.timestamp()),
            "exp": int(expires.timestamp()),
            "jti": uuid4().hex,
        }
        return jwt.encode(claims, self._secret, algorithm=_ALGORITHM), expires

    def decode_access(self, token: str, now: datetime) -> AccessClaims:
        """Verify signature, issuer, type and expiry against ``now`` (the injectable clock)."""
        try:
            claims = hs256_claims(token, self._key)
        except InvalidToken as exc:
            raise Unauthenticated("invalid access token", code="invalid_token") from exc
        if (
            any(name not in claims for name in _REQUIRED)
            or claims["iss"] != self._issuer
            or not all(_is_int(claims[name]) for name in ("exp", "iat"))
            or not all(isinstance(claims[name], str) for name in ("sub", "sid"))
            # Claims we never set, which PyJWT would check: a token carrying them is not ours.
            or "aud" in claims
            or "nbf" in claims
        ):
            raise Unauthenticated("invalid access token", code="invalid_token")
        if claims.get("typ") != "access":
            raise Unauthenticated("not an access token", code="invalid_token")
        # Expiry and issue time follow the injected clock (PyJWT compared `iat` with the wall
        # clock: a token issued by a clock that runs ahead, as a test's does, was refused as
        # "not yet valid").
        now_s = int(now.timestamp())
        if int(claims["exp"]) <= now_s:
            raise Unauthenticated("access token expired", code="token_expired")
        if int(claims["iat"]) > now_s + _ISSUED_AT_SKEW_S:
            raise Unauthenticated("access token issued in the future", code="invalid_token")
        try:
            return AccessClaims(
                user_id=UUID(claims["sub"]),
                session_id=UUID(claims["sid"]),
                expires_at=datetime.fromtimestamp(int(claims["exp"]), tz=now.tzinfo),
            )
        except (ValueError, TypeError) as exc:
            raise Unauthenticated("malformed token claims", code="invalid_token") from exc


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
