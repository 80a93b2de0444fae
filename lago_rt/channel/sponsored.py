"""Sponsored slots (广告曝光) during a live stream: the channel shows a slot's card to its viewers.

Server-driven: on each heartbeat while a stream runs, the channel's owner asks the sponsored
service which slots are due in this community (its schedule window contains now, the community is
targeted, not shown in this session yet). The service records each showing in PostgreSQL before
the actor emits ``sponsor.show``, so only the one owner of the channel (leases and fencing) shows a
slot, once per stream, and a new owner after failover does not show it again. The event is
event-sourced like the others: a member joining mid-showing gets the card in the join snapshot
until its ``duration_s`` has passed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from lago_core.sponsored import SponsoredService
from lago_rt.channel.actor import FeatureBase
from lago_rt.channel.events import ChannelEvent

__all__ = ["SHOW_EVENT", "Sponsored"]

SHOW_EVENT = "sponsor.show"


class Sponsored(FeatureBase):
    name = "sponsored"

    def __init__(self, service: SponsoredService | None) -> None:
        super().__init__()
        self._service = service
        # slot id -> the show event's data and when it went out, for the current stream only.
        self.showing: dict[str, dict[str, Any]] = {}

    def apply(self, event: ChannelEvent) -> None:
        if event.type == SHOW_EVENT:
            self.showing[str(event.data["slot_id"])] = {**event.data, "shown_at": event.at}
        elif event.type in ("live.started", "live.stopped"):
            self.showing = {}

    def snapshot(self) -> dict[str, Any]:
        return {"showing": list(self.showing.values())}

    def restore(self, state: dict[str, Any]) -> None:
        self.showing = {str(s["slot_id"]): s for s in state.get("showing", [])}

    def public_state(self, caller: dict[str, Any]) -> dict[str, Any]:
        now = self.channel.now()
        return {
            "showing": [
                s
                for s in self.showing.values()
                if datetime.fromisoformat(s["shown_at"]) + timedelta(seconds=int(s["duration_s"]))
                > now
            ]
        }

    async def on_tick(self) -> None:
        if self._service is None:
            return
        live = self.channel.feature("live")
        session = getattr(live, "session", None)
        if not session:
            return
        session_id = str(session["session_id"])
        for due in await self._service.due(UUID(self.channel.community_id), session_id):
            await self.channel.emit(SHOW_EVENT, due.event(session_id))
