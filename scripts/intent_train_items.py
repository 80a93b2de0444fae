"""Writes the item-name part of lago_core/ai/data/intent_train.jsonl (the category classifier's
breadth): item names per category in Chinese, English, pinyin and mixed, each bare and in one
short phrasing (a seeded choice of template), after the hand-written phrasings of the file.

Written from general knowledge of what children's, toy and game listings sell, following the
labelling guide (docs/ai.md, "Search with intent"): never from the evaluation sets, and
tests/test_ai_intent.py checks that no line equals or contains one of their queries.

    python scripts/intent_train_items.py   # rewrites the generated part, then retrain:
    python -m lago_core.ai.classifier
"""

from __future__ import annotations

import random
from pathlib import Path

import orjson

TRAIN = Path(__file__).resolve().parent.parent / "lago_core" / "ai" / "data" / "intent_train.jsonl"
MARK = "generated"  # the generated lines carry {"src": "generated"}; the rest are hand-written

# fmt: off
ITEMS: dict[str, list[str]] = {
    "toy": [
        # vehicles and remote control
        "遥控汽车", "遥控越野车", "遥控赛车", "遥控挖掘机", "遥控坦克", "遥控船", "遥控直升机",
        "遥控飞机玩具", "遥控特技车", "遥控攀爬车", "遥控恐龙", "遥控机器狗", "玩具无人机",
        "四轴飞行器 玩具", "合金回力小车", "合金工程车", "回力车", "惯性车", "玩具挖掘机", "玩具消防车",
        "玩具警车", "玩具救护车", "玩具公交车", "玩具火车", "轨道小火车", "木质火车轨道", "电动火车",
        "小火车轨道套装", "停车场玩具", "轨道车", "多美卡", "tomica", "风火轮赛道", "汽车总动员小车",
        "变形警车珀利", "汪汪队玩具", "汪汪队瞭望塔", "超级飞侠玩具", "猪猪侠玩具",
        # role play
        "过家家玩具", "儿童厨房玩具", "木质厨房玩具", "仿真厨具", "迷你厨房", "过家家灶台", "收银机玩具", "超市购物车玩具", "医生工具箱玩具",
        "化妆玩具", "工具台玩具", "冰淇淋玩具", "切切乐", "水果切切看", "玩具电话", "玩具手机",
        "变身器", "变身腰带", "假面骑士变身腰带", "奥特曼面具", "光剑玩具", "玩具剑", "魔法棒", "玩具手表", "对讲机玩具",
        # shooting and water
        "水枪", "滋水枪", "软弹枪", "nerf枪", "玩具枪", "泡泡枪", "泡泡机", "吹泡泡", "水弹枪",
        # baby and toddler toys
        "摇铃", "牙胶玩具", "婴儿健身架", "床铃", "安抚摇铃", "叠叠杯", "套圈玩具", "敲击玩具",
        "打地鼠玩具", "手拍球", "布书", "洗澡小鸭子", "戏水玩具", "学步车", "学步推车", "手推学步车",
        "婴儿学步车", "爬行玩具", "摇摇马", "木马", "摇椅玩具", "早教摇铃",
        "宝宝健身架", "脚踏钢琴健身架", "婴儿游戏架", "声光安抚玩具", "音乐安抚玩具", "哄睡玩具",
        "床挂玩具", "推推乐", "婴儿手抓球", "躲猫猫玩具", "趴趴玩具", "婴儿镜子玩具",
        # classic and misc
        "陀螺", "战斗陀螺", "悠悠球", "溜溜球", "弹弓玩具", "万花筒", "不倒翁", "发条青蛙",
        "八音盒", "音乐盒", "会唱歌的玩具", "电子宠物", "玩具机器人", "变形机器人", "恐龙玩具",
        "仿真恐龙", "动物模型玩具", "史莱姆", "水晶泥", "解压玩具", "捏捏乐", "指尖陀螺",
        "弹力球", "魔术道具", "桌面足球", "桌上冰球", "弹珠台", "钓鱼玩具", "沙滩玩具套装",
        "玩沙工具", "挖沙工具", "雪花片", "飞行棋", "大富翁", "叠叠乐", "桌游", "狼人杀卡牌",
        "uno牌", "海洋球", "海洋球池",
        # English and pinyin
        "rc car", "remote control truck", "rc helicopter", "remote control boat", "toy excavator",
        "toy fire truck", "die-cast cars", "matchbox cars", "wooden railway", "wooden railway tracks",
        "play kitchen set", "pretend play food", "toy cash register", "doctor kit toy",
        "toy tool bench", "nerf blaster", "foam dart gun", "bubble gun", "water blaster",
        "squirt gun", "walker for babies", "push walker", "activity walker", "sit-in walker", "teething toy",
        "baby gym", "play gym", "activity gym", "crib mobile", "soothing toy with music",
        "light up baby toy", "stacking cups", "shape sorter", "pull along toy", "rocking toy",
        "spinning tops", "beyblade", "yo-yo", "kaleidoscope", "music box", "toy robot",
        "robot dog toy", "dinosaur toy", "slime", "fidget toys", "pop it", "squishy toy",
        "board game", "card game", "table football", "ball pit", "paw patrol toys",
        "toy walkie talkie", "magic wand toy", "toy sword", "sand toys",
        "yaokong qiche", "yaokong zhishengji", "yaokong chuan", "yaokong tanke", "wanju qiang", "shuiqiang",
        "paopaoji", "xuebuche", "tuoluo", "youyouqiu", "wanju huoche", "guojiajia",
    ],
    "building_blocks": [
        "积木", "拼装积木", "大颗粒积木", "小颗粒积木", "木头积木", "木制积木", "桶装积木",
        "积木桌", "积木收纳", "兼容乐高积木", "国产积木", "科技积木", "机械积木", "齿轮积木",
        "磁力片", "磁力积木", "磁力棒", "磁力管道", "磁力球轨道", "管道积木", "插管积木",
        "雪花积木", "软积木", "泡沫积木", "积木城堡", "积木房子", "积木人仔", "乐高人仔",
        "积木小人", "得宝", "乐高得宝", "乐高城市", "乐高机械组", "乐高幻影忍者", "乐高好朋友",
        "乐高星战", "乐高哈利波特", "乐高创意", "乐高街景", "乐高花束", "乐高科技",
        "森宝积木", "启蒙积木", "万格积木", "布鲁可积木", "布鲁可大颗粒", "拼搭积木",
        "city 系列", "创意拼砌", "积木车", "积木飞船", "积木建筑", "积木散件", "一箱积木",
        "lego set", "lego technic", "lego city", "lego friends", "lego ninjago", "star wars lego set",
        "lego duplo", "duplo blocks", "mega bloks", "wooden blocks", "magna-tiles", "magnetic blocks",
        "magnetic building set", "stem building set", "building bricks", "brick sets",
        "minifigures", "lego minifigs", "marble run", "k'nex", "lego classic", "bulk lego",
        "jimu", "leigao", "cilipian", "ci li pian", "da keli jimu", "legao pinzhuang", "pinzhuang jimu",
    ],
    "game_console": [
        "游戏机", "游戏主机", "家用游戏机", "电视游戏机", "掌上游戏机", "掌机", "怀旧掌机",
        "开源掌机", "复古掌机", "街机", "摇杆", "街机摇杆", "游戏手柄", "无线手柄", "pro手柄",
        "joy-con", "joycon手柄", "手柄充电座", "充电底座", "switch底座", "switch 收纳包",
        "switch 保护壳", "ps5 手柄", "ps5 光驱", "ps5 数字版", "ps5 光驱版", "ps4 pro",
        "ps4 slim", "ps vita", "psp", "psp3000 掌机", "xbox series x", "xbox series s", "xbox one",
        "xbox 手柄", "xbox 精英手柄", "steamdeck 512g", "华硕掌机 ally",
        "switch 续航版", "新大陆版 3ds", "new 3ds", "gba sp", "gameboy", "任天堂 红白机",
        "fc 游戏机", "sfc", "n64", "gamecube", "wii 主机", "wii u", "世嘉 md", "土星主机",
        "小霸王 游戏机", "小霸王 手柄", "pico vr", "vr 一体机", "vr头显", "quest 3", "quest 2",
        "方向盘 游戏", "赛车方向盘", "游戏方向盘", "体感手柄", "游戏机散热器", "游戏机底座",
        "手柄握把", "主机硬盘", "游戏存储卡", "掌机保护包", "psp 电池", "switch 充电器",
        "dualsense", "dualshock 4", "pro controller", "joy cons", "gaming handheld",
        "retro handheld", "handheld console", "home console", "games console", "playstation 5",
        "ps5 slim", "xbox controller", "elite controller",
        "racing wheel", "arcade stick", "fight stick", "vr headset", "meta quest", "charging dock",
        "console stand", "carrying case for switch", "controller charger",
        "youxiji", "zhangji", "shoubing", "youxi shoubing", "zhuji", "jieji",
    ],
    "video_game": [
        "游戏卡带", "卡带", "游戏光盘", "光盘", "游戏碟", "实体卡", "实体游戏", "二手卡带",
        "中文卡带", "港版卡带", "日版游戏", "游戏合集", "游戏兑换码", "数字游戏", "游戏账号共享",
        "塞尔达传说", "王国之泪", "旷野之息", "马里奥赛车8", "超级马里奥奥德赛", "马里奥派对",
        "马里奥惊奇", "动物森友会", "动森", "宝可梦朱紫", "宝可梦剑盾", "精灵宝可梦", "喷射战士3",
        "斯普拉遁", "星之卡比", "任天堂大乱斗", "健身环大冒险", "健身环", "有氧拳击", "舞力全开",
        "超级马里奥派对", "胡闹厨房", "双人成行", "分手厨房", "路易吉洋馆", "异度神剑", "火焰纹章",
        "怪物猎人崛起", "怪物猎人", "艾尔登法环", "只狼", "黑神话悟空", "战神", "战神诸神黄昏",
        "漫威蜘蛛侠", "地平线", "最后生还者", "死亡搁浅", "gta5", "荒野大镖客", "使命召唤",
        "fifa", "ea fc", "nba2k", "2k24", "实况足球", "生化危机", "最终幻想", "鬼泣",
        "我的世界", "minecraft", "原神", "宇宙机器人", "瑞奇与叮当", "赛博朋克2077", "街霸6",
        "铁拳", "拳皇", "三国无双", "真三国无双", "哈利波特魔法觉醒", "乐高游戏", "乐高星战游戏",
        "舞力全开 卡带", "switch 游戏", "ps5 游戏", "ps4 游戏", "xbox 游戏", "3ds 卡带", "gba 卡带",
        "fc 卡带", "红白机卡带", "小霸王卡带", "游戏卡 合集",
        "zelda", "tears of the kingdom", "breath of the wild", "mario kart", "mario party",
        "super mario odyssey", "animal crossing", "pokemon scarlet", "pokemon violet", "splatoon",
        "kirby", "smash bros", "ring fit adventure", "ring fit", "just dance", "overcooked",
        "it takes two", "elden ring", "god of war", "spider-man ps5", "the last of us", "fifa 24",
        "gta v", "red dead redemption", "call of duty", "resident evil", "final fantasy",
        "street fighter", "switch games", "ps5 games", "ps4 games", "xbox games", "game cartridge",
        "game disc", "physical copy", "switch cartridge", "ps5 disc",
        "kadai", "youxi kadai", "guangpan", "youxi guangpan", "saierda", "mario kache",
        "jianshenhuan", "dongsen",
    ],
    "doll": [
        "娃娃", "洋娃娃", "芭比娃娃", "芭比梦想屋", "芭比换装", "换装娃娃", "公主娃娃", "仿真娃娃",
        "重生娃娃", "婴儿娃娃", "会说话的娃娃", "会哭的娃娃", "喂奶娃娃", "bjd", "bjd娃娃",
        "sd娃娃", "ob11", "ob11娃娃", "娃衣", "娃娃衣服", "娃娃鞋", "娃娃假发", "娃娃屋",
        "娃娃家", "过家家娃娃屋", "木质娃娃屋", "迷你娃娃屋", "叶罗丽娃娃", "叶罗丽", "可儿娃娃",
        "小凯莉", "安娜艾莎娃娃", "冰雪奇缘娃娃", "迪士尼公主娃娃", "lol惊喜娃娃", "惊喜娃娃",
        "美人鱼娃娃", "布朗熊娃娃屋", "森贝儿家族", "森贝儿", "米粒娃娃", "棉花娃娃", "20cm棉花娃娃",
        "娃娃推车玩具", "娃娃床", "娃娃配件", "娃娃套装", "陶瓷娃娃", "日本人形", "俄罗斯套娃",
        "套娃", "babi gongzhu", "yangwawa", "wawa wu", "huanzhuang wawa",
        "barbie doll", "barbie dreamhouse", "fashion doll", "baby doll", "reborn doll", "dollhouse",
        "doll house", "wooden dollhouse", "doll clothes", "doll furniture", "lol surprise",
        "american girl doll", "sylvanian families", "calico critters", "frozen elsa doll",
        "disney princess doll", "bratz", "polly pocket", "rainbow high", "monster high",
        "cabbage patch doll", "nesting dolls", "porcelain doll", "ball jointed doll", "cotton doll",
    ],
    "plush": [
        "毛绒玩具", "毛绒公仔", "毛绒熊", "泰迪熊", "小熊玩偶", "兔子玩偶", "毛绒兔子", "小兔子",
        "长颈鹿毛绒", "毛绒狗", "毛绒猫", "恐龙毛绒", "毛绒恐龙", "鲨鱼玩偶", "鲨鱼抱枕",
        "大白鲨毛绒", "毛绒抱枕", "玩偶抱枕", "抱枕", "安抚玩偶", "安抚巾", "睡觉抱的玩偶",
        "布偶", "布娃娃", "布艺玩偶", "公仔", "玩偶", "大号玩偶", "巨型熊", "一米八大熊", "毛绒挂件",
        "玩偶挂件", "星黛露", "玲娜贝儿", "达菲熊", "史迪仔玩偶", "哆啦a梦毛绒", "皮卡丘毛绒",
        "皮卡丘玩偶", "小黄人玩偶", "海绵宝宝玩偶", "kitty 玩偶", "美乐蒂玩偶", "库洛米玩偶",
        "三丽鸥玩偶", "线条小狗玩偶", "卡皮巴拉玩偶", "水豚玩偶", "jellycat 兔子", "jellycat 茄子",
        "邦尼兔", "jellycat 小熊", "毛绒手偶", "手偶", "指偶", "玩偶服", "毛毛虫毛绒",
        "会动的毛绒玩具", "电动毛绒", "毛绒音乐玩具", "暖手宝玩偶",
        "teddy", "stuffed animal", "stuffed toy", "plushie", "plush bunny",
        "plush dinosaur", "plush shark", "squishmallow", "squishmallows", "soft toy",
        "cuddly toy", "build a bear", "pikachu plush", "stitch plush",
        "hand puppet", "finger puppets", "comfort toy", "lovey", "snuggle toy", "giant teddy",
        "maorong", "maorong tuzi", "wanou", "gongzai", "maorong xiong", "budai wanou",
    ],
    "figure": [
        "手办", "动漫手办", "正版手办", "景品手办", "gk手办", "gk雕像", "雕像", "模型手办",
        "盲盒", "泡泡玛特盲盒", "一端盒", "隐藏款", "盲盒隐藏款", "扭蛋", "扭蛋机玩具", "食玩",
        "粘土人", "figma", "可动手办", "可动人偶", "兵人", "1/6兵人", "超合金", "机甲模型",
        "高达模型", "拼装模型", "模型拼装", "mg高达", "hg高达", "rg高达", "pg高达", "万代模型",
        "eva模型", "奥特曼手办", "奥特曼卡片", "奥特曼卡", "卡游卡片", "奥特曼人偶", "假面骑士手办",
        "海贼王手办", "火影手办", "龙珠手办", "鬼灭之刃手办", "初音手办", "原神手办", "漫威手办",
        "钢铁侠手办", "蝙蝠侠手办", "星球大战人偶", "变形金刚 大黄蜂",
        "孩之宝 变形金刚", "漫威传奇", "宝可梦卡牌", "宝可梦卡", "游戏王卡", "卡牌收藏", "球星卡",
        "集换式卡牌", "卡牌", "molly", "labubu", "dimoo", "skullpanda", "crybaby",
        "泡泡玛特", "52toys", "寻找独角兽", "搪胶公仔", "潮玩", "潮玩手办",
        "bearbrick", "暴力熊", "积木熊", "kaws", "军事模型", "坦克模型",
        "飞机模型", "舰船模型", "车模", "合金车模", "1:18车模", "1:64车模",
        "action figure", "figurine", "anime figure", "mystery box figure",
        "collectible figure", "statue", "nendoroid", "gunpla", "gundam kit", "model kit",
        "plastic model kit", "scale model", "pokemon cards", "trading card", "yu-gi-oh cards",
        "sports cards", "funko pop", "marvel legends", "star wars figure", "hot toys",
        "transformers figure", "designer toy", "art toy", "diecast model",
        "shoubang", "manghe", "niudan", "gaoda moxing", "aoteman kapian", "kapai", "chaowan",
    ],
    "outdoor": [
        "自行车", "儿童自行车", "带辅助轮自行车", "16寸自行车", "20寸自行车", "山地车",
        "平衡车", "滑步车", "儿童平衡车", "电动平衡车", "扭扭车", "儿童三轮车", "三轮车",
        "手推三轮车", "儿童电动车", "儿童电动汽车", "儿童摩托车", "卡丁车", "滑板车", "儿童滑板车",
        "三轮滑板车", "折叠滑板车", "滑板", "长板", "陆冲板", "漂移板", "轮滑鞋",
        "溜冰鞋", "旱冰鞋", "护具", "头盔", "儿童头盔", "骑行头盔", "帐篷", "露营帐篷",
        "天幕", "睡袋", "露营桌椅", "露营车", "营地车", "野餐垫", "吊床", "秋千", "室外秋千",
        "滑梯", "室外滑梯", "攀爬架", "蹦床", "户外蹦床", "篮球", "篮球架", "室内篮球框",
        "可升降篮球架", "足球", "足球门", "排球", "羽毛球拍", "乒乓球拍", "乒乓球桌", "网球拍",
        "跳绳", "呼啦圈", "跳跳杆", "跳跳球", "飞盘", "风筝", "棒球手套", "棒球棒", "高尔夫球杆",
        "滑雪板", "滑雪服", "雪橇", "儿童滑雪板", "雪地靴", "泳圈", "游泳圈", "救生衣", "浮板",
        "充气泳池", "戏水池", "儿童泳池", "沙坑", "钓鱼竿", "捕虫网",
        "登山杖", "儿童登山包", "拳击沙袋", "哑铃", "瑜伽垫",
        "kids bike", "bicycle", "run bike", "training wheels", "tricycle", "ride-on car",
        "electric ride on", "go kart", "kick scooter", "micro scooter", "skateboard", "longboard",
        "roller skates", "inline skates", "helmet", "knee pads", "tent", "camping tent",
        "sleeping bag", "camping chair", "wagon", "hammock", "swing set", "slide", "climbing frame",
        "trampoline", "basketball hoop", "basketball", "football", "soccer ball", "soccer goal",
        "badminton set", "ping pong paddles", "tennis racket", "jump rope", "hula hoop",
        "pogo stick", "frisbee", "kite", "baseball glove", "snowboard", "sled", "ski boots",
        "swim ring", "life jacket", "paddling pool", "fishing rod",
        "zixingche", "pinghengche", "huabuche", "niuniuche", "huabanche", "huaban", "zhangpeng",
        "qiuqian", "bengchuang", "lanqiu", "lanqiujia", "zuqiu", "tiaosheng", "fengzheng",
        "lunhuaxie",
    ],
    "educational": [
        "早教机", "早教玩具", "益智玩具", "学习机", "儿童学习机", "点读机", "点读笔", "小达人点读笔",
        "故事机", "儿童故事机", "早教故事机", "学习平板", "翻译笔", "词典笔", "英语启蒙", "识字卡",
        "拼音卡片", "认知卡", "洞洞书", "翻翻书", "立体书", "绘本", "儿童绘本", "英文绘本",
        "绘本套装", "科普书", "百科全书 儿童", "儿童百科", "漫画书 儿童", "练习册", "拼图", "木质拼图",
        "地图拼图", "1000片拼图", "拼板", "七巧板", "九连环", "华容道", "鲁班锁", "孔明锁", "魔方",
        "数独", "珠心算", "算盘", "计数棒", "蒙氏教具", "蒙台梭利教具", "数学教具", "时钟教具",
        "地球仪", "发光地球仪", "显微镜", "光学显微镜", "生物显微镜 学生", "儿童望远镜", "天文望远镜", "放大镜 儿童",
        "科学实验套装", "化学实验", "物理实验玩具", "电路积木", "电子积木", "stem玩具", "编程机器人",
        "编程小车", "scratch编程", "机器人套件", "乐高教育", "乐高 spike", "mindstorms",
        "太空人模型 科普", "人体模型 科普", "昆虫标本", "种植观察盒", "蚂蚁工坊",
        "画板", "磁性画板", "儿童画板", "水彩笔套装", "蜡笔", "涂色书", "手工diy", "拼豆", "黏土",
        "超轻黏土", "彩泥", "折纸", "刺绣套装", "串珠", "电子琴", "儿童电子琴", "钢琴", "小钢琴",
        "木琴", "八音琴", "手敲琴", "架子鼓", "儿童架子鼓", "爵士鼓", "尤克里里", "小提琴",
        "儿童吉他", "口琴", "竖笛", "葫芦丝", "沙锤", "奥尔夫乐器", "非洲鼓", "手鼓", "电子鼓",
        "围棋", "象棋", "国际象棋", "五子棋", "跳棋", "军棋", "桥牌", "卡坦岛 桌游",
        "learning tablet", "kids learning machine", "reading pen", "talking pen", "story machine",
        "flash cards", "alphabet flash cards", "picture book", "board books", "lift the flap book",
        "children's encyclopedia", "workbook", "jigsaw", "jigsaw puzzle", "wooden puzzle",
        "floor puzzle", "tangram", "rubik's cube", "speed cube", "abacus", "montessori toys",
        "montessori busy board", "busy board", "globe", "kids microscope", "microscope",
        "kids telescope", "telescope", "magnifying glass", "science kit", "chemistry set",
        "crystal growing kit", "circuit kit", "snap circuits", "stem kit", "coding robot",
        "programmable robot", "lego education", "robotics kit", "ant farm", "drawing board",
        "magna doodle", "art set", "crayons", "coloring book", "perler beads", "play doh",
        "modeling clay", "origami set", "toy piano", "keyboard for kids", "xylophone",
        "drum kit for kids", "ukulele", "violin", "recorder", "glockenspiel", "chess set",
        "go board game", "chinese chess",
        "xuexiji", "dianduji", "diandubi", "gushiji", "zaojiaoji", "huiben", "pintu", "mofang",
        "xianweijing", "wangyuanjing", "diqiuyi", "biancheng jiqiren", "dianziqin", "jiazigu",
        "weiqi", "xiangqi", "kexue shiyan",
    ],
    "other": [
        "婴儿推车", "推车", "遛娃神器", "伞车", "双胞胎推车", "安全座椅", "儿童汽车安全座椅",
        "提篮", "婴儿提篮", "婴儿床", "儿童床", "拼接床", "床围", "摇篮", "婴儿摇椅", "安抚椅",
        "餐椅", "儿童餐椅", "宝宝餐椅", "餐具 儿童", "辅食机", "奶瓶", "奶瓶消毒器", "温奶器",
        "吸奶器", "尿不湿", "纸尿裤", "隔尿垫", "背带", "腰凳", "婴儿背带", "抱婴腰凳",
        "婴儿睡袋", "防踢被", "襁褓", "婴儿衣服", "儿童衣服", "童装", "羽绒服 儿童", "儿童鞋",
        "学步鞋", "雨衣 儿童", "书包", "儿童书包", "儿童书桌", "学习桌", "儿童椅", "护眼台灯",
        "儿童水杯", "保温杯 儿童", "浴盆", "婴儿浴盆", "洗澡盆", "体温计", "吸鼻器", "小马桶",
        "儿童马桶", "游戏围栏", "爬行垫", "防撞条", "安全门栏", "儿童房家具", "衣柜 儿童",
        "婴儿监视器", "哄睡机", "孕妇枕", "哺乳枕", "待产包", "儿童口罩", "儿童雨靴", "围兜",
        "stroller", "pram", "buggy", "travel system", "child car safety seat", "booster seat", "infant carrier seat",
        "crib", "cot", "bassinet", "baby bouncer", "high chair", "booster chair", "bottle sterilizer",
        "breast pump", "bottle warmer", "baby carrier", "baby sling", "sleep sack", "baby clothes",
        "kids clothes", "kids shoes", "school bag", "backpack for kids", "kids desk",
        "baby bath tub", "potty", "potty training seat", "play pen", "playpen", "play mat",
        "baby gate", "baby video monitor", "changing table", "nursing pillow", "diaper bag",
        "tuiche", "yinger tuiche", "anquan zuoyi", "yingerchuang", "canyi", "naiping", "beidai",
        "yaodeng", "tongzhuang", "shubao",
    ],
}

# fmt: on

# Short phrasings around an item name (a seeded choice per item): what a query says besides it.
TEMPLATES_CN = [
    "{}",
    "求购{}",
    "有没有{}",
    "二手{}",
    "出{}",
    "想要个{}",
    "{} 九成新",
    "{} 便宜点",
    "谁家有闲置的{}",
    "找个{}",
    "{} 100以内",
    "闲置{}",
    "给孩子买个{}",
    "{}有吗",
    "收个{}",
    "小区里有{}吗",
    "转{}",
    "想租{}",
    "{} 八成新 附近",
    "孩子想要{}",
    # Words any category's item may carry (size, count, extras): no hint of the category.
    "大号{}",
    "小号{}",
    "{}一套",
    "{} 全套",
    "{} 带包装",
    "{} 正品",
    "宝宝{}",
    "{} 送配件",
]
TEMPLATES_EN = [
    "{}",
    "looking for a {}",
    "used {}",
    "selling {}",
    "anyone have a {}",
    "{} for my kid",
    "cheap {}",
    "want to buy {}",
    "{} nearby",
    "second hand {}",
    "{} under 100",
    "big {}",
    "small {}",
    "{} with box",
    "{} full set",
    "{} for toddlers",
]


# Item names that are, said alone, queries of the labelled sets: only inside a phrasing here
# (a training line may not equal an evaluation query; tests/test_ai_intent.py).
# fmt: off
NOT_ALONE = {
    "积木", "磁力片", "国产积木", "街机", "gameboy", "动森", "bjd", "娃娃屋", "换装娃娃",
    "毛绒玩具", "labubu", "泡泡玛特", "平衡车", "滑板车", "轮滑鞋", "蹦床", "点读笔", "英语启蒙",
    "绘本", "拼图", "地球仪", "拼豆", "电子琴", "婴儿推车", "吹泡泡", "木马",
    # Queries of the blind search set (ai_search_queries_v2.jsonl), 2026-12-07.
    "得宝", "游戏手柄", "游戏光盘", "舞力全开", "双人成行", "泰迪熊", "毛绒兔子", "拼装模型", "滑步车",
    "溜冰鞋", "露营帐篷", "trampoline", "ukulele", "餐椅", "stroller",
}
# fmt: on


def generated() -> list[dict[str, str]]:
    rng = random.Random(21)
    rows: list[dict[str, str]] = []
    seen: set[str] = set()
    for category, items in ITEMS.items():
        for item in items:
            templates = TEMPLATES_EN if item.isascii() else TEMPLATES_CN
            phrased = rng.choice(templates[1:]).format(item)
            for text in (phrased,) if item in NOT_ALONE else (item, phrased):
                text = " ".join(text.split())
                if text not in seen:
                    seen.add(text)
                    rows.append({"q": text, "category": category, "src": MARK})
    return rows


def evaluation_queries() -> list[str]:
    """Every query of the labelled sets in tests/ (intent and search)."""
    tests = TRAIN.parents[3] / "tests"
    return [
        str(orjson.loads(line)["q"])
        for path in sorted(tests.glob("ai_*queries*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def main() -> None:
    from lago_core.ai.classifier import evaluation_collisions

    lines = TRAIN.read_text(encoding="utf-8").splitlines()
    hand = [line for line in lines if line and orjson.loads(line).get("src") != MARK]
    out = hand + [orjson.dumps(row).decode() for row in generated()]
    # A set written later may use an item name or phrasing a line already has: the line goes
    # (it would score its own answer), whichever set or line it is.
    texts = [str(orjson.loads(line)["q"]) for line in out]
    clash = set(evaluation_collisions(texts, evaluation_queries()))
    kept = [line for line, text in zip(out, texts, strict=True) if text not in clash]
    TRAIN.write_text("\n".join(kept) + "\n", encoding="utf-8")
    print(
        f"{len(hand)} hand-written + {len(out) - len(hand)} generated lines, "
        f"{len(out) - len(kept)} dropped as evaluation queries -> {TRAIN}"
    )


if __name__ == "__main__":
    main()
