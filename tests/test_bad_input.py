"""Every entry point answers bad input with the error envelope, the right status, and no writes."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from lago_core.container import Core
from lago_core.security.roles import PlatformRole

Client = TestClient[Any, Any]


def assert_envelope(body: Any, code: str) -> None:
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code, body


async def test_malformed_json(client: Client, core: Core) -> None:
    resp = await client.post(
        "/api/v1/auth/login", data=b'{"phone": ', headers={"Content-Type": "application/json"}
    )
    assert resp.status == 400
    assert_envelope(await resp.json(), "malformed_json")


async def test_wrong_content_type(client: Client) -> None:
    resp = await client.post(
        "/api/v1/auth/login", data="phone=1", headers={"Content-Type": "text/plain"}
    )
    assert resp.status == 415
    assert_envelope(await resp.json(), "unsupported_media_type")


async def test_non_object_body(client: Client) -> None:
    resp = await client.post("/api/v1/auth/login", json=["13800138000", "pw"])
    assert resp.status == 422
    assert_envelope(await resp.json(), "invalid_input")


async def test_unknown_fields_and_wrong_types(
    client: Client, core: Core, make_account: Any
) -> None:
    admin = await make_account(role=PlatformRole.ADMIN)
    extra = await client.post(
        "/api/v1/property-companies", json={"name": "物业", "is_admin": True}, headers=admin.headers
    )
    assert extra.status == 422
    body = await extra.json()
    assert_envelope(body, "invalid_input")
    assert body["error"]["details"][0]["field"] == "is_admin"
    typed = await client.post(
        "/api/v1/communities",
        json={"name": "x", "address": "y", "latitude": "north", "longitude": 2},
        headers=admin.headers,
    )
    assert typed.status == 422
    assert {d["field"] for d in (await typed.json())["error"]["details"]} == {"latitude"}
    out_of_range = await client.post(
        "/api/v1/communities",
        json={"name": "x", "address": "y", "latitude": 91, "longitude": 2},
        headers=admin.headers,
    )
    assert out_of_range.status == 422
    assert await core.pool.fetchval("SELECT count(*) FROM property_companies") == 0
    assert await core.pool.fetchval("SELECT count(*) FROM communities") == 0


async def test_bad_phone_numbers(client: Client) -> None:
    for phone in ("12345", "not-a-phone", "+86 123", "1380013800O"):
        resp = await client.post("/api/v1/auth/codes", json={"phone": phone})
        assert resp.status == 422, phone
        assert_envelope(await resp.json(), "invalid_phone")


async def test_oversized_body(client: Client, core: Core) -> None:
    import io

    big = b'{"phone": "13800138000", "password": "' + b"x" * core.settings.max_body_bytes + b'"}'
    resp = await client.post(
        "/api/v1/auth/login", data=io.BytesIO(big), headers={"Content-Type": "application/json"}
    )
    assert resp.status == 413
    assert_envelope(await resp.json(), "payload_too_large")


async def test_bad_path_and_query(client: Client, make_account: Any) -> None:
    user = await make_account()
    resp = await client.get("/api/v1/communities/not-a-uuid", headers=user.headers)
    assert resp.status == 422
    resp = await client.get("/api/v1/communities?limit=1000", headers=user.headers)
    assert resp.status == 422
    assert (await resp.json())["error"]["details"][0]["field"] == "limit"
    resp = await client.get("/api/v1/communities?cursor=%%%", headers=user.headers)
    assert resp.status == 422
    assert_envelope(await resp.json(), "invalid_cursor")
    # A cursor that decodes but holds the wrong kinds of values is refused the same way.
    from lago_rest.schemas import encode_cursor

    for url in (
        f"/api/v1/communities?cursor={encode_cursor('x', 'not-a-uuid')}",
        f"/api/v1/me/listings?cursor={encode_cursor('yesterday', 'x')}",
    ):
        resp = await client.get(url, headers=user.headers)
        assert resp.status == 422, url
        assert_envelope(await resp.json(), "invalid_cursor")


async def test_unauthenticated_and_unknown_routes(client: Client) -> None:
    resp = await client.get("/api/v1/me")
    assert resp.status == 401
    assert resp.headers["WWW-Authenticate"] == "Bearer"
    assert_envelope(await resp.json(), "unauthenticated")
    missing = await client.get("/api/v1/nope")
    assert missing.status == 404
    assert_envelope(await missing.json(), "not_found")
    wrong_method = await client.delete("/api/v1/auth/login")
    assert wrong_method.status == 405
    assert_envelope(await wrong_method.json(), "method_not_allowed")


async def test_request_id_is_echoed_or_made(client: Client) -> None:
    mine = await client.get("/healthz", headers={"X-Request-ID": "trace-123"})
    assert mine.headers["X-Request-ID"] == "trace-123"
    evil = await client.get("/healthz", headers={"X-Request-ID": "a b\tc"})
    assert evil.headers["X-Request-ID"] != "a b\tc"
