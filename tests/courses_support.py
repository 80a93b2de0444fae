"""A recorded live class without a live class: VP8 and Opus packets from PyAV's own encoders fed
to the node's :class:`~lago_rt.media.recording.Recorder`, as the relay would feed it."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av

from lago_rt.media.recording import Recorder, RecordingResult

FPS = 15


def write_recording(
    path: Path, seconds: int = 6, size: tuple[int, int] = (320, 240)
) -> RecordingResult:
    video = av.CodecContext.create("libvpx", "w")
    video.width, video.height = size
    video.pix_fmt = "yuv420p"
    video.time_base = Fraction(1, FPS)
    video.bit_rate = 200_000
    audio = av.CodecContext.create("libopus", "w")
    audio.sample_rate = 48_000
    audio.layout = "stereo"
    audio.format = "s16"
    audio.time_base = Fraction(1, 48_000)
    recorder = Recorder(path, now=lambda: 0.0)
    frames = seconds * FPS
    sent_audio = 0
    for i in range(frames + 1):
        frame: av.VideoFrame | None = None
        if i < frames:
            frame = av.VideoFrame(size[0], size[1], "yuv420p")
            # A picture that changes: the luma plane's brightness follows the frame number.
            frame.planes[0].update(bytes([(i * 5) % 220 + 16]) * frame.planes[0].buffer_size)
            for plane in frame.planes[1:]:
                plane.update(bytes([128]) * plane.buffer_size)
            frame.pts = i
        for packet in video.encode(frame):  # None at the end: what the encoder held back
            assert packet.pts is not None
            recorder.offer(
                "video", "video/VP8", 90_000, bytes(packet), packet.pts * (90_000 // FPS)
            )
        # The frame's 1 / FPS seconds of silence, in 20 ms Opus frames.
        while sent_audio < (i + 1) * 50 // FPS:
            sound = av.AudioFrame(format="s16", layout="stereo", samples=960)
            for plane in sound.planes:
                plane.update(bytes(plane.buffer_size))
            sound.sample_rate = 48_000
            sound.pts = sent_audio * 960
            sound.time_base = Fraction(1, 48_000)
            for packet in audio.encode(sound):
                recorder.offer("audio", "audio/opus", 48_000, bytes(packet), packet.pts or 0)
            sent_audio += 1
    return recorder.close()
