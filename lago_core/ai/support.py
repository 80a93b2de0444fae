"""The customer-service agent: conversations, tools over the resident's own data, human handover.

A resident's message is stored and an arq job (``answer_support_message``) lets the engine answer
it: the engine chooses tools, the tools read the database *as the resident* (through the order
and payment services, which refuse other people's orders), and the reply's facts — amounts,
statuses, dates — are rendered here from the tools' results. Whatever figures the engine writes
itself are blanked out, so an amount a resident reads always comes from the database.

A refund is two steps: ``request_refund`` checks the order's rules and proposes; only a later
message of the resident that confirms it (checked by code, not by the model) lets
``confirm_refund`` move the order. A handover queues the conversation for customer-service
accounts; one takes it over and from then on the agent stays silent. Every message and every tool
call (arguments, result, engine) is stored for audit.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID
from zoneinfo import ZoneInfo

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError

from lago_core.ai.engine import ChatMessage, Engine, EngineError, ToolCall, ToolSpec
from lago_core.ai.store import AiStore, Row
from lago_core.clock import Clock
from lago_core.errors import Conflict, Forbidden, InvalidInput, LagoError, NotFound
from lago_core.jobs import ANSWER_SUPPORT_MESSAGE, JobQueue
from lago_core.logging import get_logger
from lago_core.orders import Action, OrderService
from lago_core.orders.machine import TRANSITIONS, Mode
from lago_core.payments import PaymentService
from lago_core.push import Pusher
from lago_core.push_events import SUPPORT_CLOSED, SUPPORT_MESSAGE, SUPPORT_QUEUED, SUPPORT_TAKEN
from lago_core.ratelimit import RateLimiter
from lago_core.security.roles import Principal

__all__ = [
    "AGENTS_ROOM",
    "GroupBuyLookup",
    "NoGroupBuys",
    "SupportService",
    "fen",
    "redact_amounts",
]

log = get_logger(__name__)

AGENTS_ROOM = "support:agents"
MAX_TOOL_ROUNDS = 4
RESIDENT_MESSAGES = "20/minute"
HISTORY = 20
_TZ = ZoneInfo("Asia/Shanghai")

_MODE = {"sale": "二手买卖", "consignment": "寄卖", "rental": "租赁"}
_STATUS = {
    "created": "待付款",
    "paid": "已付款",
    "confirmed": "卖家已确认",
    "handed_over": "已交付",
    "delivered": "已送达",
    "picked_up": "租赁中",
    "returned": "已归还，待结算押金",
    "completed": "已完成",
    "cancelled": "已取消",
    "refund_requested": "退款申请中",
    "refunded": "已退款",
}
_DEPOSIT = {"none": "未支付", "held": "平台托管中", "released": "已结算"}
_REFUNDABLE = TRANSITIONS[(Mode.SALE, Action.REQUEST_REFUND)].sources
_CONFIRM = re.compile(r"确认|确定|是的|同意|好的|可以|\byes\b|\bok\b", re.IGNORECASE)
_DENY = re.compile(r"不|别|取消|算了|\bno\b", re.IGNORECASE)
# Money in generated text: ¥12, 12元, 12.5 块, 300 RMB, 1,200 分.
_AMOUNT = re.compile(
    r"[¥￥]\s*\d[\d,]*(?:\.\d+)?|\d[\d,]*(?:\.\d+)?\s*(?:元|块|分|rmb|RMB|yuan)"
    r"|[零一二两三四五六七八九十百千万]+\s*(?:元|块)"
)


def fen(amount: int) -> str:
    """Integer fen as ¥yuan.jiao-fen, the one way the agent writes money."""
    sign = "-" if amount < 0 else ""
    return f"{sign}¥{abs(amount) // 100}.{abs(amount) % 100:02d}"


def redact_amounts(text: str) -> str:
    """Blank out amounts an engine wrote: the figures users read come from tool results."""
    return _AMOUNT.sub("[金额以下方数据为准]", text)


def _when(value: datetime | None) -> str:
    return value.astimezone(_TZ).strftime("%m月%d日 %H:%M") if value else "—"


class GroupBuyLookup(Protocol):
    """What the group-buy feature tells customer service; its own issue provides one."""

    async def state(self, actor: Principal, group_buy_id: UUID | None) -> dict[str, Any] | None: ...


class NoGroupBuys:
    """No group-buy service in this deployment: the tool answers that the state is unknown."""

    async def state(self, actor: Principal, group_buy_id: UUID | None) -> dict[str, Any] | None:
        return None


class _OrderArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order_id: UUID | None = None


class _GroupBuyArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    group_buy_id: UUID | None = None


class _HandoverArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = None


class _NoArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")


_ORDER_ID = {
    "type": "object",
    "properties": {"order_id": {"type": "string", "format": "uuid"}},
    "additionalProperties": False,
}


def _spec(name: str, description: str, parameters: dict[str, Any], triggers: str) -> ToolSpec:
    return ToolSpec(name, description, parameters, re.compile(triggers, re.IGNORECASE))


# The order is the local engine's priority: the first tool whose triggers match is called.
TOOLS: tuple[ToolSpec, ...] = (
    _spec(
        "handover_to_human",
        "Hand the conversation to a human customer-service agent (the user asked, or you are unsure).",
        {
            "type": "object",
            "properties": {"reason": {"type": "string"}},
            "additionalProperties": False,
        },
        r"人工|真人|转接|客服人员|找客服|投诉|human|agent",
    ),
    _spec(
        "confirm_refund",
        "Submit the refund proposed by request_refund, after the user explicitly confirmed it.",
        {"type": "object", "properties": {}, "additionalProperties": False},
        r"^\s*(确认|确定|是的|同意|好的|yes|ok)\s*(退款)?\s*[。.!！]*\s*$|确认退款",
    ),
    _spec(
        "request_refund",
        "Check whether the user's order may be refunded and propose it (needs confirmation).",
        _ORDER_ID,
        r"退款|退钱|不想要了|refund",
    ),
    _spec(
        "deposit_status",
        "The deposits of the user's rentals: amount, whether held or settled, what was withheld.",
        _ORDER_ID,
        r"押金|deposit",
    ),
    _spec(
        "rental_return",
        "When the user's rentals are due back, whether overdue, and late fees.",
        _ORDER_ID,
        r"归还|还回|到期|什么时候还|逾期|超时|return",
    ),
    _spec(
        "group_buy_status",
        "Explain the state of a group buy the user joined.",
        {
            "type": "object",
            "properties": {"group_buy_id": {"type": "string", "format": "uuid"}},
            "additionalProperties": False,
        },
        r"团购|拼团|成团|团长|group",
    ),
    _spec(
        "order_status",
        "The status of one of the user's orders (the latest when no id is given).",
        _ORDER_ID,
        r"状态|到哪|发货|进度|status",
    ),
    _spec(
        "my_orders",
        "The user's recent orders as a buyer or renter.",
        {"type": "object", "properties": {}, "additionalProperties": False},
        r"订单|买的|租的|买了|order",
    ),
)
_TOOL_NAMES = {t.name for t in TOOLS}


@dataclass
class _Turn:
    """One answer in progress: the conversation, the message answered, what the tools found."""

    conversation: Row
    message: Row
    actor: Principal
    facts: list[str]
    handed_over: bool = False


ToolFn = Callable[[_Turn, dict[str, Any]], Awaitable[dict[str, Any]]]


class SupportService:
    def __init__(
        self,
        store: AiStore,
        engine: Engine,
        orders: OrderService,
        payments: PaymentService,
        jobs: JobQueue,
        pusher: Pusher,
        limiter: RateLimiter,
        clock: Clock,
        group_buys: GroupBuyLookup | None = None,
    ) -> None:
        self._store = store
        self.engine = engine
        self._orders = orders
        self._payments = payments
        self._jobs = jobs
        self._pusher = pusher
        self._limiter = limiter
        self._clock = clock
        self.group_buys: GroupBuyLookup = group_buys or NoGroupBuys()
        self._tools: dict[str, ToolFn] = {
            "handover_to_human": self._tool_handover,
            "confirm_refund": self._tool_confirm_refund,
            "request_refund": self._tool_request_refund,
            "deposit_status": self._tool_deposit,
            "rental_return": self._tool_rental_return,
            "group_buy_status": self._tool_group_buy,
            "order_status": self._tool_order_status,
            "my_orders": self._tool_my_orders,
        }

    # --- permissions -----------------------------------------------------------------------------

    @staticmethod
    def _is_staff(actor: Principal) -> bool:
        return actor.is_customer_service or actor.is_admin

    async def _visible(self, actor: Principal, conversation_id: UUID) -> Row:
        """The conversation for its resident and for customer service; others: not found."""
        row = await self._store.conversation(conversation_id)
        if row is None or not (row["user_id"] == actor.user_id or self._is_staff(actor)):
            raise NotFound("conversation not found")
        return row

    def _require_staff(self, actor: Principal) -> None:
        if not self._is_staff(actor):
            raise Forbidden("only customer-service accounts work the queue", code="not_support")

    # --- conversations ---------------------------------------------------------------------------

    async def start(self, actor: Principal, text: str | None) -> tuple[Row, Row | None]:
        conversation = await self._store.create_conversation(actor.user_id, self._clock.now())
        message = await self.post(actor, conversation["id"], text) if text else None
        return conversation, message

    async def mine(self, actor: Principal, limit: int) -> list[Row]:
        return await self._store.conversations_of(actor.user_id, limit)

    async def get(self, actor: Principal, conversation_id: UUID) -> tuple[Row, list[Row]]:
        row = await self._visible(actor, conversation_id)
        return row, await self._store.messages(conversation_id)

    async def audit(self, actor: Principal, conversation_id: UUID) -> list[Row]:
        """Every tool call of a conversation: customer service and admins."""
        self._require_staff(actor)
        await self._visible(actor, conversation_id)
        return await self._store.tool_calls(conversation_id)

    async def post(self, actor: Principal, conversation_id: UUID, text: str) -> Row:
        """A message from the resident, or from the human agent who holds the conversation."""
        text = text.strip()
        if not text:
            raise InvalidInput("the message is empty", code="empty_message")
        row = await self._visible(actor, conversation_id)
        now = self._clock.now()
        if row["status"] == "closed":
            raise Conflict("the conversation is closed", code="conversation_closed")
        if row["user_id"] == actor.user_id:
            # Each message costs a model call: a resident (or a script with their token) cannot
            # run up the bill or flood the human queue.
            await self._limiter.hit_or_raise(RESIDENT_MESSAGES, "support", str(actor.user_id))
            message = await self._store.add_message(row["id"], "user", actor.user_id, text, now)
            assert message is not None
            if row["status"] == "ai":
                # arq's job ids are global to the Redis server, and message ids restart with
                # the database: the conversation's uuid makes the id unique.
                await self._jobs.enqueue(
                    ANSWER_SUPPORT_MESSAGE,
                    message["id"],
                    job_id=f"support:{row['id']}:{message['id']}",
                )
            else:
                await self._tell_agents(SUPPORT_MESSAGE, row, message)
            return message
        if row["status"] != "human" or row["agent_id"] != actor.user_id:
            raise Conflict("take the conversation over before answering", code="not_taken_over")
        message = await self._store.add_message(row["id"], "agent", actor.user_id, text, now)
        assert message is not None
        await self._tell_user(row, message)
        return message

    async def request_human(self, actor: Principal, conversation_id: UUID) -> Row:
        """The resident asks for a human directly (the agent does the same on request)."""
        row = await self._visible(actor, conversation_id)
        if row["user_id"] != actor.user_id:
            raise Forbidden("only the resident asks for a human")
        if row["status"] in ("queued", "human"):
            return row
        return await self._queue(row, "requested by the resident")

    async def queue(self, actor: Principal, limit: int) -> list[Row]:
        self._require_staff(actor)
        return await self._store.queue(limit, self._clock.now())

    async def take(self, actor: Principal, conversation_id: UUID) -> Row:
        """A customer-service account takes a conversation over; the agent stops answering."""
        self._require_staff(actor)
        row = await self._visible(actor, conversation_id)
        if row["status"] == "human" and row["agent_id"] == actor.user_id:
            return row
        now = self._clock.now()
        taken = await self._store.move(
            conversation_id,
            ("ai", "queued"),
            "human",
            now,
            agent_id=actor.user_id,
            taken_at=now,
            queued_at=row["queued_at"] or now,
        )
        if taken is None:
            raise Conflict(
                "another agent has it, or it is closed",
                code="already_taken",
                details={"status": row["status"]},
            )
        note = await self._store.add_message(
            conversation_id, "system", actor.user_id, "人工客服已接入", now
        )
        assert note is not None
        await self._tell_user(taken, note)
        await self._tell_agents(SUPPORT_TAKEN, taken, note)
        return taken

    async def close(self, actor: Principal, conversation_id: UUID) -> Row:
        row = await self._visible(actor, conversation_id)
        if row["user_id"] != actor.user_id and row["agent_id"] != actor.user_id:
            raise Forbidden("the resident or the agent who holds it closes a conversation")
        now = self._clock.now()
        closed = await self._store.move(
            conversation_id, ("ai", "queued", "human"), "closed", now, closed_at=now
        )
        if closed is None:
            return row
        await self._tell_agents(SUPPORT_CLOSED, closed, None)
        return closed

    async def _queue(self, row: Row, reason: str) -> Row:
        now = self._clock.now()
        queued = await self._store.move(
            row["id"], ("ai",), "queued", now, queued_at=now, handover_reason=reason[:200]
        )
        if queued is None:
            current = await self._store.conversation(row["id"])
            assert current is not None
            return current
        note = await self._store.add_message(
            row["id"], "system", None, "已转接人工客服，请稍候", now
        )
        assert note is not None
        await self._tell_user(queued, note)
        await self._tell_agents(SUPPORT_QUEUED, queued, note)
        return queued

    # --- pushes ----------------------------------------------------------------------------------

    async def _tell_user(self, conversation: Row, message: Row) -> None:
        try:
            await self._pusher.to_user(
                conversation["user_id"], SUPPORT_MESSAGE, _payload(conversation, message)
            )
        except Exception:
            log.warning(
                "support.push_failed", conversation_id=str(conversation["id"]), exc_info=True
            )

    async def _tell_agents(self, event: str, conversation: Row, message: Row | None) -> None:
        try:
            await self._pusher.to_room(
                AGENTS_ROOM, event, _payload(conversation, message), namespace="/support"
            )
        except Exception:
            log.warning(
                "support.push_failed", conversation_id=str(conversation["id"]), exc_info=True
            )

    # --- the agent (arq job) ---------------------------------------------------------------------

    async def answer(self, message_id: int) -> Row | None:
        """Answer a resident's message if the agent still holds its conversation (job; a rerun
        finds it answered)."""
        message = await self._store.message(message_id)
        if message is None or message["role"] != "user":
            return None
        conversation = await self._store.conversation(message["conversation_id"])
        if conversation is None or conversation["status"] != "ai":
            return None
        if await self._store.answered(message_id):
            return None
        turn = _Turn(conversation, message, Principal(conversation["user_id"], UUID(int=0)), [])
        history = await self._store.messages(conversation["id"], HISTORY * 2)
        chat = [
            _chat_message(m) for m in history if m["id"] <= message_id and m["role"] != "system"
        ]
        chat = chat[-HISTORY:]
        text, called = "", []
        for _ in range(MAX_TOOL_ROUNDS):
            try:
                reply = await self.engine.chat(chat, TOOLS)
            except EngineError as exc:
                log.warning("support.engine_failed", error=str(exc))
                await self._call(
                    turn, ToolCall("engine-error", "handover_to_human", {"reason": "engine_error"})
                )
                break
            if not reply.tool_calls:
                text = reply.content
                break
            chat.append(ChatMessage("assistant", reply.content, reply.tool_calls))
            for call in reply.tool_calls:
                result = await self._call(turn, call)
                called.append(call.name)
                chat.append(
                    ChatMessage("tool", orjson.dumps(result).decode(), tool_call_id=call.id)
                )
            if turn.handed_over:
                break
        body = _compose(text, turn.facts)
        saved = await self._store.add_message(
            conversation["id"],
            "assistant",
            None,
            body,
            self._clock.now(),
            data={"facts": turn.facts, "engine": self.engine.name, "tools": called},
            reply_to=message_id,
        )
        if saved is not None:
            await self._tell_user(conversation, saved)
        return saved

    async def _call(self, turn: _Turn, call: ToolCall) -> dict[str, Any]:
        fn = self._tools.get(call.name)
        ok = True
        if fn is None:
            result: dict[str, Any] = {"error": "unknown_tool", "facts": []}
            ok = False
        else:
            try:
                result = _plain(await fn(turn, call.arguments))
            except ValidationError:
                result, ok = {"error": "invalid_arguments", "facts": []}, False
            except LagoError as exc:
                result, ok = {"error": exc.code, "message": exc.message, "facts": []}, False
        turn.facts.extend(result.get("facts", []))
        await self._store.record_tool_call(
            turn.conversation["id"],
            turn.message["id"],
            call.name,
            call.arguments,
            result,
            ok,
            self.engine.name,
            self._clock.now(),
        )
        return result

    # --- tools: each reads only the resident's own data, as the resident ---------------------------

    async def _my_orders(self, turn: _Turn) -> list[Any]:
        return await self._orders.mine(turn.actor, "buyer", None, 20)

    async def _pick(self, turn: _Turn, args: dict[str, Any], mode: str | None = None) -> list[Any]:
        order_id = _OrderArgs.model_validate(args).order_id
        if order_id is not None:
            # OrderService refuses (not found) an order that is not the resident's.
            return [await self._orders.get(turn.actor, order_id)]
        rows = await self._my_orders(turn)
        return [r for r in rows if mode is None or r["mode"] == mode]

    async def _tool_my_orders(self, turn: _Turn, args: dict[str, Any]) -> dict[str, Any]:
        _NoArgs.model_validate(args)
        rows = (await self._my_orders(turn))[:5]
        if not rows:
            return {"orders": [], "facts": ["您还没有订单。"]}
        return {
            "orders": [_order_brief(r) for r in rows],
            "facts": [_order_line(r) for r in rows],
        }

    async def _tool_order_status(self, turn: _Turn, args: dict[str, Any]) -> dict[str, Any]:
        rows = (await self._pick(turn, args))[:1]
        if not rows:
            return {"orders": [], "facts": ["您还没有订单。"]}
        return {"orders": [_order_brief(r) for r in rows], "facts": [_order_line(r) for r in rows]}

    async def _tool_deposit(self, turn: _Turn, args: dict[str, Any]) -> dict[str, Any]:
        rows = [r for r in await self._pick(turn, args, "rental") if r["deposit_fen"] > 0]
        if not rows:
            return {"deposits": [], "facts": ["您没有需要支付押金的租赁订单。"]}
        deposits, facts = [], []
        for r in rows[:5]:
            payment = (
                await self._payments.get(turn.actor, r["payment_id"]) if r["payment_id"] else None
            )
            status = payment.deposit_status if payment else "none"
            withheld = payment.deposit_withheld_fen if payment else 0
            deposits.append(
                {
                    "order_id": r["id"],
                    "title": r["title"],
                    "deposit_fen": r["deposit_fen"],
                    "deposit_status": status,
                    "withheld_fen": withheld,
                }
            )
            line = f"「{r['title']}」押金 {fen(r['deposit_fen'])}，{_DEPOSIT[status]}"
            if status == "released":
                line += f"：已退还 {fen(r['deposit_fen'] - withheld)}"
                if withheld:
                    line += f"（扣除逾期费和损坏赔偿 {fen(withheld)}）"
            elif status == "held":
                line += f"；租赁{_STATUS[r['status']]}，归还并结算后退还"
            deposits[-1]["line"] = line
            facts.append(line + "。")
        return {"deposits": deposits, "facts": facts}

    async def _tool_rental_return(self, turn: _Turn, args: dict[str, Any]) -> dict[str, Any]:
        rows = [
            r
            for r in await self._pick(turn, args, "rental")
            if r["status"] in ("paid", "confirmed", "picked_up", "returned")
        ]
        if not rows:
            return {"rentals": [], "facts": ["您没有进行中的租赁。"]}
        facts = []
        for r in rows[:5]:
            if r["status"] == "picked_up":
                line = f"「{r['title']}」应于 {_when(r['due_at'])} 前归还"
                if r["overdue_at"] is not None:
                    line += "，已逾期，逾期费按天从押金中扣除"
            elif r["status"] == "returned":
                line = f"「{r['title']}」已于 {_when(r['returned_at'])} 归还，押金待结算"
                if r["late_fee_fen"]:
                    line += f"，逾期费 {fen(r['late_fee_fen'])}"
            else:
                line = f"「{r['title']}」已付款，取货后开始计租 {r['days']} 天"
            facts.append(line + "。")
        return {"rentals": [_order_brief(r) for r in rows[:5]], "facts": facts}

    async def _tool_request_refund(self, turn: _Turn, args: dict[str, Any]) -> dict[str, Any]:
        rows = await self._pick(turn, args)
        refundable = [
            r for r in rows if r["status"] in _REFUNDABLE and r["buyer_id"] == turn.actor.user_id
        ]
        if not refundable:
            facts = ["只有已付款、尚未交付的订单可以申请退款，您目前没有这样的订单。"]
            facts += [_order_line(r) for r in rows[:3]]
            return {"refundable": [], "facts": facts}
        if len(refundable) > 1:
            return {
                "refundable": [_order_brief(r) for r in refundable],
                "facts": ["您有多个可退款的订单，请告诉我是哪一个："]
                + [_order_line(r) for r in refundable[:5]],
            }
        order = refundable[0]
        await self._store.set_pending_refund(
            turn.conversation["id"],
            {"order_id": str(order["id"]), "proposed_in": turn.message["id"]},
            self._clock.now(),
        )
        total = order["price_fen"] + order["deposit_fen"]
        return {
            "needs_confirmation": True,
            "order": _order_brief(order),
            "facts": [
                f"可以为「{order['title']}」申请退款，退款金额 {fen(total)}"
                + (f"（含押金 {fen(order['deposit_fen'])}）" if order["deposit_fen"] else "")
                + "，由卖家同意后原路退回。请回复“确认退款”提交申请。"
            ],
        }

    async def _tool_confirm_refund(self, turn: _Turn, args: dict[str, Any]) -> dict[str, Any]:
        _NoArgs.model_validate(args)
        pending = (await self._store.conversation(turn.conversation["id"]) or {}).get(
            "pending_refund"
        )
        if not pending:
            return {"submitted": False, "facts": ["目前没有待确认的退款申请。"]}
        text = turn.message["body"]
        # The model may call this tool; only the resident's own words decide, in a message
        # after the one that got the proposal (never the same turn that asked about a refund).
        later = turn.message["id"] > pending.get("proposed_in", 0)
        if not later or not _CONFIRM.search(text) or _DENY.search(text):
            return {
                "submitted": False,
                "facts": ["退款尚未提交：请明确回复“确认退款”。"],
            }
        order_id = UUID(pending["order_id"])
        await self._store.set_pending_refund(turn.conversation["id"], None, self._clock.now())
        try:
            moved = await self._orders.act(turn.actor, order_id, Action.REQUEST_REFUND)
        except Conflict as exc:
            current = await self._orders.get(turn.actor, order_id)
            return {
                "submitted": False,
                "error": exc.code,
                "facts": [f"无法提交退款：{_order_line(current)}"],
            }
        return {
            "submitted": True,
            "order": _order_brief(moved),
            "facts": [f"已提交退款申请：{_order_line(moved)}"],
        }

    async def _tool_group_buy(self, turn: _Turn, args: dict[str, Any]) -> dict[str, Any]:
        group_buy_id = _GroupBuyArgs.model_validate(args).group_buy_id
        state = await self.group_buys.state(turn.actor, group_buy_id)
        if state is None:
            return {
                "status": "unknown",
                "facts": [
                    "暂时查不到团购的状态（团购服务尚未接入），可以说“转人工”由客服帮您查询。"
                ],
            }
        return {"status": "known", "group_buy": state, "facts": [str(state.get("line", ""))]}

    async def _tool_handover(self, turn: _Turn, args: dict[str, Any]) -> dict[str, Any]:
        reason = _HandoverArgs.model_validate(args).reason or "requested"
        turn.handed_over = True
        queued = await self._queue(turn.conversation, reason)
        return {
            "queued": queued["status"] == "queued",
            "facts": ["已为您转接人工客服，请稍候，客服接入后会在这里回复您。"],
        }


def _plain(value: dict[str, Any]) -> dict[str, Any]:
    """JSON-safe (asyncpg's UUIDs and datetimes as strings), as stored and as sent to a model."""
    plain: dict[str, Any] = orjson.loads(orjson.dumps(value, default=str))
    return plain


def _order_brief(r: Any) -> dict[str, Any]:
    return {
        "order_id": r["id"],
        "title": r["title"],
        "mode": r["mode"],
        "status": r["status"],
        "price_fen": r["price_fen"],
        "deposit_fen": r["deposit_fen"],
        "due_at": r["due_at"],
    }


def _order_line(r: Any) -> str:
    line = f"「{r['title']}」{_MODE[r['mode']]}订单：{_STATUS[r['status']]}，金额 {fen(r['price_fen'])}"
    if r["deposit_fen"]:
        line += f"，押金 {fen(r['deposit_fen'])}"
    return line + "。"


def _chat_message(m: Row) -> ChatMessage:
    if m["role"] == "user":
        return ChatMessage("user", m["body"])
    if m["role"] == "agent":
        return ChatMessage("assistant", "人工客服：" + m["body"])
    return ChatMessage("assistant", m["body"])


def _compose(text: str, facts: list[str]) -> str:
    lead = redact_amounts(text.strip())
    parts = [p for p in (lead, "\n".join(facts)) if p]
    return ("\n".join(parts) or "抱歉，我没有查到相关信息，可以说“转人工”找客服。")[:4000]


def _payload(conversation: Row, message: Row | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "conversation_id": str(conversation["id"]),
        "status": conversation["status"],
        "user_id": str(conversation["user_id"]),
        "agent_id": str(conversation["agent_id"]) if conversation["agent_id"] else None,
    }
    if message is not None:
        out["message"] = {
            "id": message["id"],
            "role": message["role"],
            "body": message["body"],
            "data": _plain(message["data"]),
            "created_at": message["created_at"].isoformat(),
        }
    return out
