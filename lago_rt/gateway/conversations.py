"""Buyer–seller conversations on the ``/`` namespace (docs/protocol.md, "Conversations").

Sending, recovering and reading are served by the channel gateway's registry (its rate limit,
strict payload validation and error acknowledgements). A conversation needs no actor: its
messages are numbered in PostgreSQL under the conversation's row lock
(``lago_core/conversations``), and delivered to both sides through the push channel, so the two
parties may be connected to different nodes. A client that missed pushes (reconnected, saw a
gap in ``seq``) asks ``conversation:recover`` from the last ``seq`` it holds.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import Field

from lago_core.container import Core
from lago_core.conversations import MAX_TEXT
from lago_core.security.roles import Principal
from lago_rt.gateway.channels import ChannelGateway
from lago_rt.gateway.schemas import Payload

__all__ = [
    "ConversationGateway",
    "ConversationHistoryIn",
    "ConversationReadIn",
    "ConversationRecoverIn",
    "ConversationSendIn",
]

Ack = dict[str, Any]
# One recovery acknowledgement carries at most this many messages (2,000 characters each at
# most: well under a client's send buffer); ``more: true`` asks for the next page.
RECOVERY_PAGE = 200


class ConversationSendIn(Payload):
    conversation_id: UUID
    client_msg_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
    text: str = Field(default="", max_length=MAX_TEXT)
    image_key: str | None = Field(default=None, max_length=200)


class ConversationRecoverIn(Payload):
    conversation_id: UUID
    since_seq: int = Field(ge=0)
    limit: int = Field(default=RECOVERY_PAGE, ge=1, le=RECOVERY_PAGE)


class ConversationHistoryIn(Payload):
    conversation_id: UUID
    before_seq: int | None = Field(default=None, ge=1)
    limit: int = Field(default=50, ge=1, le=100)


class ConversationReadIn(Payload):
    conversation_id: UUID
    seq: int = Field(ge=0)


class ConversationGateway:
    def __init__(self, channels: ChannelGateway, core: Core) -> None:
        self._core = core
        channels.register("conversation:send", ConversationSendIn, self.send)
        channels.register("conversation:recover", ConversationRecoverIn, self.recover)
        channels.register("conversation:history", ConversationHistoryIn, self.history)
        channels.register("conversation:mark_read", ConversationReadIn, self.read)

    async def send(self, sid: str, principal: Principal, body: ConversationSendIn) -> Ack:
        result = await self._core.conversations.send(
            principal, body.conversation_id, body.client_msg_id, body.text, body.image_key
        )
        return {"ok": True, **result}

    async def recover(self, sid: str, principal: Principal, body: ConversationRecoverIn) -> Ack:
        page = await self._core.conversations.recover(
            principal, body.conversation_id, body.since_seq, body.limit
        )
        return {"ok": True, **page}

    async def history(self, sid: str, principal: Principal, body: ConversationHistoryIn) -> Ack:
        messages = await self._core.conversations.history(
            principal, body.conversation_id, body.before_seq, body.limit
        )
        more = len(messages) == body.limit
        return {
            "ok": True,
            "messages": messages,
            "next_before_seq": messages[-1]["seq"] if more else None,
        }

    async def read(self, sid: str, principal: Principal, body: ConversationReadIn) -> Ack:
        state = await self._core.conversations.mark_read(principal, body.conversation_id, body.seq)
        return {"ok": True, **state}
