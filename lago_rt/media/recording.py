"""Recording a live session to a WebM file, from the encoded frames the relay already has.

aiortc's ``MediaRecorder`` records *decoded* frames and encodes them again (VP8 or H.264 per
recording): a second encoder per live class. The relay (``aiortc_backend``) never decodes, so the
recorder takes the same encoded frames the viewers get and only *muxes* them with PyAV: VP8 video
and Opus audio go into WebM unchanged. FFmpeg's Matroska muxer writes the cues (the seek index)
when it closes a seekable file, so a browser's ``<video>`` can seek in the result over HTTP Range
requests.

Timing: each kind's RTP timestamps start at a random value, so each track is placed on the
recording's time line by the arrival of its first frame (relative to the first video keyframe,
where the recording starts), then advances by its own timestamps. Anything before the first
keyframe is dropped: the file must start with a picture a decoder can show.

Only VP8 video (what browsers and aiortc negotiate first) is recorded; a session whose video is
another codec records nothing and says so (``RecordingResult.skipped``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from lago_core.logging import get_logger
from lago_rt.metrics import RECORDING_ERRORS

__all__ = ["Recorder", "RecordingResult", "vp8_size"]

log = get_logger(__name__)

_MS = Fraction(1, 1000)


def vp8_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a VP8 key frame's header (RFC 6386 §9.1), or None."""
    if len(data) < 10 or data[0] & 0x01 or data[3:6] != b"\x9d\x01\x2a":
        return None
    width = int.from_bytes(data[6:8], "little") & 0x3FFF
    height = int.from_bytes(data[8:10], "little") & 0x3FFF
    return (width, height) if width and height else None


@dataclass(frozen=True, slots=True)
class RecordingResult:
    path: Path
    video_frames: int
    audio_frames: int
    duration_ms: int
    skipped: str | None = None  # why nothing was recorded (no keyframe, an unsupported codec)


class _Track:
    def __init__(self, stream: Any, clock_rate: int, offset: int) -> None:
        self.stream = stream
        self.time_base = Fraction(1, clock_rate)
        self.first_pts: int | None = None
        self.offset = offset  # where the first frame lands, in the track's clock
        self.last = -1
        self.frames = 0


class Recorder:
    """Muxes one session's encoded frames into ``path`` until :meth:`close`."""

    def __init__(
        self, path: Path, *, audio: bool = True, now: Callable[[], float] = time.monotonic
    ) -> None:
        self.path = path
        # Declared up front (Matroska writes its track list with the first packet); a track that
        # never gets a frame would make players wait for it, so only when the session has audio.
        self._with_audio = audio
        self._now = now
        self._container: Any = None
        self._started_at: float | None = None
        self._tracks: dict[str, _Track] = {}
        self._skipped: str | None = None
        self._audio_stream: Any = None
        self._end_ms = 0
        self.closed = False

    def offer(self, kind: str, mime_type: str, clock_rate: int, data: bytes, pts: int) -> None:
        """An encoded frame of ``kind`` (called on the event loop by the relay)."""
        if self.closed or self._skipped is not None:
            return
        try:
            self._offer(kind, mime_type.lower(), clock_rate, data, pts)
        except Exception:
            # A recording that breaks must not take the live class down with it.
            RECORDING_ERRORS.inc()
            log.exception("live.recording_frame_failed", path=str(self.path), kind=kind)
            self._skipped = "write_failed"

    def _offer(self, kind: str, mime: str, clock_rate: int, data: bytes, pts: int) -> None:
        if self._container is None:
            if kind != "video":
                return
            if mime != "video/vp8":
                self._skipped = f"unsupported_codec:{mime}"
                log.warning("live.recording_skipped", path=str(self.path), codec=mime)
                return
            size = vp8_size(data)
            if size is None:
                return  # wait for a key frame
            self._open(size)
        track = self._tracks.get(kind)
        if track is None:
            if kind != "audio" or mime != "audio/opus" or self._audio_stream is None:
                return
            track = self._add_audio()
        if track.first_pts is None:
            assert self._started_at is not None
            track.first_pts = pts
            track.offset = round((self._now() - self._started_at) * clock_rate)
            track.time_base = Fraction(1, clock_rate)
        at = pts - track.first_pts + track.offset
        if at <= track.last:
            at = track.last + 1  # Matroska wants each track's timestamps to rise
        track.last = at
        packet = av.Packet(data)
        packet.stream = track.stream
        packet.time_base = track.time_base
        packet.pts = packet.dts = at
        packet.is_keyframe = kind == "audio" or not data[0] & 0x01
        self._container.mux(packet)
        track.frames += 1
        self._end_ms = max(self._end_ms, int(at * track.time_base / _MS))

    def _open(self, size: tuple[int, int]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        container = av.open(str(self.path), "w", format="webm")
        # The stream's codec context only describes the packets (nothing is encoded).
        video = container.add_stream("libvpx", rate=30)
        video.width, video.height = size
        video.pix_fmt = "yuv420p"
        if self._with_audio:
            audio = container.add_stream("libopus", rate=48000)
            audio.layout = "stereo"
            self._audio_stream = audio
        self._container = container
        self._started_at = self._now()
        self._tracks["video"] = _Track(video, 90000, 0)

    def _add_audio(self) -> _Track:
        track = _Track(self._audio_stream, 48000, 0)
        self._tracks["audio"] = track
        return track

    def close(self) -> RecordingResult:
        """Finish the file (writes the seek index); idempotent."""
        if not self.closed:
            self.closed = True
            if self._container is not None:
                try:
                    self._container.close()
                except Exception:
                    RECORDING_ERRORS.inc()
                    log.exception("live.recording_close_failed", path=str(self.path))
                    self._skipped = self._skipped or "write_failed"
        video = self._tracks.get("video")
        audio = self._tracks.get("audio")
        skipped = self._skipped
        if skipped is None and (video is None or video.frames == 0):
            skipped = "no_keyframe"
        return RecordingResult(
            self.path,
            video.frames if video else 0,
            audio.frames if audio else 0,
            self._end_ms,
            skipped,
        )
