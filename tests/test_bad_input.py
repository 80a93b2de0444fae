"""Every entry point answers bad input with the error envelope, the right status, and no writes."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any
from urllib.parse import urlencode

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pydantic import ValidationError

from lago_core.container import Core
from lago_core.security.roles import PlatformRole

from . import test_listings
from .test_listings import SALE, image_bytes, publish, stored_files

world = test_listings.world  # the fixture, shared

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


# --- text and integers PostgreSQL cannot store (issue 16, items 1 and 11) ----------------------

NUL = "a\x00b"
# An escaped lone surrogate: valid JSON grammar, but no UTF-8 encoding exists for it.
LONE_SURROGATE_JSON = b'"a\\ud800b"'


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _is_string(doc: dict[str, Any], schema: dict[str, Any]) -> bool:
    schema = _resolve(doc, schema)
    if schema.get("type") == "string" and "enum" not in schema and "format" not in schema:
        return True
    return any(_is_string(doc, s) for s in schema.get("anyOf", []))


def _example(doc: dict[str, Any], schema: dict[str, Any]) -> Any:
    """A value the parameter's schema accepts, to get past it to the body."""
    schema = _resolve(doc, schema)
    if "anyOf" in schema:
        return _example(doc, next(s for s in schema["anyOf"] if s.get("type") != "null"))
    if "enum" in schema:
        return schema["enum"][0]
    if schema.get("format") == "uuid":
        return str(uuid.uuid4())
    if schema.get("type") == "integer":
        return max(1, schema.get("minimum", 1))
    return "x"


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
    ]


def _call_target(doc: dict[str, Any], path: str, op: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The URL with valid path and required query parameters, and the required headers."""
    query: dict[str, str] = {}
    headers: dict[str, str] = {}
    for param in op.get("parameters", []):
        value = str(_example(doc, param["schema"]))
        if param["in"] == "path":
            path = path.replace("{" + param["name"] + "}", value)
        elif param["in"] == "query" and param["required"]:
            query[param["name"]] = value
        elif param["in"] == "header" and param["required"]:
            headers[param["name"]] = f"key-{uuid.uuid4().hex}"
    return (f"{path}?{urlencode(query)}" if query else path), headers


# Two writes per string field of every JSON body, as one admin: past the write budget per account.
@pytest.mark.many_writes
async def test_every_json_body_refuses_unstorable_text(
    client: Client, core: Core, make_account: Any
) -> None:
    """Each string field of each JSON body, sent with NUL and with a lone surrogate: the
    endpoint answers 422 ``invalid_text`` naming the field, and stores nothing."""
    admin = await make_account(role=PlatformRole.ADMIN)
    doc = await (await client.get("/api/v1/openapi.json")).json()
    tried = 0
    for method, path, op in _operations(doc):
        content = op.get("requestBody", {}).get("content", {})
        if "application/json" not in content or "$ref" not in content["application/json"]["schema"]:
            continue
        body_schema = _resolve(doc, content["application/json"]["schema"])
        url, headers = _call_target(doc, path, op)
        for name, prop in body_schema.get("properties", {}).items():
            if not _is_string(doc, prop):
                continue
            for raw in (
                orjson.dumps({name: NUL}),
                b'{"' + name.encode() + b'": ' + LONE_SURROGATE_JSON + b"}",
            ):
                resp = await client.request(
                    method,
                    url,
                    data=raw,
                    headers={**admin.headers, **headers, "Content-Type": "application/json"},
                )
                where = f"{method} {path} {name}"
                assert resp.status == 422, (where, await resp.text())
                body = await resp.json()
                assert_envelope(body, "invalid_text")
                assert body["error"]["details"][0]["field"] == name, where
                tried += 1
    assert tried > 100  # the walk really covered the API
    assert await core.pool.fetchval("SELECT count(*) FROM communities") == 0


async def test_unstorable_query_and_path_values(client: Client, make_account: Any) -> None:
    user = await make_account()
    for url in (
        "/api/v1/listings?q=%00",
        "/api/v1/search?q=a%00b",
        "/api/v1/payments/webhooks/sand%00box",
    ):
        resp = (
            await client.get(url, headers=user.headers)
            if "webhooks" not in url
            else (await client.post(url, data=b"{}", headers={"Content-Type": "application/json"}))
        )
        assert 400 <= resp.status < 500, (url, resp.status, await resp.text())
        body = await resp.json()
        assert set(body) == {"error"}, url
    nul = await client.get("/api/v1/listings?q=%00", headers=user.headers)
    assert_envelope(await nul.json(), "invalid_text")


async def test_every_integer_query_parameter_is_bounded(client: Client, make_account: Any) -> None:
    """Beyond PostgreSQL's bigint, every integer query parameter is refused with 422."""
    admin = await make_account(role=PlatformRole.ADMIN)
    doc = await (await client.get("/api/v1/openapi.json")).json()
    tried = 0
    for method, path, op in _operations(doc):
        if method != "GET":
            continue
        url, headers = _call_target(doc, path, op)
        for param in op.get("parameters", []):
            schema = _resolve(doc, param["schema"])
            kinds = {s.get("type") for s in schema.get("anyOf", [schema])}
            if param["in"] != "query" or "integer" not in kinds:
                continue
            for value in (2**63, -(2**63) - 1, 10**30):
                sep = "&" if "?" in url else "?"
                resp = await client.get(
                    f"{url}{sep}{param['name']}={value}", headers={**admin.headers, **headers}
                )
                assert resp.status == 422, (path, param["name"], value, await resp.text())
                assert_envelope(await resp.json(), "invalid_input")
                tried += 1
    assert tried >= 10
    resp = await client.get(
        "/api/v1/listings?max_price_fen=9223372036854775808", headers=admin.headers
    )
    assert resp.status == 422


async def test_payload_models_refuse_unstorable_text_in_every_string_field() -> None:
    """Every socket payload model (all namespaces) refuses NUL and lone surrogates in each of
    its string fields, as invalid_text: the rule is the models' base, not per field."""
    import lago_rt.gateway.device
    import lago_rt.gateway.live_schemas
    import lago_rt.gateway.support  # noqa: F401  (their models register as subclasses)
    from lago_rt.gateway.schemas import Payload, payload_error

    def all_models(base: type[Payload]) -> list[type[Payload]]:
        found = []
        for sub in base.__subclasses__():
            found += [sub, *all_models(sub)]
        return found

    checked = 0
    for model in all_models(Payload):
        for name, info in model.model_fields.items():
            if "str" not in str(info.annotation):
                continue
            for bad in ("a\x00b", "a\ud800b"):
                with pytest.raises(ValidationError) as caught:
                    model.model_validate({name: bad})
                error = payload_error(caught.value)
                assert error.code == "invalid_text", (model, name)
                assert error.details[0]["field"] == name
                checked += 1
    assert checked >= 10


async def test_chat_send_refuses_nul(
    settings: Any, core: Core, node_server: Any, community: Any, clients: list[Any]
) -> None:
    """A message with U+0000 is refused at the socket: never acknowledged, never archived."""
    from lago_rt.app import RT_NODE, create_rt_app

    from .rt_client import ChannelClient

    server = await node_server(create_rt_app(settings, core=core))
    alice = community.residents[0]
    member = await ChannelClient(f"http://127.0.0.1:{server.port}", alice.access_token).connect()
    clients.append(member)
    assert (await member.join(community.id))["ok"]
    refused = await member.send(community.id, "坏\x00消息", client_msg_id="nul-1")
    assert refused["ok"] is False
    assert refused["error"]["code"] == "invalid_text"
    assert refused["error"]["details"][0]["field"] == "text"
    fine = await member.send(community.id, "好消息", client_msg_id="ok-1")
    assert fine["ok"], fine
    await server.app[RT_NODE].host.tick_all()  # archive now
    stored = await core.pool.fetch(
        "SELECT client_msg_id FROM channel_events WHERE client_msg_id IS NOT NULL"
    )
    assert [r["client_msg_id"] for r in stored] == ["ok-1"]


async def test_chat_send_refuses_an_escaped_lone_surrogate(
    settings: Any, core: Core, node_server: Any, community: Any
) -> None:
    """A lone surrogate arrives JSON-escaped (``\\ud800``; a client library cannot even encode
    it as UTF-8). orjson refuses it as it refuses broken JSON; the node reads it again as the
    standard library does (lago_rt/transport/json_codec.py), so the payload model refuses it as on
    every transport: ``invalid_text`` naming the field, and nothing is stored."""
    import orjson

    from lago_rt.app import RT_NODE, create_rt_app

    from .rt_client import RawMember

    server = await node_server(create_rt_app(settings, core=core))
    member = await RawMember.join(server.port, community.residents[0].access_token, community.id)
    try:
        member.send(
            b'427["chat:send",{"community_id":"' + community.id.encode()
            + b'","text":"\xe5\x9d\x8f\\ud800","client_msg_id":"bad-1"}]'
        )  # fmt: skip
        async with asyncio.timeout(5):
            while not (frame := await member.read_frame()).startswith(b"437"):
                pass
        (answer,) = orjson.loads(frame[3:])
        assert answer["ok"] is False
        assert answer["error"]["code"] == "invalid_text", answer
        assert [d["field"] for d in answer["error"]["details"]] == ["text"], answer
        await server.app[RT_NODE].host.tick_all()
        assert await core.pool.fetchval("SELECT count(*) FROM channel_events") == 0
    finally:
        member.close()


# --- multipart uploads with broken part headers (issue 16, item 11) ----------------------------


def _multipart(part_headers: bytes, data: bytes = b"x") -> tuple[bytes, str]:
    boundary = "lago-test-boundary"
    body = (
        b"--" + boundary.encode() + b"\r\n" + part_headers + b"\r\n\r\n" + data + b"\r\n"
        b"--" + boundary.encode() + b"--\r\n"
    )
    return body, f"multipart/form-data; boundary={boundary}"


BROKEN_PART_HEADERS = {
    "nul-in-filename": b'Content-Disposition: form-data; name="file"; filename="a\x00.png"',
    "nul-in-name": b'Content-Disposition: form-data; name="fi\x00le"; filename="a.png"',
    "control-in-type": b'Content-Disposition: form-data; name="file"\r\nContent-Type: image/\x01png',
    "bare-cr": b'Content-Disposition: form-data; name="file"; filename="a\rb.png"',
    "nul-in-header-name": b'Content-Disposition: form-data; name="file"\r\nX-\x00: 1',
    "no-colon": b'Content-Disposition: form-data; name="file"\r\ngarbage',
    "surrogate-utf8": b'Content-Disposition: form-data; name="file"; filename="\xed\xa0\x80.png"',
    "bad-encoded-filename": b"Content-Disposition: form-data; name=\"file\"; filename*=utf-8''%00.png",
}


@pytest.mark.parametrize("headers", BROKEN_PART_HEADERS.values(), ids=BROKEN_PART_HEADERS.keys())
async def test_broken_multipart_part_headers(
    client: Client, core: Core, world: dict[str, Any], headers: bytes
) -> None:
    """An image upload and a merchant logo whose part headers hold NUL or control characters:
    a 4xx envelope, never a 500, and nothing stored."""
    seller = world["resident_a"]
    listing = await publish(client, seller, SALE)
    targets = [
        ("POST", f"/api/v1/listings/{listing['id']}/images", seller),
        ("PUT", f"/api/v1/merchants/{world['merchant']}/logo", world["owner"]),
    ]
    for method, url, who in targets:
        body, content_type = _multipart(headers, image_bytes("PNG"))
        resp = await client.request(
            method, url, data=body, headers={**who.headers, "Content-Type": content_type}
        )
        assert 400 <= resp.status < 500, (url, resp.status, await resp.text())
        assert set(await resp.json()) == {"error"}
    assert await core.pool.fetchval("SELECT images FROM listings") == []
    assert stored_files(core) == []


# --- the OpenAPI document and the HTTP layer (issue 16, item 12) --------------------------------


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


async def test_every_reference_in_the_openapi_document_resolves(client: Client) -> None:
    doc = await (await client.get("/api/v1/openapi.json")).json()
    refs = set(_refs(doc))
    assert refs
    for ref in refs:
        assert ref.startswith("#/"), ref
        node: Any = doc
        for part in ref[2:].split("/"):
            assert isinstance(node, dict), f"{ref} does not resolve"
            assert part in node, f"{ref} does not resolve"
            node = node[part]
    assert "$defs" not in orjson.dumps(doc).decode()


async def test_required_headers_are_declared(client: Client, make_account: Any) -> None:
    """Every operation that refuses a request without Idempotency-Key declares the header."""
    user = await make_account()
    doc = await (await client.get("/api/v1/openapi.json")).json()
    declared = {
        (method, path)
        for method, path, op in _operations(doc)
        for p in op.get("parameters", [])
        if p["in"] == "header" and p["name"] == "Idempotency-Key" and p["required"]
    }
    assert declared == {
        ("POST", "/api/v1/payments"),
        ("POST", "/api/v1/payments/{payment_id}/refunds"),
        ("POST", "/api/v1/group-buys/{group_id}/pay"),
        ("POST", "/api/v1/points-products/{product_id}/redeem"),
        ("POST", "/api/v1/merchants/{merchant_id}/withdrawals"),
        ("POST", "/api/v1/subscriptions"),
        ("POST", "/api/v1/subscriptions/{subscription_id}/change"),
        ("POST", "/api/v1/swaps/{swap_id}/pay"),
        ("POST", "/api/v1/courses/{course_id}/enrol"),
    }
    for method, path in declared:
        url = re.sub(r"{[^}]+}", str(uuid.uuid4()), path)
        resp = await client.request(method, url, json={}, headers=user.headers)
        assert resp.status == 422, path
        assert_envelope(await resp.json(), "idempotency_key_required")


async def test_405_names_the_allowed_methods_on_every_route(client: Client) -> None:
    doc = await (await client.get("/api/v1/openapi.json")).json()
    for path, item in doc["paths"].items():
        allowed = {m.upper() for m in item}
        wrong = next(m for m in ("PATCH", "PUT", "DELETE", "POST", "GET") if m not in allowed)
        url = re.sub(r"{[^}]+}", str(uuid.uuid4()), path)
        resp = await client.request(wrong, url)
        assert resp.status == 405, (path, wrong)
        assert_envelope(await resp.json(), "method_not_allowed")
        assert set(resp.headers["Allow"].split(",")) >= allowed, path


async def _raw_exchange(port: int, request: bytes) -> tuple[str, dict[str, str], bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        async with asyncio.timeout(10):
            head = await reader.readuntil(b"\r\n\r\n")
            status, *lines = head.decode("latin-1").split("\r\n")
            headers = {
                k.strip().lower(): v.strip()
                for k, _, v in (line.partition(":") for line in lines if line)
            }
            body = await reader.readexactly(int(headers["content-length"]))
    finally:
        writer.close()
    return status, headers, body


async def test_parser_errors_are_enveloped(settings: Any, core: Core) -> None:
    """A request line or header aiohttp's parser refuses is answered in the envelope, as JSON,
    by the runner the REST process serves with (lago_rest.server.RestRunner)."""
    from lago_rest.app import create_app
    from lago_rest.server import RestRunner

    runner = RestRunner(create_app(settings, core=core), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        cases = {
            "long request line": b"GET /" + b"a" * 10_240 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
            "long header": b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 10_240 + b"\r\n\r\n",
            "bad header": b"GET / HTTP/1.1\r\nHost: x\r\nBad\x00Name: 1\r\n\r\n",
            "bad method": b"G@T / HTTP/1.1\r\nHost: x\r\n\r\n",
        }
        for name, request in cases.items():
            status, headers, body = await _raw_exchange(port, request)
            code = int(status.split()[1])
            assert 400 <= code < 500, (name, status)
            assert headers["content-type"].startswith("application/json"), (name, headers)
            assert headers["x-content-type-options"] == "nosniff"
            envelope = orjson.loads(body)
            assert set(envelope) == {"error"}, name
            assert set(envelope["error"]) == {"code", "message", "details"}
        # A good request on the same runner is served as usual.
        status, _, _ = await _raw_exchange(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert " 200 " in status
    finally:
        await runner.cleanup()


async def test_every_response_says_nosniff(client: Client) -> None:
    for resp in (
        await client.get("/healthz"),
        await client.get("/api/v1/openapi.json"),
        await client.get("/api/v1/nope"),
        await client.get("/api/v1/me"),
        await client.delete("/api/v1/auth/login"),
    ):
        assert resp.headers["X-Content-Type-Options"] == "nosniff", resp.url
