"""Sessions ended: the notice the identity service publishes and every real-time node reads.

A socket is authenticated once, at its handshake; ending the session in PostgreSQL does not reach
a socket opened before. So log-out, log-out everywhere, a password reset and a reused refresh
token publish this notice on a Redis pub/sub channel inside the deployment's prefix, and each
real-time node disconnects the sockets of the sessions named (``lago_rt/gateway/sessions.py``).
Pub/sub is at most once: a node that misses a notice still finds the session ended when it next
checks (every ``SESSION_CHECK_S``), so the notice is what makes it quick, not what makes it true.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import orjson
from prometheus_client import Counter

from lago_core.settings import Settings

__all__ = ["NOTICES_LOST", "SESSION_CHECK_S", "SessionsEnded", "sessions_ended_channel"]

# How old a node's knowledge that a session is live may be when a command of one of its sockets
# is served; older, the session is looked up again first.
SESSION_CHECK_S = 30.0

NOTICES_LOST = Counter(
    "lago_session_notices_failed_total",
    "session-ended notices that could not be published (sockets then end at the next check)",
)


def sessions_ended_channel(settings: Settings) -> str:
    return settings.key("sessions-ended")


@dataclass(frozen=True, slots=True)
class SessionsEnded:
    """One session of ``user_id`` ended, or (``session_id`` None) every session of the user."""

    user_id: UUID
    session_id: UUID | None = None

    def encode(self) -> bytes:
        return orjson.dumps(
            {"user_id": str(self.user_id), "session_id": _str_or_none(self.session_id)}
        )

    @classmethod
    def decode(cls, raw: bytes | str) -> SessionsEnded:
        obj = orjson.loads(raw)
        session = obj.get("session_id")
        return cls(UUID(obj["user_id"]), UUID(session) if session else None)


def _str_or_none(value: UUID | None) -> str | None:
    return str(value) if value is not None else None
