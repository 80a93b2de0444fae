"""The ``/support`` namespace: customer service over the socket, for residents and agents.

Any signed-in account may connect. Customer-service accounts and admins also join
``support:agents``, where other processes push the queue's events with
:meth:`lago_core.push.Pusher.to_room`: ``support:queued``, ``support:taken``, ``support:message``
(the resident wrote in a conversation a human holds or awaits), ``support:closed``. Residents
receive replies as ``support:message`` in their ``user:<id>`` room on ``/``.

Commands (acknowledged ``{"ok": true, ...}`` or ``{"ok": false, "error": {...}}``), each the same
service call as its REST twin, so the rules are the REST rules: ``support:start``,
``support:send``, ``support:handover``, and for agents ``support:queue`` and ``support:take``.
See docs/protocol.md.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from uuid import UUID

import orjson
from pydantic import ConfigDict, Field

from lago_core.ai.support import AGENTS_ROOM
from lago_core.container import Core
from lago_core.errors import LagoError, Unauthenticated
from lago_core.security.roles import Principal
from lago_rt.gateway.channels import authenticate_handshake
from lago_rt.gateway.payloads import parse_payload
from lago_rt.gateway.schemas import Payload
from lago_rt.gateway.sessions import SessionWatch
from lago_rt.metrics import CONNECTIONS, count_refusal
from lago_rt.transport import SocketServer

__all__ = ["NAMESPACE", "SupportGateway"]

NAMESPACE = "/support"
M = TypeVar("M", bound=Payload)
Ack = dict[str, Any]


class _In(Payload):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class StartIn(_In):
    text: str | None = Field(default=None, min_length=1, max_length=2000)


class SendIn(_In):
    conversation_id: UUID
    text: str = Field(min_length=1, max_length=2000)


class ConversationIn(_In):
    conversation_id: UUID


class QueueIn(_In):
    limit: int = Field(default=20, ge=1, le=100)


def _plain(value: Any) -> Any:
    """JSON-safe for socket.io's encoder: ids and times as strings."""
    return orjson.loads(orjson.dumps(value, default=str))


class SupportGateway:
    def __init__(self, server: SocketServer, core: Core, sessions: SessionWatch) -> None:
        self._server = server
        self._sessions = sessions
        self._core = core
        self._principals: dict[str, Principal] = {}
        handlers: dict[str, Callable[..., Awaitable[Any]]] = {
            "connect": self.connect,
            "disconnect": self.disconnect,
            "support:start": self._guarded(StartIn, self.start),
            "support:send": self._guarded(SendIn, self.send),
            "support:handover": self._guarded(ConversationIn, self.handover),
            "support:queue": self._guarded(QueueIn, self.queue),
            "support:take": self._guarded(ConversationIn, self.take),
        }
        for name, handler in handlers.items():
            server.on(name, handler, NAMESPACE)

    async def connect(self, sid: str, auth: Any) -> None:
        principal = await authenticate_handshake(
            self._core, auth, self._server.handshake_cookie(sid)
        )
        self._principals[sid] = principal
        self._sessions.track(sid, NAMESPACE, principal)
        if principal.is_customer_service or principal.is_admin:
            self._server.enter_room(sid, AGENTS_ROOM, NAMESPACE)
        CONNECTIONS.labels(NAMESPACE).inc()

    async def disconnect(self, sid: str, reason: Any = None) -> None:
        principal = self._principals.pop(sid, None)
        if principal is not None:
            self._sessions.untrack(sid, NAMESPACE, principal)
        CONNECTIONS.labels(NAMESPACE).dec()

    def _guarded(
        self, model: type[M], handler: Callable[[Principal, M], Awaitable[Ack]]
    ) -> Callable[[str, Any], Awaitable[Ack]]:
        async def handle(sid: str, data: Any = None) -> Ack:
            try:
                principal = self._principals.get(sid)
                if principal is None:
                    raise Unauthenticated("connect with a token first")
                await self._sessions.require_live(principal)
                body = parse_payload(model, data if data is not None else {})
                return await handler(principal, body)
            except LagoError as exc:
                count_refusal(exc.code)
                return {"ok": False, "error": exc.to_dict()}

        return handle

    async def start(self, principal: Principal, body: StartIn) -> Ack:
        conversation, message = await self._core.ai.support.start(principal, body.text)
        return {"ok": True, "conversation": _plain(conversation), "message": _plain(message)}

    async def send(self, principal: Principal, body: SendIn) -> Ack:
        message = await self._core.ai.support.post(principal, body.conversation_id, body.text)
        return {"ok": True, "message": _plain(message)}

    async def handover(self, principal: Principal, body: ConversationIn) -> Ack:
        row = await self._core.ai.support.request_human(principal, body.conversation_id)
        return {"ok": True, "conversation": _plain(row)}

    async def queue(self, principal: Principal, body: QueueIn) -> Ack:
        rows = await self._core.ai.support.queue(principal, body.limit)
        return {"ok": True, "items": _plain(rows)}

    async def take(self, principal: Principal, body: ConversationIn) -> Ack:
        row = await self._core.ai.support.take(principal, body.conversation_id)
        return {"ok": True, "conversation": _plain(row)}
