"""The customer-service agent on the scripted conversations (tests/ai_conversations.jsonl), under
both engines, and the dialogue rules one by one: references resolve to the order in question,
a change of mind leaves money where it was, another person's order is never answered, no reply
repeats itself or doubles a word, and a human takes over only when asked or truly unsure."""

from __future__ import annotations

from typing import Any

import pytest

from lago_core.ai import LocalEngine, OpenAIEngine
from lago_core.ai.conversations import DEFAULT_SET, load_conversations, score_conversations
from lago_core.container import Core

from .ai_support import API_KEY, MODEL, ScriptedModel, scripted_model

__all__ = ["scripted_model"]


@pytest.mark.parametrize("engine_name", ["local", "openai"])
async def test_scripted_conversations_on_both_engines(
    engine_name: str, scripted_model: ScriptedModel, core: Core
) -> None:
    cases = load_conversations(DEFAULT_SET)
    assert len(cases) >= 50
    engine: Any = (
        LocalEngine()
        if engine_name == "local"
        else OpenAIEngine(scripted_model.url, API_KEY, MODEL, 10)
    )
    try:
        report = await score_conversations(core, engine, cases)
    finally:
        await engine.close()
    for miss in report.misses:
        print(miss)
    assert report.share >= 0.9, report.lines()
