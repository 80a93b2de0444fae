"""Chat in a community channel: idempotent sends, recent messages, deletion and mutes."""

from __future__ import annotations

from collections import OrderedDict, deque
from datetime import datetime, timedelta
from typing import Any

from lago_core.errors import Forbidden, InvalidInput, NotFound
from lago_core.logging import get_logger
from lago_rt.channel.actor import BatchHandler, CommandHandler, FeatureBase
from lago_rt.channel.events import ChannelEvent
from lago_rt.metrics import CHANNEL_FAILURES, labelled
from lago_rt.runtime.actor import Command, Fenced

__all__ = ["MAX_TEXT", "Chat"]

log = get_logger(__name__)

MAX_TEXT = 2_000
RECENT = 50
# Client message ids remembered for idempotent resends; older resends are still stopped by the
# archive's unique index, they just are not answered with the original sequence number.
REMEMBERED_IDS = 10_000
MAX_MUTE = timedelta(days=30)


class Chat(FeatureBase):
    name = "chat"

    def __init__(self) -> None:
        super().__init__()
        self.recent: deque[dict[str, Any]] = deque(maxlen=RECENT)
        self.client_ids: OrderedDict[str, int] = OrderedDict()
        self.deleted: set[int] = set()
        self.mutes: dict[str, str] = {}

    def commands(self) -> dict[str, CommandHandler]:
        return {
            "chat.delete": self._delete,
            "chat.mute": self._mute,
            "chat.unmute": self._unmute,
        }

    def batch_commands(self) -> dict[str, BatchHandler]:
        # Sends that queue up together are archived in one write before any is answered.
        return {"chat.send": self._send_batch}

    async def on_activate(self) -> None:
        if self.channel.stream_lost:
            await self._rebuild_from_archive()

    async def _rebuild_from_archive(self) -> None:
        """After Redis lost the stream and the snapshot: recent messages, the client ids that
        make resends idempotent, deletions and mutes, from the archive (every acknowledged
        message is there)."""
        pool = self.channel.ctx.pool
        cid = self.channel.community_id
        rows = await pool.fetch(
            """
            SELECT seq, created_at, data, deleted_at IS NOT NULL AS deleted FROM channel_events
            WHERE community_id = $1 AND type = 'chat.message'
            ORDER BY seq DESC LIMIT $2
            """,
            cid,
            REMEMBERED_IDS,
        )
        rows.reverse()
        for row in rows:
            data = row["data"]
            self.client_ids[f"{data['user_id']}:{data['client_msg_id']}"] = row["seq"]
            if row["deleted"]:
                self.deleted.add(row["seq"])
        self.recent.extend(
            {"seq": r["seq"], "at": r["created_at"].isoformat(), **r["data"]}
            for r in rows[-RECENT:]
        )
        mutes = await pool.fetch(
            """
            SELECT DISTINCT ON (user_id) type, data FROM channel_events
            WHERE community_id = $1 AND type IN ('member.muted', 'member.unmuted')
            ORDER BY user_id, seq DESC
            """,
            cid,
        )
        for row in mutes:
            if row["type"] == "member.muted":
                self.mutes[str(row["data"]["user_id"])] = str(row["data"]["until"])

    # --- state ---------------------------------------------------------------------------------------

    def apply(self, event: ChannelEvent) -> None:
        data = event.data
        if event.type == "chat.message":
            self.recent.append({"seq": event.seq, "at": event.at, **data})
            self.client_ids[f"{data['user_id']}:{data['client_msg_id']}"] = event.seq
            while len(self.client_ids) > REMEMBERED_IDS:
                self.client_ids.popitem(last=False)
        elif event.type == "chat.deleted":
            self.deleted.add(int(data["seq"]))
        elif event.type == "member.muted":
            self.mutes[str(data["user_id"])] = str(data["until"])
        elif event.type == "member.unmuted":
            self.mutes.pop(str(data["user_id"]), None)

    def snapshot(self) -> dict[str, Any]:
        return {
            "recent": list(self.recent),
            "client_ids": list(self.client_ids.items()),
            "deleted": sorted(self.deleted),
            "mutes": self.mutes,
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.recent = deque(state.get("recent", []), maxlen=RECENT)
        self.client_ids = OrderedDict((k, int(v)) for k, v in state.get("client_ids", []))
        self.deleted = set(state.get("deleted", []))
        self.mutes = dict(state.get("mutes", {}))

    def public_state(self, caller: dict[str, Any]) -> dict[str, Any]:
        user_id = str(caller.get("user_id", ""))
        return {
            "recent": [m for m in self.recent if m["seq"] not in self.deleted],
            "muted_until": self._muted_until(user_id),
        }

    def _muted_until(self, user_id: str) -> str | None:
        until = self.mutes.get(user_id)
        if until is None or datetime.fromisoformat(until) <= self.channel.now():
            return None
        return until

    # --- commands ------------------------------------------------------------------------------------

    async def _send_batch(self, commands: list[Command]) -> list[Any]:
        """The messages waiting together, appended and published together (one fenced round
        trip, and one write per member on every node — ``ChannelActor.emit_many``). Each is
        checked on its own first: a refusal answers only its sender."""
        results: list[Any] = [None] * len(commands)
        items: list[tuple[str, dict[str, Any]]] = []
        slots: list[int] = []  # index in ``commands`` of each item
        repeats: dict[int, int] = {}  # index of a resend within the batch -> index of its first
        first_in_batch: dict[str, int] = {}
        for i, command in enumerate(commands):
            try:
                key, item, answer = await self._check(command)
            except Fenced:
                raise
            except Exception as exc:
                results[i] = exc
                continue
            if answer is not None:
                results[i] = answer
            elif key in first_in_batch:
                repeats[i] = first_in_batch[key]
            else:
                first_in_batch[key] = i
                assert item is not None
                items.append(item)
                slots.append(i)
        if items:
            try:
                events = await self.channel.emit_many(items)
            except Fenced:
                raise
            except Exception as exc:
                # The whole batch failed (one fenced script): each sender is answered with the
                # error and resends with the same client_msg_id; counted and logged once here.
                labelled(CHANNEL_FAILURES, self.name, "append").inc()
                log.exception("chat.append_failed", messages=len(items))
                for i in [*slots, *repeats]:
                    results[i] = exc
                return results
            for i, event in zip(slots, events, strict=True):
                results[i] = {"seq": event.seq, "duplicate": False}
            for i, first in repeats.items():
                results[i] = {"seq": results[first]["seq"], "duplicate": True}
        return results

    async def _check(
        self, command: Command
    ) -> tuple[str, tuple[str, dict[str, Any]] | None, dict[str, Any] | None]:
        """(its idempotency key, the event to emit, or the answer without one: a resend of a
        message already sent); raises the refusal of a message that may not be sent."""
        user_id = str(command.caller["user_id"])
        client_msg_id = str(command.payload["client_msg_id"])
        text = str(command.payload["text"])
        key = f"{user_id}:{client_msg_id}"
        previous = self.client_ids.get(key)
        if previous is not None:
            if self.channel.archive.holds(previous):
                # The first answer was an error (the archive was down): answer once it is stored.
                await self.channel.archived()
            return key, None, {"seq": previous, "duplicate": True}
        until = self._muted_until(user_id)
        if until is not None:
            raise Forbidden("you are muted in this channel", code="muted", details={"until": until})
        if not text.strip() or len(text) > MAX_TEXT:
            raise InvalidInput(f"text must be 1 to {MAX_TEXT} characters", code="invalid_text")
        data = {
            "user_id": user_id,
            "name": str(command.caller.get("name", "")),
            "client_msg_id": client_msg_id,
            "text": text,
        }
        return key, ("chat.message", data), None

    async def _delete(self, command: Command) -> dict[str, Any]:
        seq = int(command.payload["seq"])
        if seq in self.deleted:
            return {"seq": seq, "already": True}
        if not 0 < seq <= self.channel.seq:
            raise NotFound("no message with that sequence number", code="message_not_found")
        await self.channel.ctx.fenced("sadd", [self.channel.ctx.keys.extra("deleted")], seq)
        await self.channel.emit(
            "chat.deleted",
            {
                "seq": seq,
                "by": str(command.caller["user_id"]),
                "reason": command.payload.get("reason"),
            },
        )
        return {"seq": seq, "already": False}

    async def _mute(self, command: Command) -> dict[str, Any]:
        minutes = int(command.payload["minutes"])
        length = timedelta(minutes=minutes)
        if not timedelta(minutes=1) <= length <= MAX_MUTE:
            raise InvalidInput("a mute lasts 1 minute to 30 days", code="invalid_mute")
        until = (self.channel.now() + length).isoformat()
        await self.channel.emit(
            "member.muted",
            {
                "user_id": str(command.payload["user_id"]),
                "until": until,
                "by": str(command.caller["user_id"]),
                "reason": command.payload.get("reason"),
            },
        )
        return {"until": until}

    async def _unmute(self, command: Command) -> dict[str, Any]:
        user_id = str(command.payload["user_id"])
        if user_id not in self.mutes:
            return {"already": True}
        await self.channel.emit(
            "member.unmuted", {"user_id": user_id, "by": str(command.caller["user_id"])}
        )
        return {"already": False}
