"""The ``/support`` namespace: customer-service accounts receive the support queue in real time.

On connect a customer-service account or an admin joins ``support:agents``; other processes push
there with :meth:`lago_core.push.Pusher.to_room`. Events: ``support:queued`` (a conversation waits
for a human), ``support:taken``, ``support:message`` (the resident wrote in a conversation a human
holds or awaits), ``support:closed`` — see docs/protocol.md. Agents act over REST (take over,
answer); residents receive replies as ``support:message`` in their ``user:<id>`` room on ``/``.
"""

from __future__ import annotations

from typing import Any

import socketio

from lago_core.ai.support import AGENTS_ROOM
from lago_core.container import Core
from lago_rt.gateway.channels import authenticate_handshake
from lago_rt.metrics import CONNECTIONS, REFUSED

__all__ = ["NAMESPACE", "SupportGateway"]

NAMESPACE = "/support"


class SupportGateway:
    def __init__(self, sio: socketio.AsyncServer, core: Core) -> None:
        self._sio = sio
        self._core = core
        sio.on("connect", handler=self.connect, namespace=NAMESPACE)
        sio.on("disconnect", handler=self.disconnect, namespace=NAMESPACE)

    async def connect(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
        principal = await authenticate_handshake(self._core, auth)
        if not (principal.is_customer_service or principal.is_admin):
            REFUSED.labels("not_support").inc()
            raise socketio.exceptions.ConnectionRefusedError(
                "only customer-service accounts receive the support queue", {"code": "not_support"}
            )
        await self._sio.enter_room(sid, AGENTS_ROOM, namespace=NAMESPACE)
        CONNECTIONS.labels(NAMESPACE).inc()

    async def disconnect(self, sid: str, reason: Any = None) -> None:
        CONNECTIONS.labels(NAMESPACE).dec()
