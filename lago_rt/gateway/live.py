"""Live streams, WebRTC signalling and lottery draws on the ``/`` namespace (docs/protocol.md).

Lago keeps the decisions: who may go live or organise a draw (``LiveService.require_host``,
checked before an offer is even parsed), who may watch (a channel member), the per-node viewer
limit, and the viewer count (the channel actor's ``live`` feature). The media backend only moves
media. A stream's media lives on the node that holds the publisher's connection (``media_node``
in the session): with the aiortc backend a viewer connected elsewhere is told to reconnect there
(``stream_elsewhere``); an SFU backend removes that restriction.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import uuid
from typing import Any

from lago_core.container import Core
from lago_core.errors import Forbidden, LagoError, NotFound
from lago_core.live import HostRole, PinnedItem
from lago_core.logging import get_logger
from lago_core.security.roles import Principal
from lago_core.settings import Settings
from lago_rt.gateway.channels import Ack, ChannelGateway
from lago_rt.gateway.live_schemas import (
    AnswerIn,
    CandidateIn,
    DrawIn,
    LiveLeaveIn,
    LiveSessionIn,
    LiveStartIn,
    OpenDrawIn,
    PinIn,
    PublishIn,
    WatchIn,
)
from lago_rt.gateway.relay import (
    ice_candidate,
    require_publish_node,
    require_viewer_room,
    require_watchable,
)
from lago_rt.media import MediaBackend, Sdp
from lago_rt.runtime import ActorHost, Command

__all__ = ["LiveGateway"]

log = get_logger(__name__)


def _ok(**fields: Any) -> Ack:
    return {"ok": True, **fields}


def _publisher(sid: str) -> str:
    return f"{sid}/publish"


def _viewer(sid: str) -> str:
    return f"{sid}/watch"


class LiveGateway:
    def __init__(
        self,
        channels: ChannelGateway,
        core: Core,
        host: ActorHost,
        media: MediaBackend,
        settings: Settings,
    ) -> None:
        self._channels = channels
        self._core = core
        self._host = host
        self._media = media
        self._settings = settings
        # sid -> (community id, session id) of what this socket publishes / watches here
        self._publishing: dict[str, tuple[str, str]] = {}
        self._watching: dict[str, tuple[str, str]] = {}
        for event, model, handler in (
            ("live:start", LiveStartIn, self.start),
            ("live:stop", LiveSessionIn, self.stop),
            ("live:status", LiveSessionIn, self.status),
            ("live:pin", PinIn, self.pin),
            ("live:publish", PublishIn, self.publish),
            ("live:watch", WatchIn, self.watch),
            ("live:answer", AnswerIn, self.answer),
            ("live:candidate", CandidateIn, self.candidate),
            ("live:leave", LiveLeaveIn, self.leave),
            ("lottery:open", OpenDrawIn, self.open_draw),
            ("lottery:draw", DrawIn, self.draw),
            ("lottery:get", DrawIn, self.get_draw),
        ):
            channels.register(event, model, handler)
        channels.on_disconnect(self.disconnected)
        media.on_peer_gone = self.peer_gone

    @property
    def media(self) -> MediaBackend:
        return self._media

    # --- roles -----------------------------------------------------------------------------------

    async def _host_caller(self, principal: Principal, community_id: str) -> dict[str, Any]:
        role = await self._core.live.require_host(principal, uuid.UUID(community_id))
        return await self._channels.caller(principal, role.value)

    async def _any_caller(self, principal: Principal, community_id: str) -> dict[str, Any]:
        """A host's role if they are one (so a merchant host may manage their stream), else the
        channel role of a member."""
        role: HostRole | None = await self._core.live.host_role(principal, uuid.UUID(community_id))
        if role is not None:
            return await self._channels.caller(principal, role.value)
        channel_role = await self._channels.access.require(principal, community_id)
        return await self._channels.caller(principal, channel_role.value)

    async def _session(self, community_id: str, session_id: str) -> dict[str, Any]:
        state = await self._host.call(community_id, Command("live.status"))
        session = state.get("session")
        if session is None or session["session_id"] != session_id:
            raise NotFound("no such live session in this channel", code="live_not_found")
        return dict(session)

    # --- sessions --------------------------------------------------------------------------------

    async def start(self, sid: str, principal: Principal, body: LiveStartIn) -> Ack:
        cid = str(body.community_id)
        caller = await self._host_caller(principal, cid)
        if body.announcement_id is not None:
            await self._core.live.check_announcement(body.community_id, body.announcement_id)
        session_id = secrets.token_urlsafe(12)
        result = await self._host.call(
            cid,
            Command(
                "live.start",
                {
                    "session_id": session_id,
                    "title": body.title,
                    "announcement_id": str(body.announcement_id) if body.announcement_id else None,
                    "media_node": self._host.instance,
                },
                caller,
            ),
        )
        return _ok(**result)

    async def stop(self, sid: str, principal: Principal, body: LiveSessionIn) -> Ack:
        cid = str(body.community_id)
        caller = await self._any_caller(principal, cid)
        result = await self._host.call(
            cid, Command("live.stop", {"session_id": body.session_id}, caller)
        )
        await self._end_locally(body.session_id)
        return _ok(**result)

    async def status(self, sid: str, principal: Principal, body: LiveSessionIn) -> Ack:
        cid = str(body.community_id)
        await self._any_caller(principal, cid)
        return _ok(session=await self._session(cid, body.session_id))

    async def pin(self, sid: str, principal: Principal, body: PinIn) -> Ack:
        cid = str(body.community_id)
        caller = await self._host_caller(principal, cid)
        items = [PinnedItem(i.kind, i.id) for i in body.items]
        await self._core.live.check_pins(items, uuid.UUID(cid))
        result = await self._host.call(
            cid,
            Command(
                "live.pin",
                {"session_id": body.session_id, "items": [i.as_dict() for i in items]},
                caller,
            ),
        )
        return _ok(**result)

    # --- signalling ------------------------------------------------------------------------------

    async def publish(self, sid: str, principal: Principal, body: PublishIn) -> Ack:
        cid = str(body.community_id)
        # Permission first: the offer (and the tracks in it) is not touched for anyone else.
        caller = await self._host_caller(principal, cid)
        session = await self._session(cid, body.session_id)
        if session["host_id"] != caller["user_id"]:
            raise Forbidden("only this stream's host publishes to it", code="not_the_host")
        require_publish_node(session["media_node"], self._host.instance, "stream")
        answer = await self._media.publish(
            body.session_id,
            _publisher(sid),
            Sdp(body.sdp, body.type),
            restart=body.ice_restart,
        )
        self._publishing[sid] = (cid, body.session_id)
        return _ok(type=answer.type, sdp=answer.sdp)

    async def watch(self, sid: str, principal: Principal, body: WatchIn) -> Ack:
        cid = str(body.community_id)
        caller = await self._any_caller(principal, cid)
        session = await self._session(cid, body.session_id)
        require_watchable(
            self._media,
            body.session_id,
            session["media_node"],
            self._host.instance,
            sender="host",
            what="stream",
        )
        require_viewer_room(self._media, self._settings, sid in self._watching)
        joined = await self._host.call(
            cid,
            Command(
                "live.viewer_join",
                {"session_id": body.session_id, "sid": sid, "node": self._host.instance},
                caller,
            ),
        )
        try:
            offer = await self._media.watch(body.session_id, _viewer(sid), restart=body.ice_restart)
        except BaseException:
            await self._host.call(cid, Command("live.viewer_leave", {"sids": [sid]}))
            raise
        self._watching[sid] = (cid, body.session_id)
        return _ok(type=offer.type, sdp=offer.sdp, viewers=joined["viewers"])

    async def answer(self, sid: str, principal: Principal, body: AnswerIn) -> Ack:
        if self._watching.get(sid, ("", ""))[1] != body.session_id:
            raise NotFound("watch this stream first", code="not_watching")
        await self._media.accept(_viewer(sid), Sdp(body.sdp, body.type))
        return _ok()

    async def candidate(self, sid: str, principal: Principal, body: CandidateIn) -> Ack:
        mine = self._publishing if body.role == "publisher" else self._watching
        if mine.get(sid, ("", ""))[1] != body.session_id:
            raise NotFound("no connection for this stream", code="no_connection")
        peer = _publisher(sid) if body.role == "publisher" else _viewer(sid)
        await self._media.add_candidate(peer, ice_candidate(body.candidate))
        return _ok()

    async def leave(self, sid: str, principal: Principal, body: LiveLeaveIn) -> Ack:
        await self._leave(sid, body.session_id)
        return _ok()

    async def _leave(self, sid: str, session_id: str | None) -> None:
        watching = self._watching.get(sid)
        if watching is not None and session_id in (None, watching[1]):
            del self._watching[sid]
            await self._media.leave(_viewer(sid))
            await self._host.call(watching[0], Command("live.viewer_leave", {"sids": [sid]}))
        publishing = self._publishing.get(sid)
        if publishing is not None and session_id in (None, publishing[1]):
            del self._publishing[sid]
            await self._media.leave(_publisher(sid))

    async def peer_gone(self, peer_id: str) -> None:
        """The backend dropped a connection (closed by the browser, or ICE failed)."""
        sid, _, role = peer_id.rpartition("/")
        if role == "watch" and (watching := self._watching.pop(sid, None)) is not None:
            await self._host.call(watching[0], Command("live.viewer_leave", {"sids": [sid]}))
        elif role == "publish":
            # The stream stays on: the host may come back with an ICE restart, or stop it.
            self._publishing.pop(sid, None)

    async def disconnected(self, sid: str) -> None:
        publishing = self._publishing.get(sid)
        with contextlib.suppress(LagoError):
            await self._leave(sid, None)
        if publishing is not None:
            # The publisher is gone with its socket: end the stream rather than leave viewers
            # waiting on a picture that will not come.
            cid, session_id = publishing
            with contextlib.suppress(LagoError):
                await self._host.call(
                    cid,
                    Command(
                        "live.stop",
                        {"session_id": session_id, "reason": "publisher_left"},
                        {"user_id": None, "role": "admin"},
                    ),
                )
            await self._end_locally(session_id)

    async def _end_locally(self, session_id: str) -> None:
        for table in (self._watching, self._publishing):
            for sid, (_cid, sess) in list(table.items()):
                if sess == session_id:
                    del table[sid]
        await self._media.end(session_id)

    # --- lottery draws ---------------------------------------------------------------------------

    async def open_draw(self, sid: str, principal: Principal, body: OpenDrawIn) -> Ack:
        cid = str(body.community_id)
        caller = await self._host_caller(principal, cid)
        payload = {
            "draw_id": str(uuid.uuid4()),
            "prize": body.prize,
            "winner_count": body.winner_count,
            "eligibility": body.eligibility,
            "keyword": body.keyword,
            "countdown_s": body.countdown_s,
            "live_session": body.live_session,
        }
        return _ok(**await self._host.call(cid, Command("lottery.open", payload, caller)))

    async def draw(self, sid: str, principal: Principal, body: DrawIn) -> Ack:
        cid = str(body.community_id)
        caller = await self._any_caller(principal, cid)
        command = Command("lottery.draw", {"draw_id": str(body.draw_id)}, caller)
        return _ok(**await self._host.call(cid, command))

    async def get_draw(self, sid: str, principal: Principal, body: DrawIn) -> Ack:
        cid = str(body.community_id)
        await self._any_caller(principal, cid)
        command = Command("lottery.get", {"draw_id": str(body.draw_id)})
        return _ok(**await self._host.call(cid, command))

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._media.close(), timeout=5)
