"""Intent and slot accuracy of an engine on a labelled query set (``lago ai-eval``).

Each line of the set is a JSON object: the query ``q`` and the expected value of each slot; a
slot left out is expected to be empty (null). Accuracy per slot is the share of queries whose
parsed value equals the label exactly; ``all_slots`` is the share with every slot right.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from lago_core.ai.engine import Engine, EngineError, local_parse

__all__ = ["SLOTS", "EvalReport", "evaluate", "load_cases"]

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
