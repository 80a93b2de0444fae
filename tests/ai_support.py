"""A local OpenAI-compatible server for the AI tests, and fixtures to run Lago on either engine.

The server answers ``POST /v1/chat/completions`` as a model would, from a script: intent queries
with a ``report_intent`` tool call taken from a table, support messages with the tool call Lago's
local understanding proposes (:func:`lago_core.ai.nlu.propose`), and what it does not understand
with a chatty text that states a *wrong* deposit (999 元), so the tests can check that what
residents read comes from the database and never from the model.
It records every request it received.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from lago_core.ai.nlu import propose
from lago_core.container import Core, build_ai
from lago_core.settings import Settings

__all__ = ["ScriptedModel", "use_engine"]

MODEL = "lago-test-model"
API_KEY = "sk-test-0123456789"
INVENTED = "您的押金是 999 元，已经退还。"

# What the "model" answers for intent queries it knows; others get an invalid reply (fallback).
INTENTS: dict[str, dict[str, Any]] = {
    "我想租个 Switch 一个周末": {
        "intent": "rent",
        "category": "game_console",
        "brand": "nintendo",
        "product": "Switch",
        "duration_days": 2,
        "keywords": [],
    },
    "小区里有没有乐高，100块以内": {
        "intent": "buy",
        "category": "building_blocks",
        "brand": "乐高",
        "price_max_fen": 10_000,
        "scope": "community",
    },
    "出一台九成新的PS5": {
        "intent": "sell",
        "category": "game_console",
        "brand": "Sony",
        "product": "PS5",
        "condition": "like_new",
    },
}

# Support: the "model" understands a resident's message as Lago's local rules do (a stand-in
# for an external model that answers deterministically), so the same dialogue state machine is
# what the tests exercise under both engines. It reads the dialogue state Lago sends as a system
# message, as a model would, and checks it is there.


@dataclasses.dataclass
class ScriptedModel:
    url: str = ""
    requests: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    headers: list[dict[str, str]] = dataclasses.field(default_factory=list)
    fail_next: int = 0  # answer this many requests with HTTP 500 first
    # A support answer that ignores the message: (tool, arguments), for guardrail tests.
    force_tool: tuple[str, dict[str, Any]] | None = None
    _ids: Any = dataclasses.field(default_factory=lambda: itertools.count(1))

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.complete)
        return app

    async def complete(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        if self.fail_next:
            self.fail_next -= 1
            return web.json_response({"error": {"message": "overloaded"}}, status=500)
        tools = {t["function"]["name"] for t in body.get("tools", [])}
        last = body["messages"][-1]
        if "report_intent" in tools:
            args = INTENTS.get(last["content"], {"intent": "teleport"})  # unknown: invalid
            return self._answer(tool=("report_intent", args))
        if last["role"] == "tool":
            result = orjson.loads(last["content"])
            if "queued" in result:
                return self._answer(text="已为您转接人工。")
            return self._answer(text=INVENTED)
        if not any(
            m["role"] == "system" and m["content"].startswith("对话状态") for m in body["messages"]
        ):
            return web.json_response({"error": {"message": "no dialogue state"}}, status=400)
        proposal = propose(last["content"]) if last["role"] == "user" else None
        if self.force_tool is not None:
            proposal = self.force_tool
        if proposal is not None and proposal[0] in tools:
            return self._answer(tool=proposal)
        # Not understood: the model chats, and invents a figure the agent must never show.
        return self._answer(text=INVENTED)

    def _answer(
        self, *, text: str | None = None, tool: tuple[str, dict[str, Any]] | None = None
    ) -> web.Response:
        n = next(self._ids)
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if tool is not None:
            message["tool_calls"] = [
                {
                    "id": f"call_{n}",
                    "type": "function",
                    "function": {"name": tool[0], "arguments": orjson.dumps(tool[1]).decode()},
                }
            ]
        return web.json_response(
            {
                "id": f"chatcmpl-{n}",
                "object": "chat.completion",
                "created": 1_700_000_000,
                "model": MODEL,
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "finish_reason": "tool_calls" if tool else "stop",
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
        )


@pytest.fixture
async def scripted_model(aiohttp_server: Any) -> ScriptedModel:
    model = ScriptedModel()
    server: TestServer = await aiohttp_server(model.app())
    model.url = f"http://127.0.0.1:{server.port}/v1"
    return model


async def use_engine(core: Core, engine: str, model: ScriptedModel | None) -> None:
    """Rebuild the core's AI services on ``engine``: "local", or "openai" against ``model``."""
    settings = core.settings
    if engine == "openai":
        assert model is not None
        settings = dataclasses.replace(
            settings, ai_base_url=model.url, ai_api_key=API_KEY, ai_model=MODEL, ai_timeout_s=10
        )
    await rebuild_ai(core, settings)


async def rebuild_ai(core: Core, settings: Settings) -> None:
    """Replace the core's AI services with ones built on ``settings`` (the old ones closed)."""
    old = core.ai
    core.ai = build_ai(
        settings,
        core.pool,
        core.listings,
        core.orders,
        core.payments,
        core.jobs,
        core.pusher,
        core.limiter,
        core.clock,
        core.groupbuys,
        redis=core.redis,
    )
    await old.close()


def engine_settings(settings: Settings, model: ScriptedModel) -> Settings:
    return dataclasses.replace(
        settings, ai_base_url=model.url, ai_api_key=API_KEY, ai_model=MODEL, ai_timeout_s=10
    )
