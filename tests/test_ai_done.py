"""The issue's "done when", end to end on both engines: a resident asks the customer-service agent
about their rental deposit and gets the real figure, asks for a human and is taken over by a
customer-service account (in real time), searches in natural Chinese and gets the right listings,
and sees recommendations with reasons — with no model endpoint, and against the local
OpenAI-compatible server."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from lago_core.container import Core
from lago_core.push import Pusher
from lago_core.security.roles import PlatformRole
from lago_core.settings import Settings
from lago_rt.app import create_rt_app

from .ai_support import INVENTED, MODEL, ScriptedModel, scripted_model, use_engine
from .conftest import Account, CommunityWorld
from .node_server import NodeServer
from .rt_client import ChannelClient
from .test_orders import call, listing, merchant_of, order, pay_order
from .test_payments import run_worker, webhook_target
from .test_push import push_until_received

Client = TestClient[Any, Any]
__all__ = ["scripted_model", "webhook_target"]  # fixtures, re-exported so pytest finds them


async def conversation(client: Client, account: Account, cid: str) -> dict[str, Any]:
    status, body = await call(client, account, "GET", f"/support/conversations/{cid}")
    assert status == 200, body
    return dict(body)


async def say(
    client: Client, core: Core, settings: Settings, account: Account, cid: str, text: str
) -> list[dict[str, Any]]:
    """Post a message, let the worker answer it, and return the conversation's messages."""
    status, message = await call(
        client, account, "POST", f"/support/conversations/{cid}/messages", {"text": text}
    )
    assert status == 201, message
    await run_worker(settings, core)
    return list((await conversation(client, account, cid))["messages"])


@pytest.mark.parametrize("engine", ["local", "openai"])
async def test_done_when(
    engine: str,
    # The Core first: fixtures are torn down in reverse, so the real-time node this test starts
    # on `node_server` stops before its Core closes.
    core: Core,
    scripted_model: ScriptedModel,
    approve_merchant: Any,
    client: Client,
    settings: Settings,
    community: CommunityWorld,
    make_account: Any,
    node_server: Any,
    clients: list[ChannelClient],
    webhook_target: None,
) -> None:
    await use_engine(core, engine, scripted_model)
    renter, neighbour, other = community.residents
    service: Account = await make_account("客服小美", PlatformRole.CUSTOMER_SERVICE)
    second_service: Account = await make_account("客服小王", PlatformRole.CUSTOMER_SERVICE)

    # A merchant rents out a Switch with a ¥300 deposit; the resident rents it for two days.
    owner = await make_account("租赁店主")
    merchant = await merchant_of(core, approve_merchant, owner)
    await core.merchants.bind_community(_admin(community), merchant, uuid.UUID(community.id))
    switch = await listing(
        client,
        owner,
        title="任天堂 Switch OLED 出租",
        kind="rent",
        category="game_console",
        brand="Nintendo",
        price_fen=None,
        rent_per_day_fen=3_000,
        deposit_fen=30_000,
        merchant_id=str(merchant),
    )
    placed = await order(client, renter, switch["id"], days=2, fulfilment="self_pickup")
    await pay_order(client, core, settings, renter, placed)

    # Real time: the resident on "/", customer service on "/support".
    rt: NodeServer = await node_server(create_rt_app(settings, core=core))
    url = f"http://127.0.0.1:{rt.port}"
    resident_socket = ChannelClient(url, renter.access_token)
    resident_socket.on_push("support:message")
    agent_socket = ChannelClient(url, service.access_token)
    agent_socket.on_push("support:queued", namespace="/support")
    agent_socket.on_push("support:message", namespace="/support")
    clients.extend([resident_socket, agent_socket])
    await resident_socket.connect()
    await agent_socket.connect(namespaces=["/support"])
    pusher = Pusher(settings)
    try:
        # The node's Redis listener starts asynchronously: wait until a push gets through.
        await push_until_received(
            resident_socket, lambda: pusher.to_user(renter.id, "support:message", {"warmup": 1})
        )
        await push_until_received(
            agent_socket,
            lambda: pusher.to_room(
                "support:agents", "support:queued", {"warmup": 1}, namespace="/support"
            ),
        )
    finally:
        await pusher.close()
    resident_socket.pushes.clear()
    agent_socket.pushes.clear()

    # 1. The deposit: the real figure, from the database.
    status, started = await call(
        client,
        renter,
        "POST",
        "/support/conversations",
        {"text": "我租的Switch押金现在是什么情况？"},
    )
    assert status == 201, started
    cid = started["conversation"]["id"]
    await run_worker(settings, core)
    messages = (await conversation(client, renter, cid))["messages"]
    reply = messages[-1]
    assert reply["role"] == "assistant"
    assert "¥300.00" in reply["body"]
    assert "平台托管中" in reply["body"]
    assert reply["data"]["tools"] == ["deposit_status"]
    assert reply["data"]["engine"] == engine
    # Whatever the model invented about the deposit is not shown.
    assert "999" not in reply["body"]
    await resident_socket.wait_until(
        lambda: any(p[1]["message"]["id"] == reply["id"] for p in resident_socket.pushes)
    )
    if engine == "openai":
        # One model call a turn: it proposes, the agent answers from the records.
        sent = scripted_model.requests[-1]
        assert sent["model"] == MODEL
        assert {t["function"]["name"] for t in sent["tools"]} >= {
            "deposit_status",
            "request_refund",
        }
        assert scripted_model.headers[-1]["Authorization"] == "Bearer sk-test-0123456789"
        assert INVENTED not in reply["body"]

    # Every tool call is kept for audit, for customer service only.
    status, _ = await call(client, renter, "GET", f"/support/conversations/{cid}/tool-calls")
    assert status == 403
    status, audit = await call(client, service, "GET", f"/support/conversations/{cid}/tool-calls")
    assert status == 200
    assert [(a["tool"], a["ok"], a["engine"]) for a in audit] == [("deposit_status", True, engine)]
    assert audit[0]["result"]["deposits"][0]["deposit_fen"] == 30_000
    # Another resident sees neither the conversation nor its audit.
    status, _ = await call(client, other, "GET", f"/support/conversations/{cid}")
    assert status == 404

    # 2. Ask for a human: queued, pushed to customer service, taken over.
    messages = await say(client, core, settings, renter, cid, "我要转人工客服")
    assert (await conversation(client, renter, cid))["conversation"]["status"] == "queued"
    assert "转接人工" in messages[-1]["body"]
    await agent_socket.wait_until(
        lambda: any(
            e == "support:queued" and p["conversation_id"] == cid for e, p in agent_socket.pushes
        )
    )
    status, queue = await call(client, service, "GET", "/support/queue")
    assert status == 200
    assert [c["id"] for c in queue] == [cid]
    status, _ = await call(client, renter, "GET", "/support/queue")
    assert status == 403
    status, taken = await call(client, service, "POST", f"/support/conversations/{cid}/take")
    assert (status, taken["status"], taken["agent_id"]) == (200, "human", str(service.id))
    status, body = await call(client, second_service, "POST", f"/support/conversations/{cid}/take")
    assert (status, body["error"]["code"]) == (409, "already_taken")

    # From now on the agent is silent; the human answers, in real time.
    before = len(messages)
    messages = await say(client, core, settings, renter, cid, "押金什么时候退？")
    assert len(messages) == before + 2  # the take-over note and the resident's message, no reply
    assert messages[-1]["role"] == "user"
    await agent_socket.wait_until(
        lambda: any(e == "support:message" for e, _ in agent_socket.pushes)
    )
    status, _ = await call(
        client, second_service, "POST", f"/support/conversations/{cid}/messages", {"text": "hi"}
    )
    assert status == 409
    status, answer = await call(
        client,
        service,
        "POST",
        f"/support/conversations/{cid}/messages",
        {"text": "归还验机后当天退回押金"},
    )
    assert (status, answer["role"]) == (201, "agent")
    await resident_socket.wait_until(
        lambda: any(p[1]["message"]["role"] == "agent" for p in resident_socket.pushes)
    )

    # 3. Search in natural Chinese.
    await listing(client, neighbour, title="乐高 小颗粒 城市警察局", brand="LEGO", price_fen=8_000)
    await listing(client, neighbour, title="乐高 千年隼 75192", brand="LEGO", price_fen=450_000)
    await listing(client, neighbour, title="毛绒小熊", category="plush", price_fen=3_000)
    await listing(
        client,
        neighbour,
        title="NS 续航版 周末可租",
        category="game_console",
        brand="任天堂",
        kind="rent",
        price_fen=None,
        rent_per_day_fen=2_000,
        deposit_fen=50_000,
    )
    await listing(client, neighbour, title="PS5 光驱版", category="game_console", price_fen=280_000)
    status, found = await call(client, renter, "GET", "/search?q=我想租个 Switch 一个周末")
    assert status == 200, found
    assert found["engine"] == engine
    assert (found["intent"]["intent"], found["intent"]["duration_days"]) == ("rent", 2)
    assert found["intent"]["brand"] == "Nintendo"
    # The merchant's Switch is rented out; the neighbour's (called NS by its seller) is found.
    assert [i["listing"]["title"] for i in found["items"]] == ["NS 续航版 周末可租"]
    status, found = await call(client, other, "GET", "/search?q=小区里有没有乐高，100块以内")
    assert status == 200
    assert found["intent"]["scope"] == "community"
    assert found["intent"]["price_max_fen"] == 10_000
    assert [i["listing"]["title"] for i in found["items"]] == ["乐高 小颗粒 城市警察局"]
    assert found["items"][0]["reasons"]

    # 4. Recommendations with reasons.
    status, recs = await call(client, other, "GET", "/recommendations")
    assert status == 200
    titles = [r["listing"]["title"] for r in recs["items"]]
    assert set(titles) == {
        "乐高 小颗粒 城市警察局",
        "乐高 千年隼 75192",
        "毛绒小熊",
        "NS 续航版 周末可租",
        "PS5 光驱版",
    }
    assert all(r["reasons"] for r in recs["items"])
    assert all(r["reasons"][0]["code"] == "own_community" for r in recs["items"])
    # The resident searched for LEGO: it now ranks first and says so.
    assert recs["items"][0]["listing"]["brand"] == "LEGO"
    assert any(x["code"] == "history" for x in recs["items"][0]["reasons"])


def _admin(world: CommunityWorld) -> Any:
    from lago_core.security.roles import Principal

    return Principal(world.admin.id, uuid.uuid4(), PlatformRole.ADMIN)
