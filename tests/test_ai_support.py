"""The customer-service agent's guardrails on both engines: refunds follow the order's rules and
need the resident's own confirmation, a resident only ever sees their own data, an agent unsure
twice hands over to a human and a failing model is stood in for by the rules, every answer is
given once, and a resident without group
buys is told so (tests/test_groupbuys.py asks about a real one)."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from lago_core.ai.intent import parse_intent
from lago_core.ai.support import fen, redact_amounts
from lago_core.container import Core
from lago_core.settings import Settings

from .ai_support import ScriptedModel, scripted_model, use_engine
from .conftest import Account, CommunityWorld
from .test_ai_done import conversation, say
from .test_orders import call, listing, order, pay_order
from .test_payments import run_worker, webhook_target

Client = TestClient[Any, Any]
__all__ = ["scripted_model", "webhook_target"]


async def start(client: Client, account: Account) -> str:
    status, body = await call(client, account, "POST", "/support/conversations", {})
    assert status == 201, body
    assert body["message"] is None
    return str(body["conversation"]["id"])


@pytest.mark.parametrize("engine", ["local", "openai"])
async def test_refund_needs_the_rules_and_the_residents_confirmation(
    engine: str,
    scripted_model: ScriptedModel,
    client: Client,
    core: Core,
    settings: Settings,
    community: CommunityWorld,
    webhook_target: None,
) -> None:
    await use_engine(core, engine, scripted_model)
    buyer, seller, _ = community.residents
    cid = await start(client, buyer)

    # Nothing refundable yet: an unpaid order is cancelled, not refunded.
    item = await listing(client, seller, title="乐高 城市系列 消防局", price_fen=45_000)
    placed = await order(client, buyer, item["id"])
    messages = await say(client, core, settings, buyer, cid, "我要退款")
    assert "只有已付款、尚未交付的订单可以申请退款" in messages[-1]["body"]
    assert "待付款" in messages[-1]["body"]

    await pay_order(client, core, settings, buyer, placed)
    messages = await say(client, core, settings, buyer, cid, "这个乐高我不想要了，退款")
    assert "¥450.00" in messages[-1]["body"]
    assert "确认退款" in messages[-1]["body"]
    _, now = await call(client, buyer, "GET", f"/orders/{placed['id']}")
    assert now["status"] == "paid"  # proposed, not done

    # Only the resident's own words confirm, in a message after the proposal — whatever the
    # engine proposes: the scripted model is made to propose a confirmation for anything.
    if engine == "openai":
        scripted_model.force_tool = ("confirm_pending", {})
        messages = await say(client, core, settings, buyer, cid, "随便")
        assert "操作尚未提交" in messages[-1]["body"]
        scripted_model.force_tool = None
    _, now = await call(client, buyer, "GET", f"/orders/{placed['id']}")
    assert now["status"] == "paid"
    detail = await conversation(client, buyer, cid)
    assert detail["conversation"]["pending_refund"]["order_id"] == placed["id"]
    assert messages[-1]["data"]["state"]["pending"]["action"] == "refund"

    messages = await say(client, core, settings, buyer, cid, "确认退款")
    assert "已提交退款申请" in messages[-1]["body"]
    _, now = await call(client, buyer, "GET", f"/orders/{placed['id']}")
    assert now["status"] == "refund_requested"
    # A second confirmation finds nothing pending.
    messages = await say(client, core, settings, buyer, cid, "确认")
    assert "没有需要您确认的操作" in messages[-1]["body"]
    assert (await conversation(client, buyer, cid))["conversation"]["pending_refund"] is None


async def test_a_resident_only_sees_their_own_orders(
    scripted_model: ScriptedModel,
    client: Client,
    core: Core,
    settings: Settings,
    community: CommunityWorld,
) -> None:
    """The model asks for someone else's order by id; the tool answers not found."""
    await use_engine(core, "openai", scripted_model)
    buyer, seller, snoop = community.residents
    item = await listing(client, seller, title="秘密礼物 芭比", category="doll", price_fen=9_900)
    theirs = await order(client, buyer, item["id"])
    cid = await start(client, snoop)
    messages = await say(client, core, settings, snoop, cid, f"查一下订单 {theirs['id']}")
    assert "秘密礼物" not in messages[-1]["body"]
    status, audit = await call(
        client, community.admin, "GET", f"/support/conversations/{cid}/tool-calls"
    )
    assert status == 200
    assert [(a["tool"], a["ok"], a["result"].get("error")) for a in audit] == [
        ("order_status", False, "not_found")
    ]


async def test_unsure_agent_hands_over_and_a_failing_model_falls_back_to_the_rules(
    scripted_model: ScriptedModel,
    client: Client,
    core: Core,
    settings: Settings,
    community: CommunityWorld,
) -> None:
    resident = community.residents[0]
    # A known topic is answered, however it is worded; two turns in a row the agent cannot
    # follow, and a human takes it.
    cid = await start(client, resident)
    messages = await say(client, core, settings, resident, cid, "你们平台的积分怎么兑换？")
    assert "积分商城" in messages[-1]["body"]
    messages = await say(client, core, settings, resident, cid, "嗯那个啥")
    assert "没太明白" in messages[-1]["body"]
    assert (await conversation(client, resident, cid))["conversation"]["status"] == "ai"
    messages = await say(client, core, settings, resident, cid, "就是那个东西")
    assert "转接人工" in messages[-1]["body"]
    detail = await conversation(client, resident, cid)
    assert (detail["conversation"]["status"], detail["conversation"]["handover_reason"]) == (
        "queued",
        "unsure",
    )
    # A greeting is answered, not handed over.
    cid = await start(client, resident)
    messages = await say(client, core, settings, resident, cid, "你好")
    assert "来购智能客服" in messages[-1]["body"]
    # The model endpoint is down: the local rules answer what they understand, no human needed.
    await use_engine(core, "openai", scripted_model)
    scripted_model.fail_next = 10
    cid = await start(client, resident)
    messages = await say(client, core, settings, resident, cid, "押金多少")
    assert (await conversation(client, resident, cid))["conversation"]["status"] == "ai"
    assert "您没有需要支付押金的租赁订单" in messages[-1]["body"]
    assert messages[-1]["data"]["engine"] == "local-fallback"


async def test_each_message_is_answered_once_and_group_buys_come_from_the_records(
    client: Client, core: Core, settings: Settings, community: CommunityWorld
) -> None:
    resident = community.residents[0]
    status, started = await call(
        client, resident, "POST", "/support/conversations", {"text": "我参加的团购成团了吗"}
    )
    assert status == 201
    cid = started["conversation"]["id"]
    await run_worker(settings, core)
    message_id = started["message"]["id"]
    assert await core.ai.support.answer(message_id) is None  # a rerun of the job: no second reply
    messages = (await conversation(client, resident, cid))["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert "您目前没有参加任何团购" in messages[-1]["body"]

    # Input is checked at the door; a closed conversation takes no more messages.
    status, body = await call(
        client, resident, "POST", f"/support/conversations/{cid}/messages", {"text": ""}
    )
    assert status == 422
    status, body = await call(
        client, resident, "POST", f"/support/conversations/{cid}/messages", {"text": "x", "y": 1}
    )
    assert status == 422
    status, closed = await call(client, resident, "POST", f"/support/conversations/{cid}/close")
    assert (status, closed["status"]) == (200, "closed")
    status, body = await call(
        client, resident, "POST", f"/support/conversations/{cid}/messages", {"text": "还在吗"}
    )
    assert (status, body["error"]["code"]) == (409, "conversation_closed")
    # Only customer service takes conversations over.
    status, body = await call(
        client, community.residents[1], "POST", f"/support/conversations/{cid}/take"
    )
    assert (status, body["error"]["code"]) == (403, "not_support")
    status, body = await call(client, resident, "POST", f"/support/conversations/{cid}/take")
    assert (status, body["error"]["code"]) == (403, "not_support")
    status, mine = await call(client, resident, "GET", "/support/conversations")
    assert [c["id"] for c in mine] == [cid]


def test_amounts_written_by_a_model_are_redacted() -> None:
    assert fen(30_000) == "¥300.00"
    assert fen(5) == "¥0.05"
    for text in ("押金是 999 元", "退您¥12.5", "一共300块", "押金三百元", "refund 20 RMB"):
        assert "[金额以下方数据为准]" in redact_amounts(text), text
    assert redact_amounts("订单已发货，3 天内送达") == "订单已发货，3 天内送达"
    assert parse_intent("押金").intent == "buy"  # search is not confused by support words


async def test_resident_messages_are_rate_limited(
    client: Client, community: CommunityWorld
) -> None:
    resident = community.residents[0]
    cid = await start(client, resident)
    statuses = []
    for n in range(21):
        status, _ = await call(
            client, resident, "POST", f"/support/conversations/{cid}/messages", {"text": f"在吗{n}"}
        )
        statuses.append(status)
    assert statuses == [201] * 20 + [429]


async def test_local_engine_picks_tools_by_their_triggers() -> None:
    from lago_core.ai import ChatMessage, LocalEngine
    from lago_core.ai.support import TOOLS

    engine = LocalEngine()
    for text, tool in (
        ("可以帮我查一下押金吗", "deposit_status"),
        ("确认退款", "confirm_pending"),
        ("好的", "confirm_pending"),
        ("算了，不退了", "decline_pending"),
        ("好的，那我的订单到哪了", "order_status"),
        ("租的switch什么时候还", "rental_return"),
        ("我想投诉，找人工", "handover_to_human"),
        ("第二个", "select_order"),
        ("手续费怎么收", "answer_topic"),
        ("帮我邻居查下他的订单", "someone_elses_order"),
    ):
        turn = await engine.chat([ChatMessage("user", text)], TOOLS)
        assert [c.name for c in turn.tool_calls] == [tool], text
