"""Kinds of item by every name they go by, in one table: Chinese, English and pinyin synonyms,
broader kinds, and what a kind is for.

The embedding barely separates 平衡车 from 滑板车 (both short ride-on words) and does not know
that 滑步车 is a balance bike; a resident says 单车 where the seller wrote 自行车, 童书 where the
seller wrote 绘本, "balance bike" or "pingheng che" for a listing in Chinese. So the lexical side
matches kinds, not only words: a listing's words gain a token for each kind its words name and
for every broader kind (a ukulele is an instrument), and a query's words gain the token of each
kind it names (its own words for that kind are replaced by the token, so 滑步车 and 平衡车 meet
with the same weight) and of each kind its purpose implies (孩子学骑车 → bicycles and balance
bikes). Used by lago_core/ai/index.py (listings, derived from the stored words when the index
is loaded, so the table can change without re-embedding anything) and search.py (queries).
docs/ai.md, "Hybrid ranking".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["KINDS", "PREFIX", "Kind", "listing_kinds", "query_kinds", "ranked_kinds", "text_kinds"]

# Tokens of kinds cannot collide with a word (lexical.tokens keeps only Han runs and [a-z0-9]).
PREFIX = "kind:"


@dataclass(frozen=True, slots=True)
class Kind:
    name: str
    # Names of the kind itself, on both sides: Chinese as written, English (plural allowed) and
    # pinyin in lower case with spaces between words or syllables (matched with or without).
    names: tuple[str, ...]
    # Broader kinds (by name): a listing of this kind is also of those.
    broader: tuple[str, ...] = ()
    # Purposes that imply this kind, on the query side only (a listing that mentions a purpose
    # is not of the kind for it).
    purposes: tuple[str, ...] = ()
    # As broad as a category of the catalogue (积木, 毛绒): its token helps find listings, but
    # ranking by it is the category's soft preference already — a bonus for every plush toy
    # would put a plush dinosaur above the rabbit "毛绒兔子" asks for.
    category_wide: bool = False


KINDS: tuple[Kind, ...] = (
    # Ride-ons: a balance bike is not a bicycle, a scooter neither; learning to ride wants both
    # of the first two.
    Kind(
        "balance_bike",
        (
            "平衡车",
            "滑步车",
            "平衡自行车",
            "balance bike",
            "push bike",
            "strider",
            "ping heng che",
            "hua bu che",
        ),
        purposes=("学骑车", "学骑自行车", "学车", "learn to ride", "learning to ride"),
    ),
    Kind(
        "bicycle",
        ("自行车", "单车", "脚踏车", "童车", "bicycle", "bike", "cycle", "zi xing che", "dan che"),
        purposes=("学骑车", "学骑自行车", "learn to ride", "learning to ride"),
    ),
    Kind("scooter", ("滑板车", "踏板车", "scooter", "kick scooter", "hua ban che")),
    Kind("skateboard", ("滑板", "双翘", "skateboard", "hua ban")),
    Kind("roller_skates", ("轮滑鞋", "溜冰鞋", "旱冰鞋", "roller skates", "inline skates")),
    # Building toys.
    Kind(
        "magnetic_tiles",
        (
            "磁力片",
            "磁铁积木",
            "磁力积木",
            "磁性积木",
            "magnetic tiles",
            "magna tiles",
            "magformers",
            "ci li pian",
        ),
    ),
    Kind("building_blocks", ("积木", "building blocks", "blocks", "ji mu"), category_wide=True),
    Kind("model_kit", ("拼装模型", "高达", "扎古", "gundam", "gunpla", "model kit", "gao da")),
    # Books and reading.
    Kind(
        "picture_book",
        ("绘本", "图画书", "立体书", "picture book", "picture books", "hui ben"),
        broader=("book",),
    ),
    Kind("book", ("童书", "儿童书", "图书", "百科", "book", "tong shu")),
    Kind("reading_pen", ("点读笔", "reading pen", "dian du bi")),
    # Musical instruments.
    Kind("instrument", ("乐器", "musical instrument", "instrument", "yue qi")),
    Kind("keyboard", ("电子琴", "keyboard", "dian zi qin"), broader=("instrument",)),
    Kind("ukulele", ("尤克里里", "ukulele", "uke", "小吉他"), broader=("instrument",)),
    Kind("violin", ("小提琴", "violin", "xiao ti qin"), broader=("instrument",)),
    Kind("drum", ("架子鼓", "drum set", "drum", "jia zi gu"), broader=("instrument",)),
    # Baby gear: each has its own word and its own purpose.
    Kind(
        "stroller",
        ("婴儿推车", "推车", "伞车", "婴儿车", "stroller", "pram", "buggy", "tui che"),
        purposes=("带上飞机", "能登机", "可登机"),
    ),
    Kind(
        "car_seat",
        (
            "安全座椅",
            "儿童座椅",
            "汽车座椅",
            "增高垫",
            "car seat",
            "booster seat",
            "an quan zuo yi",
        ),
        purposes=("坐车", "开车", "车上用", "in the car"),
    ),
    Kind(
        "high_chair",
        ("餐椅", "吃饭椅", "成长椅", "high chair", "can yi"),
        purposes=("吃饭", "喂饭", "feeding", "mealtime"),
    ),
    Kind(
        "baby_toy",
        ("摇铃", "牙胶", "健身架", "床铃", "安抚巾", "安抚玩偶", "rattle", "teether", "play gym"),
        purposes=("刚出生", "新生儿", "满月", "newborn"),
    ),
    Kind("crib", ("婴儿床", "crib", "cot", "ying er chuang")),
    Kind("baby_monitor", ("婴儿监视器", "看护器", "baby monitor")),
    # Outdoors and play.
    Kind(
        "fitness_game",
        ("健身环", "舞力全开", "体感", "ring fit", "just dance"),
        purposes=("减肥", "健身", "锻炼", "exercise", "workout"),
    ),
    Kind("tent", ("帐篷", "天幕", "tent", "zhang peng"), purposes=("露营", "camping")),
    Kind("trampoline", ("蹦床", "trampoline", "beng chuang"), purposes=("蹦蹦跳跳", "蹦跶")),
    Kind("remote_control", ("遥控", "remote control", "rc car", "yao kong")),
    Kind(
        "excavator",
        ("挖掘机", "工程车", "digger", "diggers", "excavator", "construction", "wa jue ji"),
    ),
    Kind("dinosaur", ("恐龙", "霸王龙", "侏罗纪", "dinosaur", "t rex", "kong long")),
    Kind(
        "plush",
        ("毛绒", "毛茸", "公仔", "玩偶", "plush", "stuffed animal", "soft toy", "mao rong"),
        category_wide=True,
    ),
    Kind("teddy_bear", ("泰迪熊", "teddy bear", "teddy", "小熊"), broader=("plush",)),
    Kind("puzzle", ("拼图", "jigsaw", "puzzle", "pin tu")),
    Kind("telescope", ("望远镜", "telescope", "wang yuan jing")),
    Kind("microscope", ("显微镜", "microscope", "xian wei jing")),
    Kind("coding", ("编程", "coding", "programming", "mbot", "bian cheng"), purposes=("学编程",)),
    Kind("clothes", ("童装", "羽绒服", "滑雪服", "外套", "jacket", "coat", "clothes", "snowsuit")),
)

_BY_NAME = {kind.name: kind for kind in KINDS}


def _latin(alias: str) -> bool:
    return re.search(r"[a-z]", alias) is not None


def _compact(alias: str) -> str:
    return "".join(alias.split())


def _compile(
    pairs: Iterable[tuple[str, str]],
) -> tuple[re.Pattern[str], re.Pattern[str], dict[str, set[str]]]:
    """A pattern for the Chinese names, one for the Latin ones (whole words, spaces optional,
    an English plural allowed: Chinese characters count as word characters for ``\\b``, so
    letters around are checked instead), and the kinds of each name without its spaces."""
    of: dict[str, set[str]] = {}
    written: set[str] = set()
    for alias, kind in pairs:
        of.setdefault(_compact(alias), set()).add(kind)
        written.add(alias)
    # Longest first, so 滑板车 is read before 滑板 and 婴儿推车 before 推车. The look-arounds
    # are outside the alternation: inside, the Latin pattern was 7× slower (one look-behind
    # per name at every position), and it runs on every listing when the index loads.
    names = sorted(written, key=len, reverse=True)
    han = [re.escape(a) for a in names if not _latin(a)]
    latin = [r"\s*".join(re.escape(p) for p in a.split()) for a in names if _latin(a)]
    return (
        re.compile("|".join(han) or "(?!)"),
        re.compile(r"(?<![a-z])(?:" + ("|".join(latin) or "(?!)") + r")(?:e?s)?(?![a-z])"),
        of,
    )


_HAN_NAMES, _LATIN_NAMES, _NAME_KINDS = _compile((a, k.name) for k in KINDS for a in k.names)
_HAN_PURPOSES, _LATIN_PURPOSES, _PURPOSE_KINDS = _compile(
    (a, k.name) for k in KINDS for a in k.purposes
)


def _alias_of(found: str, table: dict[str, set[str]]) -> set[str]:
    key = _compact(found)
    # As written, or an English plural of a name.
    for candidate in (
        key,
        key[:-1] if key.endswith("s") else "",
        key[:-2] if key.endswith("es") else "",
    ):
        if candidate in table:
            return table[candidate]
    return set()


def _found(text: str, han: re.Pattern[str], latin: re.Pattern[str]) -> list[str]:
    return [m.group() for m in han.finditer(text)] + [m.group() for m in latin.finditer(text)]


def _with_broader(names: Iterable[str]) -> list[str]:
    out: dict[str, None] = {}
    todo = list(names)
    while todo:
        name = todo.pop(0)
        if name not in out:
            out[name] = None
            todo.extend(_BY_NAME[name].broader)
    return list(out)


@lru_cache(maxsize=65_536)
def _listing_kinds(han: str, latin: str) -> tuple[str, ...]:
    found: list[str] = []
    names = [m.group() for m in _HAN_NAMES.finditer(han)]
    if latin:
        names += [m.group() for m in _LATIN_NAMES.finditer(latin)]
    for name in names:
        found.extend(sorted(_alias_of(name, _NAME_KINDS)))
    return tuple(PREFIX + name for name in _with_broader(found))


def listing_kinds(words: Sequence[str]) -> tuple[str, ...]:
    """The kind tokens of a listing from its indexed words (jieba's search-mode words in text
    order, so Chinese ones are read joined, Latin ones apart), broader kinds included."""
    han = "".join(w for w in words if not w.isascii())
    latin = " ".join(w for w in words if w.isascii())
    return _listing_kinds(han, latin)


def ranked_kinds(tokens: Iterable[str]) -> list[str]:
    """The kind tokens among ``tokens`` that ranking prefers (not the category-wide ones)."""
    return [
        t for t in tokens if t.startswith(PREFIX) and not _BY_NAME[t[len(PREFIX) :]].category_wide
    ]


def text_kinds(text: str) -> tuple[str, ...]:
    """The kind tokens of a text as written (a listing's title), broader kinds included."""
    text = text.lower()
    return _listing_kinds(text, text)


def query_kinds(query: str) -> tuple[list[str], list[str]]:
    """The kind tokens a query names or implies (not the broader ones: "尤克里里" is not asking
    for any instrument), and the spans of the query's text that named a kind."""
    text = query.lower()
    kinds: dict[str, None] = {}
    spans: list[str] = []
    for found in _found(text, _HAN_NAMES, _LATIN_NAMES):
        for name in sorted(_alias_of(found, _NAME_KINDS)):
            kinds[PREFIX + name] = None
        spans.append(found)
    for found in _found(text, _HAN_PURPOSES, _LATIN_PURPOSES):
        for name in sorted(_alias_of(found, _PURPOSE_KINDS)):
            kinds[PREFIX + name] = None
    return list(kinds), spans
