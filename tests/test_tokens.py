"""Access tokens follow the injected clock, whichever way it has moved from the wall clock."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from lago_core.errors import Unauthenticated
from lago_core.security.tokens import TokenCodec

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
