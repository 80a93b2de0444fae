"""Sockets end with their session, on every namespace of every node.

A socket is authenticated at its handshake. When its session ends (log-out, log-out everywhere,
a password reset, a reused refresh token) the identity service publishes a notice
(``lago_core/identity/ended.py``); this node disconnects its sockets of the sessions named, on
``/``, ``/merchant`` and ``/support`` (``/device`` sockets belong to lockers, not sessions), and
closes a connection left with no namespace.

Pub/sub may lose a notice (a Redis reconnect). So the node also looks its sessions up again: all
of them together in one query every ``SESSION_CHECK_S / 2``, and a command on a socket whose
session was last seen live longer ago than ``SESSION_CHECK_S`` waits for its own lookup first. A
command of an ended session is refused ``session_revoked`` and its sockets disconnected. The
hot path pays a dictionary lookup and a clock read per command.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any
from uuid import UUID

import redis.asyncio as aioredis

from lago_core.clock import Clock
from lago_core.errors import Unauthenticated
from lago_core.identity import IdentityService
from lago_core.identity.ended import SESSION_CHECK_S, SessionsEnded, sessions_ended_channel
from lago_core.logging import get_logger
from lago_core.redis import pubsub_client
from lago_core.security.roles import Principal
from lago_core.settings import Settings
from lago_rt.metrics import SESSION_CHECK_FAILURES, SESSION_DISCONNECTS
from lago_rt.transport import SocketServer

__all__ = ["SessionWatch", "session_ended"]

log = get_logger(__name__)

# Sessions looked up in one query of the periodic check.
CHECK_BATCH = 1_000


class _Session:
    """A session with sockets on this node: whose it is, its sockets (socket.io sid, namespace),
    when it was last known live (the clock's monotonic time), and whether it ended."""

    __slots__ = ("ended", "seen_live", "sockets", "user_id")

    def __init__(self, user_id: UUID, seen_live: float) -> None:
        self.user_id = user_id
        self.sockets: list[tuple[str, str]] = []
        self.seen_live = seen_live
        self.ended = False


def session_ended() -> Unauthenticated:
    return Unauthenticated("session ended: sign in again", code="session_revoked")


class SessionWatch:
    def __init__(
        self,
        server: SocketServer,
        identity: IdentityService,
        redis: aioredis.Redis,
        settings: Settings,
        clock: Clock,
    ) -> None:
        self._server = server
        self._identity = identity
        self._redis = redis
        self._settings = settings
        self._clock = clock
        # One record per session with sockets here (idle memory per connection matters: issue 8).
        self._sessions: dict[UUID, _Session] = {}
        self._pubsub: Any = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # --- sockets ------------------------------------------------------------------------------

    def track(self, sid: str, namespace: str, principal: Principal) -> None:
        """A socket authenticated just now as ``principal``."""
        now = self._clock.monotonic()
        session = self._sessions.get(principal.session_id)
        if session is None:
            session = self._sessions[principal.session_id] = _Session(principal.user_id, now)
        session.sockets.append((sid, namespace))
        session.seen_live = now

    def untrack(self, sid: str, namespace: str, principal: Principal) -> None:
        session = self._sessions.get(principal.session_id)
        if session is None:
            return
        with contextlib.suppress(ValueError):
            session.sockets.remove((sid, namespace))
        if not session.sockets:
            del self._sessions[principal.session_id]

    def verdict(self, principal: Principal) -> bool | None:
        """True: the session was live within ``SESSION_CHECK_S``; False: it ended; None: not
        known lately — ask :meth:`live`."""
        session = self._sessions.get(principal.session_id)
        if session is None:
            return None
        if session.ended:
            return False
        if self._clock.monotonic() - session.seen_live >= SESSION_CHECK_S:
            return None
        return True

    async def live(self, principal: Principal) -> bool:
        """Whether ``principal``'s session is live, looked up if need be; an ended one has its
        sockets disconnected."""
        verdict = self.verdict(principal)
        if verdict is not None:
            return verdict
        now = self._clock.monotonic()
        try:
            alive = principal.session_id in await self._identity.active_sessions(
                [principal.session_id]
            )
        except Exception:
            # PostgreSQL unreachable: serve the socket rather than stop chat, and ask again a
            # period later (not at every command of an outage). Logged and counted, so an
            # outage that hid a revocation is seen.
            SESSION_CHECK_FAILURES.inc()
            log.exception("sessions.check_failed", session_id=str(principal.session_id))
            alive = True
        if alive:
            self._seen(principal.session_id, now)
            return True
        self.end(SessionsEnded(principal.user_id, principal.session_id))
        return False

    def _seen(self, session_id: UUID, now: float) -> None:
        session = self._sessions.get(session_id)
        if session is not None and not session.ended:
            session.seen_live = now

    async def require_live(self, principal: Principal) -> None:
        """Refuse a command of an ended session (``session_revoked``)."""
        if not await self.live(principal):
            raise session_ended()

    # --- endings ------------------------------------------------------------------------------

    def end(self, notice: SessionsEnded) -> None:
        """Disconnect this node's sockets of the sessions ``notice`` names."""
        if notice.session_id is not None:
            found = self._sessions.get(notice.session_id)
            sessions = [found] if found is not None else []
        else:
            # Every session of the user: rare (log-out everywhere, a password reset), so a scan
            # rather than an index by user kept for every connection.
            sessions = [s for s in self._sessions.values() if s.user_id == notice.user_id]
        for session in sessions:
            session.ended = True
            for sid, namespace in list(session.sockets):
                self._spawn(self._disconnect(sid, namespace))

    async def _disconnect(self, sid: str, namespace: str) -> None:
        if not self._server.connected(sid, namespace):
            return
        SESSION_DISCONNECTS.inc()
        log.info("sessions.socket_disconnected", sid=sid, namespace=namespace)
        if namespace == "/":
            # The whole connection, for good, once the refusal of the command that found the
            # session ended is written (it is owed an acknowledgement too); the connection's
            # other namespaces end with it.
            self._server.close_after_acks(sid)
            return
        # A connection left with no namespace is closed too (SocketServer.disconnect).
        await self._server.disconnect(sid, namespace)

    # --- notices and checks -------------------------------------------------------------------

    async def start(self) -> None:
        self._pubsub = pubsub_client(self._redis).pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(sessions_ended_channel(self._settings))
        self._spawn(self._listen())
        self._spawn(self._check_periodically())

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            try:
                await task
            except asyncio.CancelledError:
                pass
            except Exception:
                log.exception("sessions.task_failed_at_stop")
        if self._pubsub is not None:
            try:
                await self._pubsub.aclose()
            except Exception:
                # Stopping anyway: the connection goes with the process.
                log.warning("sessions.pubsub_close_failed", exc_info=True)

    async def _listen(self) -> None:
        while True:
            try:
                async for message in self._pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    try:
                        notice = SessionsEnded.decode(message["data"])
                    except (ValueError, KeyError, TypeError):
                        log.warning("sessions.bad_notice")
                        continue
                    self.end(notice)
            except asyncio.CancelledError:
                raise
            except Exception:
                # Notices lost meanwhile are caught by the periodic check.
                SESSION_CHECK_FAILURES.inc()
                log.exception("sessions.listen_failed")
                await asyncio.sleep(1)

    async def _check_periodically(self) -> None:
        while True:
            await asyncio.sleep(SESSION_CHECK_S / 2)
            try:
                await self.check_all()
            except asyncio.CancelledError:
                raise
            except Exception:
                SESSION_CHECK_FAILURES.inc()
                log.exception("sessions.periodic_check_failed")

    async def check_all(self) -> None:
        """Look up every session with sockets here; disconnect those that ended."""
        sessions = list(self._sessions)
        for start in range(0, len(sessions), CHECK_BATCH):
            chunk = sessions[start : start + CHECK_BATCH]
            now = self._clock.monotonic()
            alive = await self._identity.active_sessions(chunk)
            for session_id in chunk:
                if session_id in alive:
                    self._seen(session_id, now)
                else:
                    session = self._sessions.get(session_id)
                    if session is not None:
                        self.end(SessionsEnded(session.user_id, session_id))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
