"""What a search query asks for, and the deterministic parser behind the local engine.

A query such as "我想租个 Switch 一个周末" becomes an :class:`Intent`: what the resident wants to do
(rent, buy, sell, swap), the category and brand, the rental duration, a price range in fen, the
least condition, and the community scope. The parser is a lexicon with synonyms (switch/NS/任天堂),
edit-distance matching of Latin tokens for misspellings ("swich", "legoo", "playstaion"), Chinese
numerals ("两百", "一百五") and the usual ways of saying durations and budgets. It is also the
fallback when a configured model endpoint fails, so search never depends on one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "BRANDS",
    "INTENTS",
    "Intent",
    "Product",
    "canonical_brand",
    "cn_number",
    "edit_distance",
    "parse_intent",
    "synonyms_of",
]

IntentName = Literal["rent", "buy", "sell", "swap"]
Scope = Literal["community", "nearby"]
INTENTS: tuple[str, ...] = ("rent", "buy", "sell", "swap")
CATEGORIES = (
    "toy",
    "building_blocks",
    "game_console",
    "video_game",
    "doll",
    "plush",
    "figure",
    "outdoor",
    "educational",
    "other",
)
CONDITIONS = ("new", "like_new", "good", "fair", "for_parts")


class Intent(BaseModel):
    """A parsed query. Prices are integer fen; ``condition`` is the least acceptable condition."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    intent: IntentName = "buy"
    category: str | None = Field(default=None, description="a listing category")
    brand: str | None = Field(default=None, description="canonical brand, e.g. Nintendo, LEGO")
    product: str | None = Field(default=None, description="canonical product, e.g. Switch, PS5")
    keywords: list[str] = Field(default_factory=list, description="other words to match")
    duration_days: int | None = Field(default=None, ge=1, le=365)
    price_min_fen: int | None = Field(default=None, ge=0)
    price_max_fen: int | None = Field(default=None, ge=0)
    price_per_day: bool = Field(default=False, description="the price range is a daily rent")
    condition: str | None = None
    scope: Scope | None = Field(
        default=None, description="community: my community only; nearby: neighbours too"
    )


@dataclass(frozen=True, slots=True)
class Product:
    name: str | None  # canonical product, or None for a brand/category word alone
    brand: str | None
    category: str | None
    terms: tuple[str, ...]  # what a listing's text may say for it (search matches any)


# Chinese words (matched as substrings) and Latin words (matched as tokens, with misspellings).
# Order matters for Chinese: the first, longest match wins, so specific products precede brands.
_PRODUCTS: list[tuple[tuple[str, ...], Product]] = [
    (
        ("switch", "ns", "nswitch", "斯威奇", "斯维奇", "switcholed", "switchlite", "oled"),
        Product("Switch", "Nintendo", "game_console", ("switch", "ns", "任天堂", "nintendo")),
    ),
    (
        ("ps5", "playstation5", "p5", "ps5pro"),
        Product("PS5", "Sony", "game_console", ("ps5", "playstation 5", "playstation5")),
    ),
    (
        ("ps4", "playstation4"),
        Product("PS4", "Sony", "game_console", ("ps4", "playstation 4", "playstation4")),
    ),
    (
        ("xbox", "xsx", "xss", "微软游戏机"),
        Product("Xbox", "Microsoft", "game_console", ("xbox", "微软")),
    ),
    (("playstation", "索尼", "sony"), Product(None, "Sony", "game_console", ("sony", "索尼"))),
    (
        ("任天堂", "nintendo", "任天"),
        Product(None, "Nintendo", "game_console", ("任天堂", "nintendo", "switch")),
    ),
    (
        ("乐高", "lego", "乐搞", "勒高", "legao"),
        Product(None, "LEGO", "building_blocks", ("乐高", "lego")),
    ),
    (
        ("高达", "gundam", "万代", "bandai"),
        Product(None, "Bandai", "figure", ("高达", "gundam", "万代", "bandai")),
    ),
    (
        ("泡泡玛特", "popmart", "labubu", "拉布布"),
        Product(None, "Pop Mart", "figure", ("泡泡玛特", "pop mart", "popmart", "labubu")),
    ),
    (("芭比", "barbie"), Product(None, "Barbie", "doll", ("芭比", "barbie"))),
    (("奥特曼", "ultraman"), Product(None, None, "figure", ("奥特曼", "ultraman"))),
    (
        (
            "卡带",
            "游戏卡",
            "光盘",
            "游戏碟",
            "塞尔达",
            "马里奥",
            "宝可梦",
            "zelda",
            "mario",
            "pokemon",
        ),
        Product(None, None, "video_game", ("卡带", "游戏", "塞尔达", "马里奥", "宝可梦")),
    ),
    (
        ("游戏机", "掌机", "主机", "console"),
        Product(None, None, "game_console", ("游戏机", "掌机", "主机")),
    ),
    (("积木", "拼插", "blocks"), Product(None, None, "building_blocks", ("积木",))),
    (("手办", "盲盒", "模型", "figure"), Product(None, None, "figure", ("手办", "盲盒", "模型"))),
    (("娃娃", "洋娃娃", "doll"), Product(None, None, "doll", ("娃娃",))),
    (
        ("毛绒", "玩偶", "公仔", "小熊", "熊", "plush"),
        Product(None, None, "plush", ("毛绒", "玩偶", "公仔", "熊")),
    ),
    (
        ("滑板车", "平衡车", "自行车", "童车", "滑板", "帐篷", "秋千", "轮滑", "scooter"),
        Product(None, None, "outdoor", ("滑板车", "平衡车", "自行车", "童车", "滑板", "帐篷")),
    ),
    (
        ("早教", "益智", "拼图", "点读笔", "学习机", "编程", "绘本", "puzzle"),
        Product(None, None, "educational", ("早教", "益智", "拼图", "点读", "学习机", "编程")),
    ),
    (
        ("遥控车", "玩具车", "小汽车", "风火轮", "托马斯", "玩具", "toy", "hotwheels"),
        Product(None, None, "toy", ("遥控", "玩具车", "小汽车", "风火轮", "托马斯", "玩具")),
    ),
]
# A video-game word wins over a console word ("switch 卡带" is a game, not a console).
_CATEGORY_PRIORITY = {"video_game": 0}
BRANDS = {p.brand for _, p in _PRODUCTS if p.brand}
_LATIN_KEYS = {w: p for words, p in _PRODUCTS for w in words if w.isascii()}
_CHINESE_KEYS = sorted(
    ((w, p) for words, p in _PRODUCTS for w in words if not w.isascii()),
    key=lambda item: -len(item[0]),
)


def canonical_brand(text: str | None) -> str | None:
    """A brand name in any spelling the lexicon knows, as its canonical form."""
    if not text:
        return None
    lowered = text.strip().lower()
    for brand in BRANDS:
        if brand.lower() == lowered:
            return brand
    for word, product in _CHINESE_KEYS:
        if word == lowered and product.brand:
            return product.brand
    found = _lookup(lowered.replace(" ", ""))
    return found[0].brand if found else None


def synonyms_of(intent: Intent) -> tuple[str, ...]:
    """The words a matching listing may use for what the intent names (for text matching)."""
    for _, product in _PRODUCTS:
        if intent.product and product.name == intent.product:
            return product.terms
    for _, product in _PRODUCTS:
        if intent.product is None and product.name is None and product.brand == intent.brand:
            return product.terms
    return ()


# --- numbers -------------------------------------------------------------------------------------

_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10000}
_CN_NUM = "[零〇一二两三四五六七八九十百千万]+"


def cn_number(text: str) -> int | None:
    """A Chinese numeral (两百, 一百五, 三十五, 十) or digits, as an integer; None if neither.

    A trailing digit after a unit scales to the next lower unit, as people say prices:
    一百五 is 150, 两千五 is 2500.
    """
    if text.isdigit():
        return int(text)
    total, current, last_unit = 0, 0, 1
    for char in text:
        if char in _DIGITS:
            current = _DIGITS[char]
        elif char in _UNITS:
            unit = _UNITS[char]
            if unit == 10_000:
                total = (total + (current or 0)) * unit
            else:
                total += (current or 1) * unit
            current, last_unit = 0, unit
        else:
            return None
    if current:
        total += current * (last_unit // 10 if last_unit >= 100 else 1)
    return total


def edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions, transpositions."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


def _close_enough(token: str, key: str) -> bool:
    # Short tokens must be exact: ps4 and ps5, ns and no, differ by one character.
    if len(key) <= 3 or len(token) <= 3:
        return token == key
    allowed = 1 if len(key) <= 5 else 2
    return abs(len(token) - len(key)) <= allowed and edit_distance(token, key) <= allowed


def _lookup(token: str) -> list[Product]:
    if token in _LATIN_KEYS:
        return [_LATIN_KEYS[token]]
    return [p for key, p in _LATIN_KEYS.items() if _close_enough(token, key)][:1]


# --- the parser ----------------------------------------------------------------------------------

_MONEY = rf"(?:[¥￥]\s*)?(\d+(?:\.\d+)?|{_CN_NUM})\s*(k|K|千|w|W|万)?\s*(块钱|块|元|rmb|RMB|刀)?"
_RANGE = re.compile(rf"{_MONEY}\s*(?:到|至|-|~|～|—)\s*{_MONEY}")
_AT_MOST = re.compile(
    rf"(?:不超过|不到|低于|少于|最多|最高|预算|under|below|less than|<|≤)\s*{_MONEY}"
    rf"|{_MONEY}\s*(?:以内|以下|之内|内|封顶|以下的)"
)
_AT_LEAST = re.compile(
    rf"(?:超过|高于|至少|不低于|above|over|>|≥)\s*{_MONEY}|{_MONEY}\s*(?:以上|起)"
)
_AROUND = re.compile(rf"(?:大概|大约|差不多)?\s*{_MONEY}\s*(?:左右|上下)")
_PER_DAY = re.compile(
    r"每天|每日|日租|/天|per day|a day|一天(?=\s*[\d¥￥零一二两三四五六七八九十百])"
)
_AGES = re.compile(r"\d+\s*(?:[-~到至]\s*\d+\s*)?(?:岁|周岁|个月大)")

_DURATIONS: list[tuple[re.Pattern[str], int | None]] = [
    (re.compile(r"(?:一个|1个|这个|下个|整个)?周末|weekend"), 2),
    (re.compile(r"半个月"), 15),
    (re.compile(r"(?:一|1)个?月|a month|one month"), 30),
    (re.compile(r"(?:一|1)个?(?:星期|礼拜|周)|a week|one week"), 7),
    (re.compile(r"(?:两|二|2)个?(?:星期|礼拜|周)|two weeks"), 14),
    (re.compile(r"(?:三|3)个?(?:星期|礼拜|周)"), 21),
]
_DAYS = re.compile(rf"(\d+|{_CN_NUM})\s*(?:天|日)(?!租)|(\d+)\s*days?")

_CONDITIONS: list[tuple[re.Pattern[str], str]] = [
    # like_new before new: "几乎全新" and "like new" contain the words for new.
    (
        re.compile(r"九成新|9成新|95新|九五新|98新|几乎全新|准新|like new|成色好|成色很好"),
        "like_new",
    ),
    (re.compile(r"全新|未拆封|未拆|没拆|99新|九九新|brand new|\bnew\b"), "new"),
    (re.compile(r"八成新|8成新|七成新|7成新|85新|八五新|正常使用痕迹"), "good"),
    (re.compile(r"[六五四]成新|[654]成新|有磨损|有瑕疵|能用就行|凑合"), "fair"),
    (re.compile(r"配件机|坏的|坏了|拆件|零件机|for parts"), "for_parts"),
]

_SWAP = re.compile(
    r"交换|互换|置换|以物换物|换物|swap|exchange|trade|用.{1,12}换|换.{0,3}(?:一|个|台)"
    r"|[^\s出]换(?!点钱|钱)\S|\s换\s*$"
)
_SELL = re.compile(
    r"(?:^|[，,。！!\s我想要准备打算帮我])出(?:一|个|台|套|辆|只|掉|售|手|了)"
    r"|^出|\s出\s*$|便宜出|(?:想|要|准备|打算|帮我|我)卖|卖掉|卖了|转让|转手|租出去|寄卖|挂出"
    r"|(?:想|要|准备|打算|帮我|我的.{0,10})出租|\bsell\b|\blend\b|出闲置"
)
_RENT = re.compile(r"租|借|\brent\b|\bborrow\b|\bhire\b")
_SCOPE_COMMUNITY = re.compile(r"小区里|小区内|本小区|我们小区|同小区|小区有|楼里|邻居|本楼|院里")
_SCOPE_NEARBY = re.compile(r"附近|周边|周围|旁边|隔壁小区|nearby|邻近")
_STOPWORDS = re.compile(
    r"我想|我要|想要|想|要|有没有|有卖|卖|有没|有人|谁有|请问|求购|求|买|一个|一台|一套|个|的|了|吗|呢|啊|吧"
    r"|一下|哪里|找|在|和|或者|还有|可以|能|看看|帮我|给我|我|小区里|小区|附近|以内|左右|[，,。？?！!、\s]"
)


def _money(num: str | None, mult: str | None) -> int | None:
    if not num:
        return None
    value = float(num) if re.fullmatch(r"\d+(?:\.\d+)?", num) else cn_number(num)
    if value is None:
        return None
    scale = {"k": 1000, "K": 1000, "千": 1000, "w": 10000, "W": 10000, "万": 10000}.get(
        mult or "", 1
    )
    return round(value * scale * 100)


def _prices(text: str) -> tuple[int | None, int | None, str]:
    """(min fen, max fen, the text with the price phrase removed)."""
    for pattern, kind in (
        (_RANGE, "range"),
        (_AROUND, "around"),
        (_AT_MOST, "max"),
        (_AT_LEAST, "min"),
    ):
        m = pattern.search(text)
        if m is None:
            continue
        groups = m.groups()
        rest = text[: m.start()] + " " + text[m.end() :]
        if kind == "range":
            low, high = _money(groups[0], groups[1]), _money(groups[3], groups[4])
            if groups[4] and not groups[1] and low is not None and groups[4] in "kK千wW万":
                low = _money(groups[0], groups[4])  # "1-2千" scales both ends
            if low is not None and high is not None:
                return min(low, high), max(low, high), rest
        triples = [groups[i : i + 3] for i in range(0, len(groups), 3)]
        for num, mult, _cur in triples:
            value = _money(num, mult)
            if value is None:
                continue
            if kind == "around":
                return round(value * 0.8), round(value * 1.2), rest
            if kind == "max":
                return None, value, rest
            return value, None, rest
    m = re.search(rf"(\d+(?:\.\d+)?|{_CN_NUM})\s*(k|K|千|w|W|万)?\s*(块钱|块|元|rmb|RMB)", text)
    if m is None:
        m = re.search(r"[¥￥]\s*(\d+(?:\.\d+)?)()", text)
    if m is not None:
        value = _money(m.group(1), m.group(2) or None)
        if value is not None:
            return None, value, text[: m.start()] + " " + text[m.end() :]
    return None, None, text


def _duration(text: str) -> tuple[int | None, str]:
    for pattern, days in _DURATIONS:
        m = pattern.search(text)
        if m is not None:
            return days, text[: m.start()] + " " + text[m.end() :]
    m = _DAYS.search(text)
    if m is not None:
        raw = m.group(1) or m.group(2)
        value = cn_number(raw) if raw else None
        if value:
            return min(value, 365), text[: m.start()] + " " + text[m.end() :]
    return None, text


def _normalise(query: str) -> str:
    text = query.strip().lower()
    # Full-width Latin letters and digits as typed on Chinese keyboards.
    text = "".join(
        chr(ord(c) - 0xFEE0) if "！" <= c <= "～" and c not in "，。？！～" else c for c in text
    )
    text = re.sub(r"\bplay\s*station\s*(\d)", r"playstation\1", text)
    text = re.sub(r"\b(ps|xbox)\s+(\d)", r"\1\2", text)
    text = re.sub(r"nintendo\s+switch|任天堂\s*switch", "switch", text)
    text = re.sub(r"\bswitch\s+(oled|lite)\b", "switch", text)
    return text


def _products(text: str) -> tuple[list[Product], str]:
    found: list[tuple[int, Product]] = []
    rest = text
    for word, product in _CHINESE_KEYS:
        at = rest.find(word)
        if at >= 0:
            found.append((at, product))
            rest = rest.replace(word, " ")
    for m in re.finditer(r"[a-z][a-z0-9]*|\d+[a-z]+[a-z0-9]*", text):
        for product in _lookup(m.group(0)):
            found.append((m.start(), product))
            rest = rest.replace(m.group(0), " ")
    found.sort(key=lambda item: item[0])
    return [p for _, p in found], rest


def parse_intent(query: str) -> Intent:
    """The deterministic parse of a search query (the local engine, and every engine's fallback)."""
    text = _normalise(query)
    products, rest = _products(text)
    per_day = bool(_PER_DAY.search(rest))
    # "一天10块" is a daily rent, not a one-day rental.
    duration, rest = _duration(_PER_DAY.sub(" ", rest))
    condition = next((c for pattern, c in _CONDITIONS if pattern.search(text)), None)
    for pattern, _ in _CONDITIONS:
        rest = pattern.sub(" ", rest)
    low, high, rest = _prices(_AGES.sub(" ", rest))
    if _SWAP.search(text):
        intent = "swap"
    elif _SELL.search(text):
        intent = "sell"
    elif _RENT.search(text):
        intent = "rent"
    else:
        intent = "buy"
    scope: Scope | None = None
    if _SCOPE_COMMUNITY.search(text):
        scope = "community"
    elif _SCOPE_NEARBY.search(text):
        scope = "nearby"
    product = next((p.name for p in products if p.name), None)
    brand = next((p.brand for p in products if p.brand), None)
    categories = [p.category for p in products if p.category]
    category = (
        min(categories, key=lambda c: (_CATEGORY_PRIORITY.get(c, 1), categories.index(c)))
        if categories
        else None
    )
    rest = _SWAP.sub(" ", _SELL.sub(" ", _RENT.sub(" ", rest)))
    keywords = [w for w in _STOPWORDS.sub(" ", rest).split() if len(w) >= 2 and not w.isdigit()]
    return Intent(
        intent=intent,  # type: ignore[arg-type]
        category=category,
        brand=brand,
        product=product,
        keywords=keywords[:5],
        duration_days=duration,
        price_min_fen=low,
        price_max_fen=high,
        price_per_day=per_day and (low is not None or high is not None),
        condition=condition,
        scope=scope,
    )
