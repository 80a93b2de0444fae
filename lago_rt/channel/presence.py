"""Who is online in a community: several devices per user, join and leave events, no ghosts.

Sessions (one per connected socket) live in the actor and in a fenced Redis hash, so a new owner
after failover knows them. Each session names the node instance that holds its socket; every tick
the actor drops sessions of nodes whose liveness key has expired (a crashed node), so ghosts last
at most three node heartbeats once the actor is running.

Announcing: a user's first device coming online or last going away is announced at most once per
``presence_update_ms`` (200 ms) per channel. A lone change is ``presence.joined`` or
``presence.left`` at once, as it happens; the changes that come within the window after one are
announced together when it ends, as one ``presence.changed`` (or, if only one, as its own
event). In a join storm of N members, one event per join to everyone online was N²/2
deliveries — 2,900 members took 45 s to join, 83 % of it writing those events. In a large
channel the window also widens with the audience, so that announcing costs each channel at most
about ``ANNOUNCE_DELIVERIES_PER_S`` socket writes a second whatever its size: 200 ms up to 50
members online, 400 ms at 100, 4 s at 1,000, never more than ``ANNOUNCE_MAX_MS``. Who is online
right now is in every join's snapshot; the announcements only keep lists fresh.

The users whose change is not announced yet are kept in Redis too (a set beside the sessions,
written in the same fenced call as the session, emptied by each announcement's own fenced
append, after the event), so an owner
that dies within a window does not take its changes along: the next owner announces them when it
activates — at worst a change twice, never not at all.
"""

from __future__ import annotations

import bisect
import sys
from collections import Counter
from typing import Any

import orjson

from lago_core.errors import InvalidInput
from lago_rt.channel.actor import AnnounceWindow, BatchHandler, CommandHandler, FeatureBase
from lago_rt.runtime.actor import Command
from lago_rt.runtime.keys import NodeKeys

__all__ = ["SNAPSHOT_ONLINE", "Presence", "announce_window_ms", "presence_changes"]

SNAPSHOT_ONLINE = 100
# Presence writes per second a channel may cost its members (see the module's docstring).
ANNOUNCE_DELIVERIES_PER_S = 250
ANNOUNCE_MAX_MS = 15_000


def announce_window_ms(base_ms: int, online: int) -> int:
    """How long changes gather before they are announced to ``online`` members."""
    return max(base_ms, min(ANNOUNCE_MAX_MS, online * 1000 // ANNOUNCE_DELIVERIES_PER_S))


class Presence(FeatureBase):
    name = "presence"

    def __init__(self) -> None:
        super().__init__()
        # sid -> (user id, node instance); names are kept once per user in ``_online``. A tuple,
        # not the stored dict: one of these per connected socket.
        self.sessions: dict[str, tuple[str, str]] = {}
        # Kept beside the sessions so that a join costs a lookup, not a pass over everyone
        # online (a join storm of N members was N² here): user id -> [name, sessions], and the
        # online user ids in order, for paging.
        self._online: dict[str, list[Any]] = {}
        self._order: list[str] = []
        # Who members were last told is online (by events), and the users whose presence
        # changed since: the next announcement is the difference.
        self._announced: set[str] = set()
        self._touched: dict[str, None] = {}
        # The first page of who is online, shared by the replies of one batch of joins.
        self._first_page: dict[str, Any] | None = None
        self._window = AnnounceWindow("presence.announce", self._announce)

    def commands(self) -> dict[str, CommandHandler]:
        return {
            "presence.leave": self._leave,
            "presence.list": self._list,
            "presence.announce": self._window.due,
        }

    def batch_commands(self) -> dict[str, BatchHandler]:
        # A join storm (a node restarting, a live event starting) queues many joins at once:
        # served together they cost one fenced Redis write and one presence page, instead of a
        # round trip each, one after the other, in the actor.
        return {"presence.join": self._join_batch}

    # --- state ---------------------------------------------------------------------------------------

    def users(self) -> dict[str, str]:
        """Online user ids with their display names."""
        return {user_id: entry[0] for user_id, entry in self._online.items()}

    def is_online(self, user_id: str) -> bool:
        return user_id in self._online

    def _add(self, sid: str, entry: dict[str, str]) -> None:
        self._first_page = None
        user_id = entry["user_id"]
        self.sessions[sid] = (user_id, sys.intern(entry["node"]))
        online = self._online.get(user_id)
        if online is None:
            self._online[user_id] = [entry["name"], 1]
            bisect.insort(self._order, user_id)
        else:
            online[1] += 1

    def _remove(self, sid: str) -> None:
        entry = self.sessions.pop(sid, None)
        if entry is None:
            return
        self._first_page = None
        user_id = entry[0]
        online = self._online[user_id]
        online[1] -= 1
        if online[1] == 0:
            del self._online[user_id]
            del self._order[bisect.bisect_left(self._order, user_id)]

    # Sessions live in their own Redis hash (not rebuilt from events), so apply/snapshot/restore
    # keep FeatureBase's no-ops.

    def public_state(self, caller: dict[str, Any]) -> dict[str, Any]:
        # Only the first page: a join reply carrying every member would make a join storm of N
        # members cost N² (see docs/benchmarks.md); the rest is paged with presence.list.
        page = self._first_page or self.page(None, SNAPSHOT_ONLINE)
        return {"online": page["online"], "count": len(self._online), "more": page["more"]}

    def page(self, after: str | None, limit: int) -> dict[str, Any]:
        start = 0 if after is None else bisect.bisect_right(self._order, after)
        ids = self._order[start : start + limit]
        online = [{"user_id": uid, "name": self._online[uid][0]} for uid in ids]
        return {"online": online, "more": start + limit < len(self._order)}

    def busy(self) -> bool:
        return bool(self.sessions)

    @property
    def _hash(self) -> str:
        return self.channel.ctx.keys.extra("presence")

    @property
    def _pending(self) -> str:
        """The users touched since the last announcement (see the module's docstring)."""
        return self.channel.ctx.keys.extra("presence-pending")

    async def on_activate(self) -> None:
        async with self.channel.ctx.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self._hash)
            pipe.smembers(self._pending)
            raw, raw_pending = await pipe.execute()
        for sid, value in raw.items():
            key = sid.decode() if isinstance(sid, bytes) else str(sid)
            self._add(key, orjson.loads(value))
        # The previous owner announced everyone online but the users it had not announced yet
        # when it stopped: whoever of them is online now is still to be announced as come, the
        # others as gone.
        pending = sorted(u.decode() if isinstance(u, bytes) else str(u) for u in raw_pending)
        self._announced = set(self._online).symmetric_difference(pending)
        self._touched = dict.fromkeys(pending)
        await self._announce()
        await self.prune_dead_nodes()

    async def on_tick(self) -> None:
        await self.prune_dead_nodes()

    # --- commands ------------------------------------------------------------------------------------

    async def _join_batch(self, commands: list[Command]) -> list[Any]:
        """Sessions joining: one fenced write for all of them, then each its snapshot."""
        results: list[Any] = [None] * len(commands)
        joining: dict[str, dict[str, str]] = {}
        first_devices: dict[str, None] = {}
        for i, command in enumerate(commands):
            sid = str(command.payload.get("sid", ""))
            node = str(command.payload.get("node", ""))
            user_id = str(command.caller.get("user_id", ""))
            name = str(command.caller.get("name", ""))
            if not sid or not node or not user_id:
                results[i] = InvalidInput("presence.join needs sid, node and a caller")
                continue
            if sid in self.sessions or sid in joining:
                continue
            joining[sid] = {"user_id": user_id, "name": name, "node": node}
            if user_id not in self._online:
                first_devices[user_id] = None
        if joining:
            fields = [x for sid, e in joining.items() for x in (sid, orjson.dumps(e))]
            await self.channel.ctx.fenced(
                "hset_many_touch",
                [self._hash, self._pending],
                len(joining),
                *fields,
                *first_devices,
            )
            for sid, entry in joining.items():
                self._add(sid, entry)
        if first_devices:
            self._touched.update(first_devices)
            await self._announce_soon()
        self._first_page = self.page(None, SNAPSHOT_ONLINE)
        try:
            for i, command in enumerate(commands):
                if results[i] is None:
                    results[i] = await self.channel.handle(
                        Command("channel.snapshot", caller=command.caller)
                    )
        finally:
            # Shared by this batch's replies only: kept, a page per channel would stay in memory.
            self._first_page = None
        return results

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
        dropping = Counter(self.sessions[sid][0] for sid in sids if sid in self.sessions)
        # Users whose last device this is go offline.
        gone = sorted(u for u, n in dropping.items() if self._online[u][1] <= n)
        if gone:
            await self.channel.ctx.fenced(
                "hdel_touch", [self._hash, self._pending], len(sids), *sids, *gone
            )
        else:
            await self.channel.ctx.fenced("hdel", [self._hash], *sids)
        for sid in sids:
            self._remove(sid)
        for user_id in gone:
            self._touched[user_id] = None
        await self._announce_soon()

    # --- announcing ----------------------------------------------------------------------------------

    async def _announce_soon(self) -> None:
        """Announce the changes now if the window since the last announcement is over, else
        once it is."""
        if self._touched:
            base = self.channel.ctx.settings.presence_update_ms
            window = announce_window_ms(base, len(self._online))
            await self._window.soon(self.channel.ctx, window)

    async def _announce(self) -> bool:
        touched, self._touched = self._touched, {}
        if not touched:
            return False
        # Net changes: who came online and went away within one window was never announced.
        joined = [u for u in touched if u in self._online and u not in self._announced]
        left = [u for u in touched if u not in self._online and u in self._announced]
        self._announced.update(joined)
        self._announced.difference_update(left)
        # The pending set is emptied by the event's own fenced append, after it (one round trip):
        # an owner that dies before it leaves the users to announce again, never announced.
        pending = self._pending
        if len(joined) + len(left) > 1:
            users = [{"user_id": u, "name": self._online[u][0]} for u in joined]
            await self.channel.emit(
                "presence.changed", {"joined": users, "left": left}, clear=pending
            )
        elif joined:
            user_id = joined[0]
            await self.channel.emit(
                "presence.joined",
                {"user_id": user_id, "name": self._online[user_id][0]},
                clear=pending,
            )
        elif left:
            await self.channel.emit("presence.left", {"user_id": left[0]}, clear=pending)
        else:
            # Nothing to announce (each came and went within the window): only the set to empty.
            await self.channel.ctx.fenced("del", [pending])
        return bool(joined or left)

    async def prune_dead_nodes(self) -> None:
        nodes = sorted({s[1] for s in self.sessions.values()})
        if not nodes:
            return
        node_keys = NodeKeys(self.channel.ctx.settings.redis_prefix)
        async with self.channel.ctx.redis.pipeline(transaction=False) as pipe:
            for node in nodes:
                pipe.exists(node_keys.alive(node))
            alive = await pipe.execute()
        dead = {node for node, ok in zip(nodes, alive, strict=True) if not ok}
        if dead:
            await self._drop([sid for sid, s in self.sessions.items() if s[1] in dead])


def presence_changes(event: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(user ids who came online, user ids who went away) in a channel event, whichever of the
    three presence events it is; ([], []) for any other event. For clients of the protocol (the
    tests, the failover benchmark) — one place that knows the events' shapes."""
    kind, data = event.get("type"), event.get("data") or {}
    if kind == "presence.joined":
        return [str(data["user_id"])], []
    if kind == "presence.left":
        return [], [str(data["user_id"])]
    if kind == "presence.changed":
        return [str(u["user_id"]) for u in data.get("joined", [])], [
            str(u) for u in data.get("left", [])
        ]
    return [], []
