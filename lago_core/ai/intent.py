"""What a search query asks for, and the deterministic parser behind the local engine.

A query such as "我想租个 Switch 一个周末" becomes an :class:`Intent`: what the resident wants to do
(rent, buy, sell, swap), the category and brand, the rental duration, a price range in fen, the
least condition, and the community scope. The parser is a lexicon with synonyms (switch/NS/任天堂),
edit-distance matching of Latin tokens for misspellings ("swich", "legoo", "playstaion"), Chinese
numerals ("两百", "一百五") and the usual ways of saying durations and budgets. It is also the
fallback when a configured model endpoint fails, so search never depends on one.
"""

from __future__ import annotations

import functools
import gzip
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "BRANDS",
    "INTENTS",
    "Classify",
    "Intent",
    "Product",
    "RuleParse",
    "canonical_brand",
    "cn_number",
    "edit_distance",
    "parse_intent",
    "parse_rules",
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
    # A character or franchise (奥特曼): like a maker, it implies a usual category only.
    franchise: bool = False
    # The bare word for toys (玩具, toy): a category only when nothing more specific is named.
    weak: bool = False

    @property
    def names_a_kind(self) -> bool:
        """A word for a kind of item (学习机, 卡带, 积木), not a product, maker or franchise:
        its category is the item's, and wins over a maker's usual one (小霸王学习机 is a
        learning machine, not a console)."""
        return self.name is None and self.brand is None and not self.franchise


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
        # 叉盒 (X-box) is what players call it; XSX and XSS are how listings name the models.
        ("xbox", "xsx", "xss", "微软游戏机", "微软主机", "叉盒", "叉盒子"),
        Product(
            "Xbox",
            "Microsoft",
            "game_console",
            ("xbox", "微软", "xsx", "xss", "series x", "series s", "叉盒"),
        ),
    ),
    (
        ("steamdeck", "steam", "蒸汽甲板"),
        Product("Steam Deck", "Valve", "game_console", ("steam deck", "steamdeck", "valve")),
    ),
    (
        ("rogally", "ally", "华硕", "asus"),
        Product(None, "ASUS", "game_console", ("rog ally", "ally", "华硕", "asus")),
    ),
    (
        ("世嘉", "sega", "megadrive", "土星", "dreamcast"),
        Product(None, "Sega", "game_console", ("世嘉", "sega", "mega drive", "md")),
    ),
    (("小霸王", "subor"), Product(None, "Subor", "game_console", ("小霸王", "subor"))),
    (
        ("quest", "oculus"),
        Product("Quest", "Meta", "game_console", ("quest", "oculus", "vr")),
    ),
    (
        ("gameboy", "gba", "3ds", "2ds", "nds", "wii", "wiiu"),
        Product(None, "Nintendo", "game_console", ("gameboy", "gba", "3ds", "wii", "任天堂")),
    ),
    (("psportal", "psvita"), Product(None, "Sony", "game_console", ("portal", "vita", "sony"))),
    (
        # Sony's peripherals and older consoles (PS VR2, DualSense, PSP).
        ("psvr", "psvr2", "dualsense", "dualshock", "ps3", "ps2", "ps1", "psone"),
        Product(None, "Sony", "game_console", ("sony", "索尼", "playstation")),
    ),
    (("playstation", "索尼", "sony"), Product(None, "Sony", "game_console", ("sony", "索尼"))),
    (
        # Not 红白机: in Chinese any 8-bit console, 小霸王's clones included.
        ("joycon", "amiibo", "famicom", "gamecube", "n64", "snes", "nes", "ngc"),
        Product(None, "Nintendo", "game_console", ("任天堂", "nintendo")),
    ),
    (("kinect",), Product(None, "Microsoft", "game_console", ("xbox", "微软"))),
    (
        ("任天堂", "nintendo", "任天"),
        Product(None, "Nintendo", "game_console", ("任天堂", "nintendo", "switch")),
    ),
    (
        # Ninjago/幻影忍者 is LEGO's (Technic and Duplo: their own entries below).
        (
            "乐高",
            "lego",
            "乐搞",
            "勒高",
            "乐稿",
            "legao",
            "legos",
            "ninjago",
            "幻影忍者",
        ),
        Product(None, "LEGO", "building_blocks", ("乐高", "lego")),
    ),
    # LEGO's lines by name: LEGO's, and a listing says the line's own words (得宝, 机械组).
    (
        ("duplo", "得宝"),
        Product("Duplo", "LEGO", "building_blocks", ("得宝", "duplo", "大颗粒", "乐高", "lego")),
    ),
    (
        ("technic", "机械组"),
        Product("Technic", "LEGO", "building_blocks", ("technic", "机械组", "乐高", "lego")),
    ),
    (("布鲁可", "bloks"), Product(None, "Bloks", "building_blocks", ("布鲁可", "bloks"))),
    (
        (
            "泡泡玛特",
            "popmart",
            "labubu",
            "拉布布",
            "skullpanda",
            "molly",
            "dimoo",
            "paopaomate",
            # Pop Mart's other lines by name.
            "hirono",
            "小野",
            "hacipupu",
            "pucky",
            "crybaby",
            "zsiga",
        ),
        Product(None, "Pop Mart", "figure", ("泡泡玛特", "pop mart", "popmart", "labubu")),
    ),
    (
        (
            "变形金刚",
            "transformers",
            "孩之宝",
            "hasbro",
            "漫威传奇",
            "marvellegends",
            "擎天柱",
            "optimusprime",
        ),
        Product(None, "Hasbro", "figure", ("变形金刚", "transformers", "孩之宝", "hasbro")),
    ),
    (("jellycat",), Product(None, "Jellycat", "plush", ("jellycat",))),
    (("田宫", "tamiya"), Product(None, "Tamiya", "toy", ("田宫", "tamiya", "四驱"))),
    # Makers of several kinds of thing: the brand only; the classifier names the category.
    (("费雪", "fisherprice"), Product(None, "Fisher-Price", None, ("费雪", "fisher"))),
    (("大疆", "dji", "tello", "robomaster"), Product(None, "DJI", None, ("大疆", "dji"))),
    (
        ("高达", "gundam", "万代", "bandai", "gaoda", "figuarts", "shf"),
        Product(None, "Bandai", "figure", ("高达", "gundam", "万代", "bandai")),
    ),
    (("芭比", "barbie", "babi", "dreamhouse"), Product(None, "Barbie", "doll", ("芭比", "barbie"))),
    (("奥特曼", "ultraman"), Product(None, None, "figure", ("奥特曼", "ultraman"), franchise=True)),
    # Nintendo's own games by title imply the maker (the labelling guide; a franchise word
    # alone — 塞尔达, mario — stays a franchise: earlier sets label it with no maker).
    (
        (
            "马里奥赛车",
            "马车8",
            "动森",
            "动物森友会",
            "喷射战士",
            "斯普拉遁",
            "星之卡比",
            "大乱斗",
            "健身环",
            "有氧拳击",
            "马里奥派对",
            "超级马力欧",
            "mariokart",
            "ringfit",
            "splatoon",
            "kirby",
            "animalcrossing",
            "smashbros",
            "marioparty",
        ),
        Product(None, "Nintendo", "video_game", ("任天堂", "nintendo", "卡带", "游戏")),
    ),
    # Sony's and Microsoft's own games by title.
    (
        (
            "战神",
            "godofwar",
            "最后生还者",
            "神秘海域",
            "uncharted",
            "对马岛",
            "gt7",
            "granturismo",
            "宇宙机器人",
            "astrobot",
        ),
        Product(None, "Sony", "video_game", ("索尼", "sony", "光盘", "游戏")),
    ),
    (
        ("光环", "halo", "极限竞速", "forza"),
        Product(None, "Microsoft", "video_game", ("微软", "xbox", "光盘", "游戏")),
    ),
    # Toy lines whose maker is implied, and makers by name (the labelling guide: the maker's
    # usual name). Several kinds of thing: the classifier names the category unless given.
    (
        ("tamagotchi", "拓麻歌子"),
        Product(None, "Bandai", "toy", ("tamagotchi", "拓麻歌子", "万代")),
    ),
    (
        ("beyblade", "战斗陀螺", "tomica", "多美卡", "plarail", "普乐路路", "takaratomy"),
        Product(None, "Takara Tomy", "toy", ("多美", "tomy", "tomica", "beyblade")),
    ),
    (("nerf", "热火"), Product(None, "Hasbro", "toy", ("nerf", "热火", "孩之宝"))),
    (("培乐多", "playdoh"), Product(None, "Hasbro", "toy", ("培乐多", "play-doh", "孩之宝"))),
    (("小马宝莉", "mylittlepony"), Product(None, "Hasbro", "doll", ("小马宝莉", "孩之宝"))),
    (("美泰", "mattel"), Product(None, "Mattel", None, ("美泰", "mattel"))),
    (("vtech", "伟易达"), Product(None, "VTech", None, ("vtech", "伟易达"))),
    (("leapfrog", "跳跳蛙"), Product(None, "LeapFrog", "educational", ("leapfrog", "跳跳蛙"))),
    (("playmobil", "摩比世界"), Product(None, "Playmobil", "toy", ("playmobil", "摩比世界"))),
    (("hape",), Product(None, "Hape", None, ("hape",))),
    (("schleich",), Product(None, "Schleich", "figure", ("schleich",))),
    (("sylvanian", "森贝儿"), Product(None, "Sylvanian Families", "doll", ("sylvanian", "森贝儿"))),
    (("magformers", "麦格弗"), Product(None, "Magformers", "building_blocks", ("magformers",))),
    (("8bitdo", "八位堂"), Product(None, "8BitDo", "game_console", ("8bitdo", "八位堂"))),
    (("anbernic", "安伯尼克"), Product(None, "Anbernic", "game_console", ("anbernic",))),
    (("小米", "米家", "xiaomi"), Product(None, "Xiaomi", None, ("小米", "米家", "xiaomi"))),
    (("stokke", "思多嘉"), Product(None, "Stokke", "other", ("stokke", "思多嘉"))),
    (("好孩子", "goodbaby"), Product(None, "Goodbaby", "other", ("好孩子", "goodbaby"))),
    (("迪士尼", "disney"), Product(None, "Disney", None, ("迪士尼", "disney"))),
    # Baby-goods and ride-on makers often written in lower case or in Chinese.
    (("britax", "宝得适"), Product(None, "Britax", "other", ("britax", "宝得适"))),
    (("cybex", "赛百斯"), Product(None, "Cybex", "other", ("cybex",))),
    (("joie", "巧儿宜"), Product(None, "Joie", "other", ("joie", "巧儿宜"))),
    (("bugaboo", "博格步"), Product(None, "Bugaboo", "other", ("bugaboo", "博格步"))),
    (("maxicosi", "迈可适"), Product(None, "Maxi-Cosi", "other", ("maxi-cosi", "迈可适"))),
    # "micro" alone is too common a word (micro:bit, micro usb): the Chinese name only.
    (("米高",), Product(None, "Micro", "outdoor", ("micro", "米高"))),
    (("迪卡侬", "decathlon", "btwin"), Product(None, "Decathlon", None, ("迪卡侬", "decathlon"))),
    (("ninebot", "纳恩博"), Product(None, "Ninebot", "outdoor", ("ninebot", "九号"))),
    (("brio",), Product(None, "BRIO", "toy", ("brio",))),
    (("ravensburger", "睿思"), Product(None, "Ravensburger", None, ("ravensburger",))),
    (("melissaanddoug", "melissadoug"), Product(None, "Melissa & Doug", None, ("melissa",))),
    (("littletikes", "小泰克"), Product(None, "Little Tikes", None, ("little tikes", "小泰克"))),
    (("radioflyer",), Product(None, "Radio Flyer", "outdoor", ("radio flyer",))),
    # Game franchises: a game unless the query names another kind of item (宝可梦卡牌, 马里奥毛绒).
    (
        ("塞尔达", "马里奥", "宝可梦", "zelda", "mario", "pokemon"),
        Product(None, None, "video_game", ("塞尔达", "马里奥", "宝可梦"), franchise=True),
    ),
    (
        (
            "卡带",
            "游戏卡",
            "光盘",
            "游戏碟",
            # Well-known games by title (a fitness or dance game is a game, not the console).
            "舞力全开",
            "双人成行",
            "胡闹厨房",
            "分手厨房",
            "艾尔登法环",
            "怪物猎人",
            "justdance",
            "overcooked",
            "minecraft",
            "eldenring",
            "cartridge",
            "kadai",
        ),
        Product(None, None, "video_game", ("卡带", "游戏", "塞尔达", "马里奥", "宝可梦")),
    ),
    (
        ("游戏机", "掌机", "主机", "console", "youxiji", "zhangji", "zhuji"),
        Product(None, None, "game_console", ("游戏机", "掌机", "主机")),
    ),
    (("积木", "拼插", "blocks", "jimu"), Product(None, None, "building_blocks", ("积木",))),
    (
        # Collectible cards are figures (奥特曼卡片, 宝可梦卡牌); learning cards are not (识字卡).
        (
            "手办",
            "盲盒",
            "模型",
            "卡牌",
            "卡片",
            "集换卡",
            "figure",
            # The guide's English names, said in two words (blind box, model kit).
            "blindbox",
            "blindboxes",
            "modelkit",
            "actionfigure",
            "shoubang",
            "manghe",
            "aoteman",
            "kapai",
        ),
        Product(None, None, "figure", ("手办", "盲盒", "模型", "卡牌", "卡片")),
    ),
    (
        ("娃娃", "洋娃娃", "doll", "wawa", "dollhouse", "dollshouse"),
        Product(None, None, "doll", ("娃娃",)),
    ),
    (
        (
            "毛绒",
            "玩偶",
            "公仔",
            "小熊",
            "熊",
            "plush",
            "teddy",
            "teddybear",
            "stuffedanimal",
            "stuffedtoy",
            "softtoy",
            "maorong",
            "wanou",
            "gongzai",
        ),
        Product(None, None, "plush", ("毛绒", "玩偶", "公仔", "熊")),
    ),
    (
        (
            "滑板车",
            "平衡车",
            "自行车",
            "童车",
            "滑板",
            "帐篷",
            "秋千",
            "轮滑",
            # Outdoors said of toys: 户外玩具 is the outdoor category, not toys in general.
            "户外",
            "室外",
            "huwai",
            "scooter",
            "bike",
            "tent",
            "zhangpeng",
            "huaban",
            "huabanche",
            "zixingche",
            "pinghengche",
            "qiuqian",
            "lunhua",
        ),
        Product(None, None, "outdoor", ("滑板车", "平衡车", "自行车", "童车", "滑板", "帐篷")),
    ),
    (
        (
            "早教",
            "益智",
            "识字卡",
            "认知卡",
            "拼音卡",
            "单词卡",
            "拼图",
            "点读笔",
            "学习机",
            "编程",
            "绘本",
            "puzzle",
            "pintu",
            "zaojiao",
            "yizhi",
            "diandubi",
            "xuexiji",
            "biancheng",
            "huiben",
        ),
        Product(None, None, "educational", ("早教", "益智", "拼图", "点读", "学习机", "编程")),
    ),
    (
        # Musical instruments for children: learning, not toys (a drum kit, a keyboard).
        (
            "乐器",
            "架子鼓",
            "爵士鼓",
            "手拍鼓",
            "电子琴",
            "钢琴",
            "木琴",
            "口琴",
            "小提琴",
            "尤克里里",
            "吉他",
            "drum",
            "drums",
            "piano",
            "xylophone",
            "ukulele",
            "violin",
            "guitar",
            "yueqi",
            "jiazigu",
            "dianziqin",
            "gangqin",
        ),
        Product(None, None, "educational", ("乐器", "鼓", "琴", "尤克里里", "吉他")),
    ),
    (
        (
            "遥控车",
            "玩具车",
            "小汽车",
            "风火轮",
            "托马斯",
            # Anything remote-controlled (遥控飞机, 遥控挖掘机) is a toy; DJI's drones name DJI.
            "遥控",
            "hotwheels",
            "yaokong",
            "yaokongche",
            "wanjuche",
            "xiaoqiche",
        ),
        Product(None, None, "toy", ("遥控", "玩具车", "小汽车", "风火轮", "托马斯", "玩具")),
    ),
    (("玩具", "toy", "toys", "wanju"), Product(None, None, "toy", ("玩具",), weak=True)),
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


@functools.cache
def maker_terms(brand: str | None) -> frozenset[str]:
    """The words of a maker named alone (任天堂, nintendo), in lower case: a listing using only
    these is the maker's, not necessarily the product a query named."""
    for _, product in _PRODUCTS:
        if brand is not None and product.name is None and product.brand == brand:
            return frozenset(t.lower() for t in product.terms)
    return frozenset()


def synonyms_of(intent: Intent) -> tuple[str, ...]:
    """The words a matching listing may use for what the intent names (for text matching)."""
    for _, product in _PRODUCTS:
        if intent.product and product.name == intent.product:
            return product.terms
    for _, product in _PRODUCTS:
        # A maker named alone: its words (a query naming no maker has none to add).
        if (
            intent.brand is not None
            and intent.product is None
            and product.name is None
            and product.brand == intent.brand
        ):
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


# Words one letter from an everyday English word (tent/rent, bike/like, babi/baby) or a common
# short word: matched only as written.
_EXACT_ONLY = {
    "tent",
    "bike",
    "babi",
    "wawa",
    "jimu",
    "ally",
    "molly",
    "quest",
    "steam",
    "pintu",
    "yizhi",
    "zhuji",
    "gaoda",
    "lunhua",
    "teddy",
    # Makers and lines added in round 5: short or near everyday words (hape/have, nerf/nerd).
    "hape",
    "nerf",
    "vtech",
    "mattel",
    "kinect",
    "amiibo",
    "joycon",
    "psvr",
    "psvr2",
    "kirby",
    "stokke",
    "xiaomi",
    "disney",
    "technic",
    "duplo",
    "halo",
    "forza",
    "shf",
    "joie",
    "brio",
    "cybex",
    "hirono",
    "pucky",
    "crybaby",
    "zsiga",
    "btwin",
}


def _close_enough(token: str, key: str) -> bool:
    # Short tokens must be exact: ps4 and ps5, ns and no, differ by one character.
    if len(key) <= 3 or len(token) <= 3 or key in _EXACT_ONLY:
        return token == key
    allowed = 1 if len(key) <= 5 else 2
    return abs(len(token) - len(key)) <= allowed and edit_distance(token, key) <= allowed


# Everyday English words that are a letter or two from a product key (sunday/gundam).
_PLAIN_WORDS = {
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "weekend",
    "under",
    "games",
    "month",
    "weeks",
    "later",
    # hello/tello, books/bloks, babies/babi, black/blocks, plus/plush, purple/puzzle, mega/sega
    "hello",
    "books",
    "babies",
    "black",
    "boys",
    "plus",
    "purple",
    "mega",
    "with",  # two letters from switch
    "locally",
}


def _lookup(token: str) -> list[Product]:
    if token in _LATIN_KEYS:
        return [_LATIN_KEYS[token]]
    if token in _PLAIN_WORDS:
        return []
    return [p for key, p in _LATIN_KEYS.items() if _close_enough(token, key)][:1]


# --- makers the lexicon does not know --------------------------------------------------------------

_DATA = Path(__file__).parent / "data"


@functools.cache
def _english_words() -> frozenset[str]:
    """Everyday English words (wordfreq, Zipf >= 3: scripts/english_words.py)."""
    with gzip.open(_DATA / "english_words.txt.gz", "rt", encoding="utf-8") as lines:
        return frozenset(w for w in lines.read().split("\n")[1:] if w)


# Characters and shows, not makers (a toy of one says nothing of who made it).
_CHARACTERS = {
    "peppa",
    "bluey",
    "doraemon",
    "totoro",
    "snoopy",
    "elmo",
    "cocomelon",
    "pikachu",
    "elsa",
    "spiderman",
    "batman",
    "ultraman",
    "mickey",
    "minnie",
    "pooh",
    "moana",
    "hellokitty",
    "kuromi",
    "cinnamoroll",
    "stitch",
    "sanrio",
    "chase",
    "marshall",
    "skye",
    "rubble",
    "naruto",
    "luffy",
    "conan",
    "shinchan",
    "zaku",
}
_PINYIN_INITIALS = (
    "zh",
    "ch",
    "sh",
    "b",
    "p",
    "m",
    "f",
    "d",
    "t",
    "n",
    "l",
    "g",
    "k",
    "h",
    "j",
    "q",
    "x",
    "r",
    "z",
    "c",
    "s",
    "y",
    "w",
    "",
)
_PINYIN_FINALS = (
    "iang",
    "iong",
    "uang",
    "ang",
    "eng",
    "ing",
    "ong",
    "iao",
    "ian",
    "uai",
    "uan",
    "ai",
    "ei",
    "ao",
    "ou",
    "an",
    "en",
    "er",
    "ia",
    "ie",
    "iu",
    "in",
    "ua",
    "uo",
    "ui",
    "un",
    "ue",
    "a",
    "o",
    "e",
    "i",
    "u",
    "v",
)
# Syllables of two or more letters: "miyoo" needs a bare "o", so it is no pinyin.
_PINYIN_SYLLABLES = frozenset(
    i + f
    for i in _PINYIN_INITIALS
    for f in _PINYIN_FINALS
    if len(i + f) >= 2
    # Not every pair is a syllable: a bare o only after b p m f w y l (bo, yo, not to or do),
    # i not after g k h f w (no gi, ki), v only after n l.
    and not (f == "o" and i not in ("b", "p", "m", "f", "w", "y", "l"))
    and not (f.startswith("i") and i in ("g", "k", "h", "f", "w"))
    and not (f.startswith("v") and i not in ("n", "l"))
)


def _is_pinyin(word: str) -> bool:
    """Whether the word splits into pinyin syllables (ertong, zixingche)."""
    reachable = [True] + [False] * len(word)
    for end in range(1, len(word) + 1):
        reachable[end] = any(
            reachable[start] and word[start:end] in _PINYIN_SYLLABLES
            for start in range(max(0, end - 6), end - 1)
        )
    return reachable[-1]


_LATIN_WORD = re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9][A-Za-z0-9]*")


def _maker_as_written(token: str) -> str | None:
    """A maker's name the lexicon does not know, as written: a Latin word in capitals or mixed
    case (Stokke, Bruder, 8BitDo, BRUDER) that is no English word, pinyin, model code or unit,
    and none of the lexicon's words. Lower-case words are not read as makers: a typo or pinyin
    is more likely than a maker written in lower case."""
    letters = re.sub(r"\d", "", token)
    lowered = token.lower()
    if len(letters) < 3 or token == lowered:
        return None
    if any(c.isdigit() for c in token) and not re.search(r"[a-z][A-Z]", token):
        # Digits with letters: a model code (PS5, VR2, Bee6), unless camel-cased (8BitDo).
        return None
    if token.isupper():
        # All capitals: an acronym (ROG, DJI), unless a long word (BRUDER → Bruder).
        if len(letters) < 5:
            return None
        token = token.capitalize()
    if (
        lowered in _english_words()
        or lowered in _CHARACTERS
        or lowered in _WORD_NUMBERS
        or _lookup(lowered)
        or (letters == token and _is_pinyin(lowered))
    ):
        return None
    return token


def _unknown_maker(query: str, before: int | None) -> str | None:
    """The first maker named as written (see _maker_as_written), before ``before`` if given."""
    text = "".join(
        chr(ord(c) - 0xFEE0) if "Ａ" <= c <= "ｚ" or "０" <= c <= "９" else c for c in query
    )
    for m in _LATIN_WORD.finditer(text):
        if before is not None and m.start() >= before:
            break
        if _NEGATION_BEFORE.search(text[: m.start()].lower()):
            continue
        maker = _maker_as_written(m.group(0))
        if maker is not None:
            return maker
    return None


# --- the parser ----------------------------------------------------------------------------------

_CUR = r"(?:块钱|块|元|rmb|刀|yuan|kuai)"
# A number is read whole (never from inside "1.5k": the 5 of a decimal is no price).
_MONEY = rf"(?:[¥￥]\s*)?((?<![\d.])\d+(?:\.\d+)?|{_CN_NUM})\s*(k|千|w|万)?\s*({_CUR})?"
_RANGE = re.compile(
    rf"(?:between\s*)?{_MONEY}\s*(?:到|至|-|~|～|—|\band\b|\bto\b)\s*{_MONEY}(?!\s*(?:天|days?))"
)
_AT_MOST = re.compile(
    rf"(?:不超过|不到|低于|少于|最多|最高|预算|budget|under|below|less than|up to|at most|max"
    rf"|<|≤)\s*(?:of\s*|is\s*)?{_MONEY}"
    rf"|{_MONEY}\s*(?:以内|以下|之内|内|封顶|以下的|max|or less|yinei|yixia)"
)
_AT_LEAST = re.compile(
    rf"(?:超过|高于|至少|不低于|above|over|at least|>|≥)\s*{_MONEY}|{_MONEY}\s*(?:以上|起)"
)
_AROUND = re.compile(
    rf"(?:大概|大约|差不多|about|around)?\s*{_MONEY}\s*(?:左右|上下)"
    # English "about/around 200": the same ±20% (durations are read before prices).
    rf"|\b(?:about|around|roughly|approx(?:imately|\.)?)\s*{_MONEY}"
)
_PER_DAY = re.compile(
    # 日租 is a daily rent, but not the 日 of a weekday before 租 (周日租个 is Sunday, to rent).
    r"每天|每日|(?<!周)(?<!星期)(?<!礼拜)日租|/天|per day|a day|一天(?=\s*(?:不超过|最多)?\s*[\d¥￥零一二两三四五六七八九十百])"
    r"|(?<=\d)一天|(?<=\d\s)一天|(?<=[块元])一天"
)
_AGES = re.compile(
    r"\d+\s*(?:[-~到至]\s*\d+\s*)?(?:岁|周岁|个月大)|\d+\s*(?:year|yr)s?[\s-]*old"
    # The item's age or warranty, not a rental period (用了两个月, 买了一年, 保修还有半年).
    r"|(?:用了|买了|玩了|入手了?|才用|保修(?:还有|期)?|还剩)\s*(?:才|大概|差不多|不到|快)?\s*"
    r"[\d一二两三四五六七八九十半几俩仨]+\s*个?\s*多?\s*(?:天|日|周|星期|礼拜|月|年)半?"
    r"|used (?:for )?(?:\d+|an?|one|two|three|a few) (?:days?|weeks?|months?|years?)"
    # How long it has sat unused (吃灰大半年, 闲置了三个月, 放了一年): the item's idleness.
    r"|(?:吃灰|落灰|闲置|闲着|放了|搁置|躺了|没玩|没用)了?\s*(?:大|快|差不多|将近|都|有)?\s*"
    r"(?:[\d一二两三四五六七八九十几俩仨]+\s*个?\s*多?|大?半)?\s*(?:天|日|周|星期|礼拜|个?月|年)半?"
    r"|(?:unused|idle|sitting) (?:for )?(?:\d+|an?|one|two|three|a few|half a) (?:days?|weeks?|months?|years?)"
    r"|\d+\s*(?:months?|weeks?)\s*old"
)

_DAY_PRICE = re.compile(
    rf"(?:一天|每天|每日|(?<!周)(?<!星期)(?<!礼拜)日租|per day|a day)\s*(?:不超过|最多|只要|才|收)?\s*(\d+(?:\.\d+)?|{_CN_NUM})"
    rf"(?!\s*(?:个|天|日|周|星期|礼拜|月|年|晚|小时|分|次|岁|页|本|集|公里|km|min|days?|weeks?|hours?|[\d.零一二两三四五六七八九十百千万]))"
    rf"|(?<![\d.])(\d+(?:\.\d+)?)\s*(?:/天|一天|每天|per day|a day)"
)

# Numbers as words: Chinese colloquial (俩, 仨), English, and pinyin.
_WORD_NUMBERS = {
    "俩": 2,
    "仨": 3,
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "yi": 1,
    "er": 2,
    "liang": 2,
    "san": 3,
    "si": 4,
    "wu": 5,
    "liu": 6,
    "qi": 7,
    "ba": 8,
    "jiu": 9,
    "shi": 10,
}
_NUM = rf"(\d+|{_CN_NUM}|俩|仨|\b(?:an?|one|two|three|four|five|six|seven|eight|nine|ten|yi|er|liang|san|si|wu|liu|qi|ba|jiu|shi))"


def _number(word: str) -> int | None:
    word = word.strip().lower()
    return _WORD_NUMBERS[word] if word in _WORD_NUMBERS else cn_number(word)


# Days of the week: Monday 1 … Sunday 7, in Chinese (周/星期/礼拜) and English.
_WEEKDAY = (
    r"(?:周|星期|礼拜)([一二三四五六日天])"
    r"|\b(mon|tue|wed|thu|fri|sat|sun)(?:day|sday|nesday|rsday|urday)?\b"
)
_WEEKDAY_NUMBER = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "日": 7, "天": 7}
_WEEKDAY_EN = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7}
_DAY_RANGE = re.compile(rf"(?:{_WEEKDAY})\s*(?:到|至|-|~|～|\bto\b|\bthrough\b)\s*(?:{_WEEKDAY})")


def _weekday(groups: tuple[str | None, ...]) -> int:
    cn, en = groups
    return _WEEKDAY_NUMBER[cn] if cn else _WEEKDAY_EN[(en or "mon").lower()[:3]]


_DURATIONS: list[tuple[re.Pattern[str], int | None]] = [
    (re.compile(r"(?:一个|1个|这个|下个|整个)?周末|weekend|zhoumo"), 2),
    (re.compile(r"半个月|half a month"), 15),
    (re.compile(r"半年|half a year|six months"), 180),
    (re.compile(r"(?:一|1)\s*年|一整年|a year|one year"), 365),
    # 个把月 / 个把星期: "a month or so" is a month.
    (re.compile(r"个把月"), 30),
    (re.compile(r"个把(?:星期|礼拜)"), 7),
    (re.compile(r"fortnight"), 14),
]
# An approximate number takes its base: 十来天 and 十多天 are 10, 一个来月 30 (the labelling guide).
_ABOUT = r"\s*(?:来|多|几)?"
_SPANS: list[tuple[re.Pattern[str], int, int]] = [
    # (pattern, days per unit, extra days for 半): 两个月, 三个星期, 一周半, 2 weeks, yi zhou.
    (
        re.compile(
            rf"{_NUM}{_ABOUT}\s*个?{_ABOUT}\s*月(半)?|{_NUM}\s*个(半)\s*月|{_NUM}\s*months?()"
            rf"|{_NUM}\s*ge\s*yue()"
        ),
        30,
        15,
    ),
    (
        re.compile(
            rf"{_NUM}{_ABOUT}\s*个?{_ABOUT}\s*(?:星期|礼拜|周)(半)?|{_NUM}\s*weeks?()|{_NUM}\s*zhou()"
        ),
        7,
        3,
    ),
    (re.compile(rf"{_NUM}{_ABOUT}\s*(?:天|日)(?!租)()|{_NUM}\s*days?()|{_NUM}\s*tian()"), 1, 0),
    # A night is a day of the rental (三晚, 两个晚上, 3 nights); after days: 3天2晚 is 3.
    (re.compile(rf"{_NUM}{_ABOUT}\s*个?\s*(?:晚上|晚|夜)()|{_NUM}\s*nights?()"), 1, 0),
]


def _duration(text: str) -> tuple[int | None, str]:
    m = _DAY_RANGE.search(text)
    if m is not None:
        start, end = _weekday(m.groups()[0:2]), _weekday(m.groups()[2:4])
        return (end - start) % 7 + 1, text[: m.start()] + " " + text[m.end() :]
    named = list(re.finditer(_WEEKDAY, text))
    if len({_weekday(d.groups()) for d in named}) >= 2:
        # Days named one by one (周六周日, saturday and sunday): as many as named.
        rest = re.sub(_WEEKDAY, " ", text)
        _, rest = _plain_duration(rest)
        return len({_weekday(d.groups()) for d in named}), rest
    return _plain_duration(text)


def _plain_duration(text: str) -> tuple[int | None, str]:
    for pattern, days in _DURATIONS:
        m = pattern.search(text)
        if m is not None:
            return days, text[: m.start()] + " " + text[m.end() :]
    for pattern, unit, half in _SPANS:
        m = pattern.search(text)
        if m is None:
            continue
        groups = m.groups()
        for at in range(0, len(groups), 2):
            raw = groups[at]
            if raw is None:
                continue
            value = _number(raw)
            if not value:
                break
            total = value * unit + (half if groups[at + 1] else 0)
            return min(total, 365), text[: m.start()] + " " + text[m.end() :]
    return None, text


_CONDITIONS: list[tuple[re.Pattern[str], str]] = [
    # like_new before new: "几乎全新" and "like new" contain the words for new.
    (
        # Barely used, however said: 没怎么用, 只用过一次, barely/hardly used, as new, mint.
        re.compile(
            r"九成新|9成新|95新|九五新|98新|几乎全新|准新|like[\s-]*new|成色好|成色很好|\bmint\b"
            r"|(?:几乎|基本)没(?:怎么)?(?:用|玩)|没怎么(?:用|玩)|没(?:用|玩)过?[几一两]次|很少(?:用|玩)"
            r"|只(?:用|玩)过?[一两几1-3]次"
            r"|(?:barely|hardly|rarely|only) used|used (?:once|twice|a few times|only)"
            r"|(?:almost|nearly|as|good as) new|excellent condition|perfect condition"
        ),
        "like_new",
    ),
    (
        re.compile(
            r"全新|未拆封|未拆|没拆|brand[\s-]*new|sealed|unopened|never used"
            r"|new in box|\bnib\b|\bbnib\b|\bnew\b|带吊牌|quan\s?xin|从没(?:用|玩)过|没(?:用|玩)过"
        ),
        "new",
    ),
    (
        # Used with care, and "good"/"decent" condition in English (gently used, good shape).
        re.compile(
            r"八成新|8成新|七成新|7成新|85新|八五新|正常使用痕迹|八成|成色不错|成色还行"
            r"|(?:good|great|decent|nice|ok|okay|working) (?:condition|shape)|gently used"
            r"|lightly used|\bgood cond"
        ),
        "good",
    ),
    (
        # Flaws accepted or admitted, however said (有点瑕疵也行, 小划痕, some scratches).
        re.compile(
            r"[六五四]成新|[654]成新|(?<![无没])(?<!没有)(?:瑕疵|划痕|划伤|磕碰|掉漆|磨损)|成色一般"
            r"|能用就行|凑合|well[- ]used|heavily used|fair condition|\bworn\b|scratch|scuff"
            # Old is fine (有点旧没关系, 旧一点也行) — not "旧的", the old one being sold.
            r"|有点旧|有些旧|稍微?旧|比较旧|旧一?(?:点|些)(?:也|没|无所谓|不介意)"
            r"|旧(?:的)?(?:也行|也可以|没关系|无所谓|不介意)|\bold (?:is|one is) (?:fine|ok)"
            r"|\bdents?\b"
        ),
        "fair",
    ),
    (re.compile(r"配件机|坏的|坏了|坏掉|拆件|零件|当配件|for parts|broken"), "for_parts"),
]
# A condition as a share of new, however written (九成新, 9成新, 九五成新, 95新, 九五新, 99新, 十成新):
# 99 and above… like_new per the labelling guide (only 全新/未拆 is new), 80–89 and 70–79 good,
# below 70 fair; 十成新 (100) new.
_PERCENT_NEW = re.compile(
    r"(?<![\d一二三四五六七八九十])([一二三四五六七八九十]|[一二三四五六七八九][一二三四五六七八九]|\d{1,2})\s*成\s*新"
    r"|(?<![\d一二三四五六七八九十])([一二三四五六七八九]{2}|\d{2})\s*新(?![\d款品])"
)
_CN_DIGIT = {c: i for i, c in enumerate("零一二三四五六七八九")}


def _percent_condition(text: str) -> tuple[str | None, re.Match[str] | None]:
    for m in _PERCENT_NEW.finditer(text):
        raw = m.group(1) or m.group(2)
        if raw == "十":
            percent = 100
        elif raw.isdigit():
            percent = int(raw) * (10 if len(raw) == 1 and m.group(1) else 1)
        else:
            digits = [_CN_DIGIT[c] for c in raw]
            percent = digits[0] * 10 + (digits[1] if len(digits) > 1 else 0)
        if not 10 <= percent <= 100 or _NEGATED_CONDITION.search(text[: m.start()]):
            continue
        if percent >= 100:
            return "new", m
        if percent >= 90:
            return "like_new", m
        return ("good" if percent >= 70 else "fair"), m
    return None, None


# A condition said to be unwanted (不要坏的, no broken ones) is not a condition asked for.
_NEGATED_CONDITION = re.compile(r"(?:不要|别|不能|不想要|\bno\b|\bnot\b)\s*(?:太|是)?\s*$")

_SWAP = re.compile(
    r"交换|互换|置换|以物换物|以物易物|换物|swap|exchange|trade|\bhuan\b|[用拿].{1,12}换(?!点?钱)"
    r"|换.{0,3}(?:一|个|台)|[^\s出]换(?!点钱|钱|成钱)\S|\s换\s*$|\s换\s|求换|想换(?!点钱|钱|成钱)|换你"
    # Swap as the only way (只换, 仅交换, 只接受置换) or asked as a question (换不换, 换吗).
    r"|(?:只|仅|只接受|仅接受|只想)(?:交|互|置)?换(?!点?钱|成钱)|^换吗|\s换吗"
)
# "A不A" asks (换不换, 租不租, 卖不卖): no kind is ruled out by its 不.
_A_NOT_A = re.compile(r"(出租|租|借|卖|出售|交换|换)不\1")
# Renting one's own thing out is offering it (sell); a rule over the classifier's word.
_RENT_OUT = re.compile(
    r"借出|外借|(?:借|租)给(?!我|俺|咱)|租出去|对外出租|往外租|可以出租(?!的)|能出租(?!的)|有偿借|up for rent|renting out"
    r"|(?:只|仅|只能|只接受)\s*(?:对外)?出租|只租不卖|"
    r"rent(?:ing)? (?:it |them )?out|(?<![a-z])lend(?:ing)?(?![a-z])(?!\s+(?:me|us)\b)|(?:想|要|准备|打算|帮我|我的.{0,10})出租"
)
_SELL = re.compile(
    r"(?:^|[，,。！!\s我想要准备打算帮我])出(?:一|个|台|套|辆|只|掉|售|手|了)"
    r"|^出|\s出\s*$|\s出\s|便宜出|换点?钱|换成钱|拿走|(?:想|要|准备|打算|帮我|我)卖|卖掉|卖了|转让|转手|寄卖|挂出|出闲置"
    r"|回血|清仓|割爱|甩卖|低价甩|出掉|有人收吗|谁收|selling|(?<![a-z])sell(?![a-z])|\bwts\b"
    # Someone who buys (收) asked for: the writer sells (有没有人收, 求收, 回收, 收不收).
    r"|(?:有没有|有没|有|谁|求)\s*人?\s*收(?!纳|音|藏|到|货)|求收|回收|收不收|收吗|收么"
    r"|(?:anyone|anybody|someone|somebody|who)\s+(?:buying|wants?\s+to\s+buy|would like to buy"
    r"|(?:is\s+|'s\s+)?interested in buying)"
    # A bargain offered (捡漏价出, 亏本出, 白菜价出, 跳楼价转).
    r"|价\s*(?:出|转|甩|卖|让|处理)|亏本|亏钱(?:出|卖|转)|亏(?:着)?出"
    r"|for sale|letting go|get rid of|(?<![a-z])chu(?![a-z])"
    # Giving it away is offering it (白送, 免费送, 无偿赠送), not asking for a gift (求送) nor
    # buying one (买个乐高送人).
    r"|白送|免费送|免费赠|无偿(?:送|赠)|送给有需要|送出去|(?<!求)送掉"
    # Offering without a selling word: anyone want it? (有要的吗, 谁要, 便宜让).
    r"|有要的|谁要(?!出|卖|转)|有人要(?:吗|么|不)|有需要的|象征性|(?:便宜|低价|白菜价)让|让给|出给|处理掉"
    r"|(?:^|[\s，,我想要])转(?:一|个|台|套|辆|只)|anyone want|giving away|give away|up for grabs"
    r"|free to (?:a )?good home"
)
# English and pinyin words by letters around them, not \b: in "想rent一个" the Chinese
# characters are word characters too, so \b would not see the English word.
_RENT = re.compile(r"租|借|(?<![a-z])(?:rent|borrow|hire|zu|jie)(?![a-z])|\blend (?:me|us)\b")
# A duration said with no kind word asks to rent (need a switch for 10 days), unless it is the
# item's age (用了两个月).
_ITEM_AGE = re.compile(
    r"用了|买了|玩了|入手|保修|吃灰|落灰|闲置|warranty|\bold\b|\bused for\b|\bunused\b"
)
# "不租" / "不是租" / "no rental": a kind the query rules out.
_NOT_KIND = re.compile(
    r"(?:不是|不想|不要|不用|不|别|没)(?:要|想|推)?\s*(出租|租|借|卖|出售|换|交换)(?:的)?"
    r"|\b(?:no|not|don'?t)\s+(?:want to\s+|looking to\s+|for\s+|to\s+|a\s+)?(rent(?:als?|ing)?|sell(?:ing)?"
    r"|swap(?:ping|s)?|trade|borrow(?:ing)?)\b"
    # Ruled out after the fact: 租的不要, 二手的就算了, 租的不考虑.
    r"|(出租|租|借|卖|换)的?\s*(?:就)?(?:不要|不考虑|免谈|算了|勿扰|不行)"
)
# Renting out, not selling (只租不卖): the 不卖 is ruled out, the rest is offering.
_RENT_NOT_SELL = re.compile(
    r"(?:只|仅)(?:出)?租不(?:卖|出售)|rent(?:ing)? only,? not (?:for )?sale"
)
_SEEK_SELLER = re.compile(
    r"\b(?:anyone|anybody|someone|somebody|who(?:'s| is)?|is (?:there )?anyone|does anyone)\b"
    r"[^.?!,]{0,40}?\b(?:selling|sells?)\b"
    r"|\bwho(?:'s| is)? selling\b|\bwhere (?:can i|to) buy\b"
    # Asking whether anyone has one for sale: looking for a seller.
    r"|\b(?:anyone|anybody|someone|somebody|is there)\b[^.?!,]{0,40}?\bfor sale\b"
)
_KIND_OF_WORD = {
    "出租": "rent",
    "租": "rent",
    "借": "rent",
    "卖": "sell",
    "出售": "sell",
    "换": "swap",
    "交换": "swap",
}
# In a swap, what the resident has: after these words (用乐高换, 我出芭比, my xbox).
_OFFERED = re.compile(r"用|拿|我有|我这有|我出|我的|我家的?|家里的?|\bmy\b|\boffer\b")
_SCOPE_COMMUNITY = re.compile(
    r"小区里|小区内|本小区|我们小区|同小区|小区有|楼里|邻居|本楼|院里|my compound|my building"
    r"|our compound|our building|my community"
    # Handing over inside the compound: 小区自提, 小区门口面交, 楼下自取, 同一栋, 本单元.
    r"|(?:小区|楼下|楼道|门口|单元)(?:内|里)?\s*(?:自提|自取|面交|交易|取货|交货)|小区门口"
    r"|同一?(?:栋|幢|个单元|单元|楼)|本(?:栋|幢|单元)|楼上楼下"
    r"|same (?:building|compound|community|estate)|pick[\s-]*up in (?:my|our|the) (?:building|compound)"
)
_SCOPE_NEARBY = re.compile(r"附近|周边|周围|旁边|隔壁小区|nearby|邻近|near me|around here")
_STOPWORDS = re.compile(
    r"我想|我要|想要|想|要|有没有|有卖|卖|有没|有人|谁有|请问|求购|求|买|一个|一台|一套|个|的|了|吗|呢|啊|吧"
    r"|一下|哪里|找|在|和|或者|还有|可以|能|看看|帮我|给我|我|小区里|小区|附近|以内|左右|[，,。？?！!、\s]"
)
# A bare "游戏"/"game" names a game unless a console noun (主机, 游戏机) names the device.
_GAME_WORD = re.compile(r"游戏(?!机)|\bgames?\b")


def _money(num: str | None, mult: str | None) -> int | None:
    if not num:
        return None
    value = float(num) if re.fullmatch(r"\d+(?:\.\d+)?", num) else cn_number(num)
    if value is None:
        return None
    scale = {"k": 1000, "千": 1000, "w": 10000, "万": 10000}.get(mult or "", 1)
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
            if groups[4] and not groups[1] and low is not None and groups[4] in "k千w万":
                low = _money(groups[0], groups[4])  # "1-2千" scales both ends
            if low is not None and high is not None:
                return min(low, high), max(low, high), rest
            continue
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
    m = re.search(rf"(\d+(?:\.\d+)?|{_CN_NUM})\s*(k|千|w|万)?\s*{_CUR}", text)
    if m is None:
        m = re.search(r"[¥￥]\s*(\d+(?:\.\d+)?)()", text)
    if m is None:
        # A number in thousands needs no currency: 1.5k, 2千 (not a model: nba 2k24).
        m = re.search(r"(?<![\w.])(\d+(?:\.\d+)?)\s*(k|千)(?![\w])", text)
    if m is not None:
        value = _money(m.group(1), m.group(2) or None)
        if value is not None:
            return None, value, text[: m.start()] + " " + text[m.end() :]
    return None, None, text


def _normalise(query: str) -> str:
    text = query.strip().lower()
    # Full-width Latin letters and digits as typed on Chinese keyboards.
    text = "".join(
        chr(ord(c) - 0xFEE0) if "！" <= c <= "～" and c not in "，。？！～" else c for c in text
    )
    text = re.sub(r"\bplay\s*station\s*(\d)", r"playstation\1", text)
    # "ps 5" is the PS5, but "xbox 1 week" rents an Xbox for a week: a number followed by a
    # unit of time is a duration, never a model number.
    text = re.sub(
        r"\b(ps|xbox)\s+(\d)(?!\d|\.\d|\s*(?:[kw千万]|个|天|日|周|星期|礼拜|月|晚|小时|weeks?\b|days?\b|months?\b|nights?\b|tian|zhou))",
        r"\1\2",
        text,
    )
    text = re.sub(r"\bps\s+(portal|vita)\b", r"ps\1", text)
    text = re.sub(r"\bps\s*vr\s*(2?)\b", r"psvr\1", text)
    text = re.sub(r"\bjoy[\s-]*cons?\b", "joycon", text)
    text = re.sub(r"\bplay[\s-]*doh\b", "playdoh", text)
    text = re.sub(r"\bmy\s+little\s+pony\b", "mylittlepony", text)
    text = re.sub(r"\btakara\s*tomy\b", "takaratomy", text)
    text = re.sub(r"\bgran\s+turismo\b", "granturismo", text)
    text = re.sub(r"\bmelissa\s*(?:&|and)\s*doug\b", "melissaanddoug", text)
    text = re.sub(r"\bmaxi[\s-]*cosi\b", "maxicosi", text)
    text = re.sub(r"\boptimus\s+prime\b", "optimusprime", text)
    text = re.sub(r"\bgod\s+of\s+war\b", "godofwar", text)
    text = re.sub(r"\bs\.?h\.?\s*figuarts\b", "figuarts", text)
    text = re.sub(r"\bsteam\s+deck\b", "steamdeck", text)
    text = re.sub(r"\brog\s+ally\b", "rogally", text)
    text = re.sub(r"\bmega\s*drive\b", "megadrive", text)
    text = re.sub(r"\bgame\s*boy\b", "gameboy", text)
    text = re.sub(r"\bfisher[\s-]*price\b", "fisherprice", text)
    text = re.sub(r"\bmarvel\s+legends\b", "marvellegends", text)
    text = re.sub(r"\bpop\s*mart\b", "popmart", text)
    text = re.sub(r"nintendo\s+switch|任天堂\s*switch", "switch", text)
    text = re.sub(r"\bswitch(?:\s*(?:oled|lite)|2)\b", "switch", text)
    text = re.sub(r"\bwts\b", " wts ", text)
    return text


@dataclass(frozen=True, slots=True)
class _Found:
    at: int
    product: Product
    negated: bool
    fuzzy: bool = False  # matched within an edit distance, not as written


_NEGATION_BEFORE = re.compile(r"(?:不要|别|不想要|不是|\bno\b|\bnot\b)\s*\S{0,2}\s*$")


def _products(text: str) -> tuple[list[_Found], str]:
    found: list[_Found] = []
    rest = text
    for word, product in _CHINESE_KEYS:
        at = rest.find(word)
        if at >= 0:
            negated = bool(_NEGATION_BEFORE.search(text[:at]))
            found.append(_Found(at, product, negated))
            rest = rest.replace(word, " " * len(word))
    tokens = list(re.finditer(r"[a-z][a-z0-9]*|\d+[a-z]+[a-z0-9]*", text))
    joined = -1  # the last token read as the second half of a two-word name
    for i, m in enumerate(tokens):
        if i <= joined:
            continue
        # A name said in two words (hot wheels, ring fit, just dance): the words joined, exactly.
        after = tokens[i + 1] if i + 1 < len(tokens) else None
        pair = m.group(0) + after.group(0) if after is not None else ""
        words: tuple[str, ...] = (m.group(0),)
        if after is not None and text[m.end() : after.start()].isspace() and pair in _LATIN_KEYS:
            products, joined = [_LATIN_KEYS[pair]], i + 1
            words = (m.group(0), after.group(0))
        else:
            products = _lookup(m.group(0))
        fuzzy = len(words) == 1 and words[0] not in _LATIN_KEYS
        for product in products:
            negated = bool(_NEGATION_BEFORE.search(text[: m.start()]))
            found.append(_Found(m.start(), product, negated, fuzzy))
            for word in words:
                rest = rest.replace(word, " ")
    found.sort(key=lambda item: item.at)
    return found, rest


_SWAP_WORD = re.compile(r"换|swap|trade|exchange|\bfor\b")


# A swap's label said first (以物换物：…, swap: …) is no boundary of what is offered.
_SWAP_LABEL = re.compile(
    r"^\s*(?:以物换物|以物易物|交换|互换|置换|换物|swap|trade|exchange)\s*[:：,，\s]\s*"
)


def _offer_span(text: str) -> tuple[int, int] | None:
    """Where a swap's offered item is said: after 用/拿/我出/我家/my up to the next swap word,
    else before the first swap word (after a leading label); None when no words are there."""
    for marker in _OFFERED.finditer(text):
        stop = _SWAP_WORD.search(text, marker.end())
        end = stop.start() if stop is not None else len(text)
        if _subject(text[marker.end() : end]):
            return marker.end(), end
    label = _SWAP_LABEL.match(text)
    start = label.end() if label is not None else 0
    first = _SWAP_WORD.search(text, start)
    # Words about an item, not "不卖 只" before 换.
    if first is not None and _subject(text[start : first.start()]):
        return start, first.start()
    return None


def _offered(text: str, found: list[_Found]) -> list[_Found]:
    """What a swap offers: the things after 用/拿/我出/my up to the next swap word, else those
    named before the first swap word, else the first thing named. When the offered words name
    nothing the lexicon knows (我家婴儿床换一辆自行车), nothing: the classifier reads them."""
    marked = [f for f in found if _OFFERED.search(text[max(0, f.at - 4) : f.at])]
    if marked:
        start = marked[0].at
        stop = _SWAP_WORD.search(text, start)
        end = stop.start() if stop is not None and stop.start() > start else len(text)
        return [f for f in found if start <= f.at < end]
    span = _offer_span(text)
    if span is not None:
        return [f for f in found if span[0] <= f.at < span[1]]
    first = _SWAP_WORD.search(text)
    before = [f for f in found if first is not None and f.at < first.start()]
    return before or found[:1]


@dataclass(frozen=True, slots=True)
class RuleParse:
    """What the rules read in a query; the classifier fills what they leave open."""

    intent: Intent
    explicit_intent: str | None  # a kind the words say outright (None: the default, buy)
    ruled_out: frozenset[str]  # kinds the query rules out (不租, not selling)
    category_found: bool
    # The category is only a franchise's usual one and other words name the item
    # (奥特曼 变身器): the classifier may name the item's own category.
    category_open: bool = False
    # The words about the item: the query without its price, duration, condition, kind and
    # scope phrases — what the classifier reads for the category ("拼豆 全新没拆" → "拼豆").
    subject: str = ""


@functools.lru_cache(maxsize=2048)
def parse_rules(query: str) -> RuleParse:
    """The deterministic parse: lexicon, patterns, numbers (no model). Cached: a search parses
    its query twice (the intent, then whether its category was named) and residents repeat
    queries; the result is immutable."""
    text = _normalise(query)
    ruled_out = set()
    asked = _A_NOT_A.sub(r" \1 ", text)
    for m in _NOT_KIND.finditer(asked):
        word = (m.group(1) or m.group(2) or m.group(3) or "").lower()
        kind = _KIND_OF_WORD.get(word) or (
            "rent"
            if word.startswith(("rent", "borrow"))
            else "sell"
            if word.startswith("sell")
            else "swap"
        )
        ruled_out.add(kind)
    # Asking whether anyone sells (anyone selling a scooter?) looks for a seller: a purchase.
    kinds_text = _SEEK_SELLER.sub(" ", _NOT_KIND.sub(" ", asked))
    found, rest = _products(text)
    per_day = bool(_PER_DAY.search(rest))
    # A bare number by a day is a daily rent (租给邻居，一天20; 20一天): no currency needed.
    day_price = _DAY_PRICE.search(rest)
    # "一天10块" is a daily rent, not a one-day rental.
    duration, rest = _duration(_PER_DAY.sub(" ", _AGES.sub(" ", rest)))
    condition, _ = _percent_condition(text)
    for pattern, name in _CONDITIONS if condition is None else ():
        cm = pattern.search(text)
        if cm is not None and not _NEGATED_CONDITION.search(text[: cm.start()]):
            condition = name
            break
    rest = _PERCENT_NEW.sub(" ", rest)
    for pattern, _ in _CONDITIONS:
        rest = pattern.sub(" ", rest)
    low, high, rest = _prices(rest)
    if low is None and high is None and day_price is not None:
        high = _money(day_price.group(1) or day_price.group(2), None)
    explicit: str | None = None
    if _SWAP.search(kinds_text) and "swap" not in ruled_out:
        explicit = "swap"
    elif (
        _RENT_OUT.search(kinds_text)
        or _RENT_NOT_SELL.search(asked)
        or (_SELL.search(kinds_text) and "sell" not in ruled_out)
    ):
        explicit = "sell"
    elif "rent" not in ruled_out and (
        _RENT.search(kinds_text) or (duration is not None and not _ITEM_AGE.search(text))
    ):
        explicit = "rent"
    scope: Scope | None = None
    if _SCOPE_COMMUNITY.search(text):
        scope = "community"
    elif _SCOPE_NEARBY.search(text):
        scope = "nearby"
    wanted = [f for f in found if not f.negated]
    named = _offered(text, wanted) if explicit == "swap" else wanted
    products = [f.product for f in named]
    exact = [f.product for f in named if not f.fuzzy]
    product = next((p.name for p in products if p.name), None)
    brand = next((p.brand for p in products if p.brand), None)
    if brand is None:
        # A maker the lexicon does not know, as written (Stokke, Bruder); in a swap, only one
        # named before the swap word (what is offered).
        swap_at = _SWAP_WORD.search(query.lower()) if explicit == "swap" else None
        brand = _unknown_maker(query, swap_at.start() if swap_at is not None else None)
    # A word for a kind of item, as written, wins over a maker's usual category (a misspelt
    # one ranks with the makers: "mangqian" is one edit from no word the resident meant);
    # the bare word for toys counts only when nothing else names one.
    kinds = [p.category for p in exact if p.category and p.names_a_kind and not p.weak]
    makers = [
        p.category
        for p in products
        if p.category and not p.weak and (not p.names_a_kind or p not in exact)
    ]
    weak = [p.category for p in products if p.category and p.weak]
    categories = kinds or makers or weak
    if (
        explicit != "swap"
        and _GAME_WORD.search(text)
        and "game_console" in categories
        and not re.search(r"游戏机|主机|掌机|console", text)
    ):
        categories.insert(0, "video_game")
    category = (
        min(categories, key=lambda c: (_CATEGORY_PRIORITY.get(c, 1), categories.index(c)))
        if categories
        else None
    )
    rest = _SWAP.sub(" ", _SELL.sub(" ", _RENT.sub(" ", rest)))
    keywords = [w for w in _STOPWORDS.sub(" ", rest).split() if len(w) >= 2 and not w.isdigit()]
    intent = Intent(
        intent=explicit or "buy",  # type: ignore[arg-type]
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
    # A franchise names no kind of item (奥特曼 卡片, 奥特曼 变身器, 奥特曼 衣服): with other words
    # about the item, its usual category is only a fallback for the classifier's.
    category_open = bool(
        not kinds
        and keywords
        and explicit != "swap"
        and any(p.franchise and p.category == category for p in products)
    )
    return RuleParse(
        intent,
        explicit,
        frozenset(ruled_out),
        category is not None,
        category_open,
        _subject(_swap_offer_text(text) if explicit == "swap" else text),
    )


def _swap_offer_text(text: str) -> str:
    """In a swap, the category is the offered item's: the classifier reads those words only
    (我出大疆Tello无人机，想换一台Switch is a drone, not a console)."""
    span = _offer_span(text)
    return text[span[0] : span[1]] if span is not None else text


def _subject(text: str) -> str:
    """The query without what the rules read besides the item (see RuleParse.subject)."""
    text = _PER_DAY.sub(" ", _AGES.sub(" ", text))
    _, text = _duration(text)
    text = _PERCENT_NEW.sub(" ", text)
    for pattern, _ in _CONDITIONS:
        text = pattern.sub(" ", text)
    _, _, text = _prices(text)
    text = _RENT.sub(" ", _NOT_KIND.sub(" ", text))
    text = _SWAP.sub(" ", _SELL.sub(" ", text))
    text = _SCOPE_NEARBY.sub(" ", _SCOPE_COMMUNITY.sub(" ", text))
    text = _WHEN.sub(" ", re.sub(_WEEKDAY, " ", text))
    words = _STOPWORDS.sub(" ", text).split()
    # Fragments left of those phrases (不, 只, 下) are about no item.
    return " ".join(w for w in words if not _FUNCTION_CHARS.fullmatch(w))


_FUNCTION_CHARS = re.compile(r"[下上只不都也就很太再还又才出收换租卖借送甩转让]+")


# When, not what: days and times a query may name besides the item.
_WHEN = re.compile(
    r"[今明后]天|今晚|明晚|[这本下上]个?(?:周|星期|礼拜|月)|周末|到|从|起|开始|尽快|急"
    r"|\b(?:today|tonight|tomorrow|this|next|week|weekend|asap|urgent|until|from)\b"
)


def parse_intent(query: str, classify: Classify | None = None) -> Intent:
    """The local engine's parse: rules, and where they leave the kind of request or the category
    open, the classifier (``classify``: query → (intent probabilities, category probabilities));
    without one, the rules alone (buy by default, no category)."""
    rules = parse_rules(query)
    if classify is None:
        return rules.intent
    update: dict[str, object] = {}
    if rules.explicit_intent in (None, "rent"):
        # The kind of request reads the whole query (its kind words are the point).
        intents, _ = classify(query)
        chosen = _choose_intent(rules, intents)
        if chosen != rules.intent.intent:
            update["intent"] = chosen
    # A query with no words about an item (租到下周日, 只换不卖) names no category.
    if rules.subject and (not rules.category_found or rules.category_open):
        # The category reads the item's words only: prices, durations and conditions say
        # nothing about it and blur a short name (one more embedding when it differs).
        _, categories = classify(rules.subject)
        best = max(categories, key=lambda c: categories[c])
        if categories[best] >= CATEGORY_THRESHOLD:
            update["category"] = best
    return rules.intent.model_copy(update=update) if update else rules.intent


# The classifier's least probability to name a category the lexicon did not find, and to call
# a query without a kind word something other than a purchase (docs/ai.md, "Intent").
CATEGORY_THRESHOLD = 0.3
INTENT_THRESHOLD = 0.75
# Renting is said outright (租, rent); only a confident classifier turns it into renting out.
RENT_OUT_THRESHOLD = 0.8
Classify = Callable[[str], tuple[dict[str, float], dict[str, float]]]


def _choose_intent(rules: RuleParse, probs: dict[str, float]) -> str:
    allowed = {k: v for k, v in probs.items() if k not in rules.ruled_out}
    if rules.explicit_intent == "rent":
        return "sell" if allowed.get("sell", 0.0) >= RENT_OUT_THRESHOLD else "rent"
    if not allowed:
        return "buy"
    best = max(allowed, key=lambda k: allowed[k])
    return best if best != "buy" and allowed[best] >= INTENT_THRESHOLD else "buy"
