"""The REST process serves the built web app: deep links, cached assets, gzip, the CSP, and the
API and probes untouched by the app's fallback route."""

from __future__ import annotations

import gzip
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from lago_core.container import Core
from lago_core.settings import Settings
from lago_rest.app import create_app

INDEX = "<!doctype html><html><body><div id=root></div><script type=module src=/assets/app-1.js></script></body></html>"


def _build(dist: Path) -> None:
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text(INDEX)
    script = b"console.log('app');" * 50
    (dist / "assets" / "app-1.js").write_bytes(script)
    (dist / "assets" / "app-1.js.gz").write_bytes(gzip.compress(script))
    (dist / "robots.txt").write_text("User-agent: *\n")


async def _client(
    settings: Settings, core: Core, aiohttp_client: Any, dist: Path, **changes: Any
) -> TestClient[Any, Any]:
    app = create_app(replace(settings, web_dist=dist, **changes), core=core)
    client: TestClient[Any, Any] = await aiohttp_client(app)
    return client


async def test_every_app_path_answers_the_page_with_its_policy(
    settings: Settings, core: Core, aiohttp_client: Any, tmp_path: Path
) -> None:
    _build(tmp_path / "dist")
    client = await _client(settings, core, aiohttp_client, tmp_path / "dist", rt_port=9123)
    for path in (
        "/",
        "/login",
        "/merchant/orders",
        "/listings/0b7c2c52-1111-4a55-9d3a-1b1b1b1b1b1b",
    ):
        resp = await client.get(path)
        assert resp.status == 200, path
        assert await resp.text() == INDEX
        assert resp.headers["Cache-Control"] == "no-cache"
        policy = resp.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy
        # The socket lives on the real-time node: the page may connect there and nowhere else.
        assert "connect-src 'self' http://127.0.0.1:9123 ws://127.0.0.1:9123" in policy
    robots = await client.get("/robots.txt")
    assert (robots.status, await robots.text()) == (200, "User-agent: *\n")


async def test_assets_are_cached_for_good_and_sent_compressed(
    settings: Settings, core: Core, aiohttp_client: Any, tmp_path: Path
) -> None:
    _build(tmp_path / "dist")
    client = await _client(settings, core, aiohttp_client, tmp_path / "dist")
    resp = await client.get("/assets/app-1.js", headers={"Accept-Encoding": "gzip"})
    assert resp.status == 200
    assert resp.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert resp.headers["Content-Encoding"] == "gzip"
    assert resp.headers["Content-Type"].startswith(("application/javascript", "text/javascript"))
    assert (await resp.read()).startswith(b"console.log")
    for missing in ("/assets/nope.js", "/assets/..%2findex.html", "/assets/%2e%2e%2frobots.txt"):
        assert (await client.get(missing)).status == 404, missing


async def test_the_api_and_probes_keep_their_own_answers(
    settings: Settings, core: Core, aiohttp_client: Any, tmp_path: Path
) -> None:
    _build(tmp_path / "dist")
    client = await _client(settings, core, aiohttp_client, tmp_path / "dist")
    missing = await client.get("/api/v1/no-such-thing")
    assert missing.status == 404
    assert (await missing.json())["error"]["code"] == "not_found"
    assert (await client.post("/api/v1/no-such-thing")).status == 404
    assert (await client.get("/healthz")).status == 200
    assert (await client.get("/api/v1/openapi.json")).status == 200
    # Writing to an app path is not a thing: the app is read-only.
    assert (await client.post("/merchant/orders")).status == 405


async def test_an_unbuilt_app_says_how_to_build_it(
    settings: Settings, core: Core, aiohttp_client: Any, tmp_path: Path
) -> None:
    client = await _client(settings, core, aiohttp_client, tmp_path / "nothing")
    resp = await client.get("/")
    assert resp.status == 503
    assert (await resp.json())["error"]["code"] == "web_not_built"


async def test_clients_learn_where_the_real_time_node_is(
    settings: Settings, core: Core, aiohttp_client: Any, tmp_path: Path
) -> None:
    client = await _client(settings, core, aiohttp_client, tmp_path, rt_port=9123)
    resp = await client.get("/api/v1/client-config")
    assert resp.status == 200
    assert (await resp.json())["rt_url"] == "http://127.0.0.1:9123"
    public = await _client(
        settings, core, aiohttp_client, tmp_path, public_rt_url="https://rt.lago.example/"
    )
    assert (await (await public.get("/api/v1/client-config")).json()) == {
        "rt_url": "https://rt.lago.example"
    }
