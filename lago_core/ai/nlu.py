"""What a resident's customer-service message asks, by rules: the local engine's understanding.

:func:`propose` maps one message to one of the agent's tools and its arguments (or ``None`` when
it does not understand). It knows nothing of the conversation: references ("它", "the first one")
are left for the dialogue state machine in :mod:`lago_core.ai.support` to resolve, so the same
machine works whether this module or a model proposed the tool. The scripted OpenAI-compatible
server of the tests forwards to it too, which is why it imports nothing of the engines.

:data:`TOPICS` is the one table of what the agent knows without looking anything up — each topic
with the many ways residents ask about it and its answer (with ``{placeholders}`` the agent fills
from settings and the order in question).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

__all__ = [
    "TOPICS",
    "Topic",
    "action_named",
    "asked_for_human",
    "confirms",
    "normalise",
    "propose",
    "short_id",
    "topic_of",
]

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# The short form residents see and copy: the first 8 hex digits of an order's id, after a #.
_SHORT = re.compile(r"#\s*([0-9a-f]{8})\b|(?:订单号?|order)\s*[:：]?\s*([0-9a-f]{8})\b")


def short_id(order_id: object) -> str:
    """How an order is named to a resident: ``#`` and the first 8 hex digits of its id."""
    return "#" + str(order_id)[:8]


# Colloquial and typed-in-a-hurry forms, to the words the patterns use.
_COLLOQUIAL = (
    ("啥时候", "什么时候"),
    ("啥", "什么"),
    ("咋", "怎么"),
    ("神马", "什么"),
    ("木有", "没有"),
    ("肿么", "怎么"),
    ("多久能", "多久"),
)


def normalise(text: str) -> str:
    """Full-width to half-width, lower case, single spaces, colloquial forms: one form for the
    patterns."""
    t = " ".join(unicodedata.normalize("NFKC", text).lower().split())
    for said, meant in _COLLOQUIAL:
        t = t.replace(said, meant)
    return t


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    wordings: re.Pattern[str]
    answer: str


def _t(name: str, wordings: str, answer: str) -> Topic:
    return Topic(name, re.compile(wordings), answer)


# The first topic whose wordings match wins: narrower topics come before broader ones.
TOPICS: tuple[Topic, ...] = (
    _t(
        "late_fee",
        r"逾期费|超时费|滞纳金|晚还.*(钱|费|扣|罚)|超时.*(罚|扣|收|钱|费)|罚(多少|钱|款)|晚了.*(几天|一天|两天).*(怎么|钱|费|扣)|"
        r"逾期.*(怎么算|怎么收|扣多少|收多少|罚)|超期.*(费|钱|怎么)|还晚了|late fee|"
        r"return(ed)? (it )?late|overdue fee|penalt",
        "逾期归还按天收费：每超过一天（不足一天按一天）{late_fee_per_day}，从押金中扣除。",
    ),
    _t(
        "refund_rules",
        r"(退款|退钱).*(规则|流程|多久|几天|到账|什么时候到|要多久|条件)|"
        r"(怎么|如何)(申请)?退款|refund (policy|rules?|process)|how long.*refund|"
        r"when.*refund.*(arrive|back)",
        "已付款、尚未交付的订单可以申请退款，卖家同意后原路退回（一般 1–3 个工作日到账）；"
        "已交付的订单请与卖家协商或联系人工客服。",
    ),
    _t(
        "settlement",
        r"结算|t\s*\+\s*7|货款|卖家.*(收到|到账|拿到).*钱|钱.*(什么时候|多久|几天).*(到|给)|"
        r"什么时候.*(打款|收款|到账)|多久.*(到账|打款|收到钱)|(卖|出)了.*钱.*(哪|什么时候|多久)|"
        r"when.*(get|receive) (my |the )?(money|paid|payment)|payout|settle",
        "卖出的订单完成 7 天后（T+7）结算，货款进入您的可提现余额，可在「我的钱包」申请提现。",
    ),
    _t(
        "fees",
        r"手续费|服务费|佣金|抽成|抽佣|平台费|收费标准|(平台|你们).*(收|抽|扣).*(钱|费|多少|几个点)|"
        r"要交(什么|多少)?钱|收不收(钱|费)|免费吗|(多少|几)个点|收费吗|怎么收费|要不要(钱|收费)|"
        r"要钱吗|commission|platform fee|service fee|"
        r"\bfees?\b|charge.*(fee|commission)|how much do you (take|charge)",
        "个人闲置买卖不向买家收手续费；平台从成交价中收取佣金（默认 {commission}），"
        "寄卖按品类收 5%–15% 的佣金，都在结算时从卖家的货款中扣除。",
    ),
    _t(
        "deposit_rules",
        r"押金.*(规则|怎么算|为什么|干什么|做什么|怎么退|退不退|会退吗|多少合适|谁定)|押金是什么|什么是押金|"
        r"(为什么|为啥).*押金|deposit (rule|policy)|why.*deposit|how.*deposit work",
        "租赁押金由平台托管，不经过出租人；归还并确认无损后结算退还，"
        "如有逾期费或损坏赔偿从押金中扣除，其余原路退回。",
    ),
    _t(
        "rental_period",
        r"租期.*(怎么算|从哪天|从什么时候|几号开始|开始算)|(什么时候|从哪天|何时)开始(算|计)(租|时间)|"
        r"怎么(计|算)租|rental period|when does (the|my) rental start",
        "租期从取货（或从快递柜取出）时开始计算，按天计租，到期时间是取货时间加上租赁天数。",
    ),
    _t(
        "locker",
        r"快递柜|自提柜|玩具柜|取件码|取货码|柜子|格口|locker|pickup code|怎么(取货|提货|自提)|"
        r"去哪(取|拿)|在哪(取|拿)",
        "付款后在订单页申请取件码，到小区的玩具柜输入取件码，柜门打开即取货；"
        "租赁归还同样在柜上申请归还码放回格口。",
    ),
    _t(
        "points",
        r"积分|签到|points?\b|credits?\b",
        "积分可在「积分商城」兑换礼品、特权和优惠券；每日签到 5 分，参加活动、发布、消费（每元 1 分）"
        "、邀请和评价都能得积分，积分一年后过期，先到期的先用。",
    ),
    _t(
        "coupons",
        r"优惠券|优惠卷|代金券|满减|折扣券|红包|coupons?|vouchers?|discount code",
        "下单时可选用 1 张平台券和 1 张商家券（商家券不用于寄卖）；订单取消后券会退回您的账户。",
    ),
    _t(
        "cancel_rules",
        r"(怎么|如何|能不能|可以)取消(订单)?\s*[?？]?$|取消.*(规则|会扣钱吗|扣钱|有影响|有什么影响)|"
        r"how (do|can) i cancel|cancellation policy",
        "未付款的订单买卖双方都可以直接取消，超过 30 分钟未付款会自动取消；"
        "已付款的订单不能取消，请申请退款。",
    ),
)


def topic_of(text: str) -> str | None:
    t = normalise(text)
    for topic in TOPICS:
        if topic.wordings.search(t):
            return topic.name
    return None


_HANDOVER = re.compile(
    r"人工|真人|转接|客服人员|找客服|活人|投诉|举报|经理|human|real person|"
    r"\bagent\b|speak to (someone|a person)|talk to (someone|a person)|complain"
)
_NO_HANDOVER = re.compile(r"不(用|要|需要)(转)?人工|别转|don'?t (need|want) (a )?human")
_SOMEONE_ELSE = re.compile(
    r"别人|他人|朋友|邻居|同事|家人|老婆|老公|爱人|妈妈|爸爸|婆婆|室友|他的|她的|他家|她家|亲戚|"
    r"我(妈|爸|哥|姐|弟|妹|儿子|女儿|媳妇|对象|奶奶|爷爷)|"
    r"someone else|somebody else|my (friend|neighbou?r|wife|husband|mum|mom|dad)|"
    r"another (person|user)|other person|his order|her order"
)
_ABOUT_ORDERS = re.compile(
    r"订单|单子|买的|租的|退款|押金|发货|到期|快递|到哪|状态|进度|取消|"
    r"order|refund|deposit|parcel|package|deliver|ship"
)
# A change of mind that names what is dropped ("不退了") wins over everything; one that does not
# ("不要了", "算了") only when the message asks for no action itself: "我不要了，撤了吧" cancels.
_DECLINE_NAMED = re.compile(
    r"不退了|不取消了|不退款了|别退|别取消|还是不|取消退款|撤回退款|不(要)?(退款|取消)了?$|"
    r"(我|先|就|那)?不(想|要)?退了|don'?t (cancel|refund)"
)
_DECLINE = re.compile(
    r"算了|不用了|不需要了|不要了|先不|暂时不|再想想|改主意|不办了|^不[了用要]?[。.!！]*$|"
    r"^不是[。.!！]*$|never ?mind|changed? my mind|no,? thanks?|^no[.!]*$|^nope|forget it|"
    r"keep (it|the order)"
)
_CONFIRM = re.compile(
    r"^(行吧|好吧|好|行|嗯+|那)?\s*[,，]?\s*(那就|就)(退|退款|取消)(吧|了|掉吧)?[。.!！]*$|"
    r"^(是的?|对的?|好的?|好吧|行|可以|嗯+|确认|确定|同意|没问题|ok|okay|yes|yep|sure|confirm(ed)?|"
    r"go ahead|do it|please do)\s*[,，]?\s*(确认|确定|提交|退款|取消|取消吧|退吧|吧|的|了|啊|呀|"
    r"please|thanks)?\s*[。.!！~]*$|确认(退款|取消|提交)|确定(退款|取消|提交)|就这么办|提交吧|"
    r"yes,? (please|cancel|refund)|confirm (the )?(refund|cancel)"
)
_ORDINAL = re.compile(
    r"第\s*([一二三四五1-5])\s*(个|单|笔|条)|(first|second|third|1st|2nd|3rd) one|"
    r"the (first|second|third|last)\b|(最后|最下面)(一个|那个|一单)|(最新|最近)的?(那个|一个|一单)"
)
_ORDINALS = {
    "一": 1,
    "二": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "first": 1,
    "1st": 1,
    "second": 2,
    "2nd": 2,
    "third": 3,
    "3rd": 3,
}
_OTHER_ONE = re.compile(r"不是(这个|这单|那个)|另一个|另外一个|the other one")
_CANCEL = re.compile(
    r"取消(订单|这单|这个|它|那个|那单|吧|掉)?|不买了|不租了|撤单|撤了|撤销订单|"
    r"cancel( the| my| this| it|$)"
)
_REFUND = re.compile(
    r"退款|退钱|退了吧|还是退|退掉|退回来|退货|不想要了|能退|可以退|能不能退|退得了|"
    r"(要|想|就|得)退(款|钱)?|退吧|"
    r"refund|money back|get my money"
)
_RETURN = re.compile(
    r"(什么时候|哪天|几号|何时)(要|得|需要|该)?还|到期|最晚|截止|期限|还到|deadline|归还|还回|逾期|租到(哪天|几号|什么时候)|还剩几天|"
    r"要还了|due|when.*(return|give it back)|return date|how many days left"
)
_DEPOSIT = re.compile(r"押金|deposit")
_STATUS = re.compile(
    r"状态|到哪|发货|进度|怎么样了|到了吗|处理了吗|情况|status|where is|what'?s happening|"
    r"shipped|delivered|arrived?|"
    r"查(一下|下)?(这个|那个)?订单|看看(这个|那个)?订单|check (my |the |this )?order|"
    r"(它|那个|这个|这单|那单)呢|how about (it|that)"
)
_MY_ORDERS = re.compile(
    r"我的订单|订单列表|我(都)?(买|租)了(什么|哪些)|有哪些订单|我有几个订单|所有订单|全部订单|"
    r"my orders|list (my )?orders|what did i (buy|order)"
)
_GROUP = re.compile(r"团购|拼团|成团|团长|group ?buy")
_GREETING = re.compile(r"^(你好|您好|在吗|在不在|hi|hello|hey|嗨|哈喽)[\s!！。?？,，呀啊]*$")
_THANKS = re.compile(r"谢谢|谢啦|谢了|多谢|感谢|thanks|thank you|thx|ty\b")
_BYE = re.compile(r"再见|拜拜|bye|没事了|没有了|就这些|that'?s all")


def asked_for_human(text: str) -> bool:
    t = normalise(text)
    return bool(_HANDOVER.search(t)) and not _NO_HANDOVER.search(t)


def confirms(text: str) -> bool:
    """The resident's own words confirm (checked by code, whatever an engine proposed)."""
    t = normalise(text)
    return bool(_CONFIRM.search(t)) and not (_DECLINE.search(t) or _DECLINE_NAMED.search(t))


def action_named(text: str) -> str | None:
    """The money action a message names, if any: "那就退款吧" with nothing pending asks for one."""
    t = normalise(text)
    if _REFUND.search(t):
        return "request_refund"
    if _CANCEL.search(t):
        return "cancel_order"
    return None


def _order_args(t: str) -> dict[str, Any]:
    args: dict[str, Any] = {}
    m = _UUID.search(t)
    if m is not None:
        args["order_id"] = m.group(0)
    else:
        s = _SHORT.search(t)
        if s is not None:
            args["order_id"] = s.group(1) or s.group(2)
    o = _ORDINAL.search(t)
    if o is not None:
        word = o.group(1) or o.group(3) or o.group(4)
        if word == "last" or o.group(5):
            args["which"] = -1  # the last listed
        elif word is None:
            args["which"] = 1  # the newest: lists are newest first
        else:
            args["which"] = int(word) if word.isdigit() else _ORDINALS.get(word, 1)
    return args


def propose(text: str) -> tuple[str, dict[str, Any]] | None:
    """The tool a message asks for, with what it names (an order id, an ordinal), or None."""
    t = normalise(text)
    if not t:
        return None
    args = _order_args(t)
    if asked_for_human(t):
        return "handover_to_human", {"reason": "asked"}
    if "order_id" not in args and _SOMEONE_ELSE.search(t) and _ABOUT_ORDERS.search(t):
        return "someone_elses_order", {}
    if _DECLINE_NAMED.search(t):
        return "decline_pending", {}
    if _CONFIRM.search(t):
        return "confirm_pending", {}
    if _DECLINE.search(t) and not (_CANCEL.search(t) or _REFUND.search(t)):
        return "decline_pending", {}
    topic = topic_of(t)
    if topic is not None:
        return "answer_topic", {"topic": topic}
    if _OTHER_ONE.search(t):
        return "select_order", {"other": True}
    if _REFUND.search(t):
        return "request_refund", args
    if _CANCEL.search(t):
        return "cancel_order", args
    if _RETURN.search(t):
        return "rental_return", args
    if _DEPOSIT.search(t):
        return "deposit_status", args
    if _GROUP.search(t):
        return "group_buy_status", {}
    if _STATUS.search(t):
        return "order_status", args
    if _MY_ORDERS.search(t):
        return "my_orders", {}
    if args:
        # Only an order named ("第二个", "#1a2b3c4d"): the last question, about that one.
        return "select_order", args
    if _GREETING.search(t):
        return "small_talk", {"kind": "greeting"}
    if _THANKS.search(t):
        return "small_talk", {"kind": "thanks"}
    if _BYE.search(t):
        return "small_talk", {"kind": "bye"}
    if re.search(r"订单|order", t):
        return "order_status", {}
    return None
