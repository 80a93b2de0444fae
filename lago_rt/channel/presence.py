"""Who is online in a community: several devices per user, join and leave events, no ghosts.

Sessions (one per connected socket) live in the actor and in a fenced Redis hash, so a new owner
after failover knows them. Each session names the node instance that holds its socket; every tick
the actor drops sessions of nodes whose liveness key has expired (a crashed node), so ghosts last
at most three node heartbeats once the actor is running.
"""

from __future__ import annotations

from typing import Any

import orjson

from lago_core.errors import InvalidInput
from lago_rt.channel.actor import CommandHandler, FeatureBase
from lago_rt.runtime.actor import Command
from lago_rt.runtime.keys import NodeKeys

__all__ = ["SNAPSHOT_ONLINE", "Presence"]

SNAPSHOT_ONLINE = 100


class Presence(FeatureBase):
    name = "presence"

    def __init__(self) -> None:
        super().__init__()
        # sid -> {"user_id", "name", "node"}
        self.sessions: dict[str, dict[str, str]] = {}

    def commands(self) -> dict[str, CommandHandler]:
        return {
            "presence.join": self._join,
            "presence.leave": self._leave,
            "presence.list": self._list,
        }

    # --- state ---------------------------------------------------------------------------------------

    def users(self) -> dict[str, str]:
        """Online user ids with their display names."""
        return {s["user_id"]: s["name"] for s in self.sessions.values()}

    # Sessions live in their own Redis hash (not rebuilt from events), so apply/snapshot/restore
    # keep FeatureBase's no-ops.

    def public_state(self, caller: dict[str, Any]) -> dict[str, Any]:
        # Only the first page: a join reply carrying every member would make a join storm of N
        # members cost N² (see docs/benchmarks.md); the rest is paged with presence.list.
        page = self.page(None, SNAPSHOT_ONLINE)
        return {"online": page["online"], "count": len(self.users()), "more": page["more"]}

    def page(self, after: str | None, limit: int) -> dict[str, Any]:
        users = sorted(self.users().items())
        if after is not None:
            users = [u for u in users if u[0] > after]
        online = [{"user_id": uid, "name": name} for uid, name in users[:limit]]
        return {"online": online, "more": len(users) > limit}

    def busy(self) -> bool:
        return bool(self.sessions)

    @property
    def _hash(self) -> str:
        return self.channel.ctx.keys.extra("presence")

    async def on_activate(self) -> None:
        raw = await self.channel.ctx.redis.hgetall(self._hash)  # type: ignore[misc]
        for sid, value in raw.items():
            key = sid.decode() if isinstance(sid, bytes) else str(sid)
            self.sessions[key] = orjson.loads(value)
        await self.prune_dead_nodes()

    async def on_tick(self) -> None:
        await self.prune_dead_nodes()

    # --- commands ------------------------------------------------------------------------------------

    async def _join(self, command: Command) -> dict[str, Any]:
        sid = str(command.payload.get("sid", ""))
        node = str(command.payload.get("node", ""))
        user_id = str(command.caller.get("user_id", ""))
        name = str(command.caller.get("name", ""))
        if not sid or not node or not user_id:
            raise InvalidInput("presence.join needs sid, node and a caller")
        first_device = user_id not in self.users()
        if sid not in self.sessions:
            entry = {"user_id": user_id, "name": name, "node": node}
            await self.channel.ctx.fenced("hset", [self._hash], sid, orjson.dumps(entry))
            self.sessions[sid] = entry
        if first_device:
            await self.channel.emit("presence.joined", {"user_id": user_id, "name": name})
        snapshot: dict[str, Any] = await self.channel.handle(
            Command("channel.snapshot", caller=command.caller)
        )
        return snapshot

    async def _list(self, command: Command) -> dict[str, Any]:
        after = command.payload.get("after_user_id")
        limit = int(command.payload.get("limit", SNAPSHOT_ONLINE))
        return self.page(str(after) if after else None, limit)

    async def _leave(self, command: Command) -> dict[str, Any]:
        sids = [str(s) for s in command.payload.get("sids", [])]
        await self._drop([s for s in sids if s in self.sessions])
        return {"ok": True}

    async def _drop(self, sids: list[str]) -> None:
        if not sids:
            return
        before = self.users()
        await self.channel.ctx.fenced("hdel", [self._hash], *sids)
        for sid in sids:
            self.sessions.pop(sid, None)
        after = self.users()
        for user_id in sorted(before.keys() - after.keys()):
            await self.channel.emit("presence.left", {"user_id": user_id})

    async def prune_dead_nodes(self) -> None:
        nodes = sorted({s["node"] for s in self.sessions.values()})
        if not nodes:
            return
        node_keys = NodeKeys(self.channel.ctx.settings.redis_prefix)
        async with self.channel.ctx.redis.pipeline(transaction=False) as pipe:
            for node in nodes:
                pipe.exists(node_keys.alive(node))
            alive = await pipe.execute()
        dead = {node for node, ok in zip(nodes, alive, strict=True) if not ok}
        if dead:
            await self._drop([sid for sid, s in self.sessions.items() if s["node"] in dead])
