"""The default media backend: WebRTC terminated in this process with aiortc, encoded frames relayed.

aiortc's usual relay (``MediaRelay`` feeding an ``RTCRtpSender`` per viewer) decodes the
publisher's video once and then *encodes it again for every viewer*: each viewer costs a VP8
encoder, and a process tops out at about nine viewers. Nothing here decodes or encodes:

- **Tap.** The publisher's ``RTCRtpReceiver`` reassembles RTP packets into encoded frames and puts
  them on a ``queue.Queue`` read by its decoder thread. Before the receiver starts, we put an
  :class:`EncodedTap` in that queue's place: frames go straight to the session's
  :class:`RelaySource`, and the decoder thread sleeps until the receiver stops.
- **Forward.** Each viewer's track (:class:`ForwardedTrack`) hands the sender an ``av.Packet``
  rather than a frame; ``RTCRtpSender`` then only *packetises* it (``Encoder.pack``): no codec
  work per viewer, only RTP framing, SRTP and the socket write.
- **Keyframes.** A viewer's track starts at the next keyframe; a new viewer, a viewer's picture
  loss indication (PLI) and a viewer that fell behind ask the publisher for one (throttled).
- **Codecs.** Viewers are offered exactly the codec the publisher negotiated, so the packets fit.

This leans on aiortc internals (the receiver's private decoder queue and picture loss request,
the sender's keyframe request, the transceiver's negotiated codecs), all reached through
:mod:`lago_core.adapters.aiortc`, which says why each is needed; the relay is exercised by
``tests/test_live.py`` on every run.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

import av
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError
from aiortc.sdp import candidate_from_sdp

from lago_core.adapters.aioice import limit_host_addresses
from lago_core.adapters.aiortc import (
    negotiated_codecs,
    on_keyframe_request,
    replace_decoder_queue,
    send_picture_loss_indication,
)
from lago_core.logging import get_logger
from lago_core.settings import Settings
from lago_rt.media.base import IceCandidate, MediaError, Sdp
from lago_rt.media.recording import Recorder, RecordingResult
from lago_rt.metrics import CHANNEL_FAILURES

__all__ = [
    "AiortcBackend",
    "EncodedTap",
    "ForwardedTrack",
    "FrameSink",
    "RelaySource",
    "ice_configuration",
    "is_keyframe",
]

log = get_logger(__name__)

# Encoded frames queued per viewer; a viewer further behind restarts at the next keyframe.
VIEWER_QUEUE = 60
KEYFRAME_REQUEST_INTERVAL_S = 0.5


def ice_configuration(settings: Settings) -> RTCConfiguration:
    """STUN/TURN from settings; none at all means host candidates only (aiortc would otherwise
    add a public STUN server of its own)."""
    servers = []
    if settings.live_stun_urls:
        servers.append(RTCIceServer(urls=list(settings.live_stun_urls)))
    if settings.live_turn_urls:
        servers.append(
            RTCIceServer(
                urls=list(settings.live_turn_urls),
                username=settings.live_turn_username or None,
                credential=settings.live_turn_credential or None,
            )
        )
    return RTCConfiguration(iceServers=servers)


def is_keyframe(mime_type: str, data: bytes) -> bool:
    """Whether an encoded video frame can start a decode (unknown codecs: assume it can)."""
    mime = mime_type.lower()
    if mime == "video/vp8":
        # RFC 6386 §9.1: bit 0 of the frame tag is 0 for a key frame.
        return bool(data) and not data[0] & 0x01
    if mime == "video/h264":
        # Annex B as aiortc depayloads it: an IDR slice (5) or a sequence parameter set (7).
        at = data.find(b"\x00\x00\x01")
        while at != -1 and at + 3 < len(data):
            if data[at + 3] & 0x1F in (5, 7):
                return True
            at = data.find(b"\x00\x00\x01", at + 3)
        return False
    return True


class ForwardedTrack(MediaStreamTrack):
    """What one viewer's sender reads: the publisher's encoded frames, as ``av.Packet``."""

    def __init__(self, source: RelaySource) -> None:
        super().__init__()
        self.kind = source.kind
        self._source = source
        self._queue: asyncio.Queue[av.Packet[Any] | None] = asyncio.Queue(maxsize=VIEWER_QUEUE)
        self._waiting_for_key = source.kind == "video"
        self.forwarded = 0
        self.sent = 0

    def offer(self, packet: av.Packet[Any], key: bool) -> None:
        if self._waiting_for_key:
            if not key:
                return
            self._waiting_for_key = False
        if self._queue.full():
            # Behind by a whole queue: dropping frames mid-stream breaks the picture until the
            # next keyframe, so start over from one.
            while not self._queue.empty():
                self._queue.get_nowait()
            if self.kind == "video":
                self._waiting_for_key = True
                self._source.request_keyframe()
                return
        self._queue.put_nowait(packet)
        self.forwarded += 1

    async def recv(self) -> av.Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        packet = await self._queue.get()
        if packet is None:
            raise MediaStreamError
        self.sent += 1
        return packet

    def stop(self) -> None:
        self._source.sinks.discard(self)
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(None)
        super().stop()


class RelaySource:
    """One kind (audio or video) of one session's stream, fanned out to the viewers' tracks.

    It outlives a publisher's connection: after an ICE restart the new connection's receiver feeds
    the same viewers.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.mime_type: str | None = None
        self.sinks: set[ForwardedTrack] = set()
        # Writes the session's frames to a file as they come (live classes, docs/courses.md).
        self.recorder: Recorder | None = None
        self.frames = 0
        self._receiver: Any = None
        # Timestamps continue across a publisher's new connection (an ICE restart): its frames
        # start again near zero, and a viewer's jitter buffer would take them for old ones.
        self._offset = 0
        self._last_pts: int | None = None
        self._rebase = False
        self._last_request = 0.0
        self._loop = asyncio.get_running_loop()
        self._requests: set[asyncio.Task[Any]] = set()

    def attach(self, receiver: Any, mime_type: str) -> None:
        self._receiver = receiver
        self.mime_type = mime_type
        self._rebase = self._last_pts is not None

    def push(self, codec: Any, frame: Any) -> None:
        """An encoded frame from the publisher (called on the event loop by the receiver)."""
        if self._rebase and self._last_pts is not None:
            # One frame interval (at 30 fps) after the previous connection's last frame.
            self._offset = self._last_pts + codec.clockRate // 30 - frame.timestamp
            self._rebase = False
        pts = frame.timestamp + self._offset
        self._last_pts = pts
        packet = av.Packet(frame.data)
        packet.pts = pts
        packet.time_base = Fraction(1, codec.clockRate)
        key = self.kind == "audio" or is_keyframe(codec.mimeType, frame.data)
        self.frames += 1
        for sink in list(self.sinks):
            sink.offer(packet, key)
        if self.recorder is not None:
            self.recorder.offer(self.kind, codec.mimeType, codec.clockRate, frame.data, pts)

    def request_keyframe(self) -> None:
        """Ask the publisher for a keyframe (RTCP PLI), at most twice a second."""
        if self.kind != "video" or self._receiver is None:
            return
        now = time.monotonic()
        if now - self._last_request < KEYFRAME_REQUEST_INTERVAL_S:
            return
        self._last_request = now
        receiver = self._receiver
        for source in receiver.getSynchronizationSources():
            task = self._loop.create_task(send_picture_loss_indication(receiver, source.source))
            self._requests.add(task)
            task.add_done_callback(self._requests.discard)


class FrameSink(Protocol):
    def push(self, codec: Any, frame: Any) -> None: ...


class EncodedTap:
    """Takes the place of an ``RTCRtpReceiver``'s decoder queue (see the module docstring).

    ``put`` is called by the receiver on the event loop; ``get`` by its decoder thread, which
    we keep asleep until the receiver stops (``put(None)``).
    """

    def __init__(self, source: FrameSink) -> None:
        self._source = source
        self._stopped = threading.Event()

    def put(self, item: tuple[Any, Any] | None) -> None:
        if item is None:
            self._stopped.set()
            return
        codec, frame = item
        self._source.push(codec, frame)

    def get(self, block: bool = True, timeout: float | None = None) -> None:
        self._stopped.wait()

    @classmethod
    def install(cls, receiver: Any, source: FrameSink) -> None:
        replace_decoder_queue(receiver, cls(source))


@dataclass
class _Session:
    id: str
    publisher: str | None = None
    sources: dict[str, RelaySource] = field(default_factory=dict)
    viewers: set[str] = field(default_factory=set)
    recorder: Recorder | None = None


@dataclass
class _Peer:
    pc: RTCPeerConnection
    session_id: str
    role: str  # "publisher" | "viewer"
    tracks: list[ForwardedTrack] = field(default_factory=list)
    tapped: set[int] = field(default_factory=set)


def _negotiated_codec(transceiver: Any) -> str | None:
    for codec in negotiated_codecs(transceiver):
        if not codec.mimeType.lower().endswith("/rtx"):
            return str(codec.mimeType)
    return None


class AiortcBackend:
    name = "aiortc"

    def __init__(self, configuration: RTCConfiguration) -> None:
        self._configuration = configuration
        self._sessions: dict[str, _Session] = {}
        self._peers: dict[str, _Peer] = {}
        self.on_peer_gone: Callable[[str], Awaitable[None]] | None = None

    def _new_peer(self, peer_id: str, session_id: str, role: str) -> _Peer:
        peer = _Peer(RTCPeerConnection(self._configuration), session_id, role)
        self._peers[peer_id] = peer
        pc = peer.pc

        @pc.on("connectionstatechange")
        async def changed() -> None:
            # Our own leave() removes the peer first; anything else is the peer going away.
            if (
                pc.connectionState not in ("failed", "closed")
                or self._peers.get(peer_id) is not peer
            ):
                return
            try:
                await self.leave(peer_id)
                if self.on_peer_gone is not None:
                    await self.on_peer_gone(peer_id)
            except Exception:
                CHANNEL_FAILURES.labels("live", "peer_gone").inc()
                log.exception("live.peer_gone_failed", peer_id=peer_id)

        return peer

    @classmethod
    def from_settings(cls, settings: Settings) -> AiortcBackend:
        limit_host_addresses(settings.live_ice_addresses)
        return cls(ice_configuration(settings))

    # --- publishing ------------------------------------------------------------------------------

    async def publish(self, session_id: str, peer_id: str, offer: Sdp, *, restart: bool) -> Sdp:
        if offer.type != "offer":
            raise MediaError("a publisher sends an offer", code="invalid_sdp")
        session = self._sessions.setdefault(session_id, _Session(session_id))
        if session.publisher not in (None, peer_id):
            raise MediaError("someone else publishes this stream", code="already_publishing")
        peer = self._peers.get(peer_id)
        if peer is not None and (restart or peer.session_id != session_id):
            await self.leave(peer_id)
            session = self._sessions.setdefault(session_id, _Session(session_id))
            peer = None
        if peer is None:
            peer = self._new_peer(peer_id, session_id, "publisher")
            session.publisher = peer_id
        pc = peer.pc
        try:
            await pc.setRemoteDescription(RTCSessionDescription(offer.sdp, "offer"))
        except (ValueError, AssertionError) as exc:
            raise MediaError(f"the offer was refused: {exc}", code="invalid_sdp") from None
        # Tap each new receiver now: its decoder thread starts once the connection is up, which
        # setLocalDescription below begins.
        for transceiver in pc.getTransceivers():
            receiver = transceiver.receiver
            if transceiver.kind not in ("audio", "video") or id(receiver) in peer.tapped:
                continue
            mime = _negotiated_codec(transceiver)
            if mime is None:
                continue
            source = session.sources.get(transceiver.kind)
            if source is None:
                source = session.sources[transceiver.kind] = RelaySource(transceiver.kind)
                source.recorder = session.recorder
            EncodedTap.install(receiver, source)
            source.attach(receiver, mime)
            peer.tapped.add(id(receiver))
        answer = await pc.createAnswer()
        await pc.setLocalDescription(answer)
        # Viewers already waiting (a restart) need a keyframe from the new connection.
        for source in session.sources.values():
            source.request_keyframe()
        return Sdp(pc.localDescription.sdp, "answer")

    # --- watching --------------------------------------------------------------------------------

    async def watch(self, session_id: str, peer_id: str, *, restart: bool) -> Sdp:
        session = self._sessions.get(session_id)
        if session is None or session.publisher is None or not session.sources:
            # The publisher's offer is still being answered (its tracks are not known yet).
            raise MediaError("the host has not started sending yet", code="stream_not_ready")
        if peer_id in self._peers:
            await self.leave(peer_id)
        peer = self._new_peer(peer_id, session_id, "viewer")
        pc = peer.pc
        session.viewers.add(peer_id)
        for kind in ("audio", "video"):
            source = session.sources.get(kind)
            if source is None or source.mime_type is None:
                continue
            track = ForwardedTrack(source)
            source.sinks.add(track)
            peer.tracks.append(track)
            transceiver = pc.addTransceiver(track, direction="sendonly")
            wanted = source.mime_type.lower()
            transceiver.setCodecPreferences(
                [
                    c
                    for c in RTCRtpSender.getCapabilities(kind).codecs
                    if c.mimeType.lower() in (wanted, f"{kind}/rtx")
                ]
            )
            # A viewer's picture loss indication becomes a keyframe request to the publisher:
            # the sender has no encoder of its own to force one from.
            on_keyframe_request(transceiver.sender, source.request_keyframe)
        offer = await pc.createOffer()
        await pc.setLocalDescription(offer)
        for source in session.sources.values():
            source.request_keyframe()
        return Sdp(pc.localDescription.sdp, "offer")

    async def accept(self, peer_id: str, answer: Sdp) -> None:
        peer = self._peers.get(peer_id)
        if peer is None or peer.role != "viewer":
            raise MediaError("watch first, then answer", code="not_watching")
        if answer.type != "answer":
            raise MediaError("a viewer sends an answer", code="invalid_sdp")
        try:
            await peer.pc.setRemoteDescription(RTCSessionDescription(answer.sdp, "answer"))
        except (ValueError, AssertionError) as exc:
            raise MediaError(f"the answer was refused: {exc}", code="invalid_sdp") from None

    async def add_candidate(self, peer_id: str, candidate: IceCandidate | None) -> None:
        peer = self._peers.get(peer_id)
        if peer is None:
            raise MediaError("no connection to add a candidate to", code="no_connection")
        if candidate is None:
            await peer.pc.addIceCandidate(None)
            return
        text = candidate.candidate.removeprefix("a=").removeprefix("candidate:")
        if not text:
            return  # an empty candidate is how browsers say "end of candidates" too
        # aiortc's parser asserts rather than raising on a short line (and asserts can be off).
        if len(text.split()) < 8:
            raise MediaError("unreadable ICE candidate", code="invalid_candidate")
        try:
            parsed = candidate_from_sdp(text)
        except (ValueError, IndexError, AssertionError):
            raise MediaError("unreadable ICE candidate", code="invalid_candidate") from None
        parsed.sdpMid = candidate.sdp_mid
        parsed.sdpMLineIndex = candidate.sdp_mline_index
        try:
            await peer.pc.addIceCandidate(parsed)
        except ValueError as exc:
            raise MediaError(str(exc), code="invalid_candidate") from None

    # --- leaving ---------------------------------------------------------------------------------

    async def leave(self, peer_id: str) -> None:
        peer = self._peers.pop(peer_id, None)
        if peer is None:
            return
        session = self._sessions.get(peer.session_id)
        if session is not None:
            if session.publisher == peer_id:
                session.publisher = None
            session.viewers.discard(peer_id)
        for track in peer.tracks:
            track.stop()
        await peer.pc.close()

    # --- recording -------------------------------------------------------------------------------

    def start_recording(self, session_id: str, path: Path) -> None:
        """Write the session's encoded frames to ``path`` (WebM) until :meth:`stop_recording`."""
        session = self._sessions.get(session_id)
        if session is None:
            raise MediaError("no such session to record", code="stream_not_ready")
        if session.recorder is not None:
            return
        session.recorder = Recorder(path, audio="audio" in session.sources)
        for source in session.sources.values():
            source.recorder = session.recorder
        # The file starts at a key frame: ask for one now rather than wait for the next.
        for source in session.sources.values():
            source.request_keyframe()

    def stop_recording(self, session_id: str) -> RecordingResult | None:
        """Finish the session's recording (None when it was not recording)."""
        session = self._sessions.get(session_id)
        if session is None or session.recorder is None:
            return None
        recorder, session.recorder = session.recorder, None
        for source in session.sources.values():
            source.recorder = None
        return recorder.close()

    async def end(self, session_id: str) -> None:
        session = self._sessions.pop(session_id, None)
        if session is None:
            return
        if session.recorder is not None:
            # Ended without stop_recording (the node closing): still a valid file.
            session.recorder.close()
        peers = [p for p in (session.publisher, *session.viewers) if p is not None]
        for peer_id in peers:
            await self.leave(peer_id)

    def has_session(self, session_id: str) -> bool:
        session = self._sessions.get(session_id)
        return session is not None and session.publisher is not None

    def session_of(self, peer_id: str) -> str | None:
        peer = self._peers.get(peer_id)
        return peer.session_id if peer else None

    def viewer_count(self) -> int:
        return sum(1 for p in self._peers.values() if p.role == "viewer")

    def frames_relayed(self, session_id: str) -> dict[str, int]:
        """Encoded frames received from the publisher per kind (benchmarks and diagnostics)."""
        session = self._sessions.get(session_id)
        return {k: s.frames for k, s in session.sources.items()} if session else {}

    def frames_sent(self, session_id: str, kind: str = "video") -> dict[str, int]:
        """Frames of ``kind`` each viewer's sender has taken so far, by peer id (benchmarks)."""
        session = self._sessions.get(session_id)
        if session is None:
            return {}
        out: dict[str, int] = {}
        for peer_id in session.viewers:
            peer = self._peers.get(peer_id)
            if peer is not None:
                out[peer_id] = sum(t.sent for t in peer.tracks if t.kind == kind)
        return out

    async def close(self) -> None:
        for session_id in list(self._sessions):
            await self.end(session_id)
        for peer_id in list(self._peers):
            await self.leave(peer_id)
