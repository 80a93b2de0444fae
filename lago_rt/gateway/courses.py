"""Live classes of courses: signalling on the ``/`` namespace, viewers restricted to enrolments, and
the recording the node makes of every class (docs/courses.md).

A live class is not a community channel's stream: it belongs to a lesson, and the lesson's row
holds its state (``live_status``, ``live_session_id``, ``live_node``). The decisions are the
course service's: who may teach (``require_host``) and who may watch (``require_viewer``: an
active enrolment or a host), asked *before* an offer is parsed or a viewer's connection is built,
so a socket that is not enrolled gets ``not_enrolled`` and never a byte of media. The media moves
through the same backend as community streams (the same relay, the same per-node viewer limit).

Recording starts with the publisher's first offer: the backend muxes the encoded frames it
relays into a WebM file (``lago_rt/media/recording.py``). When the class ends (``class:stop``, or
the teacher's socket going away) the file goes into storage under a key only the replay endpoint
serves, and the lesson points at it.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import tempfile
import uuid
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from lago_core.container import Core
from lago_core.errors import NotFound
from lago_core.logging import get_logger
from lago_core.security.roles import Principal
from lago_core.settings import Settings
from lago_rt.gateway.channels import Ack, ChannelGateway
from lago_rt.gateway.live_schemas import MAX_SDP, IceCandidateIn
from lago_rt.gateway.relay import (
    ice_candidate,
    require_publish_node,
    require_viewer_room,
    require_watchable,
)
from lago_rt.gateway.schemas import Payload
from lago_rt.media import MediaBackend, Sdp
from lago_rt.metrics import RECORDING_ERRORS

__all__ = ["RECORDING_TYPE", "CourseClassGateway", "recording_key"]

log = get_logger(__name__)

RECORDING_TYPE = "video/webm"


def recording_key(lesson_id: uuid.UUID) -> str:
    """A fresh storage key for a lesson's recording (random: keys are never guessable)."""
    return f"recordings/{lesson_id}/{secrets.token_hex(12)}.webm"


class ClassIn(Payload):
    lesson_id: uuid.UUID


class ClassPublishIn(Payload):
    lesson_id: uuid.UUID
    type: Literal["offer"]
    sdp: str = Field(min_length=1, max_length=MAX_SDP)
    ice_restart: bool = False


class ClassWatchIn(Payload):
    lesson_id: uuid.UUID
    ice_restart: bool = False


class ClassAnswerIn(Payload):
    lesson_id: uuid.UUID
    type: Literal["answer"]
    sdp: str = Field(min_length=1, max_length=MAX_SDP)


class ClassCandidateIn(Payload):
    lesson_id: uuid.UUID
    role: Literal["publisher", "viewer"]
    candidate: IceCandidateIn | None


def _publisher(sid: str) -> str:
    return f"{sid}/class-publish"


def _viewer(sid: str) -> str:
    return f"{sid}/class-watch"


class CourseClassGateway:
    def __init__(
        self,
        channels: ChannelGateway,
        core: Core,
        media: MediaBackend,
        settings: Settings,
        *,
        instance: str,
        recordings_dir: Path | None = None,
    ) -> None:
        self._core = core
        self._media = media
        self._settings = settings
        self._instance = instance
        self._dir = recordings_dir or Path(tempfile.gettempdir()) / "lago-recordings"
        # sid -> (lesson id, session id) of what this socket publishes / watches here
        self._publishing: dict[str, tuple[uuid.UUID, str]] = {}
        self._watching: dict[str, tuple[uuid.UUID, str]] = {}
        # Classes this socket started and has not published to yet (ended if it goes away first).
        self._started: dict[str, tuple[uuid.UUID, str]] = {}
        self._ending: dict[str, asyncio.Lock] = {}
        for event, model, handler in (
            ("class:start", ClassIn, self.start),
            ("class:publish", ClassPublishIn, self.publish),
            ("class:watch", ClassWatchIn, self.watch),
            ("class:answer", ClassAnswerIn, self.answer),
            ("class:candidate", ClassCandidateIn, self.candidate),
            ("class:leave", ClassIn, self.leave),
            ("class:stop", ClassIn, self.stop),
        ):
            channels.register(event, model, handler)
        channels.on_disconnect(self.disconnected)

    # --- the class -------------------------------------------------------------------------------

    async def start(self, sid: str, principal: Principal, body: ClassIn) -> Ack:
        """Put the lesson live on this node (its host); the teacher then publishes."""
        session_id = secrets.token_urlsafe(12)
        row = await self._core.courses.go_live(
            principal, body.lesson_id, session_id, self._instance
        )
        self._started[sid] = (body.lesson_id, session_id)
        return {"ok": True, "lesson_id": str(row["id"]), "session_id": session_id}

    async def _live(self, lesson_id: uuid.UUID) -> dict[str, Any]:
        lesson = await self._core.courses.lesson(lesson_id)
        if lesson["live_status"] != "live":
            raise NotFound("this lesson is not live", code="class_not_live")
        return dict(lesson)

    async def publish(self, sid: str, principal: Principal, body: ClassPublishIn) -> Ack:
        await self._core.courses.require_host(principal, body.lesson_id)
        lesson = await self._live(body.lesson_id)
        if lesson["live_host_id"] != principal.user_id:
            raise NotFound("only the teacher who started this class publishes", code="not_the_host")
        require_publish_node(lesson["live_node"], self._instance, "class")
        session_id = lesson["live_session_id"]
        answer = await self._media.publish(
            session_id, _publisher(sid), Sdp(body.sdp, body.type), restart=body.ice_restart
        )
        self._publishing[sid] = (body.lesson_id, session_id)
        self._started.pop(sid, None)
        self._media.start_recording(session_id, self._dir / f"{session_id}.webm")
        return {"ok": True, "type": answer.type, "sdp": answer.sdp}

    async def watch(self, sid: str, principal: Principal, body: ClassWatchIn) -> Ack:
        # Enrolment first: nothing about the stream is touched for anyone else.
        await self._core.courses.require_viewer(principal, body.lesson_id)
        lesson = await self._live(body.lesson_id)
        session_id = lesson["live_session_id"]
        require_watchable(
            self._media,
            session_id,
            lesson["live_node"],
            self._instance,
            sender="teacher",
            what="class",
        )
        require_viewer_room(self._media, self._settings, sid in self._watching)
        offer = await self._media.watch(session_id, _viewer(sid), restart=body.ice_restart)
        self._watching[sid] = (body.lesson_id, session_id)
        await self._core.courses.attended(principal, lesson)
        return {"ok": True, "type": offer.type, "sdp": offer.sdp}

    async def answer(self, sid: str, principal: Principal, body: ClassAnswerIn) -> Ack:
        if self._watching.get(sid, (None, ""))[0] != body.lesson_id:
            raise NotFound("watch this class first", code="not_watching")
        await self._media.accept(_viewer(sid), Sdp(body.sdp, body.type))
        return {"ok": True}

    async def candidate(self, sid: str, principal: Principal, body: ClassCandidateIn) -> Ack:
        mine = self._publishing if body.role == "publisher" else self._watching
        if mine.get(sid, (None, ""))[0] != body.lesson_id:
            raise NotFound("no connection for this class", code="no_connection")
        peer = _publisher(sid) if body.role == "publisher" else _viewer(sid)
        await self._media.add_candidate(peer, ice_candidate(body.candidate))
        return {"ok": True}

    async def leave(self, sid: str, principal: Principal, body: ClassIn) -> Ack:
        watching = self._watching.get(sid)
        if watching is not None and watching[0] == body.lesson_id:
            del self._watching[sid]
            await self._media.leave(_viewer(sid))
        return {"ok": True}

    async def stop(self, sid: str, principal: Principal, body: ClassIn) -> Ack:
        await self._core.courses.require_host(principal, body.lesson_id)
        lesson = await self._live(body.lesson_id)
        row = await self._end(body.lesson_id, lesson["live_session_id"])
        return {"ok": True, "lesson": _lesson_out(row)}

    async def _end(self, lesson_id: uuid.UUID, session_id: str) -> dict[str, Any]:
        """End the class once: its recording into storage, the lesson over, every peer gone."""
        lock = self._ending.setdefault(session_id, asyncio.Lock())
        async with lock:
            result = self._media.stop_recording(session_id)
            for table in (self._watching, self._publishing, self._started):
                for other, (_lesson, sess) in list(table.items()):
                    if sess == session_id:
                        del table[other]
            await self._media.end(session_id)
            await self._core.courses.end_live(lesson_id, session_id)
            if result is not None:
                await self._store_recording(lesson_id, result)
        self._ending.pop(session_id, None)
        return dict(await self._core.courses.lesson(lesson_id))

    async def _store_recording(self, lesson_id: uuid.UUID, result: Any) -> None:
        path: Path = result.path
        try:
            if result.skipped is not None:
                log.warning("course.recording_empty", lesson_id=str(lesson_id), why=result.skipped)
                return
            data = await asyncio.to_thread(path.read_bytes)
            key = await self._core.storage.put(recording_key(lesson_id), data, RECORDING_TYPE)
            await self._core.courses.attach_recording(
                lesson_id, key, len(data), result.duration_ms, result.video_frames
            )
            log.info(
                "course.recorded",
                lesson_id=str(lesson_id),
                bytes=len(data),
                frames=result.video_frames,
                duration_ms=result.duration_ms,
            )
        except Exception:
            # The class is over either way; the file stays on the node for an operator.
            RECORDING_ERRORS.inc()
            log.exception(
                "course.recording_upload_failed", lesson_id=str(lesson_id), path=str(path)
            )
            return
        await asyncio.to_thread(path.unlink, True)

    async def disconnected(self, sid: str) -> None:
        watching = self._watching.pop(sid, None)
        if watching is not None:
            await self._media.leave(_viewer(sid))
        publishing = self._publishing.pop(sid, None)
        started = self._started.pop(sid, None)
        if publishing is None and started is not None:
            # Started, never published: nobody else can teach it from this socket's node.
            with contextlib.suppress(NotFound):
                await self._end(*started)
        if publishing is not None:
            # The teacher's socket is gone: end the class (and keep what was recorded) rather
            # than leave the children on a picture that will not come back.
            lesson_id, session_id = publishing
            await self._media.leave(_publisher(sid))
            with contextlib.suppress(NotFound):
                await self._end(lesson_id, session_id)


def _lesson_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "live_status": row["live_status"],
        "recording": row["recording_key"] is not None,
        "recording_ms": row["recording_ms"],
        "recording_frames": row["recording_frames"],
    }
