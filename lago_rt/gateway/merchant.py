"""The ``/merchant`` namespace: a merchant's online owner and staff receive its order events.

On connect the caller joins ``merchant:<id>`` for every merchant they own or staff; other
processes push with :class:`lago_core.push.Pusher.to_merchant`. Events pushed here (by the commerce
issue): ``order:new``, ``order:paid``, ``order:cancelled``, ``order:refund_requested``,
``review:new`` — see docs/protocol.md.
"""

from __future__ import annotations

from typing import Any

from lago_core.container import Core
from lago_core.push import merchant_room
from lago_core.security.roles import Principal
from lago_rt.gateway.channels import authenticate_handshake
from lago_rt.gateway.sessions import SessionWatch, session_ended
from lago_rt.metrics import CONNECTIONS, count_refusal
from lago_rt.transport import ConnectionRefused, SocketServer

__all__ = ["MerchantGateway"]

NAMESPACE = "/merchant"


class MerchantGateway:
    def __init__(self, server: SocketServer, core: Core, sessions: SessionWatch) -> None:
        self._server = server
        self._core = core
        self._sessions = sessions
        self._merchants: dict[str, list[str]] = {}
        self._principals: dict[str, Principal] = {}
        server.on("connect", self.connect, NAMESPACE)
        server.on("disconnect", self.disconnect, NAMESPACE)
        server.on("merchant:rooms", self.rooms, NAMESPACE)

    async def connect(self, sid: str, auth: Any) -> None:
        principal = await authenticate_handshake(
            self._core, auth, self._server.handshake_cookie(sid)
        )
        merchants = [str(row["id"]) for row in await self._core.merchants.mine(principal)]
        if not merchants:
            count_refusal("not_merchant_staff")
            raise ConnectionRefused(
                "this account is not owner or staff of any merchant", {"code": "not_merchant_staff"}
            )
        for merchant_id in merchants:
            self._server.enter_room(sid, merchant_room(merchant_id), NAMESPACE)
        self._merchants[sid] = merchants
        self._principals[sid] = principal
        self._sessions.track(sid, NAMESPACE, principal)
        CONNECTIONS.labels(NAMESPACE).inc()

    async def disconnect(self, sid: str, reason: Any = None) -> None:
        self._merchants.pop(sid, None)
        principal = self._principals.pop(sid, None)
        if principal is not None:
            self._sessions.untrack(sid, NAMESPACE, principal)
        CONNECTIONS.labels(NAMESPACE).dec()

    async def rooms(self, sid: str, data: Any = None) -> dict[str, Any]:
        """Which merchants this connection receives events for."""
        principal = self._principals.get(sid)
        if principal is None or not await self._sessions.live(principal):
            exc = session_ended()
            count_refusal(exc.code)
            return {"ok": False, "error": exc.to_dict()}
        return {"ok": True, "merchant_ids": self._merchants.get(sid, [])}
