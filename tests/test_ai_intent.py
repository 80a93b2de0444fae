"""The intent parser on the labelled query sets, and ``lago ai-eval`` printing the figures.

Thresholds: the main set (114 queries) was written first and the parser then corrected on its
misses, so it is a regression floor — every slot at 95% or better. The hold-out set (30 queries)
was written after those corrections and never tuned on (its first run: intent 96.7%, every other
slot 100%, all slots 96.7%), so its floor is lower: 90% per slot and 85% with all slots right.
The second set (163 queries, issue 21: unknown items, colloquial selling, swaps, negation, English
and pinyin…) and its hold-out (50) were written before the parser changed (before: intent 81.0% /
78.0%, all slots 42.3% / 38.0%); the rules were then improved on the second set's misses, so it
is a tuning set; the hold-out's misses were looked at once (docs/ai.md, "Evaluation"). Targets:
intent ≥ 95%, all slots ≥ 90%. A third set (40) was written after that tuning and measured once
(intent 90.0%, all slots 82.5%), then tuned on; a fourth (40) was written after the last change
and measured once: intent 95.0%, all slots 85.0%; its misses were then fixed by class (not one
by one). A fifth (40) was written after that fix and committed before it was scored, once:
intent 97.5%, all slots 72.5% — the honest figure for queries nobody tuned on; its floor here
only guards against regressions.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lago_core.ai import LocalEngine, parse_intent
from lago_core.ai.evaluation import SLOTS, evaluate, load_cases
from lago_core.ai.intent import cn_number, edit_distance

HERE = Path(__file__).parent


@pytest.mark.parametrize(
    ("name", "per_slot", "all_slots", "intent"),
    [
        ("ai_queries.jsonl", 0.95, 0.95, 0.95),
        ("ai_queries_holdout.jsonl", 0.90, 0.85, 0.90),
        ("ai_queries_v2.jsonl", 0.90, 0.90, 0.95),
        ("ai_queries_v2_holdout.jsonl", 0.90, 0.90, 0.95),
        # Written after the first round of tuning, measured (intent 90.0%, all slots 82.5%),
        # then tuned on: a regression floor.
        ("ai_queries_v3.jsonl", 0.90, 0.90, 0.95),
        # Written after the second round, measured once (intent 95.0%, all slots 85.0%), then
        # its misses fixed by class (now intent 100%, all slots 97.5%): a regression floor.
        ("ai_queries_v4.jsonl", 0.90, 0.90, 0.95),
        # Written after that fix, committed before it was scored, measured once and never tuned
        # on: intent 97.5%, category 80.0%, all slots 72.5% — below the all-slots target; its
        # floor guards against regressions and claims nothing (docs/ai.md, "Evaluation").
        ("ai_queries_v5.jsonl", 0.80, 0.725, 0.95),
    ],
)
async def test_accuracy_on_the_labelled_sets(
    name: str, per_slot: float, all_slots: float, intent: float
) -> None:
    cases = load_cases(HERE / name)
    report = await evaluate(LocalEngine(), cases)
    assert report.total == len(cases)
    if name == "ai_queries.jsonl":
        assert report.total >= 100
    if name == "ai_queries_v2.jsonl":
        assert report.total >= 150
    assert report.accuracy("intent") >= intent, report.misses
    for slot in SLOTS:
        assert report.accuracy(slot) >= per_slot, (slot, report.misses)
    assert report.exact >= all_slots, report.misses


def test_the_new_classes_of_query() -> None:
    """Issue 21's failure classes, one of each (the sets hold many more)."""
    from lago_core.ai.classifier import classifier

    def parsed(query: str) -> object:
        return parse_intent(query, classifier())

    # An item the lexicon does not know still gets its category from the classifier.
    assert parsed("儿童滑步车 二手").category == "outdoor"  # type: ignore[attr-defined]
    # Selling said colloquially; renting one's own thing out is offering it.
    assert parsed("闲置switch回血").intent == "sell"  # type: ignore[attr-defined]
    assert parsed("有偿借出 帐篷 周末").intent == "sell"  # type: ignore[attr-defined]
    # A swap names what is offered, wherever it is said.
    swap = parse_intent("想要switch 可以用我的ps4换")
    assert (swap.intent, swap.brand) == ("swap", "Sony")
    # Negation: a kind or a brand ruled out is not asked for.
    assert parse_intent("不是租 是买 ps5").intent == "buy"
    assert parse_intent("积木 但不要乐高 太贵").brand is None
    assert parse_intent("遥控赛车 不要坏的").condition is None
    # English and mixed durations, days named one by one, a fortnight, pinyin.
    assert parse_intent("rent a ps5 for two weeks").duration_days == 14
    assert parse_intent("租ns 周五到周日").duration_days == 3
    assert parse_intent("rent switch saturday and sunday").duration_days == 2
    assert parse_intent("租 switch 一周半").duration_days == 10
    assert parse_intent("zu switch zhoumo").intent == "rent"
    assert parse_intent("ps4 max 500").price_max_fen == 50_000


def test_the_issues_examples() -> None:
    switch = parse_intent("我想租个 Switch 一个周末")
    assert (switch.intent, switch.product, switch.brand, switch.duration_days) == (
        "rent",
        "Switch",
        "Nintendo",
        2,
    )
    lego = parse_intent("小区里有没有乐高，100块以内")
    assert (lego.intent, lego.brand, lego.price_max_fen, lego.scope) == (
        "buy",
        "LEGO",
        10_000,
        "community",
    )
    ps5 = parse_intent("出一台九成新的PS5")
    assert (ps5.intent, ps5.product, ps5.condition) == ("sell", "PS5", "like_new")
    # Synonyms, misspellings, mixed scripts all land on one product.
    for query in ("switch", "NS", "任天堂switch", "Nintendo Switch", "swich", "swtich", "斯维奇"):
        assert parse_intent(query).brand == "Nintendo", query
    assert parse_intent("ps4").product == "PS4"  # one character from ps5 is a different thing
    assert parse_intent("playstaion 5").product == "PS5"


def test_numbers_and_distances() -> None:
    assert [cn_number(x) for x in ("两百", "一百五", "三十五", "十", "两千五", "一万", "12")] == [
        200,
        150,
        35,
        10,
        2500,
        10000,
        12,
    ]
    assert cn_number("abc") is None
    assert edit_distance("swtich", "switch") == 1  # a transposition
    assert edit_distance("lego", "legoo") == 1


def test_the_eval_command_prints_accuracy() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAGO_AI_")}
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "from lago_cli import main; main(['ai-eval', '--file', 'tests/ai_queries_holdout.jsonl'])",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
        cwd=HERE.parent,
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "engine local, tests/ai_queries_holdout.jsonl"
    assert lines[1] == "30 queries"
    assert any(line.split()[0] == "intent" and line.endswith("%") for line in lines)
    assert any(line.strip().startswith("all slots") for line in lines)


def _row(**fields: object) -> dict[str, object]:
    row: dict[str, object] = {
        "title": "任天堂 Switch OLED",
        "brand": "Nintendo",
        "description": "",
        "category": "game_console",
        "condition": "like_new",
        "kind": "rent",
        "price_fen": None,
        "rent_per_day_fen": 3_000,
    }
    row.update(fields)
    return row


def test_listings_match_the_intent() -> None:
    from lago_core.ai.search import match

    weekend = parse_intent("我想租个 Switch 一个周末")
    assert match(_row(), weekend) is not None
    # Synonyms: a seller who wrote "NS" or "任天堂" still matches a query for Switch.
    assert match(_row(title="NS 续航版", brand=None), weekend) is not None
    assert match(_row(title="PS5", brand="Sony"), weekend) is None
    # The kind asked for is a preference, not a filter: a Switch for sale is still shown to a
    # resident who wants to rent one, below the rentals (issue 21: category and rent-vs-buy
    # must not hide obvious matches).
    for_sale = match(_row(kind="sale", price_fen=150_000, rent_per_day_fen=None), weekend)
    for_rent = match(_row(), weekend)
    assert for_sale is not None
    assert for_rent is not None
    assert for_sale[0] < for_rent[0]
    assert "可购买" in for_sale[1]
    # Likewise the category: a game for a console query is shown, below the consoles.
    game = match(_row(title="Switch 塞尔达 卡带", category="video_game"), weekend)
    assert game is not None
    assert game[0] < for_rent[0]
    # A rental's price for a duration is the rent for that duration: 2 days at ¥30 is ¥60.
    assert match(_row(), parse_intent("租switch一个周末 60块以内")) is not None
    assert match(_row(), parse_intent("租switch一个周末 50块以内")) is None
    assert match(_row(), parse_intent("租switch 一天30块以内")) is not None
    # The condition asked for is the least acceptable one.
    assert match(_row(condition="new"), parse_intent("租 九成新 switch")) is not None
    assert match(_row(condition="good"), parse_intent("租 九成新 switch")) is None
    # Misspelled and mixed queries find the same listing.
    assert match(_row(), parse_intent("swich rent 2 days")) is not None
    lego = _row(
        title="乐高 城市系列",
        brand="LEGO",
        category="building_blocks",
        kind="sale",
        price_fen=8_000,
        rent_per_day_fen=None,
    )
    assert match(lego, parse_intent("legoo 100以内")) is not None
    assert match(lego, parse_intent("乐高 50块以内")) is None
