"""Checks and conversions the two WebRTC relays share: community live streams
(``lago_rt/gateway/live.py``) and live classes (``lago_rt/gateway/courses.py``).

Both move media through the same backend on the node holding the publisher's connection, so
they refuse a publisher on another node, a viewer before the publisher sends or on another node,
and a viewer over the node's limit in the same way (the same error codes, docs/protocol.md).
"""

from __future__ import annotations

from lago_core.errors import Unavailable
from lago_core.settings import Settings
from lago_rt.gateway.live_schemas import IceCandidateIn
from lago_rt.media import IceCandidate, MediaBackend

__all__ = ["ice_candidate", "require_publish_node", "require_viewer_room", "require_watchable"]


def require_publish_node(media_node: str, instance: str, what: str) -> None:
    """The publisher must offer on the node where the ``what`` (stream, class) was started."""
    if media_node != instance:
        raise Unavailable(
            f"publish on the node where the {what} was started",
            code="stream_elsewhere",
            details={"media_node": media_node},
        )


def require_watchable(
    media: MediaBackend,
    session_id: str,
    media_node: str,
    instance: str,
    *,
    sender: str,
    what: str,
) -> None:
    """The session's media must be relayed here and already flowing."""
    if media.has_session(session_id):
        return
    if media_node == instance:
        # Started here, but the publisher's offer has not arrived (or is being answered):
        # viewers who react to the start at once ask again in a moment.
        raise Unavailable(
            f"the {sender} has not started sending yet: try again in a moment",
            code="stream_not_ready",
        )
    raise Unavailable(
        f"this {what} is relayed by another node: connect there to watch",
        code="stream_elsewhere",
        details={"media_node": media_node},
    )


def require_viewer_room(media: MediaBackend, settings: Settings, already_watching: bool) -> None:
    """A new viewer fits under the per-node limit (one already watching may renegotiate)."""
    limit = settings.live_max_viewers_per_node
    if not already_watching and media.viewer_count() >= limit:
        raise Unavailable(
            f"this node already serves its limit of {limit} viewers",
            code="viewer_limit",
            details={"limit": limit},
        )


def ice_candidate(candidate: IceCandidateIn | None) -> IceCandidate | None:
    """The backend's candidate from the browser's (None: end of candidates)."""
    if candidate is None:
        return None
    return IceCandidate(candidate.candidate, candidate.sdpMid, candidate.sdpMLineIndex)
