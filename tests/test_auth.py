"""Sign-up with a phone code, log-in, refresh rotation, log-out, and tokens that must fail."""

from __future__ import annotations

from typing import Any

import jwt
from aiohttp.test_utils import TestClient

from lago_core.clock import ManualClock
from lago_core.container import Core
from lago_core.sms import LogSmsProvider

from .conftest import Account


def last_code(core: Core) -> str:
    assert isinstance(core.sms, LogSmsProvider)
    return core.sms.sent[-1][1]


async def sign_up(
    client: TestClient[Any, Any], core: Core, phone: str = "13800138000"
) -> dict[str, Any]:
    resp = await client.post("/api/v1/auth/codes", json={"phone": phone, "purpose": "signup"})
    assert resp.status == 202, await resp.text()
    resp = await client.post(
        "/api/v1/auth/signup",
        json={
            "phone": phone,
            "code": last_code(core),
            "password": "s3cret-pass",
            "display_name": "小王",
        },
    )
    assert resp.status == 201, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


async def test_sign_up_log_in_and_me(client: TestClient[Any, Any], core: Core) -> None:
    tokens = await sign_up(client, core)
    assert core.sms.sent[-1][0] == "+8613800138000"  # type: ignore[attr-defined]
    me = await client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert me.status == 200
    assert (await me.json())["phone"] == "+8613800138000"
    assert me.headers["X-Request-ID"]

    login = await client.post(
        "/api/v1/auth/login", json={"phone": "+86 138 0013 8000", "password": "s3cret-pass"}
    )
    assert login.status == 200
    wrong = await client.post(
        "/api/v1/auth/login", json={"phone": "13800138000", "password": "nope"}
    )
    assert wrong.status == 401
    assert (await wrong.json())["error"]["code"] == "bad_credentials"


async def test_code_is_single_use_and_bounded(client: TestClient[Any, Any], core: Core) -> None:
    await client.post("/api/v1/auth/codes", json={"phone": "13800138001"})
    code = last_code(core)
    again = await client.post("/api/v1/auth/codes", json={"phone": "13800138001"})
    assert again.status == 429  # one code a minute
    bad = await client.post(
        "/api/v1/auth/signup",
        json={
            "phone": "13800138001",
            "code": "000000" if code != "000000" else "111111",
            "password": "s3cret-pass",
            "display_name": "x",
        },
    )
    assert (await bad.json())["error"]["code"] == "code_invalid"
    ok = await client.post(
        "/api/v1/auth/signup",
        json={"phone": "13800138001", "code": code, "password": "s3cret-pass", "display_name": "x"},
    )
    assert ok.status == 201
    reuse = await client.post(
        "/api/v1/auth/signup",
        json={"phone": "13800138001", "code": code, "password": "s3cret-pass", "display_name": "y"},
    )
    assert reuse.status == 422
    count = await core.pool.fetchval("SELECT count(*) FROM users")
    assert count == 1


async def test_duplicate_phone_refused(client: TestClient[Any, Any], core: Core) -> None:
    await sign_up(client, core, "13800138002")
    resp = await client.post("/api/v1/auth/codes", json={"phone": "13800138002"})
    assert resp.status == 409
    assert (await resp.json())["error"]["code"] == "phone_taken"


async def test_refresh_rotates_and_reuse_revokes_session(
    client: TestClient[Any, Any], make_account: Any
) -> None:
    acct: Account = await make_account()
    first = await client.post("/api/v1/auth/refresh", json={"refresh_token": acct.refresh_token})
    assert first.status == 200
    rotated = await first.json()
    # The old token is spent: presenting it again means it was copied, so the session ends.
    replay = await client.post("/api/v1/auth/refresh", json={"refresh_token": acct.refresh_token})
    assert replay.status == 401
    assert (await replay.json())["error"]["code"] == "token_reused"
    after = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]}
    )
    assert after.status == 401
    me = await client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {rotated['access_token']}"}
    )
    assert me.status == 401
    assert (await me.json())["error"]["code"] == "session_revoked"


async def test_logout_revokes_access_and_refresh(
    client: TestClient[Any, Any], make_account: Any
) -> None:
    acct: Account = await make_account()
    out = await client.post("/api/v1/auth/logout", headers=acct.headers)
    assert out.status == 204
    assert (await client.get("/api/v1/me", headers=acct.headers)).status == 401
    refresh = await client.post("/api/v1/auth/refresh", json={"refresh_token": acct.refresh_token})
    assert refresh.status == 401


async def test_expired_and_forged_tokens(
    client: TestClient[Any, Any], make_account: Any, clock: ManualClock
) -> None:
    acct: Account = await make_account()
    forged = jwt.encode(
        {"sub": str(acct.id), "sid": str(acct.id), "typ": "access"},
        "a-wrong-key-that-is-long-enough-for-hs256",
    )
    for header in (f"Bearer {forged}", "Bearer not-a-jwt", "Basic abc", "Bearer "):
        resp = await client.get("/api/v1/me", headers={"Authorization": header})
        assert resp.status == 401, header
        assert (await resp.json())["error"]["code"] == "invalid_token"
    clock.advance(901)
    expired = await client.get("/api/v1/me", headers=acct.headers)
    assert expired.status == 401
    assert (await expired.json())["error"]["code"] == "token_expired"


async def test_password_reset_ends_sessions(
    client: TestClient[Any, Any], core: Core, make_account: Any
) -> None:
    acct: Account = await make_account()
    await client.post("/api/v1/auth/codes", json={"phone": acct.phone, "purpose": "reset_password"})
    reset = await client.post(
        "/api/v1/auth/password/reset",
        json={"phone": acct.phone, "code": last_code(core), "new_password": "brand-new-pass"},
    )
    assert reset.status == 204
    assert (await client.get("/api/v1/me", headers=acct.headers)).status == 401
    login = await client.post(
        "/api/v1/auth/login", json={"phone": acct.phone, "password": "brand-new-pass"}
    )
    assert login.status == 200


async def test_reset_for_unknown_phone_does_not_reveal(
    client: TestClient[Any, Any], core: Core
) -> None:
    before = len(core.sms.sent)  # type: ignore[attr-defined]
    resp = await client.post(
        "/api/v1/auth/codes", json={"phone": "13800138009", "purpose": "reset_password"}
    )
    assert resp.status == 202
    assert len(core.sms.sent) == before  # type: ignore[attr-defined]


async def test_login_attempts_are_limited(client: TestClient[Any, Any], make_account: Any) -> None:
    acct: Account = await make_account()
    for _ in range(10):
        resp = await client.post(
            "/api/v1/auth/login", json={"phone": acct.phone, "password": "wrong"}
        )
        assert resp.status == 401
    blocked = await client.post(
        "/api/v1/auth/login", json={"phone": acct.phone, "password": acct.password}
    )
    assert blocked.status == 429


async def test_a_storm_of_authentications_is_answered_session_by_session(
    core: Core, make_account: Any
) -> None:
    """Handshakes in the same turn of the loop share one lookup (lago_core/coalesce.py); each
    still gets its own answer: a live session its user, a revoked one, a forged user id and a
    disabled account a refusal — however they are mixed in one batch."""
    import asyncio
    import uuid

    from lago_core.errors import Unauthenticated

    live = [await make_account(f"住户{i}") for i in range(6)]
    revoked: Account = await make_account("已登出")
    await core.identity.log_out(await core.identity.authenticate(revoked.access_token))
    disabled: Account = await make_account("停用")
    await core.pool.execute("UPDATE users SET status = 'disabled' WHERE id = $1", disabled.id)
    tokens = [a.access_token for a in live] * 3 + [revoked.access_token, disabled.access_token]
    results = await asyncio.gather(
        *(core.identity.authenticate(t) for t in tokens), return_exceptions=True
    )
    for account, result in zip(live * 3, results[: 3 * len(live)], strict=True):
        assert not isinstance(result, BaseException), result
        assert result.user_id == account.id
    for result in results[-2:]:
        assert isinstance(result, Unauthenticated), result
        assert result.code == "session_revoked"
    # A token whose user id is not the session's: refused although the session is live.
    claims = jwt.decode(live[0].access_token, options={"verify_signature": False})
    forged = dict(claims, sub=str(uuid.uuid4()))
    token = jwt.encode(forged, core.settings.jwt_secret, algorithm="HS256")
    pair = await asyncio.gather(
        core.identity.authenticate(token),
        core.identity.authenticate(live[0].access_token),
        return_exceptions=True,
    )
    assert isinstance(pair[0], Unauthenticated), pair
    assert not isinstance(pair[1], BaseException), pair
