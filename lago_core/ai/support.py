"""The customer-service agent: conversations, a dialogue state machine over the resident's own
data, human handover.

A resident's message is stored and an arq job (``answer_support_message``) lets the agent answer
it: the engine (local rules or a model) *proposes* one tool for the message, given the dialogue
state (:mod:`lago_core.ai.dialogue`); :meth:`SupportService._decide` checks the proposal, resolves
which order it is about (an id, a position in the last list, a title, a reference to the order in
question), refuses other people's orders, and renders the reply from what the services return —
amounts, statuses and dates come from the database, never from the engine's text.

Money moves in two steps: ``request_refund`` / ``cancel_order`` check the order's rules and leave
a pending action; only a later message of the resident that confirms it (checked by code, not by
the model) lets ``confirm_pending`` carry it out through :class:`OrderService`, and a change of
mind (``decline_pending``) drops it. A handover queues the conversation for customer-service
accounts; one takes it over and from then on the agent stays silent. Every message and every
turn's action (arguments, what the tools read, the state, the engine) is stored for audit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol
from uuid import UUID
from zoneinfo import ZoneInfo

import orjson
from prometheus_client import Counter
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from lago_core.ai.dialogue import DialogueState, DialogueStore, polish
from lago_core.ai.engine import GREETING_TEXT, ChatMessage, Engine, EngineError, ToolCall, ToolSpec
from lago_core.ai.nlu import (
    TOPICS,
    action_named,
    asked_for_human,
    confirms,
    normalise,
    propose,
    short_id,
)
from lago_core.ai.store import AiStore, Row
from lago_core.clock import Clock
from lago_core.errors import Conflict, Forbidden, InvalidInput, NotFound
from lago_core.jobs import ANSWER_SUPPORT_MESSAGE, JobQueue
from lago_core.logging import get_logger
from lago_core.metrics import PUSH_FAILURES
from lago_core.orders import Action, OrderService
from lago_core.orders.machine import TRANSITIONS, Mode
from lago_core.payments import PaymentService
from lago_core.push import Pusher
from lago_core.push_events import SUPPORT_CLOSED, SUPPORT_MESSAGE, SUPPORT_QUEUED, SUPPORT_TAKEN
from lago_core.ratelimit import RateLimiter
from lago_core.security.roles import Principal
from lago_core.settings import Settings

__all__ = [
    "AGENTS_ROOM",
    "GroupBuyLookup",
    "NoGroupBuys",
    "SupportService",
    "fen",
    "redact_amounts",
]

log = get_logger(__name__)

ENGINE_FALLBACKS = Counter(
    "lago_ai_engine_fallbacks_total",
    "Turns the local rules answered because the configured engine failed",
    ["use"],
)

AGENTS_ROOM = "support:agents"
RESIDENT_MESSAGES = "20/minute"
# A conversation with no message costs no model call, but each may be handed to the human queue:
# without this a script fills customer service's queue with empty conversations.
RESIDENT_STARTS = "10/hour"
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


class _RefArgs(BaseModel):
    """How a proposal names an order: its id (or the 8-digit short id), or a position in the
    list last shown; neither means "the order in question"."""

    model_config = ConfigDict(extra="forbid")
    order_id: str | None = Field(default=None, pattern=r"^#?[0-9a-fA-F-]{8,36}$")
    which: int | None = Field(default=None, ge=-1, le=20)
    other: bool = False


class _GroupBuyArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    group_buy_id: UUID | None = None


class _HandoverArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(default=None, max_length=200)


class _TopicArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    topic: str

    @field_validator("topic")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in _TOPICS:
            raise ValueError("unknown topic")
        return value


class _SmallTalkArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["greeting", "thanks", "bye"] = "greeting"


class _NoArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")


_TOPICS = {t.name: t for t in TOPICS}
_REF: dict[str, Any] = {
    "type": "object",
    "properties": {
        "order_id": {
            "type": "string",
            "description": "the order's id or its 8-digit short id, only if the user wrote it",
        },
        "which": {
            "type": "integer",
            "description": "1-based position in the list last shown (-1: the last one)",
        },
    },
    "additionalProperties": False,
}
_NONE: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}


def _spec(name: str, description: str, parameters: dict[str, Any]) -> ToolSpec:
    return ToolSpec(name, description, parameters)


# What the engine may propose. A proposal is only that: the dialogue state machine in
# SupportService decides what happens (resolves the order, checks ownership and the order's
# rules, asks for confirmation before money moves).
TOOLS: tuple[ToolSpec, ...] = (
    _spec(
        "handover_to_human",
        "The user asked for a human agent (人工/投诉), or you cannot understand them.",
        {
            "type": "object",
            "properties": {"reason": {"type": "string"}},
            "additionalProperties": False,
        },
    ),
    _spec("confirm_pending", "The user confirms the pending action (确认/好的/yes).", _NONE),
    _spec(
        "decline_pending",
        "The user changed their mind about the pending action (算了/不退了/不取消了).",
        _NONE,
    ),
    _spec(
        "select_order",
        "The user only names an order (第二个, the first one, #1a2b3c4d, 不是这个): the last "
        "question, about that order.",
        {
            "type": "object",
            "properties": {**_REF["properties"], "other": {"type": "boolean"}},
            "additionalProperties": False,
        },
    ),
    _spec(
        "request_refund", "The user wants a refund of an order (proposed, then confirmed).", _REF
    ),
    _spec(
        "cancel_order", "The user wants to cancel an unpaid order (proposed, then confirmed).", _REF
    ),
    _spec("order_status", "The status of an order (the one in question unless named).", _REF),
    _spec("my_orders", "List the user's recent orders.", _NONE),
    _spec("deposit_status", "The deposit of a rental: amount, held or settled, withheld.", _REF),
    _spec("rental_return", "When a rental is due back, overdue, late fees so far.", _REF),
    _spec(
        "group_buy_status",
        "The state of a group buy the user joined.",
        {
            "type": "object",
            "properties": {"group_buy_id": {"type": "string", "format": "uuid"}},
            "additionalProperties": False,
        },
    ),
    _spec(
        "answer_topic",
        "A general question the platform's rules answer: " + "; ".join(f"{t.name}" for t in TOPICS),
        {
            "type": "object",
            "properties": {"topic": {"type": "string", "enum": [t.name for t in TOPICS]}},
            "required": ["topic"],
            "additionalProperties": False,
        },
    ),
    _spec(
        "someone_elses_order",
        "The user asks about another person's order (a friend's, a neighbour's) without an id.",
        _NONE,
    ),
    _spec(
        "small_talk",
        "A greeting, thanks or goodbye.",
        {
            "type": "object",
            "properties": {"kind": {"type": "string", "enum": ["greeting", "thanks", "bye"]}},
            "additionalProperties": False,
        },
    ),
)
_TOOL_NAMES = {t.name for t in TOOLS}
# Tools about one order, and which of the resident's orders each may be about.
_ORDER_TOOLS = ("request_refund", "cancel_order", "order_status", "deposit_status", "rental_return")
_REFERENCE = re.compile(
    r"它|这个|那个|这单|那单|这笔|那笔|刚才|上面|前面|该订单|\bit\b|\bthat\b|\bthis\b|the same"
)
_CLARIFY = (
    "抱歉，我没太明白。您可以问我订单、退款、取消、押金、归还时间、费用和结算等问题。",
    "还是没能理解您的意思，能换个说法吗？比如“我的订单到哪了”“押金什么时候退”。",
)


@dataclass
class _Turn:
    """One answer in progress: the conversation, the message answered, its state, the reply."""

    conversation: Row
    message: Row
    actor: Principal
    state: DialogueState
    facts: list[str] = field(default_factory=list)
    action: str | None = None
    arguments: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    handed_over: bool = False
    # What the tools read, kept with the audit of the turn (the reply says it in words).
    data: dict[str, Any] = field(default_factory=dict)
    engine: str | None = None  # "local-fallback" when the local rules stood in for the model

    @property
    def text(self) -> str:
        return str(self.message["body"])


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
        *,
        dialogue: DialogueStore,
        settings: Settings,
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
        self._dialogue = dialogue
        self._late_fee_per_day = settings.rental_late_fee_per_day_fen
        self._commission_bps = settings.commission_bps

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
        await self._limiter.hit_or_raise(RESIDENT_STARTS, "support-start", str(actor.user_id))
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
            PUSH_FAILURES.labels(SUPPORT_MESSAGE).inc()
            log.warning(
                "support.push_failed", conversation_id=str(conversation["id"]), exc_info=True
            )

    async def _tell_agents(self, event: str, conversation: Row, message: Row | None) -> None:
        try:
            await self._pusher.to_room(
                AGENTS_ROOM, event, _payload(conversation, message), namespace="/support"
            )
        except Exception:
            PUSH_FAILURES.labels(event).inc()
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
        async with self._dialogue.turn(message["conversation_id"]):
            return await self._answer(message)

    async def _answer(self, message: Row) -> Row | None:
        message_id = message["id"]
        conversation = await self._store.conversation(message["conversation_id"])
        if conversation is None or conversation["status"] != "ai":
            return None
        if await self._store.answered(message_id):
            return None
        state = await self._dialogue.load(conversation["id"])
        pending_before = state.pending
        turn = _Turn(conversation, message, Principal(conversation["user_id"], UUID(int=0)), state)
        history = await self._store.messages(conversation["id"], HISTORY * 2)
        chat = [ChatMessage("system", state.for_model())]
        chat += [
            _chat_message(m) for m in history if m["id"] <= message_id and m["role"] != "system"
        ][-HISTORY:]
        call: ToolCall | None = None
        try:
            proposal = await self.engine.chat(chat, TOOLS)
            call = proposal.tool_calls[0] if proposal.tool_calls else None
        except EngineError as exc:
            # The endpoint is down or answered nonsense: the local understanding answers (as
            # search falls back to the local parser) rather than a human for every message.
            log.warning("support.engine_failed", error=str(exc))
            ENGINE_FALLBACKS.labels("support").inc()
        await self._decide(turn, call)
        if state.pending != pending_before:
            # Mirrored on the conversation for clients (``pending_refund``): the state in Redis
            # is what a confirmation is checked against.
            await self._store.set_pending_refund(
                conversation["id"], state.pending, self._clock.now()
            )
        if turn.action is not None:
            await self._store.record_tool_call(
                conversation["id"],
                message_id,
                turn.action,
                turn.arguments,
                _plain(
                    turn.data | {"facts": turn.facts, "error": turn.error, "state": state.public()}
                ),
                turn.error is None,
                turn.engine or self.engine.name,
                self._clock.now(),
            )
        body = polish("\n".join(turn.facts) or _CLARIFY[0], state.last_reply, len(state.history))
        state.remember(turn.text, turn.action, body)
        await self._dialogue.save(conversation["id"], state)
        saved = await self._store.add_message(
            conversation["id"],
            "assistant",
            None,
            body[:4000],
            self._clock.now(),
            data=_plain(
                {
                    "facts": turn.facts,
                    "engine": turn.engine or self.engine.name,
                    "tools": [turn.action] if turn.action else [],
                    "action": turn.action,
                    "state": state.public(),
                }
            ),
            reply_to=message_id,
        )
        if saved is not None:
            await self._tell_user(conversation, saved)
        return saved

    async def _decide(self, turn: _Turn, call: ToolCall | None) -> None:
        """The dialogue state machine: what the engine proposed, checked and carried out."""
        state = turn.state
        if call is not None and call.name not in _TOOL_NAMES:
            log.warning("support.unknown_tool", tool=call.name)
            call = None
        if call is not None and call.name == "handover_to_human" and not asked_for_human(turn.text):
            # A model hands over when unsure; Lago hands over only when asked, or after two
            # turns in a row nobody understood — so this counts as a turn not understood,
            # unless the local rules understand it.
            call = None
        if call is not None and call.name == "handover_to_human":
            await self._handover(turn, "asked")
            return
        if call is None:
            # Nothing usable from the engine (a model that only chatted, or failed): what the
            # local rules understand, if anything, is proposed instead.
            local = propose(turn.text)
            if local is not None and local[0] != "handover_to_human":
                call = ToolCall("local-fallback", local[0], local[1])
                if self.engine.name != "local":
                    turn.engine = "local-fallback"
        if call is None:
            state.misunderstood += 1
            if state.misunderstood >= 2:
                await self._handover(turn, "unsure")
                return
            turn.facts.append(
                _CLARIFY[0] if not state.last_reply.startswith("抱歉") else _CLARIFY[1]
            )
            if state.focus is not None:
                turn.facts.append(
                    f"如果是关于「{state.focus['title']}」，可以直接问我它的状态、退款或押金。"
                )
            return
        state.misunderstood = 0
        turn.action, turn.arguments = call.name, dict(call.arguments)
        try:
            await self._run(turn, call.name, call.arguments)
        except ValidationError:
            # A proposal whose arguments do not validate is a turn not understood.
            turn.error = "invalid_arguments"
            turn.facts = [_CLARIFY[0]]
            state.misunderstood = 1

    async def _run(self, turn: _Turn, name: str, args: dict[str, Any]) -> None:
        state = turn.state
        if name == "small_talk":
            kind = _SmallTalkArgs.model_validate(args).kind
            turn.facts.append(
                {
                    "greeting": GREETING_TEXT,
                    "thanks": "不客气！还有其他问题随时问我。",
                    "bye": "好的，祝您生活愉快，有问题随时来找我。",
                }[kind]
            )
        elif name == "someone_elses_order":
            _NoArgs.model_validate(args)
            turn.facts.append(_NOT_YOURS)
        elif name == "answer_topic":
            await self._topic(turn, _TopicArgs.model_validate(args).topic)
        elif name == "confirm_pending":
            _NoArgs.model_validate(args)
            named = action_named(turn.text)
            if state.pending is None and named is not None:
                # "那就退款吧" with nothing pending: a request, proposed and confirmed as usual.
                turn.action = named
                await self._order_tool(turn, named, _RefArgs())
            else:
                await self._confirm(turn)
        elif name == "decline_pending":
            _NoArgs.model_validate(args)
            self._decline(turn)
        elif name == "my_orders":
            _NoArgs.model_validate(args)
            await self._list_orders(turn)
        elif name == "group_buy_status":
            await self._group_buy(turn, args)
        elif name == "select_order":
            ref = _RefArgs.model_validate(args)
            intent = state.choosing or state.last_intent
            if intent not in _ORDER_TOOLS:
                intent = "order_status"
            assert intent is not None
            if state.pending is not None and intent in ("request_refund", "cancel_order"):
                # "不是这个，是第二个": the proposal moves to the order now named.
                self._set_pending(turn, None)
            turn.action = intent
            await self._order_tool(turn, intent, ref)
        else:
            await self._order_tool(turn, name, _RefArgs.model_validate(args))
        if name != "answer_topic":
            state.last_topic = None

    # --- resolving "which order" -----------------------------------------------------------------

    async def _mine(self, turn: _Turn) -> list[Any]:
        return await self._orders.mine(turn.actor, None, None, 20)

    async def _resolve(self, turn: _Turn, name: str, ref: _RefArgs) -> tuple[Any | None, list[Any]]:
        """The order a turn is about, or None and the candidates to choose from. An id that is
        not one of the resident's orders ends the turn with "cannot answer" (turn.error)."""
        state = turn.state
        mine = await self._mine(turn)
        by_id = {str(r["id"]): r for r in mine}
        if ref.order_id is not None:
            wanted = ref.order_id.lstrip("#").lower()
            if len(wanted) == 36:
                try:
                    # OrderService refuses (not found) an order that is not the resident's.
                    return await self._orders.get(turn.actor, UUID(wanted)), []
                except (NotFound, ValueError):
                    turn.error = "not_found"
                    return None, []
            hits = [r for r in mine if str(r["id"]).startswith(wanted[:8])]
            if len(hits) == 1:
                return hits[0], []
            turn.error = "not_found"
            return None, []
        if ref.which is not None or ref.other:
            listed = [by_id[i] for i in state.listed if i in by_id] or mine
            if ref.other:
                focus = (state.focus or {}).get("order_id")
                others = [r for r in _fitting(name, listed, turn) if str(r["id"]) != focus]
                return (others[0], []) if len(others) == 1 else (None, others)
            assert ref.which is not None
            index = ref.which - 1 if ref.which > 0 else len(listed) - 1
            if 0 <= index < len(listed):
                return listed[index], []
            return None, listed
        named = _named(turn.text, mine)
        if len(named) == 1:
            return named[0], []
        focus = by_id.get((state.focus or {}).get("order_id", ""))
        fitting = _fitting(name, named or mine, turn)
        fitting_ids = {r["id"] for r in fitting}
        if focus is not None and (
            _REFERENCE.search(normalise(turn.text)) or focus["id"] in fitting_ids or not fitting
        ):
            return focus, []
        if len(fitting) == 1:
            return fitting[0], []
        if not fitting and len(mine) == 1:
            return mine[0], []  # the one order there is: say why it does not fit
        if name == "order_status" and fitting:
            return fitting[0], []  # the latest
        return None, fitting

    async def _order_tool(self, turn: _Turn, name: str, ref: _RefArgs) -> None:
        state = turn.state
        order, candidates = await self._resolve(turn, name, ref)
        state.last_intent = name
        if turn.error == "not_found":
            turn.facts.append(_NOT_YOURS)
            return
        if order is None:
            if not candidates:
                turn.facts.append(_NONE_FITTING[name])
                return
            state.choosing = name
            state.listed = [str(r["id"]) for r in candidates[:5]]
            turn.facts.append(f"您有 {len(candidates[:5])} 个相关订单，请问是哪一个？")
            turn.facts += [f"{i}. {_order_line(r)}" for i, r in enumerate(candidates[:5], 1)]
            return
        state.choosing = None
        state.focus = _focus(order, turn)
        turn.data["orders"] = [_order_brief(order)]
        await {
            "request_refund": self._propose_refund,
            "cancel_order": self._propose_cancel,
            "order_status": self._status,
            "deposit_status": self._deposit,
            "rental_return": self._rental_return,
        }[name](turn, order)

    # --- what the agent says about one order -------------------------------------------------------

    async def _status(self, turn: _Turn, order: Any) -> None:
        turn.facts.append(_order_line(order))
        if order["mode"] == "rental" and order["status"] == "picked_up":
            turn.facts.append(f"应于 {_when(order['due_at'])} 前归还。")

    async def _deposit(self, turn: _Turn, order: Any) -> None:
        if order["mode"] != "rental" or order["deposit_fen"] == 0:
            turn.facts.append(f"「{order['title']}」不是租赁订单，没有押金。")
            return
        payment = (
            await self._payments.get(turn.actor, order["payment_id"])
            if order["payment_id"]
            else None
        )
        status = payment.deposit_status if payment else "none"
        withheld = payment.deposit_withheld_fen if payment else 0
        turn.data["deposits"] = [
            {
                "order_id": order["id"],
                "title": order["title"],
                "deposit_fen": order["deposit_fen"],
                "deposit_status": status,
                "withheld_fen": withheld,
            }
        ]
        line = f"「{order['title']}」押金 {fen(order['deposit_fen'])}"
        if status == "released":
            line += f"，已结算：退还 {fen(order['deposit_fen'] - withheld)}"
            if withheld:
                line += f"（扣除逾期费和损坏赔偿 {fen(withheld)}）"
        elif status == "held":
            line += f"，{_DEPOSIT['held']}；租赁{_STATUS[order['status']]}，归还并结算后退还"
        elif order["status"] in ("created", "cancelled"):
            line += "，订单未付款，押金未支付"
        else:
            line += f"，由平台托管；租赁{_STATUS[order['status']]}，归还并结算后退还"
        turn.facts.append(line + "。")

    async def _rental_return(self, turn: _Turn, order: Any) -> None:
        title = order["title"]
        if order["mode"] != "rental":
            turn.facts.append(f"「{title}」不是租赁订单，不需要归还。")
        elif order["status"] == "picked_up":
            line = f"「{title}」租 {order['days']} 天，应于 {_when(order['due_at'])} 前归还"
            if order["overdue_at"] is not None or (
                order["due_at"] is not None and order["due_at"] < self._clock.now()
            ):
                late = self._orders.late_fee(order["due_at"], self._clock.now())
                line += f"，已逾期，目前逾期费 {fen(late)}，从押金中扣除"
            turn.facts.append(line + "。")
        elif order["status"] == "returned":
            line = f"「{title}」已于 {_when(order['returned_at'])} 归还，押金待结算"
            if order["late_fee_fen"]:
                line += f"，逾期费 {fen(order['late_fee_fen'])}"
            turn.facts.append(line + "。")
        elif order["status"] in ("paid", "confirmed"):
            turn.facts.append(f"「{title}」已付款，取货后开始计租 {order['days']} 天。")
        else:
            turn.facts.append(_order_line(order))

    async def _propose_refund(self, turn: _Turn, order: Any) -> None:
        if order["buyer_id"] != turn.actor.user_id:
            turn.facts.append(f"您是「{order['title']}」的卖家，退款需由买家申请。")
            return
        if order["status"] == "refund_requested":
            turn.facts.append(f"「{order['title']}」已在退款申请中，等待卖家处理。")
            return
        if order["status"] not in _REFUNDABLE:
            turn.facts.append(
                "只有已付款、尚未交付的订单可以申请退款；"
                + _order_line(order)
                + ("未付款的订单可以直接取消。" if order["status"] == "created" else "")
            )
            return
        total = order["price_fen"] + order["deposit_fen"]
        self._set_pending(turn, {"action": "refund", "amount_fen": total}, order)
        turn.facts.append(
            f"可以为「{order['title']}」申请退款，退款金额 {fen(total)}"
            + (f"（含押金 {fen(order['deposit_fen'])}）" if order["deposit_fen"] else "")
            + "，卖家同意后原路退回。请回复“确认退款”提交，或回复“算了”保留订单。"
        )

    async def _propose_cancel(self, turn: _Turn, order: Any) -> None:
        if order["status"] == "cancelled":
            turn.facts.append(f"「{order['title']}」已经取消了。")
            return
        if order["status"] != "created":
            turn.facts.append(
                f"「{order['title']}」{_STATUS[order['status']]}，已付款的订单不能取消"
                + ("，可以申请退款（说“退款”即可）。" if order["status"] in _REFUNDABLE else "。")
            )
            return
        self._set_pending(turn, {"action": "cancel", "amount_fen": 0}, order)
        turn.facts.append(
            f"要取消「{order['title']}」吗？订单尚未付款，取消后不产生费用。"
            "请回复“确认取消”，或回复“算了”保留订单。"
        )

    def _set_pending(
        self, turn: _Turn, pending: dict[str, Any] | None, order: Any | None = None
    ) -> None:
        if pending is not None and order is not None:
            pending |= {
                "order_id": str(order["id"]),
                "short": short_id(order["id"]),
                "title": order["title"],
                "proposed_in": turn.message["id"],
            }
        turn.state.pending = pending

    async def _confirm(self, turn: _Turn) -> None:
        state = turn.state
        pending = state.pending
        if pending is None:
            turn.facts.append("目前没有需要您确认的操作。")
            return
        # Whatever the engine proposed, only the resident's own words, in a message after the
        # proposal, move money.
        text = normalise(turn.text)
        if turn.message["id"] <= pending["proposed_in"] or not confirms(text):
            turn.error = "not_confirmed"
            turn.facts.append("操作尚未提交：请明确回复“确认”，或回复“算了”保留订单。")
            return
        self._set_pending(turn, None)
        order_id = UUID(pending["order_id"])
        refund = pending["action"] == "refund"
        action, done = (
            (Action.REQUEST_REFUND, "refund_requested") if refund else (Action.CANCEL, "cancelled")
        )
        current = await self._orders.get(turn.actor, order_id)
        if current["status"] != done:
            try:
                current = await self._orders.act(turn.actor, order_id, action)
            except (Conflict, Forbidden) as exc:
                turn.error = exc.code
                current = await self._orders.get(turn.actor, order_id)
                state.focus = _focus(current, turn)
                turn.facts.append("无法提交：" + _order_line(current))
                return
        state.focus = _focus(current, turn)
        turn.facts.append(("已提交退款申请：" if refund else "已取消订单：") + _order_line(current))

    def _decline(self, turn: _Turn) -> None:
        pending = turn.state.pending
        if pending is None:
            turn.facts.append("好的，没有需要处理的操作。还有其他问题随时问我。")
            return
        self._set_pending(turn, None)
        what = "退款" if pending["action"] == "refund" else "取消"
        turn.facts.append(f"好的，不{what}了，「{pending['title']}」保持原状，没有任何变动。")

    async def _list_orders(self, turn: _Turn) -> None:
        rows = (await self._mine(turn))[:5]
        turn.state.listed = [str(r["id"]) for r in rows]
        turn.state.choosing = None
        if not rows:
            turn.facts.append("您还没有订单。")
            return
        turn.facts.append(f"您最近的 {len(rows)} 个订单：")
        turn.facts += [f"{i}. {_order_line(r)}" for i, r in enumerate(rows, 1)]
        if len(rows) == 1:
            turn.state.focus = _focus(rows[0], turn)

    async def _topic(self, turn: _Turn, name: str) -> None:
        topic = _TOPICS[name]
        turn.state.last_topic = name
        turn.facts.append(
            topic.answer.format(
                late_fee_per_day=fen(self._late_fee_per_day),
                commission=f"{self._commission_bps / 100:g}%",
            )
        )
        # Answered from the resident's own order where there is one in question.
        focus = turn.state.focus
        named = _named(turn.text, await self._mine(turn))
        if len(named) == 1:
            focus = turn.state.focus = _focus(named[0], turn)
        if focus is None:
            return
        about_it = len(named) == 1 or bool(_REFERENCE.search(normalise(turn.text)))
        if name in ("late_fee", "rental_period") and focus["mode"] == "rental":
            await self._order_tool(turn, "rental_return", _RefArgs())
        elif name == "deposit_rules" and focus["mode"] == "rental":
            await self._order_tool(turn, "deposit_status", _RefArgs())
        elif name in ("refund_rules", "cancel_rules") and about_it:
            # "这个咋退款": how, about this order — the rules, then the proposal for it (which
            # still waits for the resident's confirmation).
            tool = "request_refund" if name == "refund_rules" else "cancel_order"
            turn.action = tool
            await self._order_tool(turn, tool, _RefArgs())
            return
        turn.state.last_intent = None

    async def _group_buy(self, turn: _Turn, args: dict[str, Any]) -> None:
        group_buy_id = _GroupBuyArgs.model_validate(args).group_buy_id
        state = await self.group_buys.state(turn.actor, group_buy_id)
        if state is None:
            turn.facts.append(
                "暂时查不到团购的状态（团购服务尚未接入），可以说“转人工”由客服帮您查询。"
            )
        else:
            turn.facts.append(str(state.get("line", "")))

    async def _handover(self, turn: _Turn, reason: str) -> None:
        turn.action, turn.arguments = "handover_to_human", {"reason": reason}
        turn.handed_over = True
        turn.state.misunderstood = 0
        await self._queue(turn.conversation, reason)
        turn.facts.append("已为您转接人工客服，请稍候，客服接入后会在这里回复您。")


_NOT_YOURS = (
    "抱歉，我只能查询您本人的订单，无法回答关于别人订单的问题；"
    "如果是您的订单，请核对订单号，或让下单的本人来问我。"
)
_NONE_FITTING = {
    "request_refund": "只有已付款、尚未交付的订单可以申请退款，您目前没有这样的订单。",
    "cancel_order": "只有未付款的订单可以取消，您目前没有未付款的订单。",
    "order_status": "您还没有订单。",
    "deposit_status": "您没有需要支付押金的租赁订单。",
    "rental_return": "您没有进行中的租赁。",
}
_TITLE_SPLIT = re.compile(r"[\s·,，/()（）\-+]+")


def _fitting(name: str, rows: list[Any], turn: _Turn) -> list[Any]:
    """The resident's orders a question could be about: a refund only of what they bought and
    paid, a cancellation only of an unpaid order, deposits and returns only of rentals."""
    if name == "request_refund":
        return [
            r for r in rows if r["buyer_id"] == turn.actor.user_id and r["status"] in _REFUNDABLE
        ]
    if name == "cancel_order":
        return [r for r in rows if r["status"] == "created"]
    if name == "deposit_status":
        return [
            r
            for r in rows
            if r["mode"] == "rental" and r["deposit_fen"] > 0 and r["status"] != "cancelled"
        ]
    if name == "rental_return":
        return [
            r
            for r in rows
            if r["mode"] == "rental"
            and r["status"] in ("paid", "confirmed", "picked_up", "returned")
        ]
    return list(rows)


def _named(text: str, rows: list[Any]) -> list[Any]:
    """The orders whose title the message mentions ("乐高那个", "the switch")."""
    t = normalise(text)
    named = []
    for r in rows:
        words = [w for w in _TITLE_SPLIT.split(normalise(r["title"])) if len(w) >= 2]
        if any(w in t for w in words):
            named.append(r)
    return named


def _focus(order: Any, turn: _Turn) -> dict[str, Any]:
    return {
        "order_id": str(order["id"]),
        "short": short_id(order["id"]),
        "title": order["title"],
        "status": order["status"],
        "mode": order["mode"],
        "role": "buyer" if order["buyer_id"] == turn.actor.user_id else "seller",
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
