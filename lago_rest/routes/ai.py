"""AI: search with intent, recommendations, the signals they learn from, customer service."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import Field

from lago_core.ai import Hit, Intent, Recommendation
from lago_core.ai.search import RELAXABLE
from lago_core.security.roles import Principal
from lago_rest.api import Api
from lago_rest.context import Services
from lago_rest.routes.listings import Listing, ListingImage
from lago_rest.schemas import Schema

api = Api()
SEARCH = ("ai",)
SUPPORT = ("support",)


def _listing(svc: Services, row: dict[str, Any]) -> Listing:
    # Fields the AI rows do not carry (swap_ok) keep their defaults.
    data = {k: row[k] for k in Listing.model_fields if k != "images" and k in row}
    data["images"] = [ListingImage(key=k, url=svc.listings.image_url(k)) for k in row["images"]]
    return Listing.model_validate(data)


# --- search --------------------------------------------------------------------------------------

_SLOTS = "|".join(RELAXABLE)


class SearchQuery(Schema):
    q: str = Field(
        min_length=1, max_length=200, description="what you are looking for, in plain words"
    )
    limit: int = Field(default=20, ge=1, le=50)
    without: str | None = Field(
        default=None,
        max_length=100,
        pattern=f"^({_SLOTS})(,({_SLOTS}))*$",
        description="comma-separated parts of the parsed intent to ignore (chips the user "
        f"removed): {', '.join(RELAXABLE)}",
    )


class IntentOut(Schema):
    intent: Literal["rent", "buy", "sell", "swap"]
    category: str | None
    brand: str | None
    product: str | None
    keywords: list[str]
    duration_days: int | None
    price_min_fen: int | None
    price_max_fen: int | None
    price_per_day: bool
    condition: str | None
    scope: Literal["community", "nearby"] | None


class SearchHit(Schema):
    listing: Listing
    score: float
    community_id: UUID
    community_name: str
    distance_m: float = Field(description="0 in the caller's own community")
    reasons: list[str] = Field(description="why it matched, for people")


class SearchOut(Schema):
    query: str
    intent: IntentOut = Field(description="what the query was understood to ask; show it")
    engine: str = Field(description="local, openai, or local-fallback when the model failed")
    hint: str | None
    nearest: bool = Field(
        description="nothing fitted the query well enough: items are the nearest few, not "
        "matches; say so (没有完全符合的)"
    )
    items: list[SearchHit]


def _intent(intent: Intent) -> IntentOut:
    return IntentOut.model_validate(intent.model_dump())


def _hit(svc: Services, hit: Hit) -> SearchHit:
    return SearchHit(
        listing=_listing(svc, hit.listing),
        score=hit.score,
        community_id=hit.community_id,
        community_name=hit.community_name,
        distance_m=round(hit.distance_m, 1),
        reasons=hit.reasons,
    )


@api.get("/search", tags=SEARCH)
async def search(query: SearchQuery, user: Principal, svc: Services) -> SearchOut:
    """Search in natural words ("我想租个 Switch 一个周末"): the parsed intent and ranked listings
    of the caller's community and its neighbours. ``without=price,brand`` searches the same words
    without those parts of the intent (the returned intent lacks them too)."""
    without = query.without.split(",") if query.without else ()
    result = await svc.ai.search.search(user, query.q, query.limit, without)
    return SearchOut(
        query=result.query,
        intent=_intent(result.intent),
        engine=result.engine,
        hint=result.hint,
        nearest=result.nearest,
        items=[_hit(svc, h) for h in result.hits],
    )


class IntentQuery(Schema):
    q: str = Field(min_length=1, max_length=200)


class ParsedIntent(Schema):
    intent: IntentOut
    engine: str


@api.get("/search/intent", tags=SEARCH)
async def parse_intent(query: IntentQuery, user: Principal, svc: Services) -> ParsedIntent:
    """Only the parsed intent of a query (clients show it while the user types)."""
    intent, engine = await svc.ai.search.understand(query.q)
    return ParsedIntent(intent=_intent(intent), engine=engine)


# --- recommendations and their signals -----------------------------------------------------------


class ReasonOut(Schema):
    code: Literal["own_community", "nearby", "history", "fresh", "popular", "cold_start"]
    text: str


class RecommendationOut(Schema):
    listing: Listing
    score: float
    community_id: UUID
    community_name: str
    distance_m: float
    reasons: list[ReasonOut]


class RecommendationsOut(Schema):
    cold_start: bool = Field(description="no history yet: ranked by place, freshness, popularity")
    items: list[RecommendationOut]


class RecommendQuery(Schema):
    limit: int = Field(default=20, ge=1, le=50)


def _recommendation(svc: Services, r: Recommendation) -> RecommendationOut:
    return RecommendationOut(
        listing=_listing(svc, r.listing),
        score=r.score,
        community_id=r.community_id,
        community_name=r.community_name,
        distance_m=round(r.distance_m, 1),
        reasons=[ReasonOut(code=x.code, text=x.text) for x in r.reasons],  # type: ignore[arg-type]
    )


@api.get("/recommendations", tags=SEARCH)
async def recommendations(
    query: RecommendQuery, user: Principal, svc: Services
) -> RecommendationsOut:
    """Listings for the caller: own community first, then neighbours; each says why."""
    cold, items = await svc.ai.recommend.for_user(user, query.limit)
    return RecommendationsOut(cold_start=cold, items=[_recommendation(svc, r) for r in items])


@api.post("/listings/{listing_id}/views", status=204, tags=SEARCH)
async def record_view(listing_id: UUID, user: Principal, svc: Services) -> None:
    """Record that the caller looked at a listing (recommendations learn from it)."""
    await svc.ai.record_view(user, listing_id)


@api.put("/listings/{listing_id}/favourite", status=204, tags=SEARCH)
async def add_favourite(listing_id: UUID, user: Principal, svc: Services) -> None:
    """Favourite a listing (idempotent)."""
    await svc.ai.favourite(user, listing_id, True)


@api.delete("/listings/{listing_id}/favourite", status=204, tags=SEARCH)
async def remove_favourite(listing_id: UUID, user: Principal, svc: Services) -> None:
    """Unfavourite a listing (idempotent)."""
    await svc.ai.favourite(user, listing_id, False)


class Favourites(Schema):
    listing_ids: list[UUID]


@api.get("/me/favourites", tags=SEARCH)
async def my_favourites(user: Principal, svc: Services) -> Favourites:
    """The caller's favourite listings, newest first."""
    return Favourites(listing_ids=await svc.ai.favourites(user))


# --- customer service ----------------------------------------------------------------------------

ConversationStatus = Literal["ai", "queued", "human", "closed"]


class MessageIn(Schema):
    text: str = Field(min_length=1, max_length=2000)


class StartIn(Schema):
    text: str | None = Field(default=None, min_length=1, max_length=2000)


class Message(Schema):
    id: int
    conversation_id: UUID
    role: Literal["user", "assistant", "agent", "system"]
    author_id: UUID | None
    body: str
    data: dict[str, Any] = Field(
        description="assistant replies: facts from tools, engine, action, and the dialogue state "
        "after the turn (focus: the order in question; pending: a refund or cancellation "
        "awaiting confirmation)"
    )
    reply_to: int | None
    created_at: datetime


class Conversation(Schema):
    id: UUID
    user_id: UUID
    status: ConversationStatus
    agent_id: UUID | None
    handover_reason: str | None
    pending_refund: dict[str, Any] | None = Field(
        description="the refund or cancellation the agent proposed and the resident has not yet "
        "confirmed (action, order_id, title, amount_fen)"
    )
    created_at: datetime
    updated_at: datetime
    queued_at: datetime | None
    taken_at: datetime | None
    closed_at: datetime | None
    member: bool | None = Field(
        default=None,
        description="in the support queue: whether the resident is a member (会员), served first",
    )


class ConversationStarted(Schema):
    conversation: Conversation
    message: Message | None


class ConversationDetail(Schema):
    conversation: Conversation
    messages: list[Message]


class ToolCallOut(Schema):
    id: int
    conversation_id: UUID
    message_id: int
    tool: str
    arguments: dict[str, Any]
    result: dict[str, Any]
    ok: bool
    engine: str
    created_at: datetime


class ListQuery(Schema):
    limit: int = Field(default=20, ge=1, le=100)


@api.post("/support/conversations", status=201, tags=SUPPORT)
async def start_conversation(body: StartIn, user: Principal, svc: Services) -> ConversationStarted:
    """Open a conversation with customer service, optionally with a first message."""
    conversation, message = await svc.ai.support.start(user, body.text)
    return ConversationStarted(
        conversation=Conversation.model_validate(conversation),
        message=Message.model_validate(message) if message else None,
    )


@api.get("/support/conversations", tags=SUPPORT)
async def my_conversations(query: ListQuery, user: Principal, svc: Services) -> list[Conversation]:
    """The caller's conversations, newest first."""
    rows = await svc.ai.support.mine(user, query.limit)
    return [Conversation.model_validate(r) for r in rows]


@api.get("/support/conversations/{conversation_id}", tags=SUPPORT)
async def get_conversation(
    conversation_id: UUID, user: Principal, svc: Services
) -> ConversationDetail:
    """A conversation and its messages: its resident, customer service and admins."""
    row, messages = await svc.ai.support.get(user, conversation_id)
    return ConversationDetail(
        conversation=Conversation.model_validate(row),
        messages=[Message.model_validate(m) for m in messages],
    )


@api.post("/support/conversations/{conversation_id}/messages", status=201, tags=SUPPORT)
async def post_message(
    conversation_id: UUID, body: MessageIn, user: Principal, svc: Services
) -> Message:
    """A message from the resident (the agent answers it in a job and pushes the reply), or from
    the human agent holding the conversation."""
    return Message.model_validate(await svc.ai.support.post(user, conversation_id, body.text))


@api.post("/support/conversations/{conversation_id}/handover", tags=SUPPORT)
async def request_human(conversation_id: UUID, user: Principal, svc: Services) -> Conversation:
    """The resident asks for a human customer-service agent."""
    return Conversation.model_validate(await svc.ai.support.request_human(user, conversation_id))


@api.post("/support/conversations/{conversation_id}/close", tags=SUPPORT)
async def close_conversation(conversation_id: UUID, user: Principal, svc: Services) -> Conversation:
    """Close a conversation (its resident, or the agent who holds it)."""
    return Conversation.model_validate(await svc.ai.support.close(user, conversation_id))


@api.get("/support/queue", tags=SUPPORT)
async def support_queue(query: ListQuery, user: Principal, svc: Services) -> list[Conversation]:
    """Customer service: conversations waiting for a human (oldest first), then those taken."""
    return [Conversation.model_validate(r) for r in await svc.ai.support.queue(user, query.limit)]


@api.post("/support/conversations/{conversation_id}/take", tags=SUPPORT)
async def take_conversation(conversation_id: UUID, user: Principal, svc: Services) -> Conversation:
    """Customer service takes a conversation over; the AI agent stops answering it."""
    return Conversation.model_validate(await svc.ai.support.take(user, conversation_id))


@api.get("/support/conversations/{conversation_id}/tool-calls", tags=SUPPORT)
async def conversation_audit(
    conversation_id: UUID, user: Principal, svc: Services
) -> list[ToolCallOut]:
    """The audit of a conversation: every tool the agent called, with arguments and results."""
    rows = await svc.ai.support.audit(user, conversation_id)
    return [ToolCallOut.model_validate(r) for r in rows]
