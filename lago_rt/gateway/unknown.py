"""An event nobody serves is answered ``unknown_event``, on every namespace.

python-socketio drops an event without a handler silently: a client that asked for an
acknowledgement waits for it forever. A catch-all handler per namespace answers instead. ``/``
registers its own (rate-limited like its other events, ``ChannelGateway``); the other namespaces
get this one, wired once the gateways are built (``lago_rt/app.py``).
"""

from __future__ import annotations

from typing import Any

import socketio

from lago_core.errors import InvalidInput
from lago_rt.metrics import count_refusal

__all__ = ["answer_unknown_events", "unknown_event"]


def unknown_event(event: str) -> dict[str, Any]:
    """The acknowledgement of an event this namespace does not serve."""
    exc = InvalidInput(
        "no such event on this namespace", code="unknown_event", details={"event": event[:100]}
    )
    count_refusal(exc.code)
    return {"ok": False, "error": exc.to_dict()}


def answer_unknown_events(sio: socketio.AsyncServer) -> None:
    """Give every namespace with handlers and no catch-all of its own the ``unknown_event``
    answer."""
    for namespace, handlers in list(sio.handlers.items()):
        if namespace != "*" and "*" not in handlers:

            async def answer(event: str, sid: str, *args: Any) -> dict[str, Any]:
                return unknown_event(event)

            sio.on("*", handler=answer, namespace=namespace)
