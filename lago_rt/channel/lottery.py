"""Lottery draws in a community channel: open with a commitment, count down, draw once, reveal.

The scheme is ``lago_core/lottery/draw.py`` (see docs/lottery.md); this feature runs it in the
channel actor:

- **open** (``lottery.open``): a fresh secret seed is written to PostgreSQL with the draw (fenced),
  then ``lottery.opened`` carries the commitment — never the seed: the event stream is public.
- **countdown**: every actor tick draws the open draws whose time has come (the actor's injectable
  clock), and ``busy()`` keeps the actor alive meanwhile.
- **draw** (at the deadline, or ``lottery.draw`` by the organiser): the entry list is frozen by the
  draw's eligibility, then one fenced transaction locks the draw row and inserts its result. The
  result's primary key makes the draw happen once: a second trigger, or a new owner after a
  failover, finds the stored result and publishes that instead of drawing again. A replaced owner
  cannot write at all (fencing).
- ``lottery.drawn`` publishes the entry hash, count and winners; ``lottery.revealed`` the seed.

Keyword entries are event-sourced: this feature sees every ``chat.message`` in ``apply`` and
remembers who sent the keyword after the draw opened, so a new owner rebuilds the same set.
On activation the feature reconciles with PostgreSQL, so a crash between a write there and the
event that announces it only delays the announcement.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from lago_core.errors import Conflict, Forbidden, InvalidInput, NotFound
from lago_core.logging import get_logger
from lago_core.lottery import DrawStore, canonical_entries, commitment_of, draw_winners, new_seed
from lago_core.lottery import entries_hash as hash_entries
from lago_core.lottery.service import opened_json
from lago_rt.channel.actor import CommandHandler, FeatureBase
from lago_rt.channel.events import ChannelEvent
from lago_rt.channel.live import Live
from lago_rt.channel.presence import Presence
from lago_rt.metrics import CHANNEL_FAILURES, labelled
from lago_rt.runtime.actor import Command, Fenced

__all__ = ["ELIGIBILITY", "MAX_COUNTDOWN_S", "Lottery"]

log = get_logger(__name__)

ELIGIBILITY = ("viewers", "keyword", "members")
MAX_COUNTDOWN_S = 3_600
MAX_WINNERS = 1_000
# Finished draws kept in the channel's state (older ones are in PostgreSQL).
KEPT_FINISHED = 20


class Lottery(FeatureBase):
    name = "lottery"

    def __init__(self) -> None:
        super().__init__()
        # draw id -> the draw's public fields and status ("open", "drawn", "revealed")
        self.draws: dict[str, dict[str, Any]] = {}
        # draw id -> users who sent the keyword since it opened (open keyword draws only)
        self.keyword_senders: dict[str, set[str]] = {}

    def commands(self) -> dict[str, CommandHandler]:
        return {
            "lottery.open": self._open,
            "lottery.draw": self._trigger,
            "lottery.get": self._get,
        }

    # --- state ---------------------------------------------------------------------------------------

    def apply(self, event: ChannelEvent) -> None:
        data = event.data
        if event.type == "chat.message":
            text = str(data.get("text", "")).casefold()
            for draw_id, senders in self.keyword_senders.items():
                keyword = str(self.draws[draw_id]["keyword"]).casefold()
                if keyword in text:
                    senders.add(str(data["user_id"]))
        elif event.type == "lottery.opened":
            draw = {**data, "status": "open"}
            self.draws[str(data["id"])] = draw
            if data["eligibility"] == "keyword":
                self.keyword_senders[str(data["id"])] = set()
        elif event.type == "lottery.drawn":
            draw_id = str(data["id"])
            if draw_id in self.draws:
                self.draws[draw_id].update(data, status="drawn")
            self.keyword_senders.pop(draw_id, None)
        elif event.type == "lottery.revealed":
            draw_id = str(data["id"])
            if draw_id in self.draws:
                self.draws[draw_id].update(seed=data["seed"], status="revealed")
            self._forget_old()

    def _forget_old(self) -> None:
        finished = [k for k, d in self.draws.items() if d["status"] == "revealed"]
        for draw_id in finished[:-KEPT_FINISHED]:
            del self.draws[draw_id]

    def snapshot(self) -> dict[str, Any]:
        return {
            "draws": list(self.draws.values()),
            "keyword_senders": {k: sorted(v) for k, v in self.keyword_senders.items()},
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.draws = {str(d["id"]): dict(d) for d in state.get("draws", [])}
        self.keyword_senders = {k: set(v) for k, v in state.get("keyword_senders", {}).items()}

    def public_state(self, caller: dict[str, Any]) -> dict[str, Any]:
        return {"draws": list(self.draws.values())}

    def busy(self) -> bool:
        return any(d["status"] != "revealed" for d in self.draws.values())

    # --- lifecycle -------------------------------------------------------------------------------------

    async def on_activate(self) -> None:
        await self._reconcile()

    async def on_tick(self) -> None:
        now = self.channel.now()
        for draw_id, draw in list(self.draws.items()):
            if draw["status"] == "open" and datetime.fromisoformat(draw["draw_at"]) <= now:
                try:
                    await self.draw(draw_id)
                except Fenced:
                    raise
                except Exception:
                    # The next tick tries again; the stored result keeps it to one outcome.
                    labelled(CHANNEL_FAILURES, self.name, "draw").inc()
                    log.exception("lottery.draw_failed", draw_id=draw_id)
            elif draw["status"] == "drawn":
                await self._reveal(draw_id)

    async def _reconcile(self) -> None:
        """Publish what PostgreSQL holds but the channel has not announced (a crash in between)."""
        store = DrawStore(self.channel.ctx.pool)
        for row in reversed(await store.of_community(uuid.UUID(self.channel.community_id))):
            draw_id = str(row["id"])
            known = self.draws.get(draw_id)
            if known is None:
                if row["drawn_at"] is not None:
                    continue  # an old draw, forgotten from state on purpose
                await self.channel.emit("lottery.opened", opened_json(row))
                known = self.draws[draw_id]
            if row["drawn_at"] is not None and known["status"] == "open":
                await self.channel.emit("lottery.drawn", _drawn_data(row))
            if row["drawn_at"] is not None and self.draws[draw_id]["status"] == "drawn":
                await self._reveal(draw_id)

    # --- commands ------------------------------------------------------------------------------------

    async def _open(self, command: Command) -> dict[str, Any]:
        payload = command.payload
        draw_id = str(uuid.UUID(str(payload["draw_id"])))
        if draw_id in self.draws:  # the same request again (a lost reply, a forward retried)
            return {"draw": self.draws[draw_id], "duplicate": True}
        eligibility = str(payload["eligibility"])
        keyword = payload.get("keyword")
        countdown = int(payload["countdown_s"])
        winner_count = int(payload["winner_count"])
        if eligibility not in ELIGIBILITY:
            raise InvalidInput(f"eligibility is one of {', '.join(ELIGIBILITY)}")
        if (eligibility == "keyword") != bool(keyword):
            raise InvalidInput("a keyword draw needs a keyword, other draws none", code="keyword")
        if not 0 <= countdown <= MAX_COUNTDOWN_S:
            raise InvalidInput(f"the countdown is 0 to {MAX_COUNTDOWN_S} seconds")
        if not 1 <= winner_count <= MAX_WINNERS:
            raise InvalidInput(f"1 to {MAX_WINNERS} winners")
        live_session = payload.get("live_session")
        if live_session is not None:
            live = self.channel.feature("live")
            current = live.session if isinstance(live, Live) else None
            if current is None or current["session_id"] != live_session:
                raise NotFound("no such live session in this channel", code="live_not_found")
        now = self.channel.now()
        seed = new_seed()
        draw = {
            "id": draw_id,
            "community_id": self.channel.community_id,
            "organiser_id": str(command.caller["user_id"]),
            "live_session": live_session,
            "prize": str(payload["prize"]),
            "winner_count": winner_count,
            "eligibility": eligibility,
            "keyword": keyword or None,
            "commitment": commitment_of(seed),
            "opened_at": now.isoformat(),
            "draw_at": (now + timedelta(seconds=countdown)).isoformat(),
        }
        # The seed goes to PostgreSQL only (fenced), before the commitment is published.
        async with self.channel.ctx.fenced_transaction() as conn:
            await DrawStore.insert_draw(conn, {**draw, "seed": seed})
        await self.channel.emit("lottery.opened", draw)
        return {"draw": self.draws[draw_id], "duplicate": False}

    async def _trigger(self, command: Command) -> dict[str, Any]:
        draw_id = str(command.payload["draw_id"])
        draw = self.draws.get(draw_id)
        if draw is None:
            raise NotFound("no such draw in this channel", code="draw_not_found")
        caller = command.caller
        if caller.get("user_id") != draw["organiser_id"] and caller.get("role") not in (
            "staff",
            "admin",
        ):
            raise Forbidden("only the organiser or property staff draw early", code="forbidden")
        already = draw["status"] != "open"
        await self.draw(draw_id)
        return {"draw": self.draws[draw_id], "already": already}

    async def _get(self, command: Command) -> dict[str, Any]:
        draw = self.draws.get(str(command.payload["draw_id"]))
        if draw is None:
            raise NotFound("no such draw in this channel", code="draw_not_found")
        return {"draw": draw}

    # --- drawing ---------------------------------------------------------------------------------------

    async def draw(self, draw_id: str) -> None:
        """Freeze the entries, store the result once, publish it and reveal the seed."""
        draw = self.draws[draw_id]
        if draw["status"] == "open":
            entries = await self._eligible(draw)
            store_id = uuid.UUID(draw_id)
            async with self.channel.ctx.fenced_transaction() as conn:
                row = await DrawStore.lock(conn, store_id)
                if row is None:
                    raise Conflict("the draw is missing from the database", code="draw_missing")
                if row["drawn_at"] is None:
                    if draw["eligibility"] == "members":
                        entries = await DrawStore.verified_member_ids(
                            conn, uuid.UUID(self.channel.community_id)
                        )
                    canonical = canonical_entries(e for e in entries if e != draw["organiser_id"])
                    winners = draw_winners(row["seed"], canonical, int(row["winner_count"]))
                    await DrawStore.insert_result(
                        conn,
                        store_id,
                        canonical,
                        hash_entries(canonical),
                        winners,
                        self.channel.now(),
                    )
                    row = await DrawStore.lock(conn, store_id)
                    assert row is not None
            await self.channel.emit("lottery.drawn", _drawn_data(row))
        await self._reveal(draw_id)

    async def _reveal(self, draw_id: str) -> None:
        if self.draws[draw_id]["status"] != "drawn":
            return
        row = await DrawStore(self.channel.ctx.pool).get(uuid.UUID(draw_id))
        assert row is not None
        assert row["drawn_at"] is not None
        await self.channel.emit("lottery.revealed", {"id": draw_id, "seed": row["seed"]})

    async def _eligible(self, draw: dict[str, Any]) -> list[str]:
        eligibility = draw["eligibility"]
        if eligibility == "keyword":
            return sorted(self.keyword_senders.get(str(draw["id"]), set()))
        if eligibility == "viewers":
            online: set[str] = set()
            presence = self.channel.feature("presence")
            if isinstance(presence, Presence):
                online |= set(presence.users())
            live = self.channel.feature("live")
            if isinstance(live, Live):
                online |= live.viewer_user_ids()
            return sorted(online)
        return []  # members: read inside the draw's transaction


def _drawn_data(row: Any) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "entries_hash": row["entries_hash"],
        "entry_count": len(row["entries"]),
        "winners": list(row["winners"]),
        "drawn_at": row["drawn_at"].isoformat(),
    }
