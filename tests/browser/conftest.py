"""A real browser against real servers: Debian's Chromium driven by Playwright (headless).

Each test gets the REST process (which serves the built web app at ``/``) and a real-time node on
loopback ports, sharing the test's database, Redis key space and Core. Chromium comes from the
distribution (``scripts/ensure-chromium``, run by ``make test``) — never from a browser
installer — at ``LAGO_CHROMIUM`` (default ``/usr/bin/chromium``); one browser serves the whole
session, each test opens its own contexts (separate cookie jars: separate people).
"""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, async_playwright

from lago_core.container import Core
from lago_core.settings import Settings
from lago_core.sms import LogSmsProvider
from lago_rest.app import create_app
from lago_rt.app import create_rt_app

from ..conftest import Account
from ..node_server import NodeServer

CHROMIUM = os.environ.get("LAGO_CHROMIUM", "/usr/bin/chromium")
# What a headless Chromium needs on a closed, root-run CI machine: no sandbox (root), no
# background calls to Google's hosts, and a fake camera and microphone that need no permission
# prompt (the live-stream tests publish from it).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]
AXE = Path(__file__).resolve().parents[2] / "web" / "node_modules" / "axe-core" / "axe.min.js"


def _have_chromium() -> bool:
    return Path(CHROMIUM).exists()


@pytest.fixture(scope="session")
async def chromium() -> AsyncIterator[Browser]:
    if not _have_chromium():
        pytest.fail(f"no Chromium at {CHROMIUM}: run `make browser` (scripts/ensure-chromium)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


@dataclass
class WebStack:
    url: str
    rt_url: str
    settings: Settings
    core: Core
    rest: TestServer
    rt: TestServer


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
async def web(settings: Settings, core: Core, aiohttp_server: Any, node_server: Any) -> WebStack:
    """The REST process (serving the app) and a real-time node that allows the app's origin."""
    if not (settings.web_dist / "index.html").is_file():
        pytest.fail(f"the web app is not built in {settings.web_dist}: run `make web`")
    # The REST port is chosen first: the real-time node must know the app's origin.
    rest_port = _free_port()
    origin = f"http://127.0.0.1:{rest_port}"
    shared = replace(settings, rest_port=rest_port, allowed_origins=(origin,))
    rt: NodeServer = await node_server(create_rt_app(shared, core=core))
    assert rt.port is not None
    rt_url = f"http://127.0.0.1:{rt.port}"
    rest_settings = replace(shared, public_rt_url=rt_url, rt_port=rt.port)
    rest: TestServer = await aiohttp_server(create_app(rest_settings, core=core), port=rest_port)
    return WebStack(origin, rt_url, rest_settings, core, rest, rt)


@pytest.fixture
async def new_context(
    chromium: Browser, web: WebStack
) -> AsyncIterator[Callable[..., Awaitable[BrowserContext]]]:
    """A browser context (one person's cookie jar) on the app; ``mobile`` gives a phone viewport."""
    made: list[BrowserContext] = []

    async def make(mobile: bool = True) -> BrowserContext:
        viewport: ViewportSize = (
            {"width": 390, "height": 844} if mobile else {"width": 1366, "height": 900}
        )
        context = await chromium.new_context(
            base_url=web.url, viewport=viewport, locale="zh-CN", is_mobile=mobile, has_touch=mobile
        )
        context.set_default_timeout(10_000)
        made.append(context)
        return context

    yield make
    for context in made:
        await context.close()


async def signed_in_page(
    new_context: Callable[..., Awaitable[BrowserContext]], account: Account, mobile: bool = True
) -> Page:
    """A page whose context holds ``account``'s session cookies, logged in by the page's own
    ``fetch`` as the log-in screen does (so the browser sends the Origin the CSRF check wants)."""
    context = await new_context(mobile=mobile)
    page = await context.new_page()
    # A page of the origin where the app does not run: the app's own first session check (a
    # refresh without cookies, answered by clearing them) would race the log-in.
    await page.goto("/api/v1/client-config")
    status = await page.evaluate(
        """async ([phone, password]) => (await fetch("/api/v1/auth/login", {
            method: "POST",
            headers: {"Content-Type": "application/json", "X-Lago-Session": "cookie"},
            body: JSON.stringify({phone, password}),
        })).status""",
        [account.phone, account.password],
    )
    assert status == 200, status
    return page


def last_sms_code(core: Core, phone: str) -> str:
    assert isinstance(core.sms, LogSmsProvider)
    for sent_to, code, *_ in reversed(core.sms.sent):
        if sent_to.endswith(phone[-8:]):
            return str(code)
    raise AssertionError(f"no SMS code was sent to {phone}")


async def serious_accessibility_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now."""
    # Evaluated over the DevTools protocol: the page's Content-Security-Policy (no inline or
    # foreign scripts) rightly refuses a <script> tag.
    if not await page.evaluate("typeof axe !== 'undefined'"):
        await page.evaluate(AXE.read_text() + "\n;undefined")
    result: dict[str, Any] = await page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


SCREENSHOTS = os.environ.get("LAGO_SCREENSHOTS", "")


async def screenshot(page: Page, name: str) -> None:
    """Save the page for docs/screenshots/ when LAGO_SCREENSHOTS names a directory (`make
    screenshots`); otherwise nothing, so a test run leaves the work tree as it was."""
    if SCREENSHOTS:
        await page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)
