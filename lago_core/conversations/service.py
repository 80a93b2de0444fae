"""Buyer–seller conversations (私信): who is a party, sending with sequence numbers, reading,
blocks, reports and escalations, the call request (docs/conversations.md).

A conversation is one per (listing, buyer). The seller side is the listing's owner: the resident
who published it, or for a merchant listing the merchant — its owner and staff answer as one
party. Nobody else reads it, except customer service and admins once a party reported it or
asked for help (a case). Messages are stored in PostgreSQL and numbered per conversation under
the row's lock, then pushed to both sides' sockets through Redis (any node, any process).
"""

from __future__ import annotations

import asyncio
import enum
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
from prometheus_client import Counter

from lago_core.ai.support import AGENTS_ROOM
from lago_core.clock import Clock
from lago_core.conversations.store import (
    BlockedBy,
    ClientIdTaken,
    ConversationStore,
    ImageNotUploaded,
    SendOutcome,
)
from lago_core.errors import Conflict, Forbidden, InvalidInput, NotFound
from lago_core.listings import ListingService, ListingStatus
from lago_core.logging import get_logger
from lago_core.merchants import MerchantService
from lago_core.notifications import Notice, NotificationService
from lago_core.push import Pusher
from lago_core.push_events import CONVERSATION_CASE, CONVERSATION_MESSAGE, CONVERSATION_READ
from lago_core.ratelimit import RateLimiter
from lago_core.security.roles import Principal
from lago_core.storage import Storage, discard
from lago_core.subscriptions.store import SubscriptionStore
from lago_core.text import refuse_unstorable
from lago_core.uploads import DECLARED_IMAGE_TYPES, check_declared_type, clean_image
from lago_core.virtual_numbers import VirtualNumberService

__all__ = [
    "MAX_TEXT",
    "CaseKind",
    "CaseStatus",
    "ConversationService",
    "Side",
    "message_view",
]

log = get_logger(__name__)

MESSAGES = Counter("lago_conversation_messages_total", "messages stored in conversations", ["kind"])
DELIVERY_FAILURES = Counter(
    "lago_conversation_delivery_failures_total",
    "live pushes or notifications of conversation messages that failed (the message is stored)",
    ["what"],
)

MAX_TEXT = 2_000
CLIENT_MSG_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
# An image's storage key names its conversation, so a key sent in a message must belong to it.
_IMAGE_KEY = re.compile(r"^cv_([0-9a-f]{32})_[0-9a-f]{32}\.(jpg|png|webp)$")
# Per account, on REST and the socket alike: the socket's token bucket limits one connection,
# and a client opens connections (and REST requests) at will.
SEND_LIMIT = "120/minute"
OPEN_LIMIT = "60/hour"
IMAGE_LIMIT = "30/hour"
# An image uploaded and not sent within this long is deleted (the composer's lifetime, with room).
UPLOAD_TTL = timedelta(days=1)
CASE_LIMIT = "20/day"


class Side(enum.StrEnum):
    BUYER = "buyer"
    SELLER = "seller"

    @property
    def other(self) -> Side:
        return Side.SELLER if self is Side.BUYER else Side.BUYER


class CaseKind(enum.StrEnum):
    REPORT = "report"  # 举报
    ESCALATION = "escalation"  # 求助客服


class CaseStatus(enum.StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    DISMISSED = "dismissed"


@dataclass(frozen=True, slots=True)
class Party:
    conversation: asyncpg.Record
    side: Side


def message_view(row: Any, storage: Storage) -> dict[str, Any]:
    """A message as the apps, the socket and the REST API show it."""
    key = row["image_key"]
    return {
        "conversation_id": str(row["conversation_id"]),
        "seq": row["seq"],
        "sender_id": str(row["sender_id"]),
        "side": row["side"],
        "client_msg_id": row["client_msg_id"],
        "text": row["text"],
        "image_url": storage.url_for(key) if key else None,
        "at": row["created_at"].isoformat(),
    }


class ConversationService:
    def __init__(
        self,
        store: ConversationStore,
        *,
        listings: ListingService,
        merchants: MerchantService,
        storage: Storage,
        pusher: Pusher,
        notifications: NotificationService,
        subscriptions: SubscriptionStore,
        virtual_numbers: VirtualNumberService,
        limiter: RateLimiter,
        clock: Clock,
    ) -> None:
        self.store = store
        self._listings = listings
        self._merchants = merchants
        self._storage = storage
        self._pusher = pusher
        self._notifications = notifications
        self._subscriptions = subscriptions
        self._numbers = virtual_numbers
        self._limiter = limiter
        self._clock = clock

    # --- who may --------------------------------------------------------------------------------

    async def side_of(self, actor: Principal, conversation: asyncpg.Record) -> Side | None:
        """The caller's side in the conversation, None for everybody else."""
        if conversation["buyer_id"] == actor.user_id:
            return Side.BUYER
        merchant_id = conversation["merchant_id"]
        if merchant_id is None:
            return Side.SELLER if conversation["seller_id"] == actor.user_id else None
        if await self._merchants.role_of(actor.user_id, merchant_id) is not None:
            return Side.SELLER
        return None

    async def party(self, actor: Principal, conversation_id: UUID) -> Party:
        """The conversation and the caller's side; not found for anybody who is not a party
        (as if it did not exist: an outsider learns nothing, not even that it exists)."""
        row = await self.store.conversation(conversation_id)
        side = await self.side_of(actor, row) if row is not None else None
        if row is None or side is None:
            raise NotFound("conversation not found", code="conversation_not_found")
        return Party(row, side)

    # --- opening and listing ------------------------------------------------------------------------

    async def open(self, actor: Principal, listing_id: UUID) -> tuple[dict[str, Any], bool]:
        """The caller's conversation about a listing, made on first use. (view, created)

        Anyone who may see the listing may ask its seller about it, except its seller (or the
        merchant's owner and staff); a new conversation only while the listing is on the market.
        """
        listing = await self._listings.get(actor, listing_id)
        if await self._listings.can_manage(actor, listing):
            raise InvalidInput("this is your own listing", code="cannot_message_yourself")
        row = await self.store.conversation_of(listing_id, actor.user_id)
        if row is not None:
            return await self._view(Party(row, Side.BUYER)), False
        if listing["status"] != ListingStatus.ACTIVE:
            raise Conflict(f"the listing is {listing['status']}", code="listing_not_active")
        await self._limiter.hit_or_raise(OPEN_LIMIT, "conversation-open", str(actor.user_id))
        conversation_id, created = await self.store.get_or_create(
            uuid4(),
            listing_id,
            actor.user_id,
            listing["seller_id"],
            listing["merchant_id"],
            self._clock.now(),
        )
        party = await self.party(actor, conversation_id)
        return await self._view(party), created

    async def get(self, actor: Principal, conversation_id: UUID) -> dict[str, Any]:
        return await self._view(await self.party(actor, conversation_id))

    async def mine(
        self,
        actor: Principal,
        before: tuple[datetime, UUID] | None,
        limit: int,
        merchant_id: UUID | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """The caller's conversations (as buyer or as a resident seller), or with
        ``merchant_id`` that merchant's (its owner and staff); and the total unread."""
        if merchant_id is not None:
            await self._merchants.require_member(actor, merchant_id)
            rows = await self.store.of_party(None, merchant_id, before, limit)
        else:
            rows = await self.store.of_party(actor.user_id, None, before, limit)
        items = [
            self._summary(r, Side.BUYER if r["buyer_id"] == actor.user_id else Side.SELLER)
            for r in rows
        ]
        if merchant_id is not None:
            total = await self.store.unread_of_merchant(merchant_id)
        else:
            total = await self.store.unread_total(actor.user_id)
        return items, total

    async def unread_total(self, actor: Principal) -> int:
        return await self.store.unread_total(actor.user_id)

    def _summary(self, row: asyncpg.Record, side: Side) -> dict[str, Any]:
        other = side.other
        image = row["listing_image"]
        last = None
        if row["last_seq"]:
            last = {
                "seq": row["last_seq"],
                "side": row["last_side"],
                "text": row["last_text"],
                "has_image": row["last_image_key"] is not None,
                "at": row["last_message_at"],
            }
        return {
            "id": row["id"],
            "listing": {
                "id": row["listing_id"],
                "title": row["listing_title"],
                "image_url": self._storage.url_for(image) if image else None,
                "status": row["listing_status"],
                "kind": row["listing_kind"],
                "price_fen": row["listing_price_fen"],
            },
            "buyer": {"id": row["buyer_id"], "name": row["buyer_name"]},
            "seller": {
                "id": row["seller_id"],
                "merchant_id": row["merchant_id"],
                "name": row["seller_name"],
            },
            "my_side": side.value,
            "last_seq": row["last_seq"],
            "read_seq": row[f"{side}_read_seq"],
            "other_read_seq": row[f"{other}_read_seq"],
            "unread": row["last_seq"] - row[f"{side}_read_seq"],
            "last_message": last,
            "created_at": row["created_at"],
        }

    async def _view(self, party: Party) -> dict[str, Any]:
        row = party.conversation
        view = self._summary(row, party.side)
        blocks = await self.store.blocks_of_pair(row["id"])
        view["blocked_by_me"] = blocks[party.side]
        view["blocked_by_other"] = blocks[party.side.other]
        view["reported"] = bool(row["has_case"])
        view["can_request_call"] = party.side is Side.BUYER and await self._seller_has_numbers(row)
        return view

    async def _seller_has_numbers(self, row: asyncpg.Record) -> bool:
        """Whether the seller has a virtual-number plan now (merchants are not on these plans:
        the call request answers them with the platform's guidance)."""
        if row["merchant_id"] is not None:
            return False
        async with self.store.pool.acquire() as conn:
            # The subscription store's one reading of "a plan whose benefits hold now"; unlocked:
            # the call request itself decides under the lock.
            plan = await self._subscriptions.active_plan(
                conn, row["seller_id"], "virtual_number", self._clock.now(), lock=False
            )
        return plan is not None

    # --- messages ---------------------------------------------------------------------------------

    async def send(
        self,
        actor: Principal,
        conversation_id: UUID,
        client_msg_id: str,
        text: str,
        image_key: str | None = None,
    ) -> dict[str, Any]:
        """Store a message and deliver it to both sides: ``{"seq", "duplicate", "message"}``.

        A resend of the same ``client_msg_id`` stores nothing and answers the first send's
        sequence number (``duplicate: true``), whatever its text."""
        if not CLIENT_MSG_ID.fullmatch(client_msg_id):
            raise InvalidInput(
                "client_msg_id is 1 to 64 letters, digits and ._:-", code="invalid_client_msg_id"
            )
        refuse_unstorable(text, "text")
        if len(text) > MAX_TEXT or (not text.strip() and image_key is None):
            raise InvalidInput(
                f"text must be 1 to {MAX_TEXT} characters (or send an image)", code="invalid_text"
            )
        if image_key is not None:
            found = _IMAGE_KEY.fullmatch(image_key)
            if found is None or found.group(1) != conversation_id.hex:
                raise InvalidInput(
                    "image_key is not an image uploaded to this conversation",
                    code="invalid_image_key",
                )
        party = await self.party(actor, conversation_id)
        await self._limiter.hit_or_raise(SEND_LIMIT, "conversation-send", str(actor.user_id))
        try:
            outcome = await self.store.send(
                conversation_id,
                actor.user_id,
                party.side.value,
                client_msg_id,
                text if text.strip() else "",
                image_key,
                self._clock.now(),
            )
        except BlockedBy as exc:
            if exc.side == party.side:
                raise Forbidden(
                    "you blocked this person: unblock to send", code="you_blocked"
                ) from None
            raise Forbidden("the other side blocked you", code="blocked") from None
        except ClientIdTaken:
            raise Conflict(
                "this client_msg_id was used by the other side: choose another",
                code="client_msg_id_taken",
            ) from None
        except ImageNotUploaded:
            raise InvalidInput(
                "this image was not uploaded to this conversation (or was not sent within a day):"
                " upload it again",
                code="invalid_image_key",
            ) from None
        message = message_view(outcome.message, self._storage)
        if not outcome.duplicate:
            MESSAGES.labels("image" if image_key else "text").inc()
            # Delivered before the acknowledgement, after the commit: a recipient who misses
            # the push (offline, another node restarting) recovers by sequence number.
            await self._deliver(party, outcome, message)
        return {"seq": message["seq"], "duplicate": outcome.duplicate, "message": message}

    async def _deliver(self, party: Party, outcome: SendOutcome, message: dict[str, Any]) -> None:
        row = party.conversation
        await self._push(row, CONVERSATION_MESSAGE, {"message": message})
        if not outcome.first_unread:
            return
        recipient = row["buyer_id"] if party.side is Side.SELLER else row["seller_id"]
        preview = message["text"][:60] if message["text"] else "[图片]"
        sender = row["seller_name"] if party.side is Side.SELLER else row["buyer_name"]
        try:
            # One notice per unread streak: the first message after the recipient read
            # everything, keyed by its sequence number so a retried delivery tells once.
            await self._notifications.notify(
                [recipient],
                Notice(
                    kind="conversation_message",
                    key=f"conversation:{row['id']}:{message['seq']}",
                    title=f"{sender[:40]} 发来私信",
                    body=f"「{row['listing_title']}」{preview}",
                    data={"conversation_id": str(row["id"]), "listing_id": str(row["listing_id"])},
                ),
            )
        except Exception:
            DELIVERY_FAILURES.labels("notification").inc()
            log.exception("conversation.notify_failed", conversation_id=str(row["id"]))

    async def _push(self, row: asyncpg.Record, event: str, data: dict[str, Any]) -> None:
        """An event to every socket of both sides: the buyer's, and the resident seller's or
        the merchant's staff (on ``/merchant``)."""
        body = {"conversation_id": str(row["id"]), **data}
        targets = [self._pusher.to_user(row["buyer_id"], event, body)]
        if row["merchant_id"] is None:
            targets.append(self._pusher.to_user(row["seller_id"], event, body))
        else:
            targets.append(self._pusher.to_merchant(row["merchant_id"], event, body))
        for result in await asyncio.gather(*targets, return_exceptions=True):
            if isinstance(result, BaseException):
                # Pusher counted it (PUSH_FAILURES); the message is stored and recoverable.
                DELIVERY_FAILURES.labels("push").inc()
                log.warning("conversation.push_failed", push_event=event, error=repr(result))

    async def history(
        self, actor: Principal, conversation_id: UUID, before: int | None, limit: int
    ) -> list[dict[str, Any]]:
        """Messages before ``before`` (newest first): the parties; customer service and admins
        once the conversation has a case."""
        await self._reader(actor, conversation_id)
        rows = await self.store.messages_before(conversation_id, before, limit)
        return [message_view(r, self._storage) for r in rows]

    async def recover(
        self, actor: Principal, conversation_id: UUID, since: int, limit: int
    ) -> dict[str, Any]:
        """What a party missed after ``since`` (oldest first), in pages: ``more`` says ask
        again from the last one."""
        party = await self.party(actor, conversation_id)
        rows = await self.store.messages_after(conversation_id, since, limit + 1)
        more = len(rows) > limit
        messages = [message_view(r, self._storage) for r in rows[:limit]]
        row = party.conversation
        # The row was read before the messages: messages sent meanwhile are in the page.
        newest = messages[-1]["seq"] if messages else 0
        return {
            "conversation_id": str(conversation_id),
            "messages": messages,
            "more": more,
            "last_seq": newest if more else max(row["last_seq"], newest),
            "other_read_seq": row[f"{party.side.other}_read_seq"],
        }

    async def mark_read(self, actor: Principal, conversation_id: UUID, seq: int) -> dict[str, Any]:
        """Read up to ``seq``; the other side sees it (``conversation:read``)."""
        party = await self.party(actor, conversation_id)
        before = party.conversation[f"{party.side}_read_seq"]
        read, last = await self.store.mark_read(conversation_id, party.side.value, seq)
        if read > before:
            await self._push(
                party.conversation, CONVERSATION_READ, {"side": party.side.value, "seq": read}
            )
        return {"read_seq": read, "unread": last - read}

    # --- images -----------------------------------------------------------------------------------

    async def upload_image(
        self, actor: Principal, conversation_id: UUID, data: bytes, declared_type: str | None
    ) -> dict[str, str]:
        """Store an image for a message: ``{"image_key", "image_url"}``; then send the key.

        Stored re-encoded (no metadata), under a name bound to the conversation, and recorded
        first: one not sent within ``UPLOAD_TTL`` is deleted by :meth:`sweep_unsent_images`."""
        await self.party(actor, conversation_id)
        check_declared_type(declared_type, DECLARED_IMAGE_TYPES, "upload a JPEG, PNG or WebP image")
        await self._limiter.hit_or_raise(IMAGE_LIMIT, "conversation-image", str(actor.user_id))
        clean = await asyncio.to_thread(clean_image, data)
        key = f"cv_{conversation_id.hex}_{secrets.token_hex(16)}{clean.extension}"
        # The row before the file: a crash in between leaves a row the sweep clears, never a
        # file nothing records.
        await self.store.record_upload(key, conversation_id, actor.user_id, self._clock.now())
        await self._storage.put(key, clean.data, clean.content_type)
        return {"image_key": key, "image_url": self._storage.url_for(key)}

    async def sweep_unsent_images(self, batch: int = 500) -> int:
        """Delete the images uploaded more than ``UPLOAD_TTL`` ago that no message took (a job;
        returns how many). The records go first, in batches, so a send racing the sweep is
        refused rather than left pointing at a deleted file; a file that cannot be deleted is
        logged and counted (``discard``)."""
        cutoff = self._clock.now() - UPLOAD_TTL
        swept = 0
        while keys := await self.store.take_unsent_uploads(cutoff, batch):
            for key in keys:
                await discard(self._storage, key)
            swept += len(keys)
            if len(keys) < batch:
                break
        if swept:
            log.info("conversations.unsent_images_swept", count=swept)
        return swept

    # --- blocks -----------------------------------------------------------------------------------

    async def block(self, actor: Principal, conversation_id: UUID) -> dict[str, Any]:
        party = await self.party(actor, conversation_id)
        await self.store.block(conversation_id, party.side.value, self._clock.now())
        return await self.get(actor, conversation_id)

    async def unblock(self, actor: Principal, conversation_id: UUID) -> dict[str, Any]:
        party = await self.party(actor, conversation_id)
        await self.store.unblock(conversation_id, party.side.value)
        return await self.get(actor, conversation_id)

    # --- cases: reports and escalations ------------------------------------------------------------

    async def open_case(
        self,
        actor: Principal,
        conversation_id: UUID,
        kind: CaseKind,
        reason: str,
        seq: int | None,
    ) -> tuple[asyncpg.Record, bool]:
        """A party reports the conversation (or one message of it) or asks customer service for
        help; from then on customer service may read it. Idempotent per party and kind while
        the case is open. (case, new)"""
        party = await self.party(actor, conversation_id)
        if seq is not None and not 0 < seq <= party.conversation["last_seq"]:
            raise NotFound("no message with that sequence number", code="message_not_found")
        await self._limiter.hit_or_raise(CASE_LIMIT, "conversation-case", str(actor.user_id))
        opened = await self.store.open_case(
            {
                "id": uuid4(),
                "conversation_id": conversation_id,
                "kind": kind.value,
                "opened_by": actor.user_id,
                "side": party.side.value,
                "reason": reason,
                "seq": seq,
                "created_at": self._clock.now(),
            }
        )
        if opened is None:
            raise Conflict(
                "the case changed while it was being opened; try again", code="case_busy"
            )
        row, new = opened
        if new:
            try:
                await self._pusher.to_room(
                    AGENTS_ROOM,
                    CONVERSATION_CASE,
                    {
                        "case_id": str(row["id"]),
                        "conversation_id": str(conversation_id),
                        "kind": kind.value,
                    },
                    namespace="/support",
                )
            except Exception:
                DELIVERY_FAILURES.labels("push").inc()
                log.exception("conversation.case_push_failed", case_id=str(row["id"]))
        return row, new

    def _require_service(self, actor: Principal) -> None:
        if not (actor.is_admin or actor.is_customer_service):
            raise Forbidden("customer service and admins only", code="not_customer_service")

    async def _reader(self, actor: Principal, conversation_id: UUID) -> asyncpg.Record:
        """The conversation for a party, or for customer service and admins when it has a case.

        Customer service without a case is answered as an outsider is: not found."""
        row = await self.store.conversation(conversation_id)
        if row is not None:
            if await self.side_of(actor, row) is not None:
                return row
            if (actor.is_admin or actor.is_customer_service) and row["has_case"]:
                return row
        raise NotFound("conversation not found", code="conversation_not_found")

    async def cases(
        self,
        actor: Principal,
        status: CaseStatus | None,
        after: tuple[datetime, UUID] | None,
        limit: int,
        conversation_id: UUID | None = None,
    ) -> list[asyncpg.Record]:
        self._require_service(actor)
        return await self.store.cases(
            status.value if status else None, after, limit, conversation_id
        )

    async def case_conversation(self, actor: Principal, conversation_id: UUID) -> dict[str, Any]:
        """A conversation as customer service sees it (only with a case): both sides, as the
        buyer's view without the buyer's own read state."""
        self._require_service(actor)
        row = await self._reader(actor, conversation_id)
        view = self._summary(row, Side.BUYER)
        view["my_side"] = None
        return view

    async def close_case(
        self, actor: Principal, case_id: UUID, status: CaseStatus, note: str | None
    ) -> asyncpg.Record:
        self._require_service(actor)
        if status is CaseStatus.OPEN:
            raise InvalidInput("a case is closed as resolved or dismissed", code="invalid_status")
        row = await self.store.close_case(
            case_id, status.value, actor.user_id, note, self._clock.now()
        )
        if row is None:
            raise NotFound("case not found", code="case_not_found")
        return row

    # --- calls ------------------------------------------------------------------------------------

    async def request_call(self, actor: Principal, conversation_id: UUID) -> dict[str, Any]:
        """The buyer asks to call the seller: the virtual-number service binds a privacy number
        when the seller has a plan, and answers with the platform's guidance otherwise."""
        party = await self.party(actor, conversation_id)
        if party.side is not Side.BUYER:
            raise Forbidden("only the buyer asks to call the seller", code="not_the_buyer")
        blocks = await self.store.blocks_of_pair(conversation_id)
        if blocks["seller"] or blocks["buyer"]:
            raise Forbidden("a block is in place between you", code="blocked")
        return await self._numbers.request_call(actor, party.conversation["listing_id"])
