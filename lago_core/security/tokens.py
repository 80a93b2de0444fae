"""JWT access tokens (PyJWT, HS256) and opaque refresh tokens.

Access tokens are short-lived and stateless apart from one Redis check for revoked sessions, so the
REST API and every real-time node verify them the same way. Refresh tokens are random strings
stored only as SHA-256 digests; they rotate on every use (see ``identity.service``).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID, uuid4

import jwt

from lago_core.errors import Unauthenticated

__all__ = ["AccessClaims", "TokenCodec", "hash_refresh_token", "new_refresh_token"]

_ALGORITHM = "HS256"


# How far ahead of this process's clock another process's may run when it issues a token.
_ISSUED_AT_SKEW_S = 60


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: UUID
    session_id: UUID
    expires_at: datetime


class TokenCodec:
    def __init__(self, secret: str, issuer: str, access_ttl_s: int) -> None:
        self._secret = secret
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
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[_ALGORITHM],
                issuer=self._issuer,
                options={
                    "require": ["exp", "iat", "sub", "sid", "iss"],
                    "verify_exp": False,
                    "verify_iat": False,
                },
            )
        except jwt.InvalidTokenError as exc:
            raise Unauthenticated("invalid access token", code="invalid_token") from exc
        if claims.get("typ") != "access":
            raise Unauthenticated("not an access token", code="invalid_token")
        # Expiry and issue time are checked here rather than by PyJWT so they follow the injected
        # clock (PyJWT compares `iat` with the wall clock: a token issued by a clock that runs
        # ahead, as a test's does, would be refused as "not yet valid").
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


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
