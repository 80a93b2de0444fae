"""The interface between Lago's live-stream signalling and whatever moves the media.

The gateway (``lago_rt/gateway/live.py``) authenticates, checks who may publish or watch, counts
viewers in the channel actor and enforces the per-node viewer limit; only then does it ask the
backend. A backend therefore needs no idea of users or communities: it knows sessions (one
publisher each), peers (a socket's peer connection, by an opaque id) and SDP. The default,
``AiortcBackend``, terminates WebRTC in this process; a deployment that outgrows one node can
implement the same methods by calling an external SFU's API (create a room per session, a
producer per publisher, a consumer per viewer) and return the SFU's SDP, keeping everything else.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from lago_core.errors import LagoError

if TYPE_CHECKING:
    from lago_rt.media.recording import RecordingResult

__all__ = ["IceCandidate", "MediaBackend", "MediaError", "Sdp"]


class MediaError(LagoError):
    """The media backend could not do what signalling asked (bad SDP, unknown peer, ...)."""

    status = 422
    default_code = "media_error"


@dataclass(frozen=True, slots=True)
class Sdp:
    sdp: str
    type: Literal["offer", "answer"]


@dataclass(frozen=True, slots=True)
class IceCandidate:
    """A trickled remote candidate, as a browser's ``RTCIceCandidate.toJSON()`` gives it."""

    candidate: str
    sdp_mid: str | None
    sdp_mline_index: int | None


class MediaBackend(Protocol):
    name: str
    # Called with a peer id when the backend dropped that peer by itself (its connection failed
    # or the other side closed it), so signalling can forget it and fix the viewer count.
    on_peer_gone: Callable[[str], Awaitable[None]] | None

    async def publish(self, session_id: str, peer_id: str, offer: Sdp, *, restart: bool) -> Sdp:
        """Accept a publisher's offer (first, renegotiated, or an ICE restart) and answer it.

        ``restart`` replaces the publisher's connection; viewers keep their tracks, which resume
        with the new connection's media.
        """

    async def watch(self, session_id: str, peer_id: str, *, restart: bool) -> Sdp:
        """Offer a viewer the session's relayed tracks; the answer comes to :meth:`accept`."""

    async def accept(self, peer_id: str, answer: Sdp) -> None:
        """Apply a viewer's answer to the offer :meth:`watch` made."""

    async def add_candidate(self, peer_id: str, candidate: IceCandidate | None) -> None:
        """A trickled remote ICE candidate; None marks the end of the peer's candidates."""

    async def leave(self, peer_id: str) -> None:
        """Close one peer's connection (publisher or viewer); unknown peers are ignored."""

    async def end(self, session_id: str) -> None:
        """Close the session's publisher and every viewer."""

    def has_session(self, session_id: str) -> bool:
        """True when this backend (on this node) has the session's publisher."""

    def session_of(self, peer_id: str) -> str | None:
        """The session a peer publishes or watches, if any."""

    def start_recording(self, session_id: str, path: Path) -> None:
        """Write the session's media to ``path`` (WebM) until :meth:`stop_recording` (live classes,
        docs/courses.md); an SFU backend would start its own recording here."""

    def stop_recording(self, session_id: str) -> RecordingResult | None:
        """Finish the session's recording and say what it holds; None when none was running."""

    def viewer_count(self) -> int:
        """Viewers this node serves now, over every session (the per-node limit counts these)."""

    async def close(self) -> None:
        """Close every connection (node shutdown)."""
