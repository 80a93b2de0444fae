"""Intent and slot accuracy of an engine on a labelled query set, and search quality on a
labelled corpus (``lago ai-eval``).

Each line of the set is a JSON object: the query ``q`` and the expected value of each slot; a
slot left out is expected to be empty (null). Accuracy per slot is the share of queries whose
parsed value equals the label exactly; ``all_slots`` is the share with every slot right.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from lago_core.ai.embeddings import Embedder
from lago_core.ai.engine import Engine, EngineError, local_parse

__all__ = [
    "SLOTS",
    "EvalReport",
    "SearchReport",
    "evaluate",
    "evaluate_search",
    "load_cases",
    "load_jsonl",
]

SLOTS = (
    "intent",
    "category",
    "brand",
    "duration_days",
    "price_min_fen",
    "price_max_fen",
    "condition",
    "scope",
)


@dataclass
class EvalReport:
    total: int = 0
    correct: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SLOTS, 0))
    all_slots: int = 0
    fallbacks: int = 0
    misses: list[dict[str, Any]] = field(default_factory=list)

    def accuracy(self, slot: str) -> float:
        return self.correct[slot] / self.total if self.total else 0.0

    @property
    def exact(self) -> float:
        return self.all_slots / self.total if self.total else 0.0

    def lines(self) -> list[str]:
        out = [f"{self.total} queries"]
        out += [f"  {slot:14} {self.accuracy(slot):6.1%}" for slot in SLOTS]
        out.append(f"  {'all slots':14} {self.exact:6.1%}")
        if self.fallbacks:
            out.append(f"  ({self.fallbacks} answered by the local fallback)")
        return out


def load_cases(path: Path) -> list[dict[str, Any]]:
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        case = orjson.loads(line)
        if not isinstance(case, dict) or "q" not in case:
            raise ValueError(f"{path}:{number}: each line is an object with a 'q'")
        unknown = set(case) - {"q", *SLOTS}
        if unknown:
            raise ValueError(f"{path}:{number}: unknown labels {sorted(unknown)}")
        cases.append(case)
    return cases


async def evaluate(engine: Engine, cases: Iterable[dict[str, Any]]) -> EvalReport:
    report = EvalReport()
    for case in cases:
        try:
            parsed = (await engine.parse_intent(case["q"])).model_dump()
        except EngineError:
            parsed = (await local_parse(case["q"])).model_dump()
            report.fallbacks += 1
        report.total += 1
        wrong = {}
        for slot in SLOTS:
            expected = case.get(slot, "buy" if slot == "intent" else None)
            if parsed[slot] == expected:
                report.correct[slot] += 1
            else:
                wrong[slot] = {"expected": expected, "got": parsed[slot]}
        if wrong:
            report.misses.append({"q": case["q"], "wrong": wrong})
        else:
            report.all_slots += 1
    return report


# --- search ----------------------------------------------------------------------------------------


@dataclass
class SearchReport:
    """Recall@5 (the share of a query's relevant listings in its first five, of at most five)
    and MRR (the mean of 1/rank of the first relevant listing) over labelled queries."""

    total: int = 0
    recall_sum: float = 0.0
    reciprocal_sum: float = 0.0
    empty: int = 0
    # Queries labelled with no relevant listing (the corpus has nothing for them): not in recall
    # or MRR, which they have no answer for; scored by whether the cut-off said "nothing good
    # found" (the nearest few may still be shown, as such).
    nothing_expected: int = 0
    nothing_returned: int = 0
    misses: list[dict[str, Any]] = field(default_factory=list)

    @property
    def recall_at_5(self) -> float:
        return self.recall_sum / self.total if self.total else 0.0

    @property
    def mrr(self) -> float:
        return self.reciprocal_sum / self.total if self.total else 0.0

    def lines(self) -> list[str]:
        out = [
            f"{self.total} queries",
            f"  {'recall@5':14} {self.recall_at_5:6.1%}",
            f"  {'MRR':14} {self.mrr:6.3f}",
        ]
        if self.nothing_expected:
            out.append(
                f"  {'nothing found':14} {self.nothing_returned} of {self.nothing_expected} "
                "queries with no relevant listing answered empty"
            )
        return out


def load_jsonl(path: Path) -> list[dict[str, Any]]:
    return [
        orjson.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


async def evaluate_search(
    engine: Engine,
    embedder: Embedder,
    listings: list[dict[str, Any]],
    queries: list[dict[str, Any]],
) -> SearchReport:
    """Rank the labelled listings for each query as search does (intent, meaning, words, soft
    preferences; without place, freshness and popularity, which a corpus has not)."""
    from lago_core.ai.index import VectorIndex, listing_text
    from lago_core.ai.kinds import ranked_kinds
    from lago_core.ai.lexical import tokens
    from lago_core.ai.search import (
        INDEX_CANDIDATES,
        LEXICAL_WEIGHT,
        category_sure,
        fitting,
        query_words,
    )

    vectors = await embedder.passages([listing_text(row) for row in listings])
    words = await asyncio.to_thread(lambda: [tokens(listing_text(row)) for row in listings])
    index = VectorIndex(embedder.model)
    key = {uuid.uuid5(uuid.NAMESPACE_URL, row["id"]): row for row in listings}
    for seq, row_id in enumerate(key, 1):
        index.put(row_id, vectors[seq - 1], words[seq - 1], (), seq)
    report = SearchReport()
    for case in queries:
        try:
            intent = await engine.parse_intent(case["q"])
        except EngineError:
            intent = await local_parse(case["q"])
        vector = (await embedder.queries([case["q"]]))[0]
        terms = await asyncio.to_thread(query_words, case["q"], intent)
        kinds = ranked_kinds(terms)
        hits = index.search(
            vector,
            terms,
            None,
            INDEX_CANDIDATES,
            LEXICAL_WEIGHT,
        )
        sure = await asyncio.to_thread(category_sure, case["q"], intent)
        hit_of = {key[hit.listing_id]["id"]: hit for hit in hits}
        fits, nearest = fitting(
            [key[hit.listing_id] for hit in hits],
            hit_of,
            intent,
            sure,
            kinds,
        )
        scored = [(score, row["id"]) for row, score, _ in fits]
        # What the resident is shown: the matches, or the nearest few when nothing fitted.
        ranked = [row_id for _, row_id in sorted(scored, key=lambda s: (-s[0], s[1]))]
        relevant = set(case["relevant"])
        top = ranked[:5]
        if not relevant:
            report.nothing_expected += 1
            if nearest or not ranked:
                report.nothing_returned += 1
            else:
                report.misses.append({"q": case["q"], "top": top, "relevant": []})
            continue
        report.total += 1
        report.recall_sum += len(relevant & set(top)) / min(len(relevant), 5)
        first = next((i for i, row_id in enumerate(ranked, 1) if row_id in relevant), None)
        report.reciprocal_sum += 1 / first if first else 0.0
        if not ranked:
            report.empty += 1
        if first != 1 or len(relevant & set(top)) < min(len(relevant), 5):
            report.misses.append({"q": case["q"], "top": top, "relevant": sorted(relevant)})
    return report
