"""Browser sessions (issue 17): tokens in HttpOnly cookies that page scripts cannot read, the
Origin check that keeps other sites from using them, log-in with an SMS code alone, and the
real-time node's handshake authenticated by the same cookie.

REST requests here go through a client without a cookie jar, so every cookie a request carries is
the one the test wrote, and every cookie an answer sets is read from its Set-Cookie headers.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from http.cookies import Morsel
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer

from lago_core.clock import ManualClock
from lago_core.container import Core, build_core
from lago_core.settings import Settings
from lago_core.sms import LogSmsProvider
from lago_rest.app import create_app
from lago_rt.app import RT_NODE, RtNode, create_rt_app

from .conftest import Account
from .node_server import NodeServer
from .waiting import until

Client = TestClient[Any, Any]
COOKIE_MODE = {"X-Lago-Session": "cookie"}
PASSWORD = "correct horse battery"


@dataclasses.dataclass
class Rest:
    """The REST app and a jar-less HTTP client for it."""

    http: aiohttp.ClientSession
    origin: str  # the app's own origin, as a page it served would send it
    core: Core

    async def post(
        self,
        path: str,
        body: Any = None,
        *,
        cookies: dict[str, str] | None = None,
        origin: str | None = "own",
        headers: dict[str, str] | None = None,
    ) -> aiohttp.ClientResponse:
        sent = dict(headers or {})
        if origin == "own":
            sent["Origin"] = self.origin
        elif origin is not None:
            sent["Origin"] = origin
        if cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        resp = await self.http.post(f"/api/v1{path}", json=body, headers=sent)
        await resp.read()
        return resp

    async def get(self, path: str, cookies: dict[str, str]) -> aiohttp.ClientResponse:
        cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
        resp = await self.http.get(f"/api/v1{path}", headers={"Cookie": cookie})
        await resp.read()
        return resp

    async def log_in(
        self, phone: str, *, headers: dict[str, str] | None = None, **extra: Any
    ) -> tuple[aiohttp.ClientResponse, dict[str, str]]:
        resp = await self.post(
            "/auth/login",
            {"phone": phone, "password": PASSWORD},
            headers={**COOKIE_MODE, **(headers or {})},
            **extra,
        )
        return resp, {name: morsel.value for name, morsel in resp.cookies.items()}


@contextlib.asynccontextmanager
async def rest_app(
    settings: Settings,
    clock: ManualClock,
    aiohttp_server: Callable[..., Awaitable[TestServer]],
    core: Core | None = None,
) -> AsyncIterator[Rest]:
    own_core = core is None
    core = core or await build_core(settings, clock=clock)
    server = await aiohttp_server(create_app(settings, core=core))
    origin = f"http://127.0.0.1:{server.port}"
    try:
        async with aiohttp.ClientSession(
            base_url=origin, cookie_jar=aiohttp.DummyCookieJar()
        ) as http:
            yield Rest(http, origin, core)
    finally:
        if own_core:
            await core.close()


@pytest.fixture
async def rest(
    settings: Settings,
    core: Core,
    clock: ManualClock,
    aiohttp_server: Callable[..., Awaitable[TestServer]],
) -> AsyncIterator[Rest]:
    async with rest_app(settings, clock, aiohttp_server, core) as made:
        yield made


def morsel(resp: aiohttp.ClientResponse, name: str) -> Morsel[str]:
    assert name in resp.cookies, f"{name} not set: {resp.headers.getall('Set-Cookie', [])}"
    return resp.cookies[name]


def assert_cleared(resp: aiohttp.ClientResponse, *names: str) -> None:
    for name in names:
        cleared = morsel(resp, name)
        assert cleared.value == ""
        assert cleared["max-age"] == "0"


def last_code(core: Core) -> str:
    assert isinstance(core.sms, LogSmsProvider)
    return core.sms.sent[-1][1]


async def error_code(resp: aiohttp.ClientResponse) -> str:
    code: str = (await resp.json())["error"]["code"]
    return code


# --- cookie sessions on REST ----------------------------------------------------------------------


async def test_cookie_log_in_sets_httponly_cookies_and_answers_without_tokens(
    rest: Rest, make_account: Callable[..., Awaitable[Account]]
) -> None:
    acct = await make_account()
    resp, cookies = await rest.log_in(acct.phone)
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["session"] == "cookie"
    assert body["user_id"] == str(acct.id)
    assert {"access_expires_at", "refresh_expires_at"} <= body.keys()
    assert "access_token" not in body
    assert "refresh_token" not in body

    access = morsel(resp, "lago_access")
    assert access["httponly"] is True
    assert access["samesite"] == "Strict"
    assert access["path"] == "/"
    assert access["max-age"] == "900"  # the access token's lifetime
    assert not access["secure"]  # plain HTTP, no trusted proxy
    refresh = morsel(resp, "lago_refresh")
    assert refresh["httponly"] is True
    assert refresh["samesite"] == "Strict"
    assert refresh["path"] == "/api/v1/auth"
    assert refresh["max-age"] == str(30 * 24 * 3600)

    me = await rest.get("/me", {"lago_access": cookies["lago_access"]})
    assert me.status == 200
    assert (await me.json())["id"] == str(acct.id)
    # The refresh token is no access token.
    wrong = await rest.get("/me", {"lago_access": cookies["lago_refresh"]})
    assert wrong.status == 401
    assert await error_code(wrong) == "invalid_token"
    assert_cleared(wrong, "lago_access")
    # Without the opt-in, log-in answers tokens as before and sets no cookie.
    plain = await rest.post("/auth/login", {"phone": acct.phone, "password": PASSWORD})
    assert plain.status == 200
    assert "access_token" in await plain.json()
    assert not plain.cookies


async def test_sign_up_in_cookie_mode(rest: Rest) -> None:
    sent = await rest.post("/auth/codes", {"phone": "13800138100", "purpose": "signup"})
    assert sent.status == 202
    resp = await rest.post(
        "/auth/signup",
        {
            "phone": "13800138100",
            "code": last_code(rest.core),
            "password": PASSWORD,
            "display_name": "小王",
        },
        headers=COOKIE_MODE,
    )
    assert resp.status == 201, await resp.text()
    assert "access_token" not in await resp.json()
    me = await rest.get("/me", {"lago_access": morsel(resp, "lago_access").value})
    assert me.status == 200


async def test_a_changing_request_by_cookie_needs_an_origin_of_ours(
    rest: Rest, make_account: Callable[..., Awaitable[Account]]
) -> None:
    acct = await make_account()
    _, cookies = await rest.log_in(acct.phone)
    session = {"lago_access": cookies["lago_access"]}
    for origin in (None, "https://evil.example", "null", f"{rest.origin}.evil.example"):
        refused = await rest.post("/auth/logout", cookies=session, origin=origin)
        assert refused.status == 403, origin
        assert await error_code(refused) == "csrf_origin"
    # A page of another origin cannot use the cookie even on its way to log-in elsewhere.
    referer_elsewhere = await rest.post(
        "/auth/logout", cookies=session, origin=None, headers={"Referer": "https://evil.example/x"}
    )
    assert referer_elsewhere.status == 403
    # Nothing was done: the session lives.
    assert (await rest.get("/me", session)).status == 200

    # A page of ours: its Referer stands in for a missing Origin.
    out = await rest.post(
        "/auth/logout", cookies=session, origin=None, headers={"Referer": f"{rest.origin}/app/"}
    )
    assert out.status == 204, await out.text()
    assert_cleared(out, "lago_access", "lago_refresh")
    assert morsel(out, "lago_refresh")["path"] == "/api/v1/auth"
    # A logged-out access cookie is refused like a bearer token, and cleared.
    after = await rest.get("/me", session)
    assert after.status == 401
    assert await error_code(after) == "session_revoked"
    assert_cleared(after, "lago_access")


async def test_allowed_origins_and_bearer_requests(
    rest: Rest, make_account: Callable[..., Awaitable[Account]]
) -> None:
    acct = await make_account()
    _, cookies = await rest.log_in(acct.phone)
    # The test settings set no LAGO_ALLOWED_ORIGINS: outside prod the Next.js dev server's
    # origin is allowed, besides the app's own.
    out = await rest.post(
        "/auth/logout",
        cookies={"lago_access": cookies["lago_access"]},
        origin="http://localhost:3000",
    )
    assert out.status == 204
    # Bearer requests need no Origin; a cookie beside a Bearer token is not looked at.
    other = await make_account()
    bearer = await rest.post(
        "/auth/logout",
        origin=None,
        cookies={"lago_access": "not-a-token"},
        headers={"Authorization": f"Bearer {other.access_token}"},
    )
    assert bearer.status == 204


async def test_a_dead_cookie_does_not_stand_in_the_way_of_logging_in(
    rest: Rest, make_account: Callable[..., Awaitable[Account]]
) -> None:
    acct = await make_account()
    _, cookies = await rest.log_in(acct.phone)
    assert (await rest.post("/auth/logout", cookies=cookies)).status == 204
    # The browser still sends the old cookie (say, the clearing answer was lost).
    again, fresh = await rest.log_in(acct.phone, cookies=cookies)
    assert again.status == 200, await again.text()
    assert (await rest.get("/me", {"lago_access": fresh["lago_access"]})).status == 200
    # An endpoint that needs a caller answers the cookie's own failure, not "sign in first".
    stale = await rest.post("/auth/logout", cookies={"lago_access": cookies["lago_access"]})
    assert stale.status == 401
    assert await error_code(stale) == "session_revoked"


async def test_refresh_from_the_cookie_rotates_and_a_replay_ends_the_session(
    rest: Rest, make_account: Callable[..., Awaitable[Account]]
) -> None:
    acct = await make_account()
    _, first = await rest.log_in(acct.phone)
    resp = await rest.post(
        "/auth/refresh", {}, cookies={"lago_refresh": first["lago_refresh"]}, headers=COOKIE_MODE
    )
    assert resp.status == 200, await resp.text()
    assert "refresh_token" not in await resp.json()
    second = {name: m.value for name, m in resp.cookies.items()}
    assert second["lago_refresh"] != first["lago_refresh"]
    assert morsel(resp, "lago_refresh")["path"] == "/api/v1/auth"
    assert (await rest.get("/me", {"lago_access": second["lago_access"]})).status == 200

    # The old refresh cookie again: copied, so the session ends, and the cookies are cleared.
    replay = await rest.post(
        "/auth/refresh", {}, cookies={"lago_refresh": first["lago_refresh"]}, headers=COOKIE_MODE
    )
    assert replay.status == 401
    assert await error_code(replay) == "token_reused"
    assert_cleared(replay, "lago_access", "lago_refresh")
    revoked = await rest.get("/me", {"lago_access": second["lago_access"]})
    assert await error_code(revoked) == "session_revoked"


async def test_refresh_refusals(
    rest: Rest, make_account: Callable[..., Awaitable[Account]]
) -> None:
    acct = await make_account()
    _, cookies = await rest.log_in(acct.phone)
    refresh_cookie = {"lago_refresh": cookies["lago_refresh"]}
    # Without the opt-in the cookie is not read: the body must name the token.
    plain = await rest.post("/auth/refresh", {}, cookies=refresh_cookie)
    assert plain.status == 422
    # The opt-in without a cookie.
    none = await rest.post("/auth/refresh", {}, headers=COOKIE_MODE)
    assert none.status == 401
    assert await error_code(none) == "unauthenticated"
    # Nothing to clear, so nothing cleared: the answer must not undo another tab's log-in.
    assert "Set-Cookie" not in none.headers
    # From a page of another site, or naming none.
    for origin in ("https://evil.example", None):
        foreign = await rest.post(
            "/auth/refresh", {}, cookies=refresh_cookie, headers=COOKIE_MODE, origin=origin
        )
        assert foreign.status == 403
        assert await error_code(foreign) == "csrf_origin"
    bad_mode = await rest.post(
        "/auth/refresh", {}, cookies=refresh_cookie, headers={"X-Lago-Session": "jar"}
    )
    assert bad_mode.status == 422
    assert await error_code(bad_mode) == "invalid_session_mode"
    # None of those used the token up.
    ok = await rest.post("/auth/refresh", {}, cookies=refresh_cookie, headers=COOKIE_MODE)
    assert ok.status == 200


async def test_log_out_everywhere_ends_every_cookie_session(
    rest: Rest, make_account: Callable[..., Awaitable[Account]]
) -> None:
    acct = await make_account()
    _, laptop = await rest.log_in(acct.phone)
    _, phone = await rest.log_in(acct.phone)
    out = await rest.post("/auth/logout-all", cookies={"lago_access": laptop["lago_access"]})
    assert out.status == 204
    assert_cleared(out, "lago_access", "lago_refresh")
    for cookies in (laptop, phone):
        me = await rest.get("/me", {"lago_access": cookies["lago_access"]})
        assert await error_code(me) == "session_revoked"
    refresh = await rest.post(
        "/auth/refresh", {}, cookies={"lago_refresh": phone["lago_refresh"]}, headers=COOKIE_MODE
    )
    assert refresh.status == 401


async def test_cookies_are_secure_behind_a_trusted_tls_proxy(
    settings: Settings,
    clock: ManualClock,
    aiohttp_server: Callable[..., Awaitable[TestServer]],
) -> None:
    behind_proxy = dataclasses.replace(settings, trusted_proxies=("127.0.0.1/32",))
    async with rest_app(behind_proxy, clock, aiohttp_server) as rest:
        await rest.core.identity.create_user("+8613900139001", PASSWORD, "业主", None)
        tls = {**COOKIE_MODE, "X-Forwarded-Proto": "https", "X-Forwarded-Host": "lago.example"}
        # The page the client used was https://lago.example: that is this API's own origin now.
        resp, cookies = await rest.log_in("13900139001", origin="https://lago.example", headers=tls)
        assert resp.status == 200, await resp.text()
        assert morsel(resp, "lago_access")["secure"] is True
        assert morsel(resp, "lago_refresh")["secure"] is True
        plain_origin = await rest.post(
            "/auth/logout", cookies=cookies, headers={"X-Forwarded-Proto": "https"}
        )
        assert plain_origin.status == 403  # http://127.0.0.1:<port> is not where the client was
    async with rest_app(settings, clock, aiohttp_server) as rest:
        # A client that is not a trusted proxy does not make cookies Secure by saying https.
        await rest.core.identity.create_user("+8613900139002", PASSWORD, "业主", None)
        resp, _ = await rest.log_in("13900139002", headers={"X-Forwarded-Proto": "https"})
        assert resp.status == 200
        assert not morsel(resp, "lago_access")["secure"]


async def test_cookie_mode_log_in_needs_an_origin_of_ours(
    rest: Rest, make_account: Callable[..., Awaitable[Account]]
) -> None:
    acct = await make_account()
    for origin in ("https://evil.example", None):
        resp, cookies = await rest.log_in(acct.phone, origin=origin)
        assert resp.status == 403
        assert await error_code(resp) == "csrf_origin"
        assert not cookies


async def test_the_document_describes_cookie_sessions(rest: Rest) -> None:
    resp = await rest.http.get("/api/v1/openapi.json")
    doc = await resp.json()
    assert doc["components"]["securitySchemes"]["cookie"] == {
        "type": "apiKey",
        "in": "cookie",
        "name": "lago_access",
    }
    for path in ("/api/v1/auth/login", "/api/v1/auth/signup", "/api/v1/auth/refresh"):
        params = doc["paths"][path]["post"]["parameters"]
        (mode,) = [p for p in params if p["name"] == "X-Lago-Session"]
        assert mode["in"] == "header"
        assert mode["required"] is False
        assert mode["schema"]["enum"] == ["cookie"]
        assert "HttpOnly" in mode["description"]
    assert {"bearer": []} in doc["paths"]["/api/v1/me"]["get"]["security"]
    assert {"cookie": []} in doc["paths"]["/api/v1/me"]["get"]["security"]


def test_development_allows_the_apps_own_origin_and_prod_only_listed_ones() -> None:
    dev = Settings.from_env({"LAGO_REST_PORT": "9090"})
    assert "http://127.0.0.1:9090" in dev.browser_origins
    assert "http://localhost:9090" in dev.browser_origins
    assert "http://localhost:3000" in dev.browser_origins
    listed = Settings.from_env({"LAGO_ALLOWED_ORIGINS": "https://app.example"})
    assert listed.browser_origins == ("https://app.example",)
    secret = "x" * 32
    prod = Settings.from_env(
        {
            "LAGO_ENV": "prod",
            "LAGO_JWT_SECRET": secret,
            "LAGO_PAYMENT_WEBHOOK_SECRET": secret,
            "LAGO_BANK_KEY": "k1:" + "A" * 43 + "=",
        }
    )
    assert prod.browser_origins == ()


# --- log-in with an SMS code alone ----------------------------------------------------------------


async def test_log_in_with_a_code_alone(
    client: Client, core: Core, make_account: Callable[..., Awaitable[Account]]
) -> None:
    acct = await make_account()
    sent = await client.post("/api/v1/auth/codes", json={"phone": acct.phone, "purpose": "login"})
    assert sent.status == 202
    code = last_code(core)
    wrong = "000000" if code != "000000" else "111111"
    bad = await client.post("/api/v1/auth/login", json={"phone": acct.phone, "code": wrong})
    assert bad.status == 422
    assert (await bad.json())["error"]["code"] == "code_invalid"
    ok = await client.post("/api/v1/auth/login", json={"phone": acct.phone, "code": code})
    assert ok.status == 200, await ok.text()
    tokens = await ok.json()
    me = await client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert (await me.json())["id"] == str(acct.id)
    # Single use.
    reused = await client.post("/api/v1/auth/login", json={"phone": acct.phone, "code": code})
    assert reused.status == 422
    assert (await reused.json())["error"]["code"] == "code_invalid"


async def test_log_in_with_a_code_refusals(
    client: Client, make_account: Callable[..., Awaitable[Account]]
) -> None:
    acct = await make_account()
    # No code was asked for.
    absent = await client.post("/api/v1/auth/login", json={"phone": acct.phone, "code": "123456"})
    assert absent.status == 422
    assert (await absent.json())["error"]["code"] == "code_invalid"
    # A phone without an account: sign up instead.
    nobody = await client.post(
        "/api/v1/auth/login", json={"phone": "13700137000", "code": "123456"}
    )
    assert nobody.status == 404
    error = (await nobody.json())["error"]
    assert error["code"] == "account_not_found"
    assert "sign up" in error["message"]
    # Neither password nor code.
    neither = await client.post("/api/v1/auth/login", json={"phone": acct.phone})
    assert neither.status == 422
    assert (await neither.json())["error"]["code"] == "invalid_input"


async def test_an_expired_code_does_not_log_in(
    settings: Settings,
    clock: ManualClock,
    aiohttp_server: Callable[..., Awaitable[TestServer]],
) -> None:
    quick = dataclasses.replace(settings, verification_code_ttl_s=1)
    async with rest_app(quick, clock, aiohttp_server) as rest:
        phone = "+8613900139003"
        await rest.core.identity.create_user(phone, PASSWORD, "业主", None)
        assert (await rest.post("/auth/codes", {"phone": phone, "purpose": "login"})).status == 202
        code = last_code(rest.core)
        # The code lives in Redis with its TTL; wait until Redis has let it go.
        redis, key = rest.core.redis, quick.key("vcode", "login", phone)

        async def gone() -> bool:
            return await redis.exists(key) == 0

        await until(gone, within=5)
        resp = await rest.post("/auth/login", {"phone": phone, "code": code})
        assert resp.status == 422
        assert await error_code(resp) == "code_invalid"


async def test_wrong_codes_count_against_the_log_in_budgets(
    settings: Settings,
    clock: ManualClock,
    aiohttp_server: Callable[..., Awaitable[TestServer]],
) -> None:
    tight = dataclasses.replace(settings, limit_login_failures_per_phone_address="2/15minute")
    async with rest_app(tight, clock, aiohttp_server) as rest:
        phone = "+8613900139004"
        await rest.core.identity.create_user(phone, PASSWORD, "业主", None)
        await rest.post("/auth/codes", {"phone": phone, "purpose": "login"})
        code = last_code(rest.core)
        wrong = "000000" if code != "000000" else "111111"
        statuses = []
        for _ in range(3):
            resp = await rest.post("/auth/login", {"phone": phone, "code": wrong})
            statuses.append(resp.status)
        assert statuses == [422, 422, 429]
        # Refused before the code is looked at: the right one is refused too, from here.
        right = await rest.post("/auth/login", {"phone": phone, "code": code})
        assert right.status == 429


# --- the real-time handshake by cookie --------------------------------------------------------------

APP_ORIGIN = "http://127.0.0.1:8080"  # REST's default port: the test settings allow it


@pytest.fixture
async def rt(settings: Settings, core: Core, node_server: Any) -> tuple[str, RtNode]:
    server: NodeServer = await node_server(create_rt_app(settings, core=core))
    return f"http://127.0.0.1:{server.port}", server.app[RT_NODE]


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        yield session


def _headers(origin: str | None, cookie: str | None) -> dict[str, str]:
    headers = {}
    if origin is not None:
        headers["Origin"] = origin
    if cookie is not None:
        headers["Cookie"] = f"theme=dark; lago_access={cookie}"
    return headers


async def _ws(
    http: aiohttp.ClientSession, url: str, origin: str | None, cookie: str | None
) -> aiohttp.ClientWebSocketResponse:
    ws = await http.ws_connect(
        f"{url}/socket.io/?EIO=4&transport=websocket", headers=_headers(origin, cookie)
    )
    opened = await ws.receive_str(timeout=5)
    assert opened.startswith("0{"), opened
    return ws


async def _answer(ws: aiohttp.ClientWebSocketResponse, prefix: str) -> str:
    """The next frame starting with ``prefix``; pings are answered."""
    async with asyncio.timeout(5):
        while True:
            text = await ws.receive_str()
            if text == "2":
                await ws.send_str("3")
            elif text.startswith(prefix):
                return text


async def test_the_socket_handshake_takes_the_session_cookie(
    rest: Rest,
    rt: tuple[str, RtNode],
    http: aiohttp.ClientSession,
    make_account: Callable[..., Awaitable[Account]],
) -> None:
    url, node = rt
    acct = await make_account()
    _, cookies = await rest.log_in(acct.phone)
    ws = await _ws(http, url, APP_ORIGIN, cookies["lago_access"])
    await ws.send_str("40")  # no auth at all: the cookie stands in
    connected = await _answer(ws, "4")
    assert connected.startswith("40{"), connected
    await ws.send_str('421["whoami"]')
    whoami = orjson.loads((await _answer(ws, "431"))[3:])[0]
    assert whoami["user_id"] == str(acct.id)
    # Once a namespace has connected the connection keeps no token (memory per connection).
    assert all(conn.cookie is None for conn in node.server.hub.connections.values())

    # Log-out (by cookie, from the app) ends the socket too, as for a token.
    out = await rest.post("/auth/logout", cookies={"lago_access": cookies["lago_access"]})
    assert out.status == 204
    assert (await _answer(ws, "41")) == "41"
    await ws.close()


async def test_the_socket_refuses_a_cookie_without_an_allowed_origin(
    rt: tuple[str, RtNode],
    http: aiohttp.ClientSession,
    make_account: Callable[..., Awaitable[Account]],
) -> None:
    url, _ = rt
    acct = await make_account()
    # A cookie without an Origin (no browser page sent it), and an Origin without a cookie.
    for origin, cookie in ((None, acct.access_token), (APP_ORIGIN, None)):
        ws = await _ws(http, url, origin, cookie)
        await ws.send_str("40")
        refused = await _answer(ws, "4")
        assert refused.startswith("44"), refused
        assert orjson.loads(refused[2:])["data"]["code"] == "unauthenticated"
        await ws.close()
    # A page of a foreign origin is refused at the handshake, cookie or not.
    with pytest.raises(aiohttp.WSServerHandshakeError) as foreign:
        await _ws(http, url, "https://evil.example", acct.access_token)
    assert foreign.value.status == 400
    # A token in auth still wins over a cookie (here, a dead one).
    ws = await _ws(http, url, APP_ORIGIN, "not-a-token")
    await ws.send_str("40" + orjson.dumps({"token": acct.access_token}).decode())
    assert (await _answer(ws, "4")).startswith("40{")
    await ws.close()


async def test_a_wildcard_origin_does_not_admit_cookies(
    settings: Settings,
    core: Core,
    node_server: Any,
    http: aiohttp.ClientSession,
    make_account: Callable[..., Awaitable[Account]],
) -> None:
    anyone = dataclasses.replace(settings, allowed_origins=("*",))
    server: NodeServer = await node_server(create_rt_app(anyone, core=core))
    acct = await make_account()
    ws = await _ws(
        http, f"http://127.0.0.1:{server.port}", "https://evil.example", acct.access_token
    )
    await ws.send_str("40")
    refused = await _answer(ws, "4")
    assert orjson.loads(refused[2:])["data"]["code"] == "unauthenticated"
    await ws.close()


async def test_long_polling_handshake_cookie_serves_namespaces_sent_together(
    rt: tuple[str, RtNode],
    http: aiohttp.ClientSession,
    make_account: Callable[..., Awaitable[Account]],
) -> None:
    url, node = rt
    acct = await make_account()
    headers = _headers(APP_ORIGIN, acct.access_token)
    base = f"{url}/socket.io/?EIO=4&transport=polling"
    async with http.get(base, headers=headers) as resp:
        assert resp.status == 200
        assert resp.headers["Access-Control-Allow-Credentials"] == "true"
        sid = orjson.loads((await resp.text())[1:])["sid"]
    polled = f"{base}&sid={sid}"
    browser = {"Origin": APP_ORIGIN}  # later requests: the cookie is not needed again

    async def post(body: str) -> None:
        async with http.post(polled, data=body, headers=browser) as resp:
            assert resp.status == 200

    async def poll_until(count: int) -> list[str]:
        seen: list[str] = []
        async with asyncio.timeout(5):
            while len(seen) < count:
                async with http.get(polled, headers=browser) as resp:
                    seen += [p for p in (await resp.text()).split("\x1e") if p not in ("2", "6")]
        return seen

    # Two namespaces in one request, as socket.io-client sends them when multiplexed.
    await post("40\x1e40/support,")
    answers = await poll_until(2)
    assert sorted(a[:4] for a in answers) == ["40/s", '40{"'], answers
    conn = node.server.hub.connections[sid]
    assert conn.cookie is None
    # A namespace connected later on the same connection needs a token (or a new connection).
    await post("41/support,")
    await post("40/support,")
    (refused,) = await poll_until(1)
    assert refused.startswith("44/support,"), refused
    assert orjson.loads(refused[len("44/support,") :])["data"]["code"] == "unauthenticated"
