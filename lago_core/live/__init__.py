"""Live streams in community channels: who may go live, grants and scheduled announcements (活动预告).

The stream itself (start, stop, viewers, pins, media) lives in the real-time node
(``lago_rt/channel/live.py``, ``lago_rt/media/``); this package holds what is stored in PostgreSQL
and the permission rules both the REST API and the real-time gateway ask.
"""

from lago_core.live.service import HostRole, LiveService, PinnedItem
from lago_core.live.store import LiveStore

__all__ = ["HostRole", "LiveService", "LiveStore", "PinnedItem"]
