"""Group buys in the community channel: the actor decides who gets a seat.

The seats of every live group of the community (open, or succeeded and still joinable) are held
in memory and decided here, one mailbox at a time, so deciding costs no locks. Every decision is
written to PostgreSQL in a fenced transaction *before* anyone is answered: the database is the
record (a new owner after failover loads the live groups from it) and its constraints are the
final guard against overselling (see ``sql/011_group_buys.sql``).

Joins are served in batches: the joins waiting in the mailbox share one transaction and one
``groupbuy.updated`` channel event, so a rush of joins costs one round trip per batch, not per
join, and members receive a few updates a second, not one per join.

Payments are not seen here: a capture (in a worker) changes the seat in PostgreSQL and tells the
actor (``groupbuy.sync``); the actor also reconciles its live groups with the database every
few seconds, so a lost message only delays an update.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4, uuid5

import asyncpg

from lago_core.actor_messages import GROUPBUY_SYNC
from lago_core.errors import Conflict, Forbidden, InvalidInput, LagoError, NotFound
from lago_core.groupbuys import GroupBuyService
from lago_core.logging import get_logger
from lago_rt.channel.actor import AnnounceWindow, BatchHandler, CommandHandler, FeatureBase
from lago_rt.metrics import CHANNEL_FAILURES, labelled
from lago_rt.runtime.actor import Command

__all__ = ["GroupBuys"]

log = get_logger(__name__)

LIVE = ("open", "succeeded")
# A join snapshot carries at most this many groups (the caller's own first, then the newest);
# `groupbuy:list` pages through all of them.
SNAPSHOT_GROUPS = 50
# Groups one `groupbuy.sync` reloads at most.
SYNC_MAX = 1_000
# Groups per `groupbuy:list` page unless the caller asks for fewer (the gateway caps it).
LIST_LIMIT = 50
# An update names who joined when this many or fewer joined since the last one; else it counts.
UPDATE_NAMES_MAX = 20
# How often the tick starts comparing the live groups with PostgreSQL (payments made elsewhere
# whose `groupbuy.sync` was lost), and how many groups one tick compares: a channel in a rush
# holds thousands of groups, and the whole comparison at once held its actor — every join
# behind it — for 50–100 ms.
RECONCILE_EVERY_S = 5.0
RECONCILE_SLICE = 500


@dataclass(slots=True)
class Seat:
    id: UUID
    user_id: str
    name: str
    seat_no: int
    status: str  # reserved | paid
    reserved_until: datetime

    def view(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "name": self.name,
            "seat_no": self.seat_no,
            "status": self.status,
            "reserved_until": self.reserved_until.isoformat()
            if self.status == "reserved"
            else None,
        }


@dataclass(slots=True)
class Group:
    id: UUID
    campaign_id: UUID
    title: str
    group_price_fen: int
    original_price_fen: int
    min_members: int
    max_members: int
    per_user_limit: int
    payment_window_s: int
    leader_id: str | None
    status: str
    expires_at: datetime
    created_at: datetime
    seats: dict[str, Seat] = field(default_factory=dict)  # by user id

    @property
    def paid(self) -> int:
        return sum(1 for s in self.seats.values() if s.status == "paid")

    def free_seat_no(self, taken: AbstractSet[int]) -> int | None:
        used = {s.seat_no for s in self.seats.values()} | taken
        return next((n for n in range(1, self.max_members + 1) if n not in used), None)

    def summary(self) -> dict[str, Any]:
        return {
            "group_id": str(self.id),
            "members": len(self.seats),
            "paid": self.paid,
            "status": self.status,
            "leader_id": self.leader_id,
        }

    def view(self, *, seats: bool = True) -> dict[str, Any]:
        out = {
            **self.summary(),
            "campaign_id": str(self.campaign_id),
            "title": self.title,
            "group_price_fen": self.group_price_fen,
            "original_price_fen": self.original_price_fen,
            "min_members": self.min_members,
            "max_members": self.max_members,
            "expires_at": self.expires_at.isoformat(),
            "created_at": self.created_at.isoformat(),
        }
        if seats:
            out["seats"] = sorted(
                (s.view() for s in self.seats.values()), key=lambda v: v["seat_no"]
            )
        return out


_NONE_TAKEN: frozenset[int] = frozenset()


def _group_id(raw: Any) -> UUID:
    """A group id from a command: a UUID from this node's gateway, a string when forwarded."""
    if isinstance(raw, UUID):
        return raw
    try:
        return UUID(str(raw))
    except ValueError:
        raise InvalidInput("group_id is not a UUID") from None


# Namespace of the ids of groups started with a request id (``_started_by``).
_START_NAMESPACE = UUID("5f0c3c2e-8a57-4d6b-9a43-2f7f1c0e6b11")


def _started_by(user_id: str, community: UUID, campaign_id: UUID, request_id: str) -> UUID:
    """The id of the group a member's start request makes: the same request, the same group.

    Derived rather than taken from the app, so that one member's request ids can never name
    another member's group, nor one channel's a group of another channel.
    """
    return uuid5(_START_NAMESPACE, f"{user_id}/{community}/{campaign_id}/{request_id}")


def _created(group: Group) -> tuple[datetime, UUID]:
    return (group.created_at, group.id)


def _cursor(group: Group) -> str:
    return f"{group.created_at.isoformat()}|{group.id}"


def _parse_cursor(raw: Any) -> tuple[datetime, UUID] | None:
    if raw is None:
        return None
    try:
        at, _, gid = str(raw).partition("|")
        parsed = datetime.fromisoformat(at)
        if parsed.tzinfo is None:
            raise ValueError("naive time")
        return parsed, UUID(gid)
    except ValueError:
        raise InvalidInput("cursor is not one this list gave", code="invalid_cursor") from None


# What group_buy_take_seats answers for a seat it did not take.
_REFUSALS: dict[str, Callable[[], LagoError]] = {
    "group_ended": lambda: Conflict("this group has ended", code="group_ended"),
    "limit_reached": lambda: Conflict(
        "you hold as many seats in this campaign as it allows", code="limit_reached"
    ),
    "sold_out": lambda: Conflict("the campaign has no seats left", code="sold_out"),
}


def _seat(row: asyncpg.Record) -> Seat:
    return Seat(
        id=row["id"],
        user_id=str(row["user_id"]),
        name=row["name"],
        seat_no=row["seat_no"],
        status=row["status"],
        reserved_until=row["reserved_until"],
    )


class GroupBuys(FeatureBase):
    name = "group_buys"

    def __init__(self, service: GroupBuyService) -> None:
        super().__init__()
        self._service = service
        self._store = service.store
        self.groups: dict[UUID, Group] = {}
        # Joins not yet announced, gathered into one `groupbuy.updated` per window.
        self._joined: dict[UUID, list[str]] = {}
        self._updates = AnnounceWindow("groupbuy.flush", self._flush_updates)
        self._reconciled = float("-inf")
        # Where the reconciliation pass in progress goes on (None: from the first group).
        self._reconcile_after: UUID | None = None
        self._reconciling = False
        # (reserved_until, seat id, group id) of reserved seats: the tick releases the due ones
        # without walking every seat. Entries may be stale (paid, left, reloaded); each is
        # checked against the group when it comes due.
        self._due: list[tuple[datetime, UUID, UUID]] = []

    def commands(self) -> dict[str, CommandHandler]:
        return {
            "groupbuy.start": self._start,
            "groupbuy.leave": self._leave,
            GROUPBUY_SYNC: self._sync_command,
            "groupbuy.state": self._state,
            "groupbuy.flush": self._updates.due,
        }

    def batch_commands(self) -> dict[str, BatchHandler]:
        return {"groupbuy.join": self._join_batch}

    # --- state -------------------------------------------------------------------------------------

    def busy(self) -> bool:
        # Open groups need the ticks: reservations to release, expiry to run.
        return bool(self.groups)

    def public_state(self, caller: dict[str, Any]) -> dict[str, Any]:
        # In every join reply, so without the seat lists and for a bounded number of groups
        # (``groupbuy:list`` has them all): a join storm in a busy channel must not send every
        # group and seat to every member.
        user_id = str(caller.get("user_id", ""))
        shown = [g for g in self.groups.values() if user_id in g.seats][:SNAPSHOT_GROUPS]
        if len(shown) < SNAPSHOT_GROUPS:
            # `groups` is in creation order (loaded oldest first, started groups appended).
            for group in reversed(self.groups.values()):
                if user_id not in group.seats:
                    shown.append(group)
                    if len(shown) == SNAPSHOT_GROUPS:
                        break
        return {
            "groups": [
                {**g.view(seats=False), "my_seat": mine.view() if mine else None}
                for g in sorted(shown, key=_created)
                for mine in [g.seats.get(user_id)]
            ],
            "total": len(self.groups),
        }

    def _ordered(self) -> list[Group]:
        return sorted(self.groups.values(), key=_created)

    @property
    def _community(self) -> UUID:
        return UUID(self.channel.community_id)

    async def on_activate(self) -> None:
        await self._reload(None)

    async def on_tick(self) -> None:
        if not self.groups:
            return
        now = self.channel.now()
        expired = False
        for group in list(self.groups.values()):
            if group.expires_at <= now:
                # The deferred job normally ends it; this covers a lost or early job.
                await self._service.expire(group.id)
                expired = True
        await self._release_due(now)
        mono = self.channel.ctx.clock.monotonic()
        if expired or mono - self._reconciled >= RECONCILE_EVERY_S:
            self._reconciled = mono
            self._reconciling = True
        if self._reconciling:
            await self._reconcile()

    async def _reconcile(self) -> None:
        """The backstop for a lost ``groupbuy.sync``: reload the groups whose status, leader or
        seat counts in PostgreSQL differ from memory (one row per group, not every seat) — the
        next ``RECONCILE_SLICE`` groups by id; a pass goes on tick by tick to the last group."""
        low = self._reconcile_after
        rows = await self._store.live_group_digests(self._community, low, RECONCILE_SLICE)
        high = rows[-1]["id"] if len(rows) == RECONCILE_SLICE else None
        self._reconcile_after = high
        self._reconciling = high is not None
        digests = {r["id"]: r for r in rows}
        differ = [
            gid
            for gid in self.groups
            if gid not in digests and (low is None or gid > low) and (high is None or gid <= high)
        ]
        for gid, row in digests.items():
            group = self.groups.get(gid)
            if group is None or (
                row["status"],
                str(row["leader_id"]) if row["leader_id"] else None,
                row["reserved"],
                row["paid"],
            ) != (group.status, group.leader_id, len(group.seats) - group.paid, group.paid):
                differ.append(gid)
        if differ:
            await self._reload(differ)

    # --- loading and reconciling -------------------------------------------------------------------

    async def _reload(self, group_ids: list[UUID] | None) -> None:
        """Load the live groups (or the given ones) from PostgreSQL and tell the channel what
        changed: payments, outcomes and releases made elsewhere."""
        rows = await self._store.live_groups(self._community, group_ids)
        live = {r["id"]: r for r in rows}
        wanted = list(live) if group_ids is None else sorted(set(group_ids))
        seats: dict[UUID, list[asyncpg.Record]] = {}
        for row in await self._store.active_seats(None, [g for g in wanted if g in live]):
            seats.setdefault(row["group_id"], []).append(row)
        changed: list[dict[str, Any]] = []
        for group_id in wanted:
            before = self.groups.get(group_id)
            found = live.get(group_id)
            if found is None:
                if before is not None:
                    await self._ended(before)
                continue
            row = found
            group = Group(
                id=row["id"],
                campaign_id=row["campaign_id"],
                title=row["title"],
                group_price_fen=row["group_price_fen"],
                original_price_fen=row["original_price_fen"],
                min_members=row["min_members"],
                max_members=row["max_members"],
                per_user_limit=row["per_user_limit"],
                payment_window_s=row["payment_window_s"],
                leader_id=str(row["leader_id"]) if row["leader_id"] else None,
                status=row["status"],
                expires_at=row["expires_at"],
                created_at=row["created_at"],
                seats={str(s["user_id"]): _seat(s) for s in seats.get(group_id, [])},
            )
            self.groups[group_id] = group
            self._watch(group, group.seats.values())
            if before is None:
                continue
            if before.status == "open" and group.status == "succeeded":
                await self.channel.emit("groupbuy.succeeded", group.view())
            elif before.summary() != group.summary():
                changed.append(group.summary())
        if changed:
            await self.channel.emit("groupbuy.updated", {"groups": changed})

    async def _ended(self, group: Group) -> None:
        self.groups.pop(group.id, None)
        row = await self._store.group(None, group.id)
        status = row["status"] if row is not None else "failed"
        await self.channel.emit(
            "groupbuy.ended",
            {"group_id": str(group.id), "status": status, "paid": group.paid},
        )

    async def _sync_command(self, command: Command) -> dict[str, Any]:
        """Reload ``group_id`` (or every one of ``group_ids``): it changed in PostgreSQL."""
        raw = command.payload.get("group_ids") or [command.payload.get("group_id")]
        try:
            group_ids = [UUID(str(g)) for g in raw][:SYNC_MAX]
        except ValueError:
            raise InvalidInput("group ids must be UUIDs") from None
        await self._reload(group_ids)
        return {"ok": True}

    async def _state(self, command: Command) -> dict[str, Any]:
        """A page of the live groups with their seats, oldest first (``groupbuy:list``)."""
        limit = int(command.payload.get("limit") or LIST_LIMIT)
        after = _parse_cursor(command.payload.get("cursor"))
        ordered = self._ordered()
        if after is not None:
            ordered = [g for g in ordered if _created(g) > after]
        page = ordered[:limit]
        more = len(ordered) > limit
        return {
            "groups": [g.view() for g in page],
            "next_cursor": _cursor(page[-1]) if more else None,
        }

    # --- start -------------------------------------------------------------------------------------

    async def _start(self, command: Command) -> dict[str, Any]:
        if command.caller.get("role") != "member":
            raise Forbidden("group buys are for verified residents", code="residents_only")
        user_id = str(command.caller["user_id"])
        campaign_id = UUID(str(command.payload["campaign_id"]))
        request_id = command.payload.get("request_id")
        group_id = uuid4()
        if request_id is not None:
            group_id = _started_by(user_id, self._community, campaign_id, str(request_id))
            replayed = await self._replayed_start(group_id, user_id)
            if replayed is not None:
                return replayed
        campaign = await self._store.campaign(None, campaign_id)
        now = self.channel.now()
        if campaign is None or not await self._store.offered_in(campaign_id, self._community):
            raise NotFound("no such campaign in this community", code="campaign_not_found")
        if campaign["status"] != "active" or (
            campaign["ends_at"] is not None and campaign["ends_at"] <= now
        ):
            raise Conflict("the campaign has ended", code="campaign_ended")
        group = Group(
            id=group_id,
            campaign_id=campaign_id,
            title=campaign["title"],
            group_price_fen=campaign["group_price_fen"],
            original_price_fen=campaign["original_price_fen"],
            min_members=campaign["min_members"],
            max_members=campaign["max_members"],
            per_user_limit=campaign["per_user_limit"],
            payment_window_s=campaign["payment_window_s"],
            leader_id=user_id,
            status="open",
            expires_at=now + timedelta(hours=campaign["valid_hours"]),
            created_at=now,
        )
        seat = Seat(
            uuid4(),
            user_id,
            str(command.caller.get("name", "")),
            1,
            "reserved",
            min(now + timedelta(seconds=group.payment_window_s), group.expires_at),
        )
        async with self.channel.ctx.fenced_transaction() as conn:
            held = await self._store.held_by_users(conn, campaign_id, [UUID(user_id)])
            if held.get(UUID(user_id), 0) >= group.per_user_limit:
                raise Conflict(
                    "you hold as many seats in this campaign as it allows", code="limit_reached"
                )
            if not await self._store.take_stock(conn, campaign_id, 1):
                raise Conflict("the campaign has no seats left", code="sold_out")
            await self._store.insert_group(
                conn,
                {
                    "id": group.id,
                    "campaign_id": campaign_id,
                    "community_id": self._community,
                    "leader_id": UUID(user_id),
                    "min_members": group.min_members,
                    "max_members": group.max_members,
                    "expires_at": group.expires_at,
                    "created_at": now,
                },
            )
            await self._store.insert_seats(conn, [self._seat_row(group, seat, now)])
        group.seats[user_id] = seat
        self.groups[group.id] = group
        self._watch(group, [seat])
        await self._service.schedule_expiry(group.id, group.expires_at)
        event = await self.channel.emit("groupbuy.started", group.view())
        return {"group": group.view(), "seat": seat.view(), "seq": event.seq, "already": False}

    async def _replayed_start(self, group_id: UUID, user_id: str) -> dict[str, Any] | None:
        """The answer to a start already carried out (its request id came again), or None."""
        group = self.groups.get(group_id)
        if group is not None:
            seat = group.seats.get(user_id)
            return {
                "group": group.view(),
                "seat": seat.view() if seat is not None else None,
                "seq": self.channel.seq,
                "already": True,
            }
        if await self._store.group(None, group_id) is not None:
            raise Conflict("the group this request started has ended", code="group_ended")
        return None

    def _seat_row(self, group: Group, seat: Seat, now: datetime) -> dict[str, Any]:
        return {
            "id": seat.id,
            "group_id": group.id,
            "max_members": group.max_members,
            "campaign_id": group.campaign_id,
            "user_id": UUID(seat.user_id),
            "seat_no": seat.seat_no,
            "reserved_until": seat.reserved_until,
            "joined_at": now,
        }

    # --- join (batched) ----------------------------------------------------------------------------

    async def _join_batch(self, commands: list[Command]) -> list[Any]:
        now = self.channel.now()
        results: list[Any] = [None] * len(commands)
        # (index, group, seat) of the joins that pass the in-memory checks.
        wanted: list[tuple[int, Group, Seat]] = []
        pending: dict[UUID, set[int]] = {}
        pending_users: set[tuple[UUID, str]] = set()
        for i, command in enumerate(commands):
            try:
                group, seat, already = self._decide_join(command, now, pending, pending_users)
            except LagoError as exc:
                results[i] = exc
                continue
            if already:  # a repeated join: answer with the seat held
                results[i] = {"group": group.summary(), "seat": seat.view(), "already": True}
                continue
            wanted.append((i, group, seat))
            pending.setdefault(group.id, set()).add(seat.seat_no)
            pending_users.add((group.id, seat.user_id))
        if not wanted:
            return results
        try:
            accepted = await self._write_joins(wanted, results, now)
        except LagoError:
            raise
        except asyncpg.IntegrityConstraintViolationError:
            # The database disagrees with memory (it should not): trust it, and ask to retry.
            labelled(CHANNEL_FAILURES, self.name, "join_constraint").inc()
            log.exception("groupbuys.join_constraint", community_id=self.channel.community_id)
            await self._reload([g.id for _, g, _ in wanted])
            for i, _, _ in wanted:
                results[i] = Conflict("the group changed, try again", code="retry")
            return results
        for i, group, seat in accepted:
            group.seats[seat.user_id] = seat
            self._watch(group, [seat])
            self._joined.setdefault(group.id, []).append(seat.user_id)
            results[i] = {"group": group.summary(), "seat": seat.view(), "already": False}
        if accepted:
            await self._update_soon()
        return results

    async def _update_soon(self) -> None:
        """Emit the joins as one ``groupbuy.updated`` now, or within ``groupbuy_update_ms``: a
        rush of joins becomes a few updates a second, not one per join for every member."""
        settings = self.channel.ctx.settings
        await self._updates.soon(self.channel.ctx, settings.groupbuy_update_ms)

    async def _flush_updates(self) -> bool:
        joined, self._joined = self._joined, {}
        # Every member receives this event, so in a rush it is as small as it can be: counts
        # instead of names, and per group only what joins change (status and leader do not: their
        # changes have events of their own). Writing it to 3,000 members was a quarter of the
        # node's CPU in a rush with the full summaries.
        rush = sum(len(users) for users in joined.values()) > UPDATE_NAMES_MAX
        groups: list[dict[str, Any]] = []
        for gid, users in joined.items():
            group = self.groups.get(gid)
            if group is None:
                continue
            if rush:
                entry = {"group_id": str(gid), "members": len(group.seats), "paid": group.paid}
                groups.append({**entry, "joined": len(users)})
            else:
                groups.append({**group.summary(), "joined": users})
        if not groups:
            return False
        await self.channel.emit("groupbuy.updated", {"groups": groups})
        return True

    def _decide_join(
        self,
        command: Command,
        now: datetime,
        pending: dict[UUID, set[int]],
        pending_users: set[tuple[UUID, str]],
    ) -> tuple[Group, Seat, bool]:
        """The group and the seat to take (or, with True, the seat already held)."""
        if command.caller.get("role") != "member":
            raise Forbidden("group buys are for verified residents", code="residents_only")
        user_id = str(command.caller["user_id"])
        group_id = _group_id(command.payload["group_id"])
        group = self.groups.get(group_id)
        if group is None:
            raise NotFound("no such open group in this channel", code="group_not_found")
        if group.expires_at <= now or group.status not in LIVE:
            raise Conflict("this group has ended", code="group_ended")
        held = group.seats.get(user_id)
        if held is not None:
            return group, held, True
        if (group.id, user_id) in pending_users:
            raise Conflict("your join is already being processed", code="duplicate_join")
        taken = pending.get(group.id, _NONE_TAKEN)
        # In a rush most joins find the group full: say so before looking for a seat number.
        if len(group.seats) + len(taken) >= group.max_members:
            raise Conflict("the group is full", code="group_full")
        seat_no = group.free_seat_no(taken)
        if seat_no is None:
            raise Conflict("the group is full", code="group_full")
        reserved_until = min(now + timedelta(seconds=group.payment_window_s), group.expires_at)
        name = str(command.caller.get("name", ""))
        return group, Seat(uuid4(), user_id, name, seat_no, "reserved", reserved_until), False

    async def _write_joins(
        self, wanted: list[tuple[int, Group, Seat]], results: list[Any], now: datetime
    ) -> list[tuple[int, Group, Seat]]:
        """Insert the seats, after the checks memory cannot make (the group ended elsewhere,
        seats the members hold in other communities, the campaign's stock) — one fenced
        statement for the whole batch."""
        rows = [self._seat_row(g, s, now) for _, g, s in wanted]
        codes = await self.channel.ctx.fenced_statement(
            lambda runner, kind, key, epoch: self._store.take_seats(
                runner, kind, key, epoch, rows, now
            )
        )
        accepted: list[tuple[int, Group, Seat]] = []
        for item, code in zip(wanted, codes, strict=True):
            if code is None:
                accepted.append(item)
            else:
                results[item[0]] = _REFUSALS[code]()
        return accepted

    # --- leave and release -------------------------------------------------------------------------

    async def _leave(self, command: Command) -> dict[str, Any]:
        user_id = str(command.caller["user_id"])
        group_id = _group_id(command.payload["group_id"])
        group = self.groups.get(group_id)
        seat = group.seats.get(user_id) if group is not None else None
        if group is None or seat is None:
            raise NotFound("you hold no seat in this group", code="no_seat")
        if seat.status == "paid" and group.status == "succeeded":
            raise Forbidden(
                "the group has succeeded: your order is with the merchant",
                code="already_succeeded",
            )
        now = self.channel.now()
        remaining = sorted(
            (s for s in group.seats.values() if s.user_id != user_id),
            key=lambda s: (s.seat_no,),
        )
        refund: tuple[UUID, int] | None = None
        cancelled = not remaining
        async with self.channel.ctx.fenced_transaction() as conn:
            statuses = await self._store.share_groups(conn, [group_id])
            if statuses.get(group_id) not in LIVE:
                raise Conflict("this group has ended", code="group_ended")
            if seat.status == "reserved":
                done = await self._store.release_seats(conn, [seat.id], now)
            else:
                refunded = await self._store.refund_seat(conn, seat.id, now)
                done = [refunded] if refunded is not None else []
                if refunded is not None:
                    await self._store.owe_refund(
                        conn, refunded["payment_id"], "left the group", now
                    )
                    refund = (refunded["payment_id"], group.group_price_fen)
            if not done:
                # Paid (or released) meanwhile: reload, and let the member try again.
                raise Conflict("your seat changed, try again", code="retry")
            await self._store.return_stock(conn, group.campaign_id, 1)
            new_leader: str | None = group.leader_id
            if group.leader_id == user_id:
                new_leader = remaining[0].user_id if remaining else None
                await self._store.set_leader(
                    conn, group_id, UUID(new_leader) if new_leader else None
                )
            if cancelled:
                await self._store.set_group_status(conn, group_id, "cancelled", now)
        del group.seats[user_id]
        group.leader_id = new_leader
        if refund is not None:
            try:
                await self._service.refund(refund[0], refund[1], "left the group")
            except Exception:
                labelled(CHANNEL_FAILURES, self.name, "refund").inc()
                log.warning("groupbuys.refund_deferred", payment_id=str(refund[0]), exc_info=True)
        if cancelled:
            self.groups.pop(group_id, None)
            event = await self.channel.emit(
                "groupbuy.ended", {"group_id": str(group_id), "status": "cancelled", "paid": 0}
            )
        else:
            event = await self.channel.emit(
                "groupbuy.updated", {"groups": [{**group.summary(), "left": [user_id]}]}
            )
        return {"group": group.summary(), "refunded": refund is not None, "seq": event.seq}

    def _watch(self, group: Group, seats: Any) -> None:
        """Remember when the reserved ones of ``seats`` are due for release."""
        for seat in seats:
            if seat.status == "reserved":
                heapq.heappush(self._due, (seat.reserved_until, seat.id, group.id))

    async def _release_due(self, now: datetime) -> None:
        """Let go of reservations whose payment window has ended."""
        due: list[tuple[Group, Seat]] = []
        seen: set[UUID] = set()
        while self._due and self._due[0][0] <= now:
            _, seat_id, group_id = heapq.heappop(self._due)
            group = self.groups.get(group_id)
            if group is None or seat_id in seen:
                continue
            seat = next((s for s in group.seats.values() if s.id == seat_id), None)
            if seat is not None and seat.status == "reserved" and seat.reserved_until <= now:
                seen.add(seat_id)
                due.append((group, seat))
        if not due:
            return
        try:
            async with self.channel.ctx.fenced_transaction() as conn:
                await self._store.share_groups(conn, sorted({g.id for g, _ in due}))
                released = await self._store.release_seats(
                    conn, [s.id for _, s in due], now, due_before=now
                )
                per_campaign: dict[UUID, int] = {}
                for row in released:
                    campaign_id = row["campaign_id"]
                    per_campaign[campaign_id] = per_campaign.get(campaign_id, 0) + 1
                for campaign_id, n in sorted(per_campaign.items()):
                    await self._store.return_stock(conn, campaign_id, n)
        except BaseException:
            # Nothing was released: try again at the next tick (or leave it to the next owner).
            for group, seat in due:
                self._watch(group, [seat])
            raise
        # A due seat not released was paid meanwhile: the next reconcile (or its sync) says so.
        released_ids = {r["id"] for r in released}
        changed: dict[UUID, list[str]] = {}
        for group, seat in due:
            if seat.id in released_ids:
                group.seats.pop(seat.user_id, None)
                changed.setdefault(group.id, []).append(seat.user_id)
        await self._after_departures([self.groups[gid] for gid in changed], now)
        changed = {gid: users for gid, users in changed.items() if gid in self.groups}
        if changed:
            await self.channel.emit(
                "groupbuy.updated",
                {
                    "groups": [
                        {**self.groups[gid].summary(), "released": users}
                        for gid, users in changed.items()
                    ]
                },
            )

    async def _after_departures(self, groups: list[Group], now: datetime) -> None:
        """Pass leadership on from a leader whose seat was let go; cancel groups left empty."""
        moves = [g for g in groups if not g.seats or g.leader_id not in g.seats]
        if not moves:
            return
        async with self.channel.ctx.fenced_transaction() as conn:
            for group in moves:
                if group.seats:
                    heir = min(group.seats.values(), key=lambda s: s.seat_no).user_id
                    await self._store.set_leader(conn, group.id, UUID(heir))
                else:
                    await self._store.set_leader(conn, group.id, None)
                    await self._store.set_group_status(conn, group.id, "cancelled", now)
        for group in moves:
            if group.seats:
                group.leader_id = min(group.seats.values(), key=lambda s: s.seat_no).user_id
            else:
                self.groups.pop(group.id, None)
                await self.channel.emit(
                    "groupbuy.ended", {"group_id": str(group.id), "status": "cancelled", "paid": 0}
                )
