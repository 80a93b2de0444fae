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
intent 97.5%, all slots 72.5% — the honest figure for queries nobody tuned on — and then tuned
on by class (fourth round); a sixth (120), written blind by someone else from the labelling
guide alone, scored once (intent 95.0%, all slots 79.2%), was tuned on by class in the fifth
round. Every set here is now a regression floor, and the next unseen set is someone else's.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lago_core.ai import LocalEngine, parse_intent
from lago_core.ai.evaluation import SLOTS, evaluate, load_cases
from lago_core.ai.intent import cn_number, edit_distance, parse_rules

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
        # Written after that fix, committed before it was scored, measured once (intent 97.5%,
        # category 80.0%, all slots 72.5%), then tuned on by class in the fourth round (the
        # classifier's item lines, rules for swaps, durations, conditions, scope): a regression
        # floor, no longer an unseen figure (docs/ai.md, "Evaluation").
        ("ai_queries_v5.jsonl", 0.90, 0.90, 0.95),
        # Written blind by someone else, scored once (intent 95.0%, all slots 79.2%), then its
        # misses fixed by class in the fifth round (now intent 100%, all slots 98.3%): a
        # regression floor at the level reached, not a claim about unseen queries.
        ("ai_queries_v6.jsonl", 0.98, 0.98, 1.0),
        # The second blind set, written after the fifth round and scored once on it (intent
        # 100%, every slot ≥ 95.0%, all slots 91.7%): the honest figure, kept as a floor.
        ("ai_queries_v7.jsonl", 0.95, 0.915, 1.0),
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
    # The condition asked for is a preference: what meets it first, what falls short below
    # (one step: 九成新 asked, 八成新 offered), not hidden.
    newer = match(_row(condition="new"), parse_intent("租 九成新 switch"))
    older = match(_row(condition="good"), parse_intent("租 九成新 switch"))
    assert newer is not None
    assert older is not None
    assert newer[0] - older[0] == 1.0
    assert "成色略低" in older[1]
    assert "成色符合" in newer[1]
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


def _eval_queries() -> list[str]:
    """Every query of the labelled query sets here (intent and search)."""
    import orjson

    return [
        str(orjson.loads(line)["q"])
        for path in sorted(HERE.glob("ai_*queries*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def test_the_training_lines_are_not_evaluation_queries() -> None:
    """The classifier's lines are written for training: none equals or contains a query of
    any labelled set here (a line that did would score its own answer)."""
    import orjson

    from lago_core.ai.classifier import TRAIN_FILE, evaluation_collisions

    lines = [
        str(orjson.loads(line)["q"])
        for line in TRAIN_FILE.read_text(encoding="utf-8").splitlines()
        if line
    ]
    assert len(lines) >= 1500
    assert evaluation_collisions(lines, _eval_queries()) == []
    # The rule itself: a line equal to a query, or holding a longer one, collides.
    assert evaluation_collisions(
        ["积木", "便宜的积木", "出 乐高 城市系列 九成新", "遥控车"],
        ["积木", "乐高 城市系列", "遥控"],
    ) == ["积木", "出 乐高 城市系列 九成新"]


def test_the_committed_model_is_trained_on_the_training_file() -> None:
    """Retraining (python -m lago_core.ai.classifier, ≈ 1 min) is deterministic from the
    training file; the model records the hash of the file it was trained on."""
    import numpy as np

    from lago_core.ai.classifier import MODEL_FILE, train_file_hash

    with np.load(MODEL_FILE) as arrays:
        assert str(arrays["train_sha256"]) == train_file_hash()
        assert len(arrays["exemplars"]) == len(arrays["exemplar_labels"])
    assert MODEL_FILE.stat().st_size < 1_000_000


def test_swap_said_as_the_only_way_or_asked() -> None:
    for query in (
        "不卖 只换 乐高",
        "只交换 芭比",
        "仅换不卖 滑板车",
        "只接受置换 高达",
        "switch 换不换",
        "乐高城堡 换吗",
        "拼图 交换不交换",
    ):
        assert parse_intent(query).intent == "swap", query
    # A-not-A asks: its 不 rules nothing out (租不租 still rents), and money is not a swap.
    assert parse_intent("帐篷 租不租").intent == "rent"
    assert parse_intent("ps5 只换钱").intent == "sell"


def test_nights_and_approximate_durations() -> None:
    cases = {
        "借帐篷 三晚": 3,
        "租房车 两个晚上": 2,
        "rent a tent for 4 nights": 4,
        "3天2晚 帐篷": 3,  # days before nights
        "租 switch 十来天": 10,
        "租ps5 20来天": 20,
        "借投影 十多天": 10,
        "租平衡车 一个多月": 30,
        "租 xbox 个把月": 30,
        "借滑板车 个把星期": 7,
        "租帐篷 一周左右": 7,
        "租switch 五天左右": 5,
    }
    cases |= {"租半年 钢琴": 180, "租一年 婴儿床": 365, "rent a stroller for 6 months": 180}
    for query, days in cases.items():
        assert parse_intent(query).duration_days == days, query
    # The item's age or warranty is no rental period, in any unit.
    for query in (
        "switch 用了两个月 出",
        "买了一年的 乐高 出",
        "保修还有半年 ps5",
        "used for 2 months, switch",
        "6 months old stroller",
    ):
        assert parse_intent(query).duration_days is None, query
        assert parse_intent(query).intent != "rent", query


def test_prices_in_thousands_and_english_approximations() -> None:
    assert parse_intent("1.5k switch").price_max_fen == 150_000
    around = parse_intent("around 1.5k ps5")
    assert (around.price_min_fen, around.price_max_fen) == (120_000, 180_000)
    scooter = parse_intent("about 200 rmb scooter")
    assert (scooter.price_min_fen, scooter.price_max_fen) == (16_000, 24_000)
    assert parse_intent("nba 2k24 ps5").price_max_fen is None  # a game's name


def test_lend_me_asks_to_borrow() -> None:
    assert parse_intent("lend me your ps5 for a week").intent == "rent"
    assert parse_intent("lending my tent this weekend").intent == "sell"


def test_conditions_in_english_and_colloquial() -> None:
    cases = {
        "lego set, good condition": "good",
        "stroller in great shape": "good",
        "gently used scooter": "good",
        "barely used switch": "like_new",
        "hardly used tent": "like_new",
        "mint ps5": "like_new",
        "like-new kids bike": "like_new",
        "excellent condition barbie": "like_new",
        "没怎么用过的滑板车": "like_new",
        "只用过两次 帐篷": "like_new",
        "brand-new lego": "new",
        "unopened blind box": "new",
        "没用过 帐篷": "new",
        "heavily used bike": "fair",
        "有划痕也行 ps4": "fair",
    }
    # A share of new however written: 99新 is like_new by the labelling guide, 十成新 new.
    cases |= {
        "出 九五成新 ps5": "like_new",
        "9成新 芭比": "like_new",
        "99新 switch": "like_new",
        "八五成新 滑板车": "good",
        "85新 ps4": "good",
        "七成新 帐篷": "good",
        "六成新 积木": "fair",
        "十成新 帐篷": "new",
    }
    for query, condition in cases.items():
        assert parse_intent(query).condition == condition, query
    assert parse_intent("2023新款 乐高").condition is None  # a model year, not a share
    # A flaw said to be absent is not the "fair" condition.
    assert parse_intent("没有划痕 switch").condition is None


def test_giving_away_is_offering() -> None:
    for query in ("白送 婴儿床", "免费送 一箱绘本", "无偿赠送 滑板车 自提", "玩具 送出去 有要的吗"):
        assert parse_intent(query).intent == "sell", query
    # Asking for a freebie, or buying a present, is not.
    assert parse_intent("求送 玩具").intent == "buy"
    assert parse_intent("买个积木送人").intent == "buy"


def test_hand_over_inside_the_compound_is_community_scope() -> None:
    for query in (
        "乐高 小区自提",
        "同小区自提 滑板车",
        "楼下面交 帐篷",
        "小区门口交易 switch",
        "同一栋的邻居 有要绘本的吗",
        "本单元 出玩具",
        "same building only, lego",
        "pick up in my building, scooter",
    ):
        assert parse_intent(query).scope == "community", query


def test_a_kind_of_item_wins_over_a_makers_usual_category() -> None:
    """Compound items: the word for the kind of item names the category, not the maker's or
    the franchise's usual one; a misspelt kind word does not outrank a maker."""
    assert parse_intent("小霸王 学习机").category == "educational"
    assert parse_intent("小霸王 游戏机").category == "game_console"
    assert parse_intent("任天堂 健身环").category == "video_game"
    assert parse_intent("ps5 舞力全开").category == "video_game"
    assert parse_intent("高达 积木").category == "building_blocks"
    assert parse_intent("乐高玩具").category == "building_blocks"  # 玩具 alone is weakest
    assert parse_intent("毛绒玩具").category == "plush"
    assert parse_intent("遥控挖掘机").category == "toy"
    assert parse_intent("yaokong tanke").category == "toy"
    # Names said in two Latin words are the one name.
    hot = parse_rules("hot wheels 轨道")
    assert hot.intent.category == "toy"
    assert parse_intent("ring fit 卡带").category == "video_game"
    # A franchise with other words about the item asks the classifier (奥特曼 卡片 is a figure,
    # an 奥特曼 water gun a toy); alone it keeps its usual category.
    assert parse_rules("奥特曼 水枪").category_open
    assert not parse_rules("奥特曼").category_open
    assert parse_intent("奥特曼").category == "figure"
    # Game franchises are games unless another kind of item is named; collectible cards are
    # figures, learning cards educational.
    assert parse_intent("宝可梦").category == "video_game"
    assert parse_intent("宝可梦 卡牌 一盒").category == "figure"
    assert parse_intent("马里奥 毛绒").category == "plush"
    assert parse_intent("识字卡片").category == "educational"
    # Everyday English words one letter from a key are not that key.
    assert parse_intent("hello kitty 挂件").brand is None
    assert parse_intent("picture books").brand is None
    assert parse_intent("plush with tags").brand is None  # with/switch
    assert parse_intent("black scooter").category == "outdoor"


def test_a_query_about_no_item_gets_no_category() -> None:
    """The labelling guide: no item named, no category — the classifier is not asked."""
    from lago_core.ai.classifier import classifier

    for query in ("租到下周日", "只求换 不出", "明天 急 周末租", "around 200 rmb, this week"):
        assert parse_rules(query).subject == "", query
        assert parse_intent(query, classifier()).category is None, query


def test_unknown_items_get_a_category_from_the_classifier() -> None:
    """Items in no list, in Chinese, English and pinyin: the classifier's breadth (these are
    not training lines: the training file has other items and phrasings)."""
    from lago_core.ai.classifier import classifier

    cases = {
        "儿童天文望远镜 便宜出": "educational",
        "kids chemistry kit": "educational",
        "宝宝学步推车": "toy",
        "baby bouncer chair": "other",
        "儿童羽毛球拍一对": "outdoor",
        "inline skates size 32": "outdoor",
        "hello kitty 毛绒挂件": "plush",
        "一盒宝可梦卡牌": "figure",
        "xbox 无线手柄": "game_console",
    }
    wrong = {
        query: got
        for query, category in cases.items()
        if (got := parse_intent(query, classifier()).category) != category
    }
    assert len(wrong) <= 1, wrong


def test_makers_the_lexicon_does_not_know_are_read_as_written() -> None:
    """A capitalised or camel-cased Latin word that is no English word, pinyin, model code or
    lexicon word names the maker, as written (fifth round; none of these is in any set)."""
    cases = {
        "Janod 木制厨房": "Janod",
        "二手 Bugaboo 推车": "Bugaboo",
        "Smoby kitchen set": "Smoby",
        "Selling my Cybex car seat": "Cybex",
        "SCHWINN 儿童自行车": "Schwinn",  # a long word in capitals, in its usual form
        "GameSir 手柄": "GameSir",
        "Yoto player": "Yoto",
    }
    for query, maker in cases.items():
        assert parse_intent(query).brand == maker, query
    # English words, pinyin, model codes, acronyms, characters and lower case are not makers.
    for query in (
        "Looking for a Kids Bike",
        "Ertong Zixingche",  # pinyin (while "Yoto" is no syllable pair: a maker)
        "Bee6 推车",
        "RX78 模型",
        "VR 眼镜",
        "Peppa Pig 玩具",
        "janod 木制厨房",
        "不要Janod 木制厨房",
    ):
        assert parse_intent(query).brand is None, query
    # A known maker wins, and in a swap only the offered item's maker counts.
    assert parse_intent("Technic 跑车").brand == "LEGO"
    assert parse_intent("拿乐高换 Janod 厨房").brand == "LEGO"


def test_products_and_games_imply_their_maker() -> None:
    cases = {
        "马车8 卡带": "Nintendo",
        "splatoon 3 cartridge": "Nintendo",
        "joy-con 一对": "Nintendo",
        "ps vr 头显": "Sony",
        "dualsense edge": "Sony",
        "战神 光盘": "Sony",
        "拓麻歌子": "Bandai",
        "战斗陀螺 发射器": "Takara Tomy",
        "多美卡 小车": "Takara Tomy",
        "nerf 软弹枪": "Hasbro",
        "森贝儿 家族": "Sylvanian Families",
        "八位堂 手柄": "8BitDo",
    }
    for query, maker in cases.items():
        assert parse_intent(query).brand == maker, query
    # Everyday words a letter from a new maker key are not that maker (hape/have, nerf/nerd).
    assert parse_intent("have a tent").brand is None
    assert parse_intent("nerd toys").brand is None


def test_kinds_of_request_by_who_buys_and_what_is_ruled_out() -> None:
    from lago_core.ai.classifier import classifier

    def kind(query: str) -> str:
        return parse_intent(query, classifier()).intent

    # Asking for someone who buys (收) is selling; so are bargains offered.
    for query in (
        "有人收乐高吗，我这有三盒",
        "谁收芭比",
        "求收一台闲置的ps4",
        "switch 收不收",
        "anyone buying a used stroller?",
        "who wants to buy a stroller",
        "亏本出 switch 卡带",
        "白菜价出一堆毛绒",
        "跳楼价转让滑板车",
    ):
        assert kind(query) == "sell", query
    # 收 said by the buyer, and a buyer hoping for a bargain, are purchases.
    assert kind("收一台二手 xbox") == "buy"
    assert kind("想捡漏 ps5") == "buy"
    # A ruled-out kind with the other stated: the other.
    for query in (
        "不要租的，直接买一台switch",
        "租的就算了，想买个帐篷",
        "I don't want to rent, buying a ps5",
        "no rentals please, buying a tent",
        "is anyone selling a kids bike?",
        "does anybody sell lego here",
        "who's selling a stroller nearby",
        "anyone have a scooter for sale?",
    ):
        assert kind(query) == "buy", query
    # Renting one's own thing out, selling ruled out, is still offering it.
    assert kind("只租不卖 帐篷") == "sell"
    assert kind("我的ps5不出售，仅出租") == "sell"
    assert kind("只租不买 帐篷") == "rent"


def test_idleness_day_prices_decimals_and_old_is_fine() -> None:
    # How long an item sat unused is no rental period.
    for query in (
        "乐高闲置了两年 出",
        "ps4 放了一年没玩 便宜出",
        "tent unused for 6 months, selling",
    ):
        parsed = parse_intent(query)
        assert (parsed.duration_days, parsed.intent) == (None, "sell"), query
    # A bare number by a day is a daily rent.
    for query in ("我家的帐篷可以借给别人 每天30", "switch 30一天", "出租滑板车，一天30"):
        parsed = parse_intent(query)
        assert (parsed.price_max_fen, parsed.price_per_day) == (3_000, True), query
        assert parsed.duration_days is None, query
    # A number of minutes or times a day is no price.
    assert parse_intent("点读笔 每天三十分钟").price_max_fen is None
    assert parse_intent("switch 每天玩2次").price_max_fen is None
    # Decimals with k/w/千/万, after a model name too.
    assert parse_intent("xbox 2.5k以内").price_max_fen == 250_000
    assert parse_intent("ps 4 1.2千以下").price_max_fen == 120_000
    assert parse_intent("乐高 1.2万以内").price_max_fen == 1_200_000
    # Old is fine: fair; "the old one" being sold is no condition.
    assert parse_intent("毛绒玩具 旧一点也行").condition == "fair"
    assert parse_intent("滑板车 有些旧没关系").condition == "fair"
    assert parse_intent("换了新的，旧的 ps4 出").condition is None


def test_a_swaps_category_is_the_offered_items() -> None:
    from lago_core.ai.classifier import classifier

    def category(query: str) -> str | None:
        return parse_intent(query, classifier()).category

    assert category("用我家的婴儿推车换一个安全座椅") == "other"
    assert category("交换：儿童自行车换滑板车") == "outdoor"
    assert category("我出一个遥控赛车，想换switch卡带") == "toy"
    assert category("家里的绘本换乐高") == "educational"


def test_a_weekday_before_rent_is_not_a_daily_rent() -> None:
    """日租 is a daily rent, but 周日租 is Sunday followed by "rent": read as 日租 it left 周六周
    behind, "six weeks" (v7's one duration miss)."""
    for query, days in (
        ("周六周日租个滑板车", 2),
        ("周五到周日租个帐篷", 3),
        ("星期六星期日租switch", 2),
        ("礼拜五礼拜日租个投影仪", 2),
    ):
        assert parse_intent(query).duration_days == days, query
    daily = parse_intent("switch 日租10块")
    assert (daily.price_max_fen, daily.price_per_day) == (1000, True)
