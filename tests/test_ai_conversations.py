"""The customer-service agent on the scripted conversations (tests/ai_conversations.jsonl), under
both engines, and the dialogue rules one by one: references resolve to the order in question,
a change of mind leaves money where it was, another person's order is never answered, no reply
repeats itself or doubles a word, and a human takes over only when asked or truly unsure."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from typing import Any

import orjson
import pytest

from lago_core.ai import LocalEngine, OpenAIEngine
from lago_core.ai.conversations import DEFAULT_SET, load_conversations, score_conversations
from lago_core.ai.dialogue import (
    HISTORY_TURNS,
    STATE_TTL_S,
    DialogueBusy,
    DialogueState,
    DialogueStore,
    polish,
)
from lago_core.container import Core

from .ai_support import API_KEY, MODEL, ScriptedModel, scripted_model
from .conftest import ADMIN_DSN

__all__ = ["scripted_model"]


HOLDOUT = DEFAULT_SET.with_name("ai_conversations_holdout.jsonl")


@pytest.mark.parametrize("engine_name", ["local", "openai"])
@pytest.mark.parametrize("path", [DEFAULT_SET, HOLDOUT], ids=["main", "holdout"])
async def test_scripted_conversations_on_both_engines(
    engine_name: str, path: Any, scripted_model: ScriptedModel, core: Core
) -> None:
    cases = load_conversations(path)
    assert len(cases) >= (50 if path == DEFAULT_SET else 15)
    engine: Any = (
        LocalEngine()
        if engine_name == "local"
        else OpenAIEngine(scripted_model.url, API_KEY, MODEL, 10)
    )
    try:
        report = await score_conversations(core, engine, cases)
    finally:
        await engine.close()
    print(engine_name, path.name, *report.lines())
    for miss in report.misses:
        print(miss)
    assert report.share >= 0.9, report.lines()


LEGO = {"title": "乐高 城市系列 消防局", "mode": "sale", "status": "paid", "price_fen": 45_000}
BARBIE = {"title": "芭比 梦想豪宅", "mode": "sale", "status": "paid", "price_fen": 12_000}
GIFT = {"title": "秘密礼物 泡泡玛特", "mode": "sale", "status": "paid", "price_fen": 9_900}

# One conversation per rule; each must be right on every turn, under both engines.
RULES: list[dict[str, Any]] = [
    {
        "id": "a reference resolves to the order in question, not to the newest",
        "orders": {"barbie": BARBIE, "lego": LEGO},
        "turns": [
            {"say": "乐高到哪了", "action": "order_status", "order": "lego"},
            {
                "say": "它能退吗",
                "action": "request_refund",
                "order": "lego",
                "contains": ["¥450.00"],
            },
            {"say": "押金呢", "action": "deposit_status", "order": "lego", "absent": ["芭比"]},
        ],
    },
    {
        "id": "a change of mind moves no money, and a later confirmation finds nothing",
        "orders": {"lego": LEGO},
        "turns": [
            {"say": "退款", "action": "request_refund", "status": {"lego": "paid"}},
            {"say": "算了不退了", "action": "decline_pending", "status": {"lego": "paid"}},
            {"say": "确认", "contains": ["没有需要您确认的操作"], "status": {"lego": "paid"}},
            {"say": "还是退吧", "action": "request_refund", "order": "lego"},
            {"say": "确认退款", "status": {"lego": "refund_requested"}},
            # Nothing pending any more: the refund asked for again is found already requested.
            {"say": "确认退款", "contains": ["已在退款申请中"]},
            {"say": "确认", "contains": ["没有需要您确认的操作"]},
        ],
    },
    {
        "id": "another person's order is never answered, nor replaced by one's own",
        "orders": {"lego": LEGO},
        "others": {"gift": GIFT},
        "turns": [
            {
                "say": "订单 {gift.id} 到哪了",
                "contains": ["无法回答关于别人订单的问题"],
                "absent": ["乐高", "泡泡玛特"],
                "order": None,
            },
            {
                "say": "{gift.short} 退款",
                "absent": ["乐高", "泡泡玛特"],
                "status": {"gift": "paid"},
            },
            {"say": "我老婆的订单呢", "action": "someone_elses_order", "absent": ["乐高"]},
        ],
    },
    {
        "id": "the same question twice gets an answer that is not the same sentence",
        "turns": [
            {"say": "积分怎么用", "contains": ["积分商城"]},
            {"say": "积分怎么用", "contains": ["积分商城"]},
            {"say": "积分怎么用", "contains": ["积分商城"]},
        ],
    },
    {
        "id": "known topics never hand over; one unclear turn asks, two hand over",
        "turns": [
            {"say": "手续费怎么收", "handover": False},
            {"say": "寄卖抽几个点", "handover": False},
            {"say": "啊这", "action": None, "handover": False, "absent": ["999"]},
            {"say": "手续费怎么收", "handover": False},
            {"say": "啊这", "action": None, "handover": False},
            {"say": "呃呃", "action": "handover_to_human", "handover": True},
        ],
    },
    {
        "id": "asking for a human hands over at once",
        "turns": [{"say": "帮我转人工", "action": "handover_to_human", "handover": True}],
    },
]


@pytest.mark.parametrize("engine_name", ["local", "openai"])
async def test_each_dialogue_rule(
    engine_name: str, scripted_model: ScriptedModel, core: Core
) -> None:
    engine: Any = (
        LocalEngine()
        if engine_name == "local"
        else OpenAIEngine(scripted_model.url, API_KEY, MODEL, 10)
    )
    try:
        report = await score_conversations(core, engine, RULES)
    finally:
        await engine.close()
    for miss in report.misses:
        print(miss)
    assert report.misses == []
    assert report.turns == sum(len(c["turns"]) for c in RULES)


async def test_the_state_lives_in_redis_with_a_ttl(core: Core) -> None:
    store = DialogueStore(core.redis, core.settings)
    cid = uuid.uuid4()
    state = DialogueState(focus={"order_id": "x", "title": "乐高"}, misunderstood=1)
    state.remember("你好", "small_talk", "您好")
    await store.save(cid, state)
    assert store.key(cid) == core.settings.key("support", "dialogue", str(cid))
    assert 0 < await core.redis.ttl(store.key(cid)) <= STATE_TTL_S
    loaded = await store.load(cid)
    assert (loaded.focus, loaded.misunderstood, loaded.last_reply) == (state.focus, 1, "您好")
    for n in range(HISTORY_TURNS + 5):
        loaded.remember(f"第{n}句", None, f"答{n}")
    assert len(loaded.history) == HISTORY_TURNS
    await store.forget(cid)
    assert (await store.load(cid)).focus is None


def test_replies_double_no_word_and_never_repeat() -> None:
    assert polish("您的的订单订单已发货", "") == "您的订单已发货"
    assert polish("the the order is paid", "") == "the order is paid"
    # Titles are the seller's words; lines said twice are said once.
    assert (
        polish("「哈哈哈哈 玩具」已付款\n「哈哈哈哈 玩具」已付款", "") == "「哈哈哈哈 玩具」已付款"
    )
    assert polish("谢谢，看看别的", "") == "谢谢，看看别的"
    again = polish("押金已退还。", "押金已退还。")
    assert again != "押金已退还。"
    assert again.endswith("押金已退还。")


async def test_what_a_model_proposes_is_checked(scripted_model: ScriptedModel, core: Core) -> None:
    """A model that hands over unasked, names an unknown topic or an order that is not the
    resident's gets no further than the state machine lets it."""
    engine = OpenAIEngine(scripted_model.url, API_KEY, MODEL, 10)
    try:
        scripted_model.force_tool = ("handover_to_human", {"reason": "model felt like it"})
        report = await score_conversations(
            core,
            engine,
            [
                {
                    "id": "unasked",
                    "turns": [
                        {"say": "嗯哼", "action": None, "handover": False},
                        # Refused again, and the rules understand this one: answered by them.
                        {"say": "押金多少", "action": "deposit_status", "handover": False},
                    ],
                }
            ],
        )
        assert report.misses == []
        scripted_model.force_tool = ("answer_topic", {"topic": "weather"})
        report = await score_conversations(
            core,
            engine,
            [{"id": "topic", "turns": [{"say": "天气", "contains": ["没太明白"]}]}],
        )
        assert report.misses == []
        scripted_model.force_tool = ("order_status", {"order_id": str(uuid.uuid4())})
        report = await score_conversations(
            core,
            engine,
            [
                {
                    "id": "foreign",
                    "orders": {"lego": LEGO},
                    "turns": [
                        {"say": "查订单", "contains": ["无法回答关于别人订单的问题"], "order": None}
                    ],
                }
            ],
        )
        assert report.misses == []
    finally:
        scripted_model.force_tool = None
        await engine.close()


async def test_two_messages_at_once_are_answered_one_turn_after_the_other(core: Core) -> None:
    """Jobs may answer two quick messages at once; each turn reads and writes the whole state,
    so they take turns (nothing remembered is lost), and a turn held too long is refused."""
    support = core.ai.support
    resident = await core.pool.fetchval(
        """INSERT INTO users (phone, password_hash, display_name, phone_verified_at)
           VALUES ('+8613700000001', '!staged', '住户', now()) RETURNING id"""
    )
    conversation = await support._store.create_conversation(resident, core.clock.now())
    cid = conversation["id"]
    ids = []
    for text in ("积分怎么用", "手续费多少"):
        message = await support._store.add_message(cid, "user", resident, text, core.clock.now())
        assert message is not None
        ids.append(message["id"])
    replies = await asyncio.gather(*(support.answer(i) for i in ids))
    assert all(r is not None for r in replies)
    store = DialogueStore(core.redis, core.settings, lock_wait_s=0.2)
    state = await store.load(cid)
    assert sorted(h["user"] for h in state.history) == ["手续费多少", "积分怎么用"]
    async with store.turn(cid):
        with pytest.raises(DialogueBusy):
            async with store.turn(cid):
                pass
    async with store.turn(cid):  # released
        pass


def test_the_eval_command_scores_conversations_in_a_scratch_database(
    settings: Any, tmp_path: Any
) -> None:
    cases = [c for c in load_conversations(DEFAULT_SET) if c["id"] == "refund-confirm"]
    file = tmp_path / "one.jsonl"
    file.write_text("\n".join(orjson.dumps(c).decode() for c in cases), "utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAGO_AI_")}
    env |= {
        "DATABASE_URL": ADMIN_DSN,
        "REDIS_URL": settings.redis_url,
        "LAGO_REDIS_PREFIX": settings.redis_prefix,
        "LAGO_LOG_LEVEL": "WARNING",
    }
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            f"from lago_cli import main; main(['ai-eval', '--conversations', {str(file)!r}])",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[1:] == [
        "1 conversations, 2 turns",
        "  turns right  100.0%  (2/2)",
    ]


def test_lago_ai_eval_scores_every_part_by_default() -> None:
    from lago_cli.ai_eval import CONVERSATION_SETS, PARTS

    assert list(PARTS) == ["intent", "search", "conversations"]
    assert all(path.is_file() for path in CONVERSATION_SETS)
