"""A live stream in a community channel: start, stop, pinned items and the viewer count.

The session itself is event-sourced (``live.started``, ``live.pinned``, ``live.stopped``), so a new
owner after failover knows it. Viewers are sessions of sockets like presence: kept in a fenced
Redis hash with the node that holds each one, pruned when a node dies, and counted across every
node. The count goes out as ``live.viewers`` at most once a heartbeat, so a crowd arriving at once
is one event, not one per viewer. Media never passes through the actor: the node that runs the
publisher's peer connection (``media_node``) relays it (see ``lago_rt/media/``).
"""

from __future__ import annotations

from typing import Any

import orjson

from lago_core.errors import Conflict, Forbidden, InvalidInput, NotFound
from lago_rt.channel.actor import CommandHandler, FeatureBase
from lago_rt.channel.events import ChannelEvent
from lago_rt.runtime.actor import Command
from lago_rt.runtime.keys import NodeKeys

__all__ = ["Live"]


class Live(FeatureBase):
    name = "live"

    def __init__(self) -> None:
        super().__init__()
        self.session: dict[str, Any] | None = None
        # sid -> {"user_id", "node", "session_id"}
        self.viewers: dict[str, dict[str, str]] = {}
        self._announced_count = 0

    def commands(self) -> dict[str, CommandHandler]:
        return {
            "live.start": self._start,
            "live.stop": self._stop,
            "live.pin": self._pin,
            "live.viewer_join": self._viewer_join,
            "live.viewer_leave": self._viewer_leave,
            "live.status": self._status,
        }

    # --- state ---------------------------------------------------------------------------------------

    def apply(self, event: ChannelEvent) -> None:
        data = event.data
        if event.type == "live.started":
            self.session = {**data, "pinned": [], "viewers": 0, "started_at": event.at}
        elif self.session is None or data.get("session_id") != self.session["session_id"]:
            return
        elif event.type == "live.pinned":
            self.session["pinned"] = list(data["items"])
        elif event.type == "live.viewers":
            self.session["viewers"] = int(data["count"])
        elif event.type == "live.stopped":
            self.session = None

    def snapshot(self) -> dict[str, Any]:
        return {"session": self.session}

    def restore(self, state: dict[str, Any]) -> None:
        self.session = state.get("session")

    def public_state(self, caller: dict[str, Any]) -> dict[str, Any]:
        if self.session is None:
            return {"session": None}
        return {"session": {**self.session, "viewers": self.viewer_count()}}

    def busy(self) -> bool:
        return self.session is not None

    def viewer_count(self) -> int:
        return len({v["user_id"] for v in self.viewers.values()})

    def viewer_user_ids(self) -> set[str]:
        return {v["user_id"] for v in self.viewers.values()}

    @property
    def _hash(self) -> str:
        return self.channel.ctx.keys.extra("live_viewers")

    async def on_activate(self) -> None:
        raw = await self.channel.ctx.redis.hgetall(self._hash)  # type: ignore[misc]
        for sid, value in raw.items():
            key = sid.decode() if isinstance(sid, bytes) else str(sid)
            self.viewers[key] = orjson.loads(value)
        self._announced_count = self.session["viewers"] if self.session else 0

    async def on_tick(self) -> None:
        await self._prune_dead_nodes()
        if self.session is not None and self.viewer_count() != self._announced_count:
            await self._announce_count()

    async def _announce_count(self) -> None:
        assert self.session is not None
        count = self.viewer_count()
        await self.channel.emit(
            "live.viewers", {"session_id": self.session["session_id"], "count": count}
        )
        self._announced_count = count

    # --- commands ------------------------------------------------------------------------------------

    def _current(self, session_id: str) -> dict[str, Any]:
        if self.session is None or self.session["session_id"] != session_id:
            raise NotFound("no such live session in this channel", code="live_not_found")
        return self.session

    async def _start(self, command: Command) -> dict[str, Any]:
        payload = command.payload
        session_id = str(payload["session_id"])
        if self.session is not None:
            if self.session["session_id"] == session_id:
                return {"session": self.session, "duplicate": True}
            raise Conflict(
                "a live stream is already on in this channel",
                code="live_in_progress",
                details={"session_id": self.session["session_id"]},
            )
        await self.channel.emit(
            "live.started",
            {
                "session_id": session_id,
                "host_id": str(command.caller["user_id"]),
                "host_name": str(command.caller.get("name", "")),
                "title": str(payload["title"]),
                "announcement_id": payload.get("announcement_id"),
                "media_node": str(payload["media_node"]),
            },
        )
        return {"session": self.public_state(command.caller)["session"], "duplicate": False}

    def _require_host_or_moderator(self, session: dict[str, Any], caller: dict[str, Any]) -> None:
        if caller.get("user_id") == session["host_id"]:
            return
        if caller.get("role") in ("staff", "admin"):
            return
        raise Forbidden("only the host or property staff manage this stream", code="not_the_host")

    async def _stop(self, command: Command) -> dict[str, Any]:
        session_id = str(command.payload["session_id"])
        if self.session is None or self.session["session_id"] != session_id:
            return {"already": True}
        self._require_host_or_moderator(self.session, command.caller)
        reason = str(command.payload.get("reason") or "stopped")
        await self.channel.emit(
            "live.stopped",
            {"session_id": session_id, "reason": reason, "by": command.caller.get("user_id")},
        )
        await self._drop(list(self.viewers))
        return {"already": False}

    async def _pin(self, command: Command) -> dict[str, Any]:
        session = self._current(str(command.payload["session_id"]))
        self._require_host_or_moderator(session, command.caller)
        items = list(command.payload["items"])
        await self.channel.emit(
            "live.pinned", {"session_id": session["session_id"], "items": items}
        )
        return {"pinned": items}

    async def _viewer_join(self, command: Command) -> dict[str, Any]:
        session = self._current(str(command.payload["session_id"]))
        sid = str(command.payload.get("sid", ""))
        node = str(command.payload.get("node", ""))
        user_id = str(command.caller.get("user_id", ""))
        if not sid or not node or not user_id:
            raise InvalidInput("live.viewer_join needs sid, node and a caller")
        if sid not in self.viewers:
            entry = {"user_id": user_id, "node": node, "session_id": session["session_id"]}
            await self.channel.ctx.fenced("hset", [self._hash], sid, orjson.dumps(entry))
            self.viewers[sid] = entry
        return {"viewers": self.viewer_count()}

    async def _viewer_leave(self, command: Command) -> dict[str, Any]:
        sids = [str(s) for s in command.payload.get("sids", [])]
        await self._drop([s for s in sids if s in self.viewers])
        return {"viewers": self.viewer_count()}

    async def _status(self, command: Command) -> dict[str, Any]:
        return self.public_state(command.caller)

    async def _drop(self, sids: list[str]) -> None:
        if not sids:
            return
        await self.channel.ctx.fenced("hdel", [self._hash], *sids)
        for sid in sids:
            self.viewers.pop(sid, None)

    async def _prune_dead_nodes(self) -> None:
        nodes = sorted({v["node"] for v in self.viewers.values()})
        media_node = self.session["media_node"] if self.session else None
        if media_node and media_node not in nodes:
            nodes.append(media_node)
        if not nodes:
            return
        node_keys = NodeKeys(self.channel.ctx.settings.redis_prefix)
        async with self.channel.ctx.redis.pipeline(transaction=False) as pipe:
            for node in nodes:
                pipe.exists(node_keys.alive(node))
            alive = await pipe.execute()
        dead = {node for node, ok in zip(nodes, alive, strict=True) if not ok}
        if dead:
            await self._drop([sid for sid, v in self.viewers.items() if v["node"] in dead])
        if self.session is not None and media_node in dead:
            # The node relaying the stream is gone, and the media with it.
            await self.channel.emit(
                "live.stopped",
                {"session_id": self.session["session_id"], "reason": "media_node_lost", "by": None},
            )
