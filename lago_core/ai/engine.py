"""One AI interface, two engines: any OpenAI-compatible endpoint, or a local deterministic one.

Everything AI in Lago (search intent, the customer-service agent) talks to an :class:`Engine`.
:class:`OpenAIEngine` uses the ``openai`` client against the configured base URL, model and key;
:class:`LocalEngine` answers the same calls from rules, so Lago works fully offline and tests are
reproducible. The model never states facts to users: it chooses tools, and the answer's figures are
rendered from the tools' results (see :mod:`lago_core.ai.support`).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import orjson
from pydantic import ValidationError

from lago_core.ai.intent import CATEGORIES, CONDITIONS, Intent, canonical_brand, parse_intent
from lago_core.ai.nlu import propose
from lago_core.logging import get_logger
from lago_core.settings import Settings

__all__ = [
    "ChatMessage",
    "ChatTurn",
    "Engine",
    "EngineError",
    "LocalEngine",
    "OpenAIEngine",
    "ToolCall",
    "ToolSpec",
    "create_engine",
    "local_parse",
]

log = get_logger(__name__)

Role = Literal["system", "user", "assistant", "tool"]


class EngineError(Exception):
    """The engine could not answer (endpoint down, malformed reply); callers fall back."""


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]
    # For the local engine only: a user message matching this calls the tool. A model reads the
    # description instead.
    triggers: re.Pattern[str] | None = None


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Role
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None


@dataclass(frozen=True, slots=True)
class ChatTurn:
    """The engine's turn: either tool calls to run, or a final text."""

    content: str
    tool_calls: tuple[ToolCall, ...] = field(default=())


class Engine(Protocol):
    name: str

    async def parse_intent(self, query: str) -> Intent: ...

    async def chat(
        self, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec]
    ) -> ChatTurn: ...

    async def close(self) -> None: ...


# --- local ---------------------------------------------------------------------------------------

_GREETING = re.compile(r"^\s*(你好|您好|在吗|hi|hello|嗨|哈喽)[\s!！。?？]*$", re.IGNORECASE)
GREETING_TEXT = "您好，我是来购智能客服。可以问我订单、押金、退款、租赁归还或团购的问题，说“转人工”可找人工客服。"


class LocalEngine:
    """Rules instead of a model: the intent parser, and for customer service the rule-based
    understanding of :mod:`lago_core.ai.nlu` (a tool outside that vocabulary is chosen by its
    trigger words). When nothing fits it proposes nothing: the caller decides what "unsure" means.
    """

    name = "local"

    async def parse_intent(self, query: str) -> Intent:
        return await local_parse(query)

    async def chat(self, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec]) -> ChatTurn:
        last = messages[-1] if messages else ChatMessage("user", "")
        if last.role != "user":
            # The tools have answered; the caller renders their results.
            return ChatTurn("")
        text = last.content
        names = {tool.name for tool in tools}
        proposal = propose(text)
        if proposal is not None and proposal[0] in names:
            return ChatTurn("", (ToolCall(f"local-{proposal[0]}", proposal[0], proposal[1]),))
        for tool in tools:
            if tool.triggers is not None and tool.triggers.search(text):
                return ChatTurn("", (ToolCall(f"local-{tool.name}", tool.name, {}),))
        if _GREETING.match(text):
            return ChatTurn(GREETING_TEXT)
        return ChatTurn("")

    async def close(self) -> None:
        return None


async def local_parse(query: str) -> Intent:
    """The rules, and the embedding classifier for what they leave open (off the event loop:
    embedding a query takes tens of milliseconds on the CPU)."""
    from lago_core.ai.classifier import classifier

    return await asyncio.to_thread(parse_intent, query, classifier())


# --- OpenAI-compatible ---------------------------------------------------------------------------

_INTENT_TOOL = {
    "type": "function",
    "function": {
        "name": "report_intent",
        "description": "Report the structured intent of a marketplace search query.",
        "parameters": {
            "type": "object",
            "properties": {
                "intent": {"type": "string", "enum": ["rent", "buy", "sell", "swap"]},
                "category": {"type": ["string", "null"], "enum": [*CATEGORIES, None]},
                "brand": {"type": ["string", "null"]},
                "product": {"type": ["string", "null"]},
                "keywords": {"type": "array", "items": {"type": "string"}},
                "duration_days": {"type": ["integer", "null"]},
                "price_min_fen": {"type": ["integer", "null"]},
                "price_max_fen": {"type": ["integer", "null"]},
                "price_per_day": {"type": "boolean"},
                "condition": {"type": ["string", "null"], "enum": [*CONDITIONS, None]},
                "scope": {"type": ["string", "null"], "enum": ["community", "nearby", None]},
            },
            "required": ["intent"],
        },
    },
}
_INTENT_PROMPT = (
    "You parse search queries of a Chinese neighbourhood marketplace for toys and game consoles. "
    "Call report_intent once. intent: rent, buy, sell (the user offers an item, including renting "
    "it out) or swap. Prices in integer fen (1 yuan = 100 fen). A weekend is 2 days, a week 7. "
    "condition is the least acceptable: 全新=new, 九成新=like_new, 八成新=good. scope: community "
    "for 小区里/本小区, nearby for 附近."
)
SUPPORT_PROMPT = (
    "你是来购（社区二手租售平台）的客服助手。每轮只调用一个工具，表示用户这句话想做什么；"
    "回复由系统根据工具结果生成，你不要自己写金额或状态。用户说“它/那个订单/刚才那个”时不要填"
    " order_id，系统按对话状态里的 focus 解析；只有用户写出订单号时才填 order_id。退款和取消先调用"
    " request_refund / cancel_order，用户确认时调用 confirm_pending，改主意时调用 decline_pending。"
    "问别人的订单调用 someone_elses_order。只有用户要求人工时才调用 handover_to_human。"
)


def _wire_message(message: ChatMessage) -> dict[str, Any]:
    out: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        out["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": orjson.dumps(call.arguments).decode()},
            }
            for call in message.tool_calls
        ]
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    return out


def _arguments(raw: str | None) -> dict[str, Any]:
    try:
        value = orjson.loads(raw or "{}")
    except orjson.JSONDecodeError as exc:
        raise EngineError(f"tool arguments are not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise EngineError("tool arguments are not an object")
    return value


class OpenAIEngine:
    """An OpenAI-compatible chat-completions endpoint (OpenAI, DeepSeek, Qwen, a local server)."""

    name = "openai"

    def __init__(self, base_url: str, api_key: str, model: str, timeout_s: float) -> None:
        # Imported here so a process without an endpoint never builds the client.
        import openai

        self._openai = openai
        self._client = openai.AsyncOpenAI(
            base_url=base_url, api_key=api_key or "unused", timeout=timeout_s, max_retries=1
        )
        self.model = model

    async def _complete(self, **kwargs: Any) -> Any:
        try:
            return await self._client.chat.completions.create(model=self.model, **kwargs)
        except self._openai.OpenAIError as exc:
            raise EngineError(f"{type(exc).__name__}: {exc}") from exc

    async def parse_intent(self, query: str) -> Intent:
        response = await self._complete(
            messages=[
                {"role": "system", "content": _INTENT_PROMPT},
                {"role": "user", "content": query},
            ],
            tools=[_INTENT_TOOL],
            tool_choice={"type": "function", "function": {"name": "report_intent"}},
            temperature=0,
        )
        calls = response.choices[0].message.tool_calls if response.choices else None
        if not calls:
            raise EngineError("the model did not report an intent")
        args = _arguments(calls[0].function.arguments)
        # What the model says is checked like any input: unknown keys and values are refused,
        # brands are put in the lexicon's spelling so search matches them.
        if args.get("brand"):
            args["brand"] = canonical_brand(str(args["brand"])) or str(args["brand"])
        try:
            return Intent.model_validate(args)
        except ValidationError as exc:
            raise EngineError(
                f"the model's intent is invalid: {exc.error_count()} errors"
            ) from None

    async def chat(self, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec]) -> ChatTurn:
        wire = [{"role": "system", "content": SUPPORT_PROMPT}]
        wire += [_wire_message(m) for m in messages]
        response = await self._complete(
            messages=wire,
            tools=[
                {
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": t.parameters,
                    },
                }
                for t in tools
            ],
            temperature=0,
        )
        if not response.choices:
            raise EngineError("the model returned no choice")
        message = response.choices[0].message
        calls = tuple(
            ToolCall(call.id, call.function.name, _arguments(call.function.arguments))
            for call in (message.tool_calls or [])
        )
        return ChatTurn(message.content or "", calls)

    async def close(self) -> None:
        await self._client.close()


def create_engine(settings: Settings) -> Engine:
    """The OpenAI-compatible engine when LAGO_AI_BASE_URL is set, the local engine otherwise."""
    if settings.ai_base_url:
        return OpenAIEngine(
            settings.ai_base_url, settings.ai_api_key, settings.ai_model, settings.ai_timeout_s
        )
    return LocalEngine()
