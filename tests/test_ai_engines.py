"""The OpenAI-compatible engine against the local scripted server: what it sends, what it makes
of the answers, and the fallback to the local parser when the endpoint fails or answers nonsense."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from lago_core.ai import ChatMessage, EngineError, OpenAIEngine, parse_intent
from lago_core.ai.dialogue import DialogueState
from lago_core.ai.support import TOOLS
from lago_core.container import Core
from lago_core.settings import Settings

from .ai_support import (
    API_KEY,
    INVENTED,
    MODEL,
    ScriptedModel,
    engine_settings,
    scripted_model,
    use_engine,
)
from .conftest import CommunityWorld
from .test_orders import call

Client = TestClient[Any, Any]
__all__ = ["scripted_model"]


async def test_openai_engine_parses_intent_and_chooses_tools(scripted_model: ScriptedModel) -> None:
    engine = OpenAIEngine(scripted_model.url, API_KEY, MODEL, 10)
    try:
        intent = await engine.parse_intent("小区里有没有乐高，100块以内")
        # The model wrote the brand in Chinese; it is put in the lexicon's spelling.
        assert (intent.brand, intent.price_max_fen, intent.scope) == ("LEGO", 10_000, "community")
        sent = scripted_model.requests[-1]
        assert sent["model"] == MODEL
        assert sent["tool_choice"]["function"]["name"] == "report_intent"
        assert scripted_model.headers[-1]["Authorization"] == f"Bearer {API_KEY}"

        state = ChatMessage("system", DialogueState().for_model())
        turn = await engine.chat([state, ChatMessage("user", "我的押金呢")], TOOLS)
        assert [(c.name, c.arguments) for c in turn.tool_calls] == [("deposit_status", {})]
        assert scripted_model.requests[-1]["messages"][1]["content"].startswith("对话状态")
        turn = await engine.chat([state, ChatMessage("user", "谢谢")], TOOLS)
        assert [(c.name, c.arguments) for c in turn.tool_calls] == [
            ("small_talk", {"kind": "thanks"})
        ]
        turn = await engine.chat([state, ChatMessage("user", "嗯那个啥")], TOOLS)
        assert (turn.content, turn.tool_calls) == (INVENTED, ())

        # An intent the schema refuses, and an endpoint that fails, are engine errors.
        for failure in ("invalid", "down"):
            if failure == "down":
                scripted_model.fail_next = 5
            try:
                await engine.parse_intent("随便看看")
            except EngineError:
                pass
            else:
                raise AssertionError(f"{failure}: no EngineError")
    finally:
        await engine.close()


async def test_search_falls_back_to_the_local_parser(
    scripted_model: ScriptedModel,
    client: Client,
    core: Core,
    settings: Settings,
    community: CommunityWorld,
) -> None:
    await use_engine(core, "openai", scripted_model)
    resident = community.residents[0]
    status, body = await call(client, resident, "GET", "/search/intent?q=出一台九成新的PS5")
    assert status == 200
    assert body["engine"] == "openai"
    assert (body["intent"]["intent"], body["intent"]["condition"]) == ("sell", "like_new")
    # The script does not know this query and answers an invalid intent: the local parser steps in.
    status, body = await call(client, resident, "GET", "/search?q=租个平衡车两周")
    assert status == 200
    assert body["engine"] == "local-fallback"
    assert body["intent"] == parse_intent("租个平衡车两周").model_dump()
    assert engine_settings(settings, scripted_model).ai_base_url == scripted_model.url


async def test_search_input_is_checked(client: Client, community: CommunityWorld) -> None:
    resident = community.residents[0]
    for query in ("", "q=" + "x" * 201, "q=switch&limit=0", "q=switch&extra=1"):
        status, body = await call(client, resident, "GET", f"/search?{query}")
        assert (status, body["error"]["code"]) == (422, "invalid_input"), query
    response = await client.get("/api/v1/search?q=switch")
    assert response.status == 401
