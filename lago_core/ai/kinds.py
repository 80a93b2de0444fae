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

__all__ = [
    "KINDS",
    "NEAR_FORMS",
    "PREFIX",
    "Kind",
    "accessory_only",
    "asks_accessory",
    "category_wide",
    "listing_kinds",
    "mend",
    "query_kinds",
    "ranked_kinds",
    "text_kinds",
]

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
    # Its names are titles of particular things (双人成行 is one game, not any game for two):
    # a query naming one asks for that title and keeps its words; only a purpose brings the
    # kind to a query.
    titles: bool = False
    # A thing that goes with another (a pad, a dock, a helmet): a listing whose title names
    # only accessories ranks below the things themselves unless the query asks for one.
    accessory: bool = False


# Parents-to-be ask what a baby needs: the gear and the first toys.
_EXPECTING = ("准备生娃", "待产", "快生了", "要生宝宝", "备孕", "生娃要买", "expecting a baby")
# Ages and who a gift is for, said instead of a thing: the toys made for them.
_GIRLS = ("女孩", "小女孩", "女儿", "闺女", "girl", "girls", "daughter")
_WHOM_FOR = frozenset(_GIRLS)

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
        purposes=(
            "学骑车",
            "学骑自行车",
            "学车",
            "练平衡",
            "平衡感",
            "learn to ride",
            "learning to ride",
        ),
    ),
    Kind(
        "bicycle",
        ("自行车", "单车", "脚踏车", "童车", "bicycle", "bike", "cycle", "zi xing che", "dan che"),
        purposes=("学骑车", "学骑自行车", "learn to ride", "learning to ride"),
    ),
    Kind("scooter", ("滑板车", "踏板车", "scooter", "kick scooter", "hua ban che")),
    # A self-balancing scooter is also sold as 平衡车: its longer names keep it apart from the
    # balance bikes (the longest name found is the one read).
    Kind(
        "self_balancing",
        (
            "电动平衡车",
            "九号平衡车",
            "体感平衡车",
            "自平衡",
            "体感车",
            "hoverboard",
            "self-balancing",
            "self balancing",
        ),
    ),
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
    # Big bricks for toddlers: Duplo by its name and the generic ones by their size.
    Kind(
        "large_blocks",
        ("大颗粒", "大块积木", "得宝", "duplo", "de bao", "da ke li"),
        broader=("building_blocks",),
        purposes=("一岁", "1岁", "两岁", "2岁", "周岁", "toddler", "toddlers"),
    ),
    # A series by every name: a set of it is that set whatever the maker's line is called.
    Kind(
        "star_wars", ("星战", "星球大战", "千年隼", "star wars", "millennium falcon", "xing zhan")
    ),
    Kind(
        "harry_potter",
        (
            "哈利波特",
            "哈利·波特",
            "霍格沃茨",
            "霍格沃兹",
            "harry potter",
            "hogwarts",
            "ha li bo te",
        ),
    ),
    Kind("technic", ("机械组", "technic", "ji xie zu")),
    Kind("ninjago", ("幻影忍者", "ninjago")),
    Kind("ultraman", ("奥特曼", "迪迦", "赛罗", "ultraman", "ao te man")),
    Kind("pokemon", ("宝可梦", "神奇宝贝", "皮卡丘", "pokemon", "pikachu", "ptcg", "bao ke meng")),
    Kind("mario", ("马里奥", "马力欧", "玛丽奥", "mario", "luigi", "ma li ao")),
    Kind("zelda", ("塞尔达", "zelda", "sai er da")),
    Kind("frozen", ("冰雪奇缘", "艾莎", "爱莎", "elsa", "frozen")),
    Kind("paw_patrol", ("汪汪队", "paw patrol", "wang wang dui")),
    Kind("peppa", ("小猪佩奇", "佩奇", "peppa")),
    Kind("thomas", ("托马斯", "thomas")),
    Kind("spiderman", ("蜘蛛侠", "spiderman", "spider man", "zhi zhu xia")),
    # Sold sealed, the figure a surprise; the designer toys sold so (Pop Mart's lines) too.
    Kind("blind_box", ("盲盒", "扭蛋", "隐藏款", "端盒", "blind box", "gashapon", "mang he")),
    Kind(
        "designer_toy",
        (
            "泡泡玛特",
            "拉布布",
            "pop mart",
            "popmart",
            "labubu",
            "molly",
            "skullpanda",
            "dimoo",
            "crybaby",
            "sonny angel",
        ),
        broader=("blind_box",),
    ),
    Kind(
        "racing_game",
        ("竞速游戏", "卡丁车", "极限竞速", "racing game", "forza"),
        # 赛车 alone is a toy car as often: the query keeps its words and gains the kind.
        purposes=("赛车游戏", "racing games"),
    ),
    Kind(
        "model_kit",
        (
            "拼装模型",
            "拼装",
            "飞机模型",
            "模型飞机",
            "田宫",
            "tamiya",
            "高达",
            "扎古",
            "gundam",
            "gunpla",
            "model kit",
            "gao da",
        ),
    ),
    # Books and reading.
    Kind(
        "picture_book",
        ("绘本", "图画书", "立体书", "picture book", "picture books", "hui ben"),
        broader=("book",),
    ),
    Kind(
        "book",
        ("童书", "儿童书", "故事书", "图书", "百科", "book", "tong shu"),
        purposes=("睡前故事", "讲故事", "bedtime story"),
    ),
    Kind(
        "story_player",
        ("故事机", "儿童播放器", "yoto", "tonies", "story player", "gu shi ji"),
        purposes=("睡前故事", "讲故事", "听故事", "bedtime story", "坐飞机", "打发时间"),
    ),
    Kind(
        "reading_pen",
        ("点读笔", "reading pen", "dian du bi"),
        # Something quiet for a child on a journey; and what reads English aloud.
        purposes=("坐飞机", "打发时间", "on the plane", "学英语", "英语启蒙", "learn english"),
    ),
    # Video games: a console is the machine (any of its names), a handheld one you carry, a
    # controller the pad; the category holds all three and their games, so a broad query
    # (游戏机, 掌机, 游戏手柄) finds the thing it names before the rest of the category. Only
    # generic names: a model's name (Switch OLED, Steam Deck) would give way to the kind's token
    # and find every console as well as it.
    Kind(
        "console",
        (
            "游戏机",
            "主机",
            "红白机",
            "光驱版",
            "数字版",
            "you xi ji",
        ),
    ),
    Kind(
        "handheld_console",
        (
            "掌机",
            "掌上电脑",
            "掌上游戏机",
            "掌上游戏",
            "续航版",
            "handheld",
            "zhang ji",
        ),
        broader=("console",),
    ),
    Kind(
        "controller",
        (
            "手柄",
            "控制器",
            "joycon",
            "controller",
            "gamepad",
            "dualsense",
            "dualshock",
            "joy-con",
            "shou bing",
        ),
        accessory=True,
    ),
    Kind(
        "accessory",
        (
            "底座",
            "充电座",
            "充电器",
            "收纳包",
            "保护壳",
            "保护套",
            "钢化膜",
            "贴膜",
            "数据线",
            "摇杆帽",
            "配件包",
            "配件套装",
            "头盔",
            "护具",
            "雨罩",
            "dock",
            "charger",
            "carrying case",
            "screen protector",
            "helmet",
        ),
        purposes=("配件", "周边", "accessory", "accessories"),
        accessory=True,
    ),
    Kind(
        "multiplayer_game",
        (
            "双人成行",
            "马里奥派对",
            "马里奥赛车",
            "舞力全开",
            "just dance",
            "mario party",
            "mario kart",
        ),
        purposes=(
            "两个人一起",
            "两个人玩",
            "双人玩",
            "双人游戏",
            "两人玩",
            "多人玩",
            "多人游戏",
            "two player",
            "multiplayer",
        ),
        titles=True,
    ),
    # Musical instruments.
    Kind("instrument", ("乐器", "musical instrument", "instrument", "yue qi")),
    Kind(
        "keyboard",
        ("电子琴", "keyboard", "dian zi qin"),
        broader=("instrument",),
        purposes=("学琴", "练琴", "学钢琴"),
    ),
    Kind(
        "piano",
        ("钢琴", "电钢琴", "数码钢琴", "piano", "digital piano", "gang qin"),
        broader=("instrument",),
        purposes=("学琴", "练琴", "学钢琴"),
    ),
    Kind("ukulele", ("尤克里里", "ukulele", "uke", "小吉他"), broader=("instrument",)),
    Kind("violin", ("小提琴", "violin", "xiao ti qin"), broader=("instrument",)),
    Kind(
        "drum",
        ("架子鼓", "爵士鼓", "手鼓", "drum set", "drum", "jia zi gu"),
        broader=("instrument",),
    ),
    Kind(
        "toy_instrument",
        ("木琴", "敲琴", "八音琴", "钢琴玩具", "沙锤", "口琴", "xylophone", "glockenspiel"),
        broader=("instrument",),
    ),
    # Baby gear: each has its own word and its own purpose.
    Kind(
        "stroller",
        (
            "婴儿推车",
            "推车",
            "伞车",
            "婴儿车",
            # Colloquial and regional: 娃娃车 and BB车 are strollers to most parents.
            "娃娃车",
            "bb车",
            "宝宝车",
            "遛娃车",
            "遛娃神器",
            "stroller",
            "pram",
            "buggy",
            "pushchair",
            "tui che",
        ),
        purposes=(
            "带上飞机",
            "能登机",
            "可登机",
            "坐飞机",
            "出去旅游",
            "带娃旅游",
            "带娃旅行",
            "遛娃",
            *_EXPECTING,
        ),
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
        (
            "摇铃",
            "牙胶",
            "健身架",
            "床铃",
            "安抚巾",
            "安抚玩偶",
            "布书",
            "忙碌板",
            "敲敲乐",
            "形状配对",
            "套圈",
            "叠叠乐",
            "rattle",
            "teether",
            "play gym",
            "busy board",
            "shape sorter",
            "stacking",
        ),
        purposes=(
            *_EXPECTING,
            "刚出生",
            "新生儿",
            "满月",
            "newborn",
            "长牙",
            "磨牙",
            "能啃",
            "teething",
            # Ages under about two: the toys made for them (big bricks and ride-ons below too).
            "一岁",
            "1岁",
            "周岁",
            "半岁",
            "几个月",
            "婴儿玩具",
            "宝宝玩具",
            "baby toy",
            "toddler",
            "1 year old",
            "one year old",
        ),
    ),
    Kind("crib", ("婴儿床", "crib", "cot", "ying er chuang"), purposes=_EXPECTING),
    Kind("baby_monitor", ("婴儿监视器", "看护器", "baby monitor")),
    Kind(
        "playpen",
        ("游戏围栏", "围栏", "护栏", "安全门", "playpen", "baby gate", "safety gate", "wei lan"),
        purposes=("会爬", "乱爬", "学爬", "crawling"),
    ),
    # Outdoors and play.
    Kind(
        "fitness_game",
        ("健身环", "舞力全开", "体感", "ring fit", "just dance"),
        purposes=("减肥", "健身", "锻炼", "在家运动", "多运动", "exercise", "workout"),
    ),
    Kind("tent", ("帐篷", "天幕", "tent", "zhang peng"), purposes=("露营", "camping")),
    Kind(
        "trampoline",
        ("蹦床", "trampoline", "beng chuang"),
        purposes=("蹦蹦跳跳", "蹦跶", "在家运动", "多运动"),
    ),
    Kind("remote_control", ("遥控", "remote control", "rc car", "rc", "yao kong")),
    # Cars a child sits in and drives or pushes along: not the toy cars that fit in a hand.
    Kind(
        "ride_on",
        (
            "儿童电动车",
            "电动童车",
            "扭扭车",
            "溜溜车",
            "滑行车",
            "摇摇马",
            "ride on",
            "ride-on",
            "power wheels",
        ),
        purposes=("可以坐", "能坐", "坐进去", "坐在上面", "一岁", "1岁", "sit in"),
    ),
    # Learning to walk: a push-along walker or a sit-in one.
    Kind(
        "walker",
        ("学步车", "学步推车", "助步车", "walker", "baby walker", "push walker", "xue bu che"),
        purposes=("学走路", "学步", "学走", "learning to walk"),
    ),
    # Carrying a baby: a carrier, a hip seat, a sling.
    Kind(
        "baby_carrier",
        (
            "背带",
            "婴儿背带",
            "腰凳",
            "背巾",
            "baby carrier",
            "carrier",
            "hip seat",
            "sling",
            "bei dai",
        ),
        purposes=("抱娃", "背娃", "抱孩子", "babywearing"),
    ),
    # Pretend play (过家家): a play kitchen, a doctor's kit, a shop; all of them to 过家家.
    Kind(
        "pretend_play",
        ("过家家", "角色扮演", "pretend play", "role play"),
        purposes=("扮家家", "假装", "当医生", "当厨师"),
    ),
    Kind(
        "play_kitchen",
        ("过家家厨房", "玩具厨房", "仿真厨房", "厨房玩具", "play kitchen", "toy kitchen"),
        broader=("pretend_play",),
    ),
    Kind(
        "doctor_kit",
        ("医生玩具", "医生套装", "医药箱玩具", "听诊器", "doctor kit", "doctor set"),
        broader=("pretend_play",),
    ),
    # Water and sand: what summer, the beach and the pool are for.
    Kind(
        "water_toy",
        (
            "水枪",
            "戏水",
            "沙滩玩具",
            "挖沙",
            "玩沙",
            "充气泳池",
            "儿童泳池",
            "游泳圈",
            "洗澡玩具",
            "water gun",
            "water toy",
            "sand toys",
            "beach toys",
            "paddling pool",
        ),
        purposes=(
            "玩水",
            "打水仗",
            "夏天",
            "海边",
            "沙滩",
            "游泳",
            "泳池",
            "summer",
            "beach",
            "pool",
        ),
    ),
    Kind(
        "kids_camera",
        ("儿童相机", "拍立得", "数码相机", "相机", "kids camera", "instant camera", "camera"),
        purposes=("拍照", "照相", "拍照片", "take photos", "take pictures", "photography"),
    ),
    # What helps a baby fall asleep.
    Kind(
        "sleep_aid",
        (
            "小夜灯",
            "拍拍灯",
            "睡眠灯",
            "投影灯",
            "白噪音",
            "哄睡",
            "助眠",
            "安抚玩偶",
            "安抚巾",
            "安抚奶嘴",
            "睡袋",
            "night light",
            "white noise",
            "sleep aid",
            "sleep sack",
        ),
        purposes=("哄睡", "哄宝宝睡", "哄娃睡", "入睡", "睡不着", "夜醒", "安抚", "fall asleep"),
    ),
    # A party's toys: what many children play with at once.
    Kind(
        "party",
        # Not 派对 alone, as a name or a purpose: 马里奥派对 is a game.
        ("泡泡机", "派对用品", "派对玩具", "气球", "bubble machine", "party supplies", "balloons"),
        purposes=(
            "生日派对",
            "生日会",
            "生日聚会",
            "birthday party",
            "kids party",
        ),
    ),
    # Starting school: what a pupil carries, writes at and learns with.
    Kind(
        "school_gear",
        (
            "书包",
            "文具",
            "学习桌",
            "台灯",
            "school bag",
            "backpack",
            "stationery",
            "study desk",
        ),
        purposes=(
            "上小学",
            "上学",
            "开学",
            "一年级",
            "幼升小",
            "入学",
            "小学生",
            "back to school",
            "school",
        ),
    ),
    Kind(
        "learning_tablet",
        ("学习机", "学习平板", "点读机", "早教机", "learning tablet"),
        broader=("school_gear",),
        purposes=("学英语", "英语启蒙", "网课", "learn english"),
    ),
    Kind(
        "kids_watch",
        ("电话手表", "儿童手表", "智能手表", "smartwatch", "smart watch", "watch"),
        broader=("school_gear",),
    ),
    Kind(
        "english_learning",
        (
            "分级阅读",
            "英文绘本",
            "英语绘本",
            "英文书",
            "牛津树",
            "phonics",
            "graded readers",
        ),
        broader=("book",),
        purposes=("学英语", "英语启蒙", "英文启蒙", "learn english", "learning english"),
    ),
    # Old games and the machines for them.
    Kind(
        "retro_game",
        (
            "怀旧",
            "复古",
            "红白机",
            "小霸王",
            "街机",
            "黄卡",
            "gba",
            "nes",
            "snes",
            "famicom",
            "retro",
        ),
        purposes=("老游戏", "小时候玩的", "童年"),
    ),
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
    Kind("figure", ("手办", "雕像", "景品", "figure", "figma", "figuarts", "shou ban")),
    Kind(
        "transformers",
        ("变形金刚", "擎天柱", "大黄蜂", "transformers", "bian xing jin gang"),
        broader=("figure",),
    ),
    Kind("barbie", ("芭比", "barbie", "ba bi"), broader=("doll",)),
    # Dolls of every kind; asked for by who they are for as often as by name.
    Kind(
        "doll",
        (
            "娃娃",
            "洋娃娃",
            "公主娃娃",
            "换装娃娃",
            "娃娃屋",
            "dollhouse",
            "doll",
            "dolls",
            "yang wa wa",
        ),
        purposes=_GIRLS,
        category_wide=True,
    ),
    Kind("puzzle", ("拼图", "jigsaw", "puzzle", "pin tu")),
    Kind(
        "board_game",
        (
            "桌游",
            "棋",
            "象棋",
            "国际象棋",
            "围棋",
            "五子棋",
            "跳棋",
            "飞行棋",
            "大富翁",
            "uno",
            "board game",
            "board games",
            "chess",
            "zhuo you",
        ),
        purposes=("聚会玩", "全家一起玩", "family game", "party game"),
    ),
    Kind(
        "trading_cards",
        (
            "卡牌",
            "集卡",
            "收藏卡",
            "卡册",
            "卡组",
            "卡包",
            "闪卡",
            "游戏王",
            "ptcg",
            "tcg",
            "trading card",
            "trading cards",
            "ka pai",
        ),
    ),
    Kind(
        "crafts",
        (
            "手工",
            "diy",
            "拼豆",
            "彩泥",
            "橡皮泥",
            "粘土",
            "超轻粘土",
            "折纸",
            "串珠",
            "钻石画",
            "数字油画",
            "培乐多",
            "play-doh",
            "playdoh",
            "crafts",
            "craft kit",
            "shou gong",
        ),
        purposes=("做手工", "动手能力"),
    ),
    Kind(
        "snow_gear",
        ("雪橇", "滑雪圈", "滑雪板", "雪鞋", "滑雪", "sled", "sledge", "snow tube", "ski", "skis"),
        purposes=("玩雪", "下雪", "滑雪场", "堆雪人", "snow"),
    ),
    Kind(
        "drone",
        ("无人机", "航拍", "四轴飞行器", "drone", "drones", "quadcopter", "wu ren ji"),
        broader=("remote_control",),
    ),
    # Cars that fit in a hand (remote-control ones are their own kind, ride-ons another).
    Kind(
        "toy_car",
        (
            "玩具车",
            "合金车",
            "回力车",
            "惯性车",
            "多美卡",
            "tomica",
            "风火轮",
            "hot wheels",
            "四驱车",
            "toy car",
            "toy cars",
            "wan ju che",
        ),
    ),
    Kind(
        "telescope",
        ("望远镜", "telescope", "wang yuan jing"),
        purposes=("看星星", "看月亮", "观星", "天文", "stargazing"),
    ),
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
# The kinds of the names inside a title's name: the pattern reads the longest name at a place
# (马里奥赛车, a game for several players), and a title is also of the kinds its parts name
# (马里奥, the franchise). Titles only: 滑板车 is no 滑板, a longer generic name is another
# thing. Listings only: a query's longer name says which it means.
_INSIDE: dict[str, set[str]] = {
    name: {
        k for other, kinds in _NAME_KINDS.items() if other != name and other in name for k in kinds
    }
    for name, kinds in _NAME_KINDS.items()
    if not _latin(name) and all(_BY_NAME[k].titles for k in kinds)
}
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
        found.extend(sorted(_alias_of(name, _NAME_KINDS) | _INSIDE.get(name, set())))
    return tuple(PREFIX + name for name in _with_broader(found))


def listing_kinds(words: Sequence[str]) -> tuple[str, ...]:
    """The kind tokens of a listing from its indexed words (jieba's search-mode words in text
    order, so Chinese ones are read joined, Latin ones apart), broader kinds included."""
    han = "".join(w for w in words if not w.isascii())
    latin = " ".join(w for w in words if w.isascii())
    return _listing_kinds(han, latin)


def category_wide(name: str) -> bool:
    """Whether ``name`` is a kind as broad as the catalogue category of the same name."""
    kind = _BY_NAME.get(name)
    return kind is not None and kind.category_wide


def ranked_kinds(tokens: Iterable[str]) -> list[str]:
    """The kind tokens among ``tokens`` that ranking prefers (not the category-wide ones)."""
    return [
        t for t in tokens if t.startswith(PREFIX) and not _BY_NAME[t[len(PREFIX) :]].category_wide
    ]


# What comes with a thing in its title (带俩手柄, 送一个手柄, 配充电器): an extra, not what is sold.
_EXTRAS = re.compile(r"(?:带|送|配|含|赠|附|加)[^\s，,+、]{0,6}")


def accessory_only(title: str) -> bool:
    """Whether a title names accessories and nothing else of a kind (a pad, a dock), its
    extras (带/送/配 …) left out."""
    kinds = [k[len(PREFIX) :] for k in text_kinds(_EXTRAS.sub(" ", title))]
    return bool(kinds) and all(_BY_NAME[k].accessory for k in kinds)


def asks_accessory(tokens: Iterable[str]) -> bool:
    """Whether a query's kind tokens name an accessory."""
    return any(t.startswith(PREFIX) and _BY_NAME[t[len(PREFIX) :]].accessory for t in tokens)


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
        named = [n for n in sorted(_alias_of(found, _NAME_KINDS)) if not _BY_NAME[n].titles]
        for name in named:
            kinds[PREFIX + name] = None
        if named:
            spans.append(found)
    whom: dict[str, None] = {}
    for found in _found(text, _HAN_PURPOSES, _LATIN_PURPOSES):
        # Whom it is for (女孩, girl) says what to show only when nothing else does: "女儿想学骑车"
        # asks for a bike, not a doll.
        into = whom if found in _WHOM_FOR else kinds
        for name in sorted(_alias_of(found, _PURPOSE_KINDS)):
            into[PREFIX + name] = None
    return list(kinds or whom), spans


# Near-forms a resident types for a name (a homophone from the input method, a neighbouring
# character): read as the name before the query's words and kinds are taken. Kept to names of
# things sold here, each wrong form impossible as a word of its own.
NEAR_FORMS: dict[str, str] = {
    "芭笔": "芭比",
    "芭必": "芭比",
    "巴比娃娃": "芭比娃娃",
    "手炳": "手柄",
    "手并": "手柄",
    "手秉": "手柄",
    "遥空": "遥控",
    "摇控": "遥控",
    "磁力骗": "磁力片",
    "积本": "积木",
    "乐搞": "乐高",
    "平衡军": "平衡车",
    "望远竟": "望远镜",
}
# Latin words a typo is mended to (one letter wrong, missing, extra or two swapped): the kinds'
# Latin names' words, and the makers' and products' names residents type most.
_LATIN_VOCABULARY = frozenset(
    {
        w
        for k in KINDS
        for a in k.names
        if _latin(a)
        for w in a.split()
        if len(w) >= 4 and w.isalpha()
    }
    | {"switch", "xbox", "lego", "nintendo", "playstation", "barbie", "duplo", "joycon"}
)
_NEAR_FORM = re.compile("|".join(sorted(map(re.escape, NEAR_FORMS), key=len, reverse=True)))
_LATIN_WORD = re.compile(r"[a-z]+")


def _one_edit(a: str, b: str) -> bool:
    """Whether ``a`` is one edit from ``b`` (Damerau: a swap of neighbours counts as one)."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    short, long = (a, b) if len(a) < len(b) else (b, a)
    i = 0
    while i < len(short) and short[i] == long[i]:
        i += 1
    return short[i:] == long[i + 1 :]


@lru_cache(maxsize=4_096)
def _mend_latin(word: str) -> str:
    # Short words are too close to too many others (rent/tent, ps4/ps5); a known word is left
    # alone.
    if len(word) < 5 or word in _LATIN_VOCABULARY:
        return word
    near = sorted(v for v in _LATIN_VOCABULARY if _one_edit(word, v))
    return near[0] if len(near) == 1 else word


def mend(query: str) -> str:
    """The query with the near-forms of names and one-edit Latin typos read as the names."""
    text = _NEAR_FORM.sub(lambda m: NEAR_FORMS[m.group()], query.lower())
    return _LATIN_WORD.sub(lambda m: _mend_latin(m.group()), text)
