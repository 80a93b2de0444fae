"""Other processes push to users and merchants through Redis; customer service works the report queue."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import pytest
import socketio
from aiohttp.test_utils import TestClient, TestServer

from lago_core.container import Core
from lago_core.push import Pusher
from lago_core.security.roles import PlatformRole, Principal
from lago_core.settings import Settings
from lago_rt.app import RT_NODE, create_rt_app

from .conftest import Account, CommunityWorld
from .node_server import NodeServer
from .rt_client import ChannelClient


@pytest.fixture
async def rt_server(settings: Settings, core: Core, node_server: Any) -> TestServer:
    server: NodeServer = await node_server(create_rt_app(settings, core=core))
    return server


@pytest.fixture
def rt_url(rt_server: TestServer) -> str:
    return f"http://127.0.0.1:{rt_server.port}"


@pytest.fixture
async def pusher(settings: Settings) -> AsyncIterator[Pusher]:
    push = Pusher(settings)
    yield push
    await push.close()


async def push_until_received(client: ChannelClient, push: Any, count: int = 1) -> None:
    """Pub/sub delivers only to subscribers: push again until the node's listener is up."""
    for _ in range(20):
        await push()
        with contextlib.suppress(TimeoutError):
            await client.wait_until(lambda: len(client.pushes) >= count, within=0.25)
            return
    raise AssertionError("push never arrived")


async def test_merchant_staff_receive_order_pushes(
    rt_url: str, core: Core, make_account: Any, pusher: Pusher, clients: list[ChannelClient]
) -> None:
    owner: Account = await make_account("店主")
    merchant = await core.merchants.create(Principal(owner.id, uuid4()), "邻里玩具铺")
    client = ChannelClient(rt_url, owner.access_token)
    client.on_push("order:new", namespace="/merchant")
    clients.append(client)
    await client.connect(namespaces=["/merchant"])
    rooms = await client.call("merchant:rooms", namespace="/merchant")
    assert rooms == {"ok": True, "merchant_ids": [str(merchant["id"])]}

    async def push() -> None:
        await pusher.to_merchant(
            merchant["id"], "order:new", {"order_id": "o-1", "amount_fen": 4_500}
        )

    await push_until_received(client, push)
    assert client.pushes[0] == ("order:new", {"order_id": "o-1", "amount_fen": 4_500})


async def test_non_merchant_refused_on_merchant_namespace(
    rt_url: str, make_account: Any, clients: list[ChannelClient]
) -> None:
    resident: Account = await make_account()
    client = ChannelClient(rt_url, resident.access_token)
    clients.append(client)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(namespaces=["/merchant"])
    assert client.refusal["data"]["code"] == "not_merchant_staff"


async def test_push_to_a_user(
    rt_url: str, make_account: Any, pusher: Pusher, clients: list[ChannelClient]
) -> None:
    user: Account = await make_account()
    client = ChannelClient(rt_url, user.access_token)
    client.on_push("notice")
    clients.append(client)
    await client.connect()

    async def push() -> None:
        await pusher.to_user(user.id, "notice", {"text": "您的押金已退回"})

    await push_until_received(client, push)
    assert client.pushes[0] == ("notice", {"text": "您的押金已退回"})


async def test_customer_service_works_the_report_queue(
    rt_url: str,
    rt_server: TestServer,
    client: TestClient[Any, Any],
    community: CommunityWorld,
    make_account: Any,
    clients: list[ChannelClient],
) -> None:
    service: Account = await make_account("客服", PlatformRole.CUSTOMER_SERVICE)
    alice, bob, _ = community.residents
    ca = await ChannelClient(rt_url, alice.access_token).connect()
    cb = await ChannelClient(rt_url, bob.access_token).connect()
    clients += [ca, cb]
    await ca.join(community.id)
    await cb.join(community.id)
    sent = await ca.send(community.id, "加我微信买便宜货")
    report = await cb.call(
        "chat:report", {"community_id": community.id, "seq": sent["seq"], "reason": "广告"}
    )
    again = await cb.call(
        "chat:report", {"community_id": community.id, "seq": sent["seq"], "reason": "广告"}
    )
    assert report["report_id"] == again["report_id"]
    # The resident may not read the queue; customer service may, with the message text.
    assert (await client.get("/api/v1/moderation/reports", headers=bob.headers)).status == 403
    # Archive the message now (the node flushes every heartbeat) so the queue shows its text.
    await rt_server.app[RT_NODE].host.tick_all()
    page = await (await client.get("/api/v1/moderation/reports", headers=service.headers)).json()
    assert [r["id"] for r in page["items"]] == [report["report_id"]]
    assert page["items"][0]["reason"] == "广告"
    assert page["items"][0]["text"] == "加我微信买便宜货"
    assert page["items"][0]["author_id"] == str(alice.id)
    closed = await client.post(
        f"/api/v1/moderation/reports/{report['report_id']}/close",
        json={"status": "resolved"},
        headers=service.headers,
    )
    assert closed.status == 204
    left = await (await client.get("/api/v1/moderation/reports", headers=service.headers)).json()
    assert left["items"] == []


async def test_a_push_that_cannot_be_published_is_counted_and_raised(settings: Settings) -> None:
    """Callers go on without a lost push (they log it); the count is kept in one place."""
    from dataclasses import replace

    from prometheus_client import REGISTRY
    from redis.exceptions import ConnectionError as RedisConnectionError

    def failures() -> float:
        value = REGISTRY.get_sample_value("lago_push_failures_total", {"event": "probe:lost"})
        return value or 0.0

    before = failures()
    pusher = Pusher(replace(settings, redis_url="redis://127.0.0.1:1/0"))
    try:
        with pytest.raises(RedisConnectionError):
            await pusher.to_user(uuid4(), "probe:lost", {})
    finally:
        await pusher.close()
    assert failures() == before + 1
