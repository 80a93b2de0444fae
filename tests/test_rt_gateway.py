"""The real-time node's door: a valid token and an allowed Origin, or no connection."""

from __future__ import annotations

from typing import Any

import pytest
import socketio

from lago_core.clock import ManualClock
from lago_core.container import Core
from lago_core.settings import Settings
from lago_rt.app import create_rt_app

from .conftest import Account
from .node_server import NodeServer


@pytest.fixture
async def rt_url(settings: Settings, core: Core, node_server: Any) -> str:
    server: NodeServer = await node_server(create_rt_app(settings, core=core))
    return f"http://127.0.0.1:{server.port}"


class Refused(Exception):
    pass


async def connect(url: str, token: str | None, origin: str | None = None) -> socketio.AsyncClient:
    """Connect over WebSocket; raise :class:`Refused` carrying the server's refusal payload."""
    client = socketio.AsyncClient(reconnection=False)
    refusals: list[Any] = []
    client.on("connect_error", handler=refusals.append)
    headers = {"Origin": origin} if origin else {}
    try:
        await client.connect(
            url,
            auth={"token": token} if token else None,
            transports=["websocket"],
            headers=headers,
            wait_timeout=5,
        )
    except socketio.exceptions.ConnectionError as exc:
        if client.eio.http is not None:  # a refused client keeps its HTTP session open
            await client.eio.http.close()
        raise Refused(refusals[0] if refusals else str(exc)) from None
    return client


async def test_connect_with_token(rt_url: str, make_account: Any) -> None:
    user: Account = await make_account()
    client = await connect(rt_url, user.access_token, origin="http://localhost:3000")
    try:
        reply = await client.call("whoami", timeout=5)
        assert reply["user_id"] == str(user.id)
    finally:
        await client.disconnect()


async def test_refused_without_token_or_with_expired_one(
    rt_url: str, make_account: Any, clock: ManualClock
) -> None:
    with pytest.raises(Refused) as missing:
        await connect(rt_url, None)
    assert missing.value.args[0]["data"]["code"] == "unauthenticated"
    user: Account = await make_account()
    clock.advance(3600)
    with pytest.raises(Refused) as expired:
        await connect(rt_url, user.access_token)
    assert expired.value.args[0]["data"]["code"] == "token_expired"


async def test_foreign_origin_refused(rt_url: str, make_account: Any) -> None:
    user: Account = await make_account()
    with pytest.raises(Refused):
        await connect(rt_url, user.access_token, origin="https://evil.example")


async def test_probes(rt_url: str, aiohttp_client: Any) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as http, http.get(f"{rt_url}/readyz") as resp:
        assert resp.status == 200
        assert (await resp.json())["checks"] == {"postgres": "ok", "redis": "ok"}
