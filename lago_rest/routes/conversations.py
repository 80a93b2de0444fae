"""Buyer–seller conversations (私信): open one about a listing, list, page history, send (text or
an uploaded image), read, block, report, ask customer service for help, ask for a call; and the
customer-service view of reported and escalated conversations (docs/conversations.md).

Live delivery is the socket's (``conversation:*`` on ``/``, docs/protocol.md); sending here
gives the same guarantees (the same sequence numbers, the same idempotent ``client_msg_id``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from aiohttp import web
from pydantic import Field

from lago_core.conversations import MAX_TEXT, CaseKind, CaseStatus
from lago_core.security.roles import Principal
from lago_rest.api import Api
from lago_rest.context import Services
from lago_rest.routes.subscriptions import CallAnswer
from lago_rest.schemas import Page, PageQuery, Schema, keyset_after, page_of
from lago_rest.uploads import read_file_part

api = Api()
TAGS = ("conversations",)
SERVICE_TAGS = ("conversations", "customer service")

ClientMsgId = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")


class ListingBrief(Schema):
    id: UUID
    title: str
    image_url: str | None
    status: str
    kind: str
    price_fen: int | None = Field(description="price, or daily rent of a rental (integer fen)")


class PartyBrief(Schema):
    id: UUID
    name: str


class SellerBrief(PartyBrief):
    merchant_id: UUID | None = Field(description="set when the listing is a merchant's")


class LastMessage(Schema):
    seq: int
    side: Literal["buyer", "seller"]
    text: str
    has_image: bool
    at: datetime


class ConversationSummary(Schema):
    id: UUID
    listing: ListingBrief
    buyer: PartyBrief
    seller: SellerBrief
    my_side: Literal["buyer", "seller"] | None = Field(description="null for customer service")
    last_seq: int
    read_seq: int = Field(description="the caller's side has read up to here")
    other_read_seq: int = Field(description="the other side has read up to here (已读)")
    unread: int
    last_message: LastMessage | None
    created_at: datetime


class Conversation(ConversationSummary):
    blocked_by_me: bool = False
    blocked_by_other: bool = False
    reported: bool = Field(default=False, description="a report or escalation exists")
    can_request_call: bool = Field(
        default=False, description="the caller is the buyer and the seller has a 虚拟号 plan"
    )


class ConversationPage(Schema):
    items: list[ConversationSummary] = Field(description="most recently active first")
    next_cursor: str | None
    unread: int = Field(description="unread messages over all the caller's conversations")


class ConversationQuery(PageQuery):
    merchant_id: UUID | None = Field(
        default=None, description="a merchant's conversations (its owner and staff)"
    )


class Message(Schema):
    conversation_id: UUID
    seq: int
    sender_id: UUID
    side: Literal["buyer", "seller"]
    client_msg_id: str
    text: str
    image_url: str | None
    at: datetime


class MessageQuery(Schema):
    before_seq: int | None = Field(default=None, ge=1, description="messages older than this")
    limit: int = Field(default=50, ge=1, le=100)


class MessagePage(Schema):
    messages: list[Message] = Field(description="newest first")
    next_before_seq: int | None


class SendIn(Schema):
    client_msg_id: str = ClientMsgId
    text: str = Field(default="", max_length=MAX_TEXT)
    image_key: str | None = Field(
        default=None, max_length=200, description="from POST /conversations/{id}/images"
    )


class Sent(Schema):
    seq: int
    duplicate: bool = Field(description="a resend: nothing new was stored")
    message: Message


class ReadIn(Schema):
    seq: int = Field(ge=0, le=2**53)


class ReadState(Schema):
    read_seq: int
    unread: int


class UnreadTotal(Schema):
    unread: int


class Uploaded(Schema):
    image_key: str
    image_url: str


class CaseIn(Schema):
    reason: str = Field(min_length=1, max_length=500)
    seq: int | None = Field(default=None, ge=1, description="the message reported, if one")


class Case(Schema):
    id: UUID
    conversation_id: UUID
    kind: CaseKind
    opened_by: UUID
    side: Literal["buyer", "seller"]
    reason: str
    seq: int | None
    status: CaseStatus
    created_at: datetime
    handled_by: UUID | None
    handled_at: datetime | None
    note: str | None


class CaseRow(Case):
    listing_id: UUID
    listing_title: str
    buyer_id: UUID
    buyer_name: str
    seller_id: UUID
    seller_name: str
    merchant_id: UUID | None
    last_seq: int


class CaseQuery(PageQuery):
    status: CaseStatus | None = CaseStatus.OPEN
    conversation_id: UUID | None = None


class CaseDecision(Schema):
    status: Literal[CaseStatus.RESOLVED, CaseStatus.DISMISSED]
    note: str | None = Field(default=None, max_length=500)


# --- the parties ---------------------------------------------------------------------------------


@api.post("/listings/{listing_id}/conversation", tags=TAGS)
async def open_conversation(listing_id: UUID, user: Principal, svc: Services) -> Conversation:
    """The caller's conversation with the seller about a listing (联系卖家), made on first use.

    Anyone who may see the listing, except those who manage it (400 ``cannot_message_yourself``);
    a new one only while the listing is active (409 ``listing_not_active``)."""
    view, _ = await svc.conversations.open(user, listing_id)
    return Conversation.model_validate(view)


@api.get("/conversations", tags=TAGS)
async def list_conversations(
    query: ConversationQuery, user: Principal, svc: Services
) -> ConversationPage:
    """The caller's conversations, as buyer and as seller, with unread counts and the last
    message; with ``merchant_id`` a merchant's (its owner and staff: the back office)."""
    after = keyset_after(query.cursor, datetime.fromisoformat, UUID)
    items, unread = await svc.conversations.mine(user, after, query.limit + 1, query.merchant_id)
    page = page_of(
        Page[ConversationSummary],
        [ConversationSummary.model_validate(i) for i in items],
        query.limit,
        lambda c: (
            c.last_message.at if c.last_message is not None else c.created_at,
            c.id,
        ),
    )
    return ConversationPage(items=page.items, next_cursor=page.next_cursor, unread=unread)


@api.get("/conversations/unread", tags=TAGS)
async def unread_conversations(user: Principal, svc: Services) -> UnreadTotal:
    """Unread messages over the caller's conversations (the 消息 badge)."""
    return UnreadTotal(unread=await svc.conversations.unread_total(user))


@api.get("/conversations/{conversation_id}", tags=TAGS)
async def get_conversation(conversation_id: UUID, user: Principal, svc: Services) -> Conversation:
    """One conversation (its two parties only; 404 for everybody else)."""
    return Conversation.model_validate(await svc.conversations.get(user, conversation_id))


@api.get("/conversations/{conversation_id}/messages", tags=TAGS)
async def conversation_messages(
    conversation_id: UUID, query: MessageQuery, user: Principal, svc: Services
) -> MessagePage:
    """History, newest first, paged by ``before_seq``: the parties; customer service and admins
    once the conversation is reported or escalated."""
    rows = await svc.conversations.history(user, conversation_id, query.before_seq, query.limit)
    more = len(rows) == query.limit
    return MessagePage(
        messages=[Message.model_validate(r) for r in rows],
        next_before_seq=rows[-1]["seq"] if more else None,
    )


@api.post("/conversations/{conversation_id}/messages", tags=TAGS)
async def send_message(conversation_id: UUID, body: SendIn, user: Principal, svc: Services) -> Sent:
    """Send text or an uploaded image (or both). A resend with the same ``client_msg_id``
    answers the first send's ``seq`` with ``duplicate: true``. 403 ``blocked``/``you_blocked``
    when a block is in place."""
    result = await svc.conversations.send(
        user, conversation_id, body.client_msg_id, body.text, body.image_key
    )
    return Sent.model_validate(result)


@api.post(
    "/conversations/{conversation_id}/images",
    status=201,
    tags=TAGS,
    raw_body="multipart/form-data",
)
async def upload_conversation_image(
    conversation_id: UUID, request: web.Request, user: Principal, svc: Services
) -> Uploaded:
    """Upload a JPEG, PNG or WebP (multipart, part ``file``) for a message; then send its
    ``image_key``. The parties only."""
    await svc.conversations.party(user, conversation_id)
    data, declared = await read_file_part(request, svc.settings.max_upload_bytes)
    uploaded = await svc.conversations.upload_image(user, conversation_id, data, declared)
    return Uploaded.model_validate(uploaded)


@api.post("/conversations/{conversation_id}/read", tags=TAGS)
async def mark_conversation_read(
    conversation_id: UUID, body: ReadIn, user: Principal, svc: Services
) -> ReadState:
    """Read up to ``seq`` (never backwards, never past the last message)."""
    return ReadState.model_validate(
        await svc.conversations.mark_read(user, conversation_id, body.seq)
    )


@api.post("/conversations/{conversation_id}/block", tags=TAGS)
async def block_conversation(conversation_id: UUID, user: Principal, svc: Services) -> Conversation:
    """Block the other side (拉黑): neither side can send until it is lifted. It holds in every
    conversation between the same buyer and seller. Idempotent."""
    return Conversation.model_validate(await svc.conversations.block(user, conversation_id))


@api.post("/conversations/{conversation_id}/unblock", tags=TAGS)
async def unblock_conversation(
    conversation_id: UUID, user: Principal, svc: Services
) -> Conversation:
    """Lift the caller's side's block. Idempotent."""
    return Conversation.model_validate(await svc.conversations.unblock(user, conversation_id))


async def _case(
    svc: Services, user: Principal, conversation_id: UUID, kind: CaseKind, body: CaseIn
) -> Case:
    row, _ = await svc.conversations.open_case(user, conversation_id, kind, body.reason, body.seq)
    return Case.model_validate(dict(row))


@api.post("/conversations/{conversation_id}/report", status=201, tags=TAGS)
async def report_conversation(
    conversation_id: UUID, body: CaseIn, user: Principal, svc: Services
) -> Case:
    """Report the conversation (举报), or one message by ``seq``: customer service may read it
    from now on. A repeat while the report is open answers the same case."""
    return await _case(svc, user, conversation_id, CaseKind.REPORT, body)


@api.post("/conversations/{conversation_id}/escalate", status=201, tags=TAGS)
async def escalate_conversation(
    conversation_id: UUID, body: CaseIn, user: Principal, svc: Services
) -> Case:
    """Ask customer service for help with this conversation (求助客服): they may read it from
    now on. A repeat while the request is open answers the same case."""
    return await _case(svc, user, conversation_id, CaseKind.ESCALATION, body)


@api.post("/conversations/{conversation_id}/call", tags=TAGS)
async def request_conversation_call(
    conversation_id: UUID, user: Principal, svc: Services
) -> CallAnswer:
    """The buyer asks to call the seller: a privacy number bound to the pair when the seller
    has a 虚拟号 plan, the platform's guidance otherwise (docs/subscriptions.md)."""
    return CallAnswer.model_validate(await svc.conversations.request_call(user, conversation_id))


# --- customer service ----------------------------------------------------------------------------


@api.get("/support/conversation-cases", tags=SERVICE_TAGS)
async def conversation_cases(query: CaseQuery, user: Principal, svc: Services) -> Page[CaseRow]:
    """Reports and escalations of conversations, oldest first (customer service and admins)."""
    after = keyset_after(query.cursor, datetime.fromisoformat, UUID)
    rows = await svc.conversations.cases(
        user, query.status, after, query.limit + 1, query.conversation_id
    )
    items = [CaseRow.model_validate(dict(r)) for r in rows]
    return page_of(Page[CaseRow], items, query.limit, lambda c: (c.created_at, c.id))


@api.get("/support/listing-conversations/{conversation_id}", tags=SERVICE_TAGS)
async def case_conversation(
    conversation_id: UUID, user: Principal, svc: Services
) -> ConversationSummary:
    """A reported or escalated conversation (customer service and admins; 404 without a case).
    Its messages: ``GET /conversations/{id}/messages``."""
    view = await svc.conversations.case_conversation(user, conversation_id)
    return ConversationSummary.model_validate(view)


@api.post("/support/conversation-cases/{case_id}/close", tags=SERVICE_TAGS)
async def close_conversation_case(
    case_id: UUID, body: CaseDecision, user: Principal, svc: Services
) -> Case:
    """Close a case as resolved or dismissed (customer service and admins). Closing a closed
    case returns it unchanged. The conversation stays readable to customer service."""
    row = await svc.conversations.close_case(user, case_id, body.status, body.note)
    return Case.model_validate(dict(row))
