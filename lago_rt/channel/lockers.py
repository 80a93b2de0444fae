"""Toy lockers in a community channel: slot availability and online/offline, live, with seq numbers.

The device gateway reports each locker's view (after every heartbeat, state report and command
acknowledgement) with ``lockers.report``; the feature emits ``locker.online`` when a locker comes
back, ``locker.state`` when what residents see changed, and — at each tick — ``locker.offline``
for a locker whose last sign of life (``lockers.last_seen_at`` in PostgreSQL, written by whichever
node its device is connected to) is older than 1.5 heartbeat intervals. While any locker is online
the channel stays active, so the tick keeps watching.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from lago_core.errors import InvalidInput
from lago_core.lockers import LockerStore, is_online
from lago_rt.channel.actor import CommandHandler, FeatureBase
from lago_rt.channel.events import ChannelEvent
from lago_rt.runtime.actor import Command

__all__ = ["Lockers"]

# Fields of a locker's view that change on every heartbeat; they do not make a new event.
_VOLATILE = ("online", "last_seen_at")


def _public(view: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in view.items() if k not in _VOLATILE}


class Lockers(FeatureBase):
    name = "lockers"

    def __init__(self) -> None:
        super().__init__()
        # locker id -> its public view plus "online"
        self.lockers: dict[str, dict[str, Any]] = {}

    def commands(self) -> dict[str, CommandHandler]:
        return {"lockers.report": self._report}

    # --- state ---------------------------------------------------------------------------------------

    def apply(self, event: ChannelEvent) -> None:
        data = event.data
        if event.type in ("locker.online", "locker.state"):
            self.lockers[str(data["locker_id"])] = {**data["locker"], "online": True}
        elif event.type == "locker.offline":
            known = self.lockers.get(str(data["locker_id"]))
            if known is not None:
                known["online"] = False

    def snapshot(self) -> dict[str, Any]:
        return {"lockers": self.lockers}

    def restore(self, state: dict[str, Any]) -> None:
        self.lockers = dict(state.get("lockers", {}))

    def public_state(self, caller: dict[str, Any]) -> dict[str, Any]:
        return {"lockers": [self.lockers[k] for k in sorted(self.lockers)]}

    def busy(self) -> bool:
        return any(v["online"] for v in self.lockers.values())

    async def on_tick(self) -> None:
        online = [k for k, v in self.lockers.items() if v["online"]]
        if not online:
            return
        ctx = self.channel.ctx
        store = LockerStore(ctx.pool)
        seen = await store.last_seen(UUID(self.channel.community_id))
        now = self.channel.now()
        for locker_id in sorted(online):
            last = seen.get(UUID(locker_id))
            if is_online(last, now, ctx.settings.locker_heartbeat_ms):
                continue
            await self.channel.emit(
                "locker.offline",
                {"locker_id": locker_id, "last_seen_at": last.isoformat() if last else None},
            )
            await store.log(
                ctx.pool,
                UUID(locker_id),
                "offline",
                now,
                data={"last_seen_at": last.isoformat() if last else None},
            )

    # --- commands ------------------------------------------------------------------------------------

    async def _report(self, command: Command) -> dict[str, Any]:
        locker_id = str(command.payload.get("locker_id", ""))
        view = command.payload.get("view")
        if not locker_id or not isinstance(view, dict):
            raise InvalidInput("lockers.report needs locker_id and view")
        shown = _public(view)
        known = self.lockers.get(locker_id)
        if known is None or not known["online"]:
            event = await self.channel.emit(
                "locker.online", {"locker_id": locker_id, "locker": shown}
            )
            return {"seq": event.seq, "changed": True}
        if _public(known) != shown:
            event = await self.channel.emit(
                "locker.state", {"locker_id": locker_id, "locker": shown}
            )
            return {"seq": event.seq, "changed": True}
        return {"seq": None, "changed": False}
