"""``lago ai-eval``: the AI's figures on the labelled sets, one function per part.

Each part prints its own block and returns; :data:`PARTS` lists them in order, so a new part
(conversations, …) is one more function and one more entry. The sets and which of them were used
for tuning: docs/ai.md, "Evaluation".
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from lago_core.ai.engine import Engine
from lago_core.settings import Settings

__all__ = [
    "CONVERSATION_SETS",
    "INTENT_SETS",
    "PARTS",
    "SEARCH_SETS",
    "eval_conversations",
    "eval_intent",
    "eval_search",
    "score_conversation_sets",
]

TESTS = Path(__file__).resolve().parent.parent / "tests"
INTENT_SETS = (
    TESTS / "ai_queries.jsonl",
    TESTS / "ai_queries_holdout.jsonl",
    TESTS / "ai_queries_v2.jsonl",
    TESTS / "ai_queries_v2_holdout.jsonl",
    TESTS / "ai_queries_v3.jsonl",
    TESTS / "ai_queries_v4.jsonl",
    TESTS / "ai_queries_v5.jsonl",
    TESTS / "ai_queries_v6.jsonl",
    TESTS / "ai_queries_v7.jsonl",
)
# (listings, queries labelled on them): the tuning corpus, then the ones written blind, in the
# order they were written (v2, v3, …; docs/ai.md, "Evaluation").
SEARCH_SETS = (
    (TESTS / "ai_search_corpus.jsonl", TESTS / "ai_search_queries.jsonl"),
    *(
        (TESTS / f"ai_search_corpus_v{n}.jsonl", TESTS / f"ai_search_queries_v{n}.jsonl")
        for n in range(2, 13)
    ),
)
CONVERSATION_SETS = (
    TESTS / "ai_conversations.jsonl",
    TESTS / "ai_conversations_holdout.jsonl",
)

Part = Callable[[Settings, Engine, list[Path], bool], Coroutine[Any, Any, None]]


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(TESTS.parent))
    except ValueError:
        return str(path)


async def eval_intent(settings: Settings, engine: Engine, files: list[Path], misses: bool) -> None:
    """Intent and per-slot accuracy on each labelled query set (or the given files)."""
    from lago_core.ai.evaluation import evaluate, load_cases

    for file in files or list(INTENT_SETS):
        cases = await asyncio.to_thread(load_cases, file)
        report = await evaluate(engine, cases)
        print(f"engine {engine.name}, {_shown(file)}")
        for line in report.lines():
            print(line)
        if misses:
            for miss in report.misses:
                print(f"  miss: {miss['q']}  {miss['wrong']}")


async def eval_search(settings: Settings, engine: Engine, files: list[Path], misses: bool) -> None:
    """Recall@5 and MRR of search on each labelled corpus (skipped when files were given)."""
    if files:
        return
    from lago_core.ai.embeddings import create_embedder
    from lago_core.ai.evaluation import evaluate_search, load_jsonl

    embedder = create_embedder(settings)
    for corpus, labelled in SEARCH_SETS:
        listings = await asyncio.to_thread(load_jsonl, corpus)
        queries = await asyncio.to_thread(load_jsonl, labelled)
        report = await evaluate_search(engine, embedder, listings, queries)
        print(
            f"search: engine {engine.name}, embeddings {embedder.model}, {len(listings)} "
            f"listings ({_shown(corpus)}), {_shown(labelled)}"
        )
        for line in report.lines():
            print(line)
        if misses:
            for miss in report.misses:
                print(f"  miss: {miss['q']}  top {miss['top']}  relevant {miss['relevant']}")


async def score_conversation_sets(settings: Settings, files: list[Path], misses: bool) -> None:
    """The share of turns the customer-service agent gets right on each scripted set, each in a
    scratch database made for the run (the role needs CREATEDB) with the configured engine."""
    from lago_core.ai.conversations import load_conversations, score_in_scratch_database

    for file in files:
        cases = await asyncio.to_thread(load_conversations, file)
        report = await score_in_scratch_database(settings, cases)
        print(f"conversations: engine {report.engine}, {_shown(file)}")
        for line in report.lines():
            print(line)
        if misses:
            for miss in report.misses:
                print(
                    f"  miss: {miss['conversation']} #{miss['turn']} {miss['say']}  {miss['wrong']}"
                )


async def eval_conversations(
    settings: Settings, engine: Engine, files: list[Path], misses: bool
) -> None:
    """The agent on the scripted conversation sets (skipped when query files were given)."""
    if files:
        return
    await score_conversation_sets(settings, list(CONVERSATION_SETS), misses)


PARTS: dict[str, Part] = {
    "intent": eval_intent,
    "search": eval_search,
    "conversations": eval_conversations,
}
