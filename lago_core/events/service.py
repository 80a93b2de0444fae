"""Weekend events (社区活动): who may organise and sign up, seats and the waiting list, QR
check-in and its activity points (docs/events.md).

Every move of a seat — a sign-up, a cancellation, a promotion, a change of capacity — runs in
one transaction that first locks the event's row, and ``events.confirmed_count`` moves with it
(its CHECK refuses more than ``capacity``). So however many residents sign up at once, the seats
go one at a time, in the order the lock was granted, and the waiting list is that order too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
from prometheus_client import Counter

from lago_core.clock import Clock
from lago_core.communities import CommunityService
from lago_core.errors import Conflict, Forbidden, InvalidInput, NotFound
from lago_core.events.store import EventStore
from lago_core.events.tickets import new_nonce, sign_ticket, verify_ticket
from lago_core.ledger.store import Conn
from lago_core.logging import get_logger
from lago_core.notifications import Notice, NotificationService
from lago_core.ratelimit import RateLimiter
from lago_core.security.roles import Principal

__all__ = ["LINK_KINDS", "CheckIn", "EventService", "EventSpec"]

log = get_logger(__name__)

ATTENDANCE_POINTS_FAILURES = Counter(
    "lago_event_attendance_points_failures_total",
    "check-ins whose activity points could not be credited (a second scan credits them)",
)

# Credits activity points for attending: PointsSources.event_attended (idempotent per user and
# event; returns the points credited, 0 when they were already).
Attended = Callable[[UUID, str, datetime], Awaitable[int]]

LINK_KINDS = ("live", "draw", "group_buy")
OPEN_STATUSES = ("draft", "published")
# The door opens a while before the programme starts and closes a while after it ends.
CHECK_IN_EARLY = timedelta(hours=2)
CHECK_IN_LATE = timedelta(hours=2)
MAX_AHEAD = timedelta(days=365)
MAX_LENGTH = timedelta(days=7)
MAX_CAPACITY = 10_000
# Per resident: a person taps a few times; a script is stopped.
SIGN_UPS = "30/minute"
# Per member of staff at the door: a queue's pace, not a forger's.
CHECK_INS = "120/minute"


@dataclass(frozen=True, slots=True)
class EventSpec:
    title: str
    place: str
    programme: str
    starts_at: datetime
    ends_at: datetime
    capacity: int
    signup_opens_at: datetime | None = None
    signup_closes_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CheckIn:
    registration: asyncpg.Record
    points: int


class EventService:
    def __init__(
        self,
        store: EventStore,
        *,
        communities: CommunityService,
        notifications: NotificationService,
        attended: Attended,
        limiter: RateLimiter,
        ticket_key: bytes,
        clock: Clock,
    ) -> None:
        self.store = store
        self._communities = communities
        self._notifications = notifications
        self._attended = attended
        self._limiter = limiter
        self._key = ticket_key
        self._clock = clock

    # --- who -------------------------------------------------------------------------------------

    async def may_organise(self, actor: Principal, community_id: UUID) -> bool:
        """Platform staff (admins, customer service) and the community's property staff."""
        if actor.is_admin or actor.is_customer_service:
            return True
        return await self._communities.is_staff(actor, community_id)

    async def _require_organiser(self, actor: Principal, community_id: UUID) -> None:
        if not await self.may_organise(actor, community_id):
            raise Forbidden(
                "only this community's property staff or platform staff organise its events",
                code="not_an_organiser",
            )

    async def _visible(self, actor: Principal, event_id: UUID) -> tuple[asyncpg.Record, bool]:
        """The event and whether the caller organises it. Drafts are the organisers' alone; to
        anyone else they, like events of other communities, are not found."""
        row = await self.store.get(event_id)
        if row is None:
            raise NotFound("event not found", code="event_not_found")
        organiser = await self.may_organise(actor, row["community_id"])
        if organiser:
            return row, True
        if row["status"] == "draft" or not await self._communities.is_verified_member(
            actor.user_id, row["community_id"]
        ):
            raise NotFound("event not found", code="event_not_found")
        return row, False

    # --- organising ------------------------------------------------------------------------------

    async def create(
        self, actor: Principal, community_id: UUID, spec: EventSpec, *, publish: bool
    ) -> asyncpg.Record:
        await self._communities.get(community_id)
        await self._require_organiser(actor, community_id)
        now = self._clock.now()
        opens = spec.signup_opens_at or now
        closes = spec.signup_closes_at or spec.starts_at
        _check_event(
            spec.starts_at, spec.ends_at, opens, closes, spec.capacity, now, new_start=True
        )
        return await self.store.insert(
            {
                "id": uuid4(),
                "community_id": community_id,
                "created_by": actor.user_id,
                "title": spec.title,
                "place": spec.place,
                "programme": spec.programme,
                "starts_at": spec.starts_at,
                "ends_at": spec.ends_at,
                "signup_opens_at": opens,
                "signup_closes_at": closes,
                "capacity": spec.capacity,
                "status": "published" if publish else "draft",
                "created_at": now,
                "updated_at": now,
            }
        )

    async def update(
        self, actor: Principal, event_id: UUID, changes: dict[str, Any]
    ) -> asyncpg.Record:
        """Change what an open event says; more seats go to the waiting list's head at once,
        fewer than are taken is refused (cancel registrations first)."""
        await self._organised(actor, event_id)
        now = self._clock.now()
        async with self.store.pool.acquire() as conn, conn.transaction():
            event = await self._lock(conn, event_id)
            if event["status"] not in OPEN_STATUSES:
                raise Conflict(f"the event is {event['status']}", code="event_closed")
            merged = {**dict(event), **changes}
            _check_event(
                merged["starts_at"],
                merged["ends_at"],
                merged["signup_opens_at"],
                merged["signup_closes_at"],
                merged["capacity"],
                now,
                new_start=merged["starts_at"] != event["starts_at"],
            )
            if merged["capacity"] < event["confirmed_count"]:
                raise Conflict(
                    f"{event['confirmed_count']} seats are taken: cancel registrations first",
                    code="capacity_below_confirmed",
                )
            if changes:
                event = await self.store.update(conn, event_id, changes, now)
            await self._fill(conn, event, now)
        return await self._fresh(event_id)

    async def publish(self, actor: Principal, event_id: UUID) -> asyncpg.Record:
        await self._organised(actor, event_id)
        now = self._clock.now()
        async with self.store.pool.acquire() as conn, conn.transaction():
            event = await self._lock(conn, event_id)
            if event["status"] != "draft":
                raise Conflict(f"the event is {event['status']}", code="not_a_draft")
            if event["starts_at"] <= now:
                raise Conflict("the event has started: change its time first", code="started")
            await self.store.update(conn, event_id, {"status": "published"}, now)
        return await self._fresh(event_id)

    async def cancel(self, actor: Principal, event_id: UUID, reason: str) -> asyncpg.Record:
        """Call the event off: everyone with a seat or a place in the queue is told, and every
        privilege spent on it is given back."""
        await self._organised(actor, event_id)
        now = self._clock.now()
        async with self.store.pool.acquire() as conn, conn.transaction():
            event = await self._lock(conn, event_id)
            if event["status"] not in OPEN_STATUSES:
                raise Conflict(f"the event is {event['status']}", code="event_closed")
            event = await self.store.update(
                conn, event_id, {"status": "cancelled", "cancel_reason": reason or None}, now
            )
            await self.store.release_privileges(conn, event_id, waiting_only=False)
            users = await self.store.active_user_ids(conn, event_id)
            body = f"「{event['title']}」已取消。" + (f"原因：{reason}" if reason else "")
            await self._notifications.notify(
                users,
                Notice(
                    kind="event_cancelled",
                    key=f"event:{event_id}:cancelled",
                    title="活动已取消",
                    body=body,
                    data={"event_id": str(event_id), "community_id": str(event["community_id"])},
                ),
                conn=conn,
            )
        return await self._fresh(event_id)

    async def finish(self, actor: Principal, event_id: UUID) -> asyncpg.Record:
        """Close a published event once it has started; privileges of those still waiting are
        given back (they never had a seat)."""
        await self._organised(actor, event_id)
        now = self._clock.now()
        async with self.store.pool.acquire() as conn, conn.transaction():
            event = await self._lock(conn, event_id)
            if event["status"] != "published":
                raise Conflict(f"the event is {event['status']}", code="not_published")
            if now < event["starts_at"]:
                raise Conflict("the event has not started", code="not_started")
            await self._close_as_finished(conn, event_id, now)
        return await self._fresh(event_id)

    async def finish_ended(self) -> int:
        """Finish every published event whose check-in door has closed (a job; returns how many).

        Organisers often never press "finish", and until someone does, the privileges spent on
        places that never became seats stay spent. Each event is re-checked under its lock, so a
        manual finish or a cancellation meanwhile wins and a rerun finds nothing left."""
        now = self._clock.now()
        finished = 0
        for event_id in await self.store.ended_and_published(now - CHECK_IN_LATE):
            async with self.store.pool.acquire() as conn, conn.transaction():
                event = await self._lock(conn, event_id)
                if event["status"] != "published" or event["ends_at"] + CHECK_IN_LATE > now:
                    continue
                await self._close_as_finished(conn, event_id, now)
            finished += 1
        if finished:
            log.info("events.finished_after_end", count=finished)
        return finished

    async def _close_as_finished(self, conn: Conn, event_id: UUID, now: datetime) -> None:
        await self.store.update(conn, event_id, {"status": "finished"}, now)
        await self.store.release_privileges(conn, event_id, waiting_only=True)

    async def of_community(self, actor: Principal, community_id: UUID) -> list[asyncpg.Record]:
        """The community's latest 100 events with the caller's own status in each: members see
        the published, cancelled and finished ones, organisers drafts as well."""
        await self._communities.get(community_id)
        if await self.may_organise(actor, community_id):
            statuses = ["draft", "published", "cancelled", "finished"]
        elif await self._communities.is_verified_member(actor.user_id, community_id):
            statuses = ["published", "cancelled", "finished"]
        else:
            raise Forbidden("only members of this community see its events", code="not_a_member")
        return await self.store.of_community(community_id, statuses, actor.user_id)

    async def get(self, actor: Principal, event_id: UUID) -> tuple[asyncpg.Record, bool]:
        """The event and whether the caller may organise it."""
        return await self._visible(actor, event_id)

    async def registrations(self, actor: Principal, event_id: UUID) -> list[asyncpg.Record]:
        await self._organised(actor, event_id)
        return await self.store.registrations(event_id)

    # --- residents -------------------------------------------------------------------------------

    async def sign_up(
        self, actor: Principal, event_id: UUID, *, use_privilege: bool = False
    ) -> asyncpg.Record:
        """A seat while there is one, else a place in the waiting list; a second call answers
        with the same registration. ``use_privilege``: when the event is full, spend a points
        privilege (优先报名) to wait ahead of every ordinary resident; with a seat free nothing
        is spent."""
        event, _ = await self._visible(actor, event_id)
        if not await self._communities.is_verified_member(actor.user_id, event["community_id"]):
            raise Forbidden(
                "only verified residents of this community sign up", code="not_a_member"
            )
        await self._limiter.hit_or_raise(SIGN_UPS, "event-sign-up", str(actor.user_id))
        async with self.store.pool.acquire() as conn, conn.transaction():
            event = await self._lock(conn, event_id)
            mine = await self.store.registration(event_id, actor.user_id, conn)
            if mine is not None and mine["status"] != "cancelled":
                return mine
            now = self._clock.now()
            _require_sign_up_open(event, now)
            entitlement = None
            if event["confirmed_count"] < event["capacity"]:
                status = "confirmed"
                await self.store.add_confirmed(conn, event_id, 1)
            else:
                status = "waitlisted"
                if use_privilege:
                    entitlement = await self.store.take_privilege(conn, actor.user_id, now)
                    if entitlement is None:
                        raise Conflict(
                            "you hold no points privilege to sign up with", code="no_privilege"
                        )
            registration_id = await self.store.register(
                conn,
                registration_id=uuid4(),
                event_id=event_id,
                user_id=actor.user_id,
                status=status,
                priority=entitlement is not None,
                entitlement_id=entitlement,
                nonce=new_nonce(),
                now=now,
            )
            row = await self.store.registration_by_id(registration_id, conn)
        assert row is not None
        return row

    async def cancel_mine(self, actor: Principal, event_id: UUID) -> asyncpg.Record:
        """Give up a seat (the head of the waiting list gets it, in the same transaction, and is
        told) or a place in the queue (a privilege spent on it is given back)."""
        await self._visible(actor, event_id)
        now = self._clock.now()
        async with self.store.pool.acquire() as conn, conn.transaction():
            event = await self._lock(conn, event_id)
            mine = await self.store.registration(event_id, actor.user_id, conn)
            if mine is None or mine["status"] == "cancelled":
                raise NotFound("you have not signed up", code="registration_not_found")
            if mine["checked_in_at"] is not None:
                raise Conflict("you have been checked in already", code="already_checked_in")
            if event["status"] not in OPEN_STATUSES:
                raise Conflict(f"the event is {event['status']}", code="event_closed")
            cancelled = await self.store.cancel_registration(conn, mine["id"], actor.user_id, now)
            if cancelled is None:
                # A check-in (which does not take the event's lock) came first.
                raise Conflict("you have been checked in already", code="already_checked_in")
            if cancelled["old_status"] == "confirmed":
                await self.store.add_confirmed(conn, event_id, -1)
                event = await self._lock(conn, event_id)
                await self._fill(conn, event, now)
            else:
                given = await self.store.forget_privilege(conn, mine["id"])
                await self.store.give_back_privileges(conn, [given] if given else [])
            row = await self.store.registration_by_id(mine["id"], conn)
        assert row is not None
        return row

    async def mine(self, actor: Principal, event_id: UUID) -> asyncpg.Record | None:
        return await self.store.registration(event_id, actor.user_id)

    async def privileges(self, actor: Principal) -> int:
        return await self.store.unused_privileges(actor.user_id)

    def ticket(self, registration: asyncpg.Record) -> str | None:
        """The QR code text of a confirmed registration (for its resident only)."""
        if registration["status"] != "confirmed":
            return None
        return sign_ticket(
            self._key, registration["event_id"], registration["id"], registration["ticket_nonce"]
        )

    # --- the door --------------------------------------------------------------------------------

    async def check_in(self, actor: Principal, event_id: UUID, token: str) -> CheckIn:
        """Check in the resident whose QR code staff scanned: once (409 ``already_checked_in``
        says when and by whom), only at this event (422 ``wrong_event``), only with the ticket
        of a current seat (409 ``ticket_revoked``). Attending credits activity points."""
        await self._limiter.hit_or_raise(CHECK_INS, "event-check-in", str(actor.user_id))
        event = await self._organised(actor, event_id)
        ticket = verify_ticket(self._key, token)
        if ticket.event_id != event_id:
            raise InvalidInput("this ticket is for another event", code="wrong_event")
        now = self._clock.now()
        if event["status"] not in ("published", "finished") or not (
            event["starts_at"] - CHECK_IN_EARLY <= now <= event["ends_at"] + CHECK_IN_LATE
        ):
            raise Conflict(
                "check-in opens two hours before the start and closes two hours after the end",
                code="check_in_closed",
            )
        async with self.store.pool.acquire() as conn, conn.transaction():
            done = await self.store.check_in(
                conn, ticket.registration_id, ticket.nonce, actor.user_id, now
            )
        registration = await self.store.registration_by_id(ticket.registration_id)
        if registration is None or registration["event_id"] != event_id:
            raise Conflict("this ticket is no longer valid", code="ticket_revoked")
        if done is None:
            if (
                registration["checked_in_at"] is None
                or registration["ticket_nonce"] != ticket.nonce
            ):
                raise Conflict("this ticket is no longer valid", code="ticket_revoked")
            # A credit a failure left undone is made by the next scan (it is idempotent).
            await self._credit(registration, registration["checked_in_at"])
            by = registration["checked_in_by"]
            raise Conflict(
                f"{registration['display_name']} was checked in already",
                code="already_checked_in",
                details={
                    "registration_id": str(registration["id"]),
                    "resident": registration["display_name"],
                    "checked_in_at": registration["checked_in_at"].isoformat(),
                    "checked_in_by": str(by) if by else None,
                    "checked_in_by_name": await self.store.display_name(by) if by else None,
                },
            )
        return CheckIn(registration, await self._credit(registration, now))

    async def _credit(self, registration: asyncpg.Record, at: datetime) -> int:
        try:
            return await self._attended(registration["user_id"], str(registration["event_id"]), at)
        except Exception:
            ATTENDANCE_POINTS_FAILURES.inc()
            log.exception("events.attendance_points_failed", registration=str(registration["id"]))
            return 0

    # --- links -----------------------------------------------------------------------------------

    async def link(self, actor: Principal, event_id: UUID, kind: str, target_id: UUID) -> None:
        """Attach a live stream (its announcement), a draw or a group buy of the same
        community; attaching one twice changes nothing."""
        event = await self._organised(actor, event_id)
        if kind not in LINK_KINDS:
            raise InvalidInput(f"kind is one of {', '.join(LINK_KINDS)}", code="invalid_kind")
        async with self.store.pool.acquire() as conn:
            community = await self.store.link_target_community(conn, kind, target_id)
        if community != event["community_id"]:
            raise NotFound(
                f"no {kind.replace('_', ' ')} {target_id} in this community",
                code="link_target_not_found",
            )
        await self.store.add_link(event_id, kind, target_id, actor.user_id, self._clock.now())

    async def unlink(self, actor: Principal, event_id: UUID, kind: str, target_id: UUID) -> None:
        await self._organised(actor, event_id)
        if not await self.store.remove_link(event_id, kind, target_id):
            raise NotFound("the event does not link this", code="link_not_found")

    async def links(self, event_id: UUID) -> list[asyncpg.Record]:
        return await self.store.links(event_id)

    # --- internals -------------------------------------------------------------------------------

    async def _organised(self, actor: Principal, event_id: UUID) -> asyncpg.Record:
        row = await self.store.get(event_id)
        if row is None:
            raise NotFound("event not found", code="event_not_found")
        await self._require_organiser(actor, row["community_id"])
        return row

    async def _fresh(self, event_id: UUID) -> asyncpg.Record:
        row = await self.store.get(event_id)
        assert row is not None
        return row

    async def _lock(self, conn: Conn, event_id: UUID) -> asyncpg.Record:
        row = await self.store.lock(conn, event_id)
        if row is None:
            raise NotFound("event not found", code="event_not_found")
        return row

    async def _fill(self, conn: Conn, event: asyncpg.Record, now: datetime) -> None:
        """Give free seats to the head of the waiting list, telling each promoted resident —
        inside the caller's transaction, under the event's lock."""
        if event["status"] != "published" or now >= event["ends_at"]:
            return
        free = event["capacity"] - event["confirmed_count"]
        while free > 0:
            promoted = await self.store.promote_next(conn, event["id"], now)
            if promoted is None:
                return
            free -= 1
            await self.store.add_confirmed(conn, event["id"], 1)
            await self._notifications.notify(
                [promoted["user_id"]],
                Notice(
                    kind="event_promoted",
                    key=f"event:{event['id']}:promoted:{promoted['id']}:{promoted['seq']}",
                    title="候补成功",
                    body=f"您已获得「{event['title']}」的名额，地点：{event['place']}。",
                    data={
                        "event_id": str(event["id"]),
                        "registration_id": str(promoted["id"]),
                        "community_id": str(event["community_id"]),
                    },
                ),
                conn=conn,
            )


def _check_event(
    starts: datetime,
    ends: datetime,
    opens: datetime,
    closes: datetime,
    capacity: int,
    now: datetime,
    *,
    new_start: bool,
) -> None:
    if not 1 <= capacity <= MAX_CAPACITY:
        raise InvalidInput(f"capacity is 1 to {MAX_CAPACITY}", code="invalid_capacity")
    if not starts < ends:
        raise InvalidInput("an event ends after it starts", code="invalid_times")
    if ends - starts > MAX_LENGTH:
        raise InvalidInput("an event lasts at most 7 days", code="invalid_times")
    if new_start and not now < starts <= now + MAX_AHEAD:
        raise InvalidInput("an event starts between now and a year ahead", code="invalid_times")
    if not now - MAX_AHEAD <= opens < closes:
        raise InvalidInput("sign-up opens within a year and closes after", code="invalid_times")
    if closes > ends:
        raise InvalidInput("sign-up closes by the end of the event", code="invalid_times")


def _require_sign_up_open(event: asyncpg.Record, now: datetime) -> None:
    if event["status"] != "published":
        raise Conflict(f"the event is {event['status']}", code="event_not_open")
    if now < event["signup_opens_at"]:
        raise Conflict("sign-up has not opened yet", code="sign_up_not_open")
    if now >= event["signup_closes_at"] or now >= event["ends_at"]:
        raise Conflict("sign-up has closed", code="sign_up_closed")
