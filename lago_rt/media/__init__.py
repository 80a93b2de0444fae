"""Media backends for live streams: Lago does signalling, permissions and viewer counts; a backend
moves the audio and video. ``aiortc`` (in this process) is the default; an external SFU fits the
same interface (see docs/live.md)."""

from lago_rt.media.base import IceCandidate, MediaBackend, MediaError, Sdp

__all__ = ["IceCandidate", "MediaBackend", "MediaError", "Sdp", "create_media_backend"]


def create_media_backend(settings: object) -> MediaBackend:
    """The backend named by ``LAGO_LIVE_MEDIA_BACKEND``."""
    from lago_core.settings import Settings
    from lago_rt.media.aiortc_backend import AiortcBackend

    assert isinstance(settings, Settings)
    if settings.live_media_backend == "aiortc":
        return AiortcBackend.from_settings(settings)
    raise ValueError(f"unknown media backend {settings.live_media_backend!r}")
