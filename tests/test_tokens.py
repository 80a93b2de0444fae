"""Access tokens follow the injected clock, whichever way it has moved from the wall clock."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from lago_core.errors import Unauthenticated
from lago_core.security.tokens import InvalidToken, TokenCodec, hs256_claims

CODEC = TokenCodec("s" * 32, "lago-test", access_ttl_s=900)


@pytest.mark.parametrize("offset", [timedelta(days=-400), timedelta(0), timedelta(days=7)])
def test_a_token_issued_and_read_by_the_same_clock_is_valid(offset: timedelta) -> None:
    now = (datetime.now(UTC) + offset).replace(microsecond=0)
    user, session = uuid.uuid4(), uuid.uuid4()
    token, expires = CODEC.issue_access(user, session, now)
    claims = CODEC.decode_access(token, now + timedelta(seconds=899))
    assert (claims.user_id, claims.session_id, claims.expires_at) == (user, session, expires)
    with pytest.raises(Unauthenticated) as expired:
        CODEC.decode_access(token, now + timedelta(seconds=900))
    assert expired.value.code == "token_expired"


def test_a_token_issued_ahead_of_the_readers_clock_is_refused_beyond_the_skew() -> None:
    now = datetime.now(UTC)
    token, _ = CODEC.issue_access(uuid.uuid4(), uuid.uuid4(), now + timedelta(seconds=59))
    CODEC.decode_access(token, now)  # within the skew another node's clock may have
    token, _ = CODEC.issue_access(uuid.uuid4(), uuid.uuid4(), now + timedelta(seconds=120))
    with pytest.raises(Unauthenticated) as early:
        CODEC.decode_access(token, now)
    assert early.value.code == "invalid_token"


# --- reading tokens: ours against PyJWT's -------------------------------------------------------

KEY = b"s" * 32
NOW = datetime(2026, 12, 8, tzinfo=UTC)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _signed(header: dict[str, Any], claims: Any, key: bytes = KEY) -> str:
    head = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(claims).encode())
    signature = hmac.new(key, head.encode(), hashlib.sha256).digest()
    return head + "." + _b64(signature)


def _claims(**changes: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": "lago-test",
        "sub": str(uuid.uuid4()),
        "sid": str(uuid.uuid4()),
        "typ": "access",
        "iat": int(NOW.timestamp()),
        "exp": int(NOW.timestamp()) + 900,
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def test_tokens_pyjwt_issues_are_read_with_the_same_claims() -> None:
    token, _ = CODEC.issue_access(uuid.uuid4(), uuid.uuid4(), NOW)
    assert hs256_claims(token, KEY) == jwt.decode(
        token, KEY, algorithms=["HS256"], options={"verify_exp": False, "verify_iat": False}
    )


def _tampered() -> list[str]:
    good, _ = CODEC.issue_access(uuid.uuid4(), uuid.uuid4(), NOW)
    head, body, signature = good.split(".")
    other_body = _b64(json.dumps(_claims(sub=str(uuid.uuid4()))).encode())
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    return [
        f"{head}.{other_body}.{signature}",  # claims changed, signature kept
        f"{head}.{body}.{flipped}",  # signature changed
        f"{head}.{body}",  # no signature
        f"{head}.{body}.{signature}.x",  # four parts
        f"{head}.{body}.{signature[:-1]}+",  # a character outside the alphabet
        f"{head}.{body}.{signature[:-1]}",  # truncated
        f"{head} .{body}.{signature}",
        f"{head}.{body}.{signature}\u00e9",
        "",
        "...",
        "x" * 5_000,
    ]


def _foreign() -> list[str]:
    none_head = _b64(b'{"alg":"none","typ":"JWT"}')
    return [
        _signed({"alg": "HS256", "typ": "JWT"}, _claims(), key=b"t" * 32),  # another key
        _signed({"alg": "HS512", "typ": "JWT"}, _claims()),  # another algorithm named
        _signed({"typ": "JWT"}, _claims()),  # no algorithm named
        _signed({"alg": "HS256", "crit": ["exp"]}, _claims()),  # an extension we do not know
        _signed({"alg": "HS256"}, ["not", "an", "object"]),
        f"{none_head}.{_b64(json.dumps(_claims()).encode())}.",  # alg none, unsigned
    ]


@pytest.mark.parametrize("token", [*_tampered(), *_foreign()])
def test_tampered_malformed_and_foreign_tokens_are_refused_by_both_readers(token: str) -> None:
    with pytest.raises(InvalidToken):
        hs256_claims(token, KEY)
    with pytest.raises(jwt.InvalidTokenError):
        jwt.decode(token, KEY, algorithms=["HS256"], options={"verify_exp": False})
    with pytest.raises(Unauthenticated) as refused:
        CODEC.decode_access(token, NOW)
    assert refused.value.code == "invalid_token"


@pytest.mark.parametrize(
    "changes",
    [
        {"iss": "someone-else"},
        {"iss": None},
        {"sid": None},
        {"sub": 12},
        {"exp": "2000000000"},
        {"iat": True},
        {"typ": "refresh"},
        {"aud": "lago"},
        {"nbf": int(NOW.timestamp())},
        {"sub": "not-a-uuid"},
    ],
)
def test_signed_tokens_with_claims_we_never_issue_are_refused(changes: dict[str, Any]) -> None:
    token = _signed({"alg": "HS256", "typ": "JWT"}, _claims(**changes))
    assert hs256_claims(token, KEY)  # the signature is ours ...
    with pytest.raises(Unauthenticated) as refused:  # ... the claims are not
        CODEC.decode_access(token, NOW)
    assert refused.value.code == "invalid_token"


def test_a_padded_token_is_refused_though_pyjwt_reads_it() -> None:
    """Stricter than PyJWT: base64url without padding is the only form (RFC 7515 §2), so a
    token has one spelling."""
    good, _ = CODEC.issue_access(uuid.uuid4(), uuid.uuid4(), NOW)
    padded = good + "="
    assert jwt.decode(padded, KEY, algorithms=["HS256"], options={"verify_exp": False})
    with pytest.raises(InvalidToken):
        hs256_claims(padded, KEY)
