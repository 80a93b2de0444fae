"""An event nobody serves is answered ``unknown_event``, on every namespace.

The transport answers so itself (``lago_rt/transport/server.py``); ``/`` registers a catch-all of
its own so that unknown events are rate-limited like its other events (``ChannelGateway``).
"""

from __future__ import annotations

from typing import Any

from lago_rt.transport.server import unknown_event_answer

__all__ = ["unknown_event"]


def unknown_event(event: str) -> dict[str, Any]:
    """The acknowledgement of an event this namespace does not serve."""
    return unknown_event_answer(event)
