"""The ``/`` namespace: residents and staff in community channels (see docs/protocol.md).

Handlers are thin: validate the payload, check the caller's role in the community, then either
ask the community's actor (anything that changes the channel) or read directly (history,
recovery). Every acknowledgement is ``{"ok": true, ...}`` or ``{"ok": false, "error": {...}}``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from lago_core.actor_keys import CHANNEL_KIND
from lago_core.container import Core
from lago_core.errors import (
    InvalidInput,
    LagoError,
    NotFound,
    RateLimited,
    Unauthenticated,
    Unavailable,
)
from lago_core.logging import get_logger
from lago_core.moderation import ModerationService
from lago_core.push import community_of_room, community_room, user_room
from lago_core.security.roles import Principal
from lago_core.settings import Settings
from lago_rt.channel.events import StreamWindow, read_after, stream_window
from lago_rt.channel.history import chat_history, chat_message_exists
from lago_rt.gateway.access import ChannelAccess
from lago_rt.gateway.broker import Broker
from lago_rt.gateway.limits import FLOOD_CUTOFF, TokenBucket
from lago_rt.gateway.payloads import parse_payload
from lago_rt.gateway.schemas import (
    DeleteIn,
    HistoryIn,
    JoinIn,
    LeaveIn,
    MuteIn,
    Payload,
    PresenceIn,
    RecoverIn,
    ReportIn,
    SendIn,
    SinceIn,
    UnmuteIn,
)
from lago_rt.gateway.sessions import SessionWatch
from lago_rt.gateway.unknown import unknown_event
from lago_rt.metrics import CONNECTIONS, FLOOD_CUTS, count_refusal
from lago_rt.runtime import ActorHost, Command, NotOwner
from lago_rt.runtime.keys import ActorKeys
from lago_rt.transport import NO_ANSWER, ConnectionRefused, Pending, SocketServer

__all__ = ["ChannelGateway"]

log = get_logger(__name__)

M = TypeVar("M", bound=Payload)
Ack = dict[str, Any]
# Recovery replays at most this many events; a client further behind reloads a snapshot.
MAX_RECOVERY = 5_000
# One acknowledgement carries at most this many recovered events, and stops adding events once
# their data passes ``RECOVERY_PAGE_BYTES`` (2,000-character messages would otherwise make a
# page of 3 MB — three times a client's send-buffer limit); the client asks for the next page
# with ``channel:recover`` (docs/protocol.md).
RECOVERY_PAGE = 500
RECOVERY_PAGE_BYTES = 256 * 1024


def _ok(**fields: Any) -> Ack:
    return {"ok": True, **fields}


def _error(exc: LagoError) -> Ack:
    count_refusal(exc.code)
    return {"ok": False, "error": exc.to_dict()}


def _refusal(exc: LagoError) -> Ack:
    # A refusal travels from the channel actor through futures and several coroutines; its
    # traceback holds their frames, and the frames hold the futures that hold it: a reference
    # cycle per refusal, left to the garbage collector. In a rush that is most answers
    # (`group_full`), and the collections showed as pauses of 100+ ms. Dropping the traceback
    # lets them go at once.
    exc.__traceback__ = None
    return _error(exc)


def _caller_of(principal: Principal, name: str, role: str) -> dict[str, Any]:
    """The ``caller`` of an actor command."""
    return {"user_id": str(principal.user_id), "name": name, "role": role}


def _task_answer(task: asyncio.Future[Any]) -> Ack:
    """The acknowledgement a handler task returned (handlers turn every error into one)."""
    if task.cancelled():
        return _error(Unavailable("the node is stopping"))
    exc = task.exception()
    if exc is not None:
        log.error("channel.handler_raised", exc_info=exc)
        return _error(LagoError("internal error", code="internal"))
    result: Ack = task.result()
    return result


class ChannelGateway:
    def __init__(
        self,
        server: SocketServer,
        core: Core,
        host: ActorHost,
        broker: Broker,
        moderation: ModerationService,
        settings: Settings,
        sessions: SessionWatch,
    ) -> None:
        self._server = server
        self._hub = server.hub
        self._sessions = sessions
        self._core = core
        self._host = host
        self._broker = broker
        self._moderation = moderation
        self._access = ChannelAccess(core)
        self._settings = settings
        self._buckets: dict[str, TokenBucket] = {}
        self._flooded: set[str] = set()
        self._principals: dict[str, Principal] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._disconnect_hooks: list[Callable[[str], Awaitable[None]]] = []
        server.on("connect", self.connect)
        server.on("disconnect", self.disconnect)
        events: dict[str, Callable[..., Coroutine[Any, Any, Ack]]] = {
            "channel:join": self._guarded(JoinIn, self.join),
            "channel:leave": self._guarded(LeaveIn, self.leave),
            "channel:recover": self._guarded(RecoverIn, self.recover),
            "channel:presence": self._guarded(PresenceIn, self.presence),
            "chat:send": self._guarded(SendIn, self.send),
            "chat:history": self._guarded(HistoryIn, self.history),
            "chat:delete": self._guarded(DeleteIn, self.delete),
            "chat:mute": self._guarded(MuteIn, self.mute),
            "chat:unmute": self._guarded(UnmuteIn, self.unmute),
            "chat:report": self._guarded(ReportIn, self.report),
            "whoami": self._guarded(None, self.whoami),
        }
        for name, handler in events.items():
            self._serve(name, handler)
        # Every other event: rate-limited like the rest, then answered `unknown_event`.
        server.on("*", self._unknown)

    # --- connection ----------------------------------------------------------------------------------

    async def connect(self, sid: str, auth: Any) -> None:
        principal = await authenticate_handshake(
            self._core, auth, self._server.handshake_cookie(sid)
        )
        self._principals[sid] = principal
        self._sessions.track(sid, "/", principal)
        self._buckets[sid] = TokenBucket.full(
            self._settings.client_msgs_per_s,
            self._settings.client_msg_burst,
            self._core.clock.monotonic(),
        )
        self._server.enter_room(sid, user_room(principal.user_id))
        CONNECTIONS.labels("/").inc()

    async def disconnect(self, sid: str, reason: Any = None) -> None:
        principal = self._principals.pop(sid, None)
        if principal is not None:
            self._sessions.untrack(sid, "/", principal)
        self._buckets.pop(sid, None)
        self._flooded.discard(sid)
        CONNECTIONS.labels("/").dec()
        for room in self._hub.rooms_of(sid):
            community_id = community_of_room(room)
            if community_id is None:
                continue
            self._server.leave_room(sid, room)
            await self._broker.unfollow_if_empty(community_id)
            self._spawn(self._leave_actor(community_id, [sid]))
        for hook in self._disconnect_hooks:
            self._spawn(hook(sid))

    # --- for other gateways on this namespace (group buys, live streams, draws) -----------------------

    def register(
        self, event: str, model: type[M] | None, handler: Callable[..., Awaitable[Ack]]
    ) -> None:
        """Handle ``event`` with this gateway's rate limit, validation and error acks."""
        self._serve(event, self._guarded(model, handler))

    def _serve(self, event: str, handler: Callable[..., Coroutine[Any, Any, Ack]]) -> None:
        self._server.on(event, handler)

    def on_disconnect(self, hook: Callable[[str], Awaitable[None]]) -> None:
        """Run ``hook(sid)`` in the background when a socket disconnects."""
        self._disconnect_hooks.append(hook)

    @property
    def access(self) -> ChannelAccess:
        return self._access

    async def caller(self, principal: Principal, role: str) -> dict[str, Any]:
        """The ``caller`` of an actor command: user id, display name and role."""
        return await self._caller(principal, role)

    async def _leave_actor(self, community_id: str, sids: list[str]) -> None:
        # Retried: a lost leave would leave a ghost until this node itself goes away.
        for attempt in range(5):
            try:
                await self._host.call(community_id, Command("presence.leave", {"sids": sids}))
                return
            except LagoError:
                await asyncio.sleep(0.2 * (attempt + 1))
        log.warning("channel.leave_lost", community_id=community_id, sids=sids)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        await self._access.close()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, timeout=2)

    # --- plumbing: rate limit, validation, error acks --------------------------------------------------

    def _admit(
        self, sid: str, model: type[M] | None, data: Any, extra: tuple[Any, ...] | list[Any]
    ) -> tuple[Principal, M | None] | Ack:
        """Who sent an event and its validated payload, or the refusal: not connected, over the
        rate limit, or a payload that is not the model's."""
        principal = self._principals.get(sid)
        if principal is None:
            return _error(Unauthenticated("not connected"))
        if sid in self._flooded:
            return NO_ANSWER
        bucket = self._buckets[sid]
        if not bucket.take(self._core.clock.monotonic()):
            if bucket.overdrawn > FLOOD_CUTOFF:
                return self._cut_flooder(sid, principal)
            return _error(RateLimited("slow down: too many messages"))
        if extra:
            return _error(InvalidInput("send one payload object", code="invalid_input"))
        if model is None:
            return principal, None
        try:
            return principal, parse_payload(model, data)
        except InvalidInput as exc:
            return _error(exc)

    def _cut_flooder(self, sid: str, principal: Principal) -> Ack:
        """Close a connection that kept sending past its limit, after the answers it is owed.

        Deterministic: exactly ``FLOOD_CUTOFF`` refusals were answered before this one; this and
        every later message go unanswered (the bucket stays empty: each is refused again and
        lands here), and what was admitted before is acknowledged before the close
        (``InboundEvents.close_after_acks``).
        """
        if sid not in self._flooded:
            self._flooded.add(sid)
            FLOOD_CUTS.inc()
            log.warning("channel.flood_disconnected", sid=sid, user_id=str(principal.user_id))
            self._server.close_after_acks(sid)
        return NO_ANSWER

    def _guarded(
        self, model: type[M] | None, handler: Callable[..., Awaitable[Ack]]
    ) -> Callable[..., Coroutine[Any, Any, Ack]]:
        async def run(sid: str, data: Any = None, *extra: Any) -> Ack:
            admitted = self._admit(sid, model, data, extra)
            if isinstance(admitted, dict):
                return admitted
            principal, payload = admitted
            try:
                if self._sessions.verdict(principal) is not True:
                    await self._sessions.require_live(principal)
                if model is None:
                    return await handler(sid, principal)
                return await handler(sid, principal, payload)
            except LagoError as exc:
                return _refusal(exc)
            except Exception:
                log.exception("channel.handler_failed", sid=sid)
                return _error(LagoError("internal error", code="internal"))

        return run

    def register_command(
        self, event: str, model: type[M], route: Callable[[M], tuple[str, str, dict[str, Any]]]
    ) -> None:
        """Serve ``event`` as a command to a community's channel actor.

        ``route(body)`` names the community, the actor command and its payload; the
        acknowledgement is ``{"ok": true, **result}``. The event does not wait for a task when
        the node can decide it from memory — the caller's role and name cached, the community's
        actor running here: the command goes straight into the actor's mailbox and the answer is
        written when the actor has one (``lago_rt/transport/server.py``, direct handlers).
        Otherwise it runs in a task as every other event.
        """

        def direct(sid: str, args: list[Any]) -> Ack | Pending:
            admitted = self._admit(sid, model, args[0] if args else None, args[1:])
            if isinstance(admitted, dict):
                return admitted
            principal, body = admitted
            assert body is not None
            community_id, name, payload = route(body)
            try:
                self._joined(sid, community_id)
                known = self._access.cached_role(principal, community_id)
                display = self._access.cached_name(principal.user_id)
                if (
                    known is not None
                    and display is not None
                    and self._sessions.verdict(principal) is True
                ):
                    role = ChannelAccess.required(known[0])
                    command = Command(name, payload, _caller_of(principal, display, role.value))
                    queued = self._host.submit_local(community_id, command)
                    if queued is not None:
                        return Pending(queued, self._answer_of(community_id, command))
            except LagoError as exc:
                return _refusal(exc)
            work = self.command(sid, principal, community_id, name, payload)
            return Pending(self._spawned(self._acked(work)), _task_answer)

        self._server.on_direct(event, direct)

    def _answer_of(
        self, community_id: str, command: Command
    ) -> Callable[[asyncio.Future[Any]], Ack | Pending]:
        def answer(done: asyncio.Future[Any]) -> Ack | Pending:
            exc = done.exception() if not done.cancelled() else Unavailable("the node is stopping")
            if exc is None:
                return _ok(**done.result())
            if isinstance(exc, NotOwner):
                # The actor stopped or moved meanwhile: route the command again, as call() does.
                return Pending(
                    self._spawned(self._acked(self._host.call(community_id, command))),
                    _task_answer,
                )
            if isinstance(exc, LagoError):
                return _refusal(exc)
            log.error("channel.command_failed", command=command.name, exc_info=exc)
            return _error(LagoError("internal error", code="internal"))

        return answer

    @staticmethod
    async def _acked(result: Awaitable[Any]) -> Ack:
        """The acknowledgement of an actor command's result."""
        try:
            return _ok(**await result)
        except LagoError as exc:
            return _refusal(exc)
        except Exception:
            log.exception("channel.command_failed")
            return _error(LagoError("internal error", code="internal"))

    def _spawned(self, coro: Coroutine[Any, Any, Ack]) -> asyncio.Task[Ack]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def command(
        self, sid: str, principal: Principal, community_id: str, name: str, payload: dict[str, Any]
    ) -> Any:
        """Run ``name`` on the community's actor for a member who joined the channel."""
        self._joined(sid, community_id)
        await self._sessions.require_live(principal)
        role = await self._access.require(principal, community_id)
        caller = await self._caller(principal, role.value)
        return await self._host.call(community_id, Command(name, payload, caller))

    async def _caller(self, principal: Principal, role: str) -> dict[str, Any]:
        return _caller_of(principal, await self._access.display_name(principal.user_id), role)

    def _joined(self, sid: str, community_id: str) -> None:
        if not self._hub.in_room(sid, community_room(community_id)):
            raise InvalidInput("join the channel first", code="not_joined")

    # --- events --------------------------------------------------------------------------------------

    async def _unknown(self, event: str, sid: str, *args: Any) -> Ack:
        admitted = self._admit(sid, None, None, ())
        if isinstance(admitted, dict):
            return admitted
        return unknown_event(event)

    async def whoami(self, sid: str, principal: Principal) -> Ack:
        return _ok(user_id=str(principal.user_id), node_id=self._settings.node_id)

    async def join(self, sid: str, principal: Principal, body: JoinIn) -> Ack:
        cid = str(body.community_id)
        role = await self._access.require(principal, cid)
        # Joined before the presence join: the events from it onward reach this socket.
        room = community_room(cid)
        if not self._server.enter_room(sid, room):
            raise Unavailable("the socket disconnected")
        try:
            await self._broker.follow(cid)
            snapshot = await self._host.call(
                cid,
                Command(
                    "presence.join",
                    {"sid": sid, "node": self._host.instance},
                    await self._caller(principal, role.value),
                ),
            )
        except BaseException:
            self._server.leave_room(sid, room)
            await self._broker.unfollow_if_empty(cid)
            raise
        reply = _ok(community_id=cid, role=role.value, epoch=snapshot["epoch"], seq=snapshot["seq"])
        if body.since is None:
            reply["snapshot"] = snapshot
            return reply
        keys = ActorKeys(self._settings.redis_prefix, CHANNEL_KIND, cid)
        page = await self._recover(keys, body.since, snapshot["epoch"], snapshot["seq"])
        if page is None:
            reply.update(recovered=False, snapshot=snapshot)
        else:
            reply.update(recovered=True, **page, presence=snapshot.get("presence"))
        return reply

    async def recover(self, sid: str, principal: Principal, body: RecoverIn) -> Ack:
        """The next page of a recovery the join started (``more: true``)."""
        cid = str(body.community_id)
        self._joined(sid, cid)
        await self._access.require(principal, cid)
        keys = ActorKeys(self._settings.redis_prefix, CHANNEL_KIND, cid)
        window = await stream_window(self._core.redis, keys)
        head = window.last_seq if window.last_seq is not None else 0
        page = await self._recover(keys, body.since, window.epoch, head, window)
        if page is None:
            return _ok(community_id=cid, recovered=False)
        return _ok(community_id=cid, recovered=True, seq=head, **page)

    async def _recover(
        self,
        keys: ActorKeys,
        since: SinceIn,
        epoch: str | None,
        head: int,
        window: StreamWindow | None = None,
    ) -> dict[str, Any] | None:
        """``{"events", "more"}``: the first page of events after ``since.seq`` up to ``head``,
        or None if they are not all kept (another epoch, trimmed from the stream, too many)."""
        if since.epoch != epoch or since.seq > head:
            return None
        if since.seq == head:
            return {"events": [], "more": False}
        if window is None:
            window = await stream_window(self._core.redis, keys)
        if window.first_seq is None or since.seq + 1 < window.first_seq:
            return None
        if head - since.seq > MAX_RECOVERY:
            return None
        found = await read_after(self._core.redis, keys, since.seq, until=head, count=RECOVERY_PAGE)
        events: list[dict[str, Any]] = []
        size = 0
        for e in found:
            if events and size >= RECOVERY_PAGE_BYTES:
                break
            events.append(
                {
                    "community_id": e.community_id,
                    "seq": e.seq,
                    "type": e.type,
                    "data": e.data,
                    "at": e.at,
                }
            )
            size += len(e.encode())
        last = events[-1]["seq"] if events else since.seq
        return {"events": events, "more": last < head}

    async def leave(self, sid: str, principal: Principal, body: LeaveIn) -> Ack:
        cid = str(body.community_id)
        self._joined(sid, cid)
        self._server.leave_room(sid, community_room(cid))
        await self._broker.unfollow_if_empty(cid)
        await self._host.call(cid, Command("presence.leave", {"sids": [sid]}))
        return _ok(community_id=cid)

    async def presence(self, sid: str, principal: Principal, body: PresenceIn) -> Ack:
        cid = str(body.community_id)
        await self._access.require(principal, cid)
        after = str(body.after_user_id) if body.after_user_id else None
        page = await self._host.call(
            cid, Command("presence.list", {"after_user_id": after, "limit": body.limit})
        )
        return _ok(**page)

    async def send(self, sid: str, principal: Principal, body: SendIn) -> Ack:
        cid = str(body.community_id)
        self._joined(sid, cid)
        role = await self._access.require(principal, cid)
        result = await self._host.call(
            cid,
            Command(
                "chat.send",
                {"client_msg_id": body.client_msg_id, "text": body.text},
                await self._caller(principal, role.value),
            ),
        )
        return _ok(**result)

    async def history(self, sid: str, principal: Principal, body: HistoryIn) -> Ack:
        cid = str(body.community_id)
        await self._access.require(principal, cid)
        keys = ActorKeys(self._settings.redis_prefix, CHANNEL_KIND, cid)
        messages = await chat_history(
            self._core.redis, self._core.pool, keys, body.before_seq, body.limit
        )
        more = len(messages) == body.limit
        return _ok(messages=messages, next_before_seq=messages[-1]["seq"] if more else None)

    async def _moderate(
        self, principal: Principal, community_id: str, name: str, payload: dict[str, Any]
    ) -> Ack:
        role = await self._access.require_moderator(principal, community_id)
        caller = await self._caller(principal, role.value)
        return _ok(**await self._host.call(community_id, Command(name, payload, caller)))

    async def delete(self, sid: str, principal: Principal, body: DeleteIn) -> Ack:
        payload = {"seq": body.seq, "reason": body.reason}
        return await self._moderate(principal, str(body.community_id), "chat.delete", payload)

    async def mute(self, sid: str, principal: Principal, body: MuteIn) -> Ack:
        payload = {"user_id": str(body.user_id), "minutes": body.minutes, "reason": body.reason}
        return await self._moderate(principal, str(body.community_id), "chat.mute", payload)

    async def unmute(self, sid: str, principal: Principal, body: UnmuteIn) -> Ack:
        payload = {"user_id": str(body.user_id)}
        return await self._moderate(principal, str(body.community_id), "chat.unmute", payload)

    async def report(self, sid: str, principal: Principal, body: ReportIn) -> Ack:
        cid = str(body.community_id)
        await self._access.require(principal, cid)
        keys = ActorKeys(self._settings.redis_prefix, CHANNEL_KIND, cid)
        if not await chat_message_exists(self._core.redis, self._core.pool, keys, body.seq):
            raise NotFound("no message with that sequence number", code="message_not_found")
        report_id = await self._moderation.report(
            principal.user_id, body.community_id, body.seq, body.reason
        )
        return _ok(report_id=str(report_id))


async def authenticate_handshake(core: Core, auth: Any, cookie: str | None = None) -> Principal:
    """The socket.io handshake's ``auth={"token": ...}`` as a Principal, or a refusal.

    Without a token in ``auth``, a browser's session cookie (``SocketServer.handshake_cookie``:
    sent with the handshake from a page of an allowed origin) stands in for it."""
    token = auth.get("token") if isinstance(auth, dict) else None
    if not isinstance(token, str) or not token:
        token = cookie
    if not token:
        count_refusal("unauthenticated")
        raise ConnectionRefused(
            "send auth={token: <access token>}, or log in with a session cookie first",
            {"code": "unauthenticated"},
        )
    try:
        return await core.identity.authenticate(token)
    except LagoError as exc:
        count_refusal(exc.code)
        raise ConnectionRefused(exc.message, {"code": exc.code}) from None
