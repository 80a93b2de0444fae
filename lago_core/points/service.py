"""Points: earning under the rules and their daily caps, spending oldest lots first, expiry,
take-backs, check-in, and what a resident reads (docs/points.md).

Every change of a user's points happens in a transaction that first locks the user's account
row, so earnings, their caps, spending and expiry of one user never interleave; what makes each
credit happen once is the journal's UNIQUE source key, checked under that lock. The ``*_in``
methods run inside a caller's transaction (the hooks of orders and group buys, a redemption), so
the points commit or roll back with the event that earned or spent them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID, uuid4

import asyncpg
from prometheus_client import Counter

from lago_core.clock import Clock
from lago_core.errors import Conflict, InvalidInput
from lago_core.ledger.store import Conn
from lago_core.logging import get_logger
from lago_core.points.rules import (
    COMMUNITY_ZONE,
    EXPIRY_NOTICE_DAYS,
    RULES,
    STREAK_LENGTH,
    RuleName,
    local_day,
)
from lago_core.points.store import PointsStore
from lago_core.ratelimit import RateLimiter
from lago_core.security.roles import Principal

__all__ = [
    "CheckIn",
    "Earned",
    "ExpiryNotice",
    "PointsService",
    "PointsSummary",
    "TellExpiry",
]

log = get_logger(__name__)

POINTS_CHANGES = Counter(
    "lago_points_changes_total", "Points journal entries written", ["kind", "rule"]
)

NOTICE_FAILURES = Counter(
    "lago_points_notice_failures_total", "Expiry notices that could not be told (retried later)"
)

# A rule's code in the journal's `rule` column for debits: what spent or retired points.
SPEND_RULE = "redeem"
EXPIRE_RULE = "expiry"
_EXPIRE_BATCH = 200
# One check-in a day succeeds; a client hammering the button is refused before the database.
CHECK_INS = "10/minute"


@dataclass(frozen=True, slots=True)
class Earned:
    """The outcome of one earning: the points credited (0 when capped) and whether its source
    had been credited before (a repeated delivery, which credits nothing)."""

    points: int
    requested: int
    duplicate: bool
    entry_id: UUID


@dataclass(frozen=True, slots=True)
class CheckIn:
    earned: int
    bonus: int
    streak_days: int
    balance: int


@dataclass(frozen=True, slots=True)
class RuleToday:
    rule: str
    earned: int
    cap: int | None


@dataclass(frozen=True, slots=True)
class Expiring:
    points: int
    before: datetime


@dataclass(frozen=True, slots=True)
class PointsSummary:
    balance: int
    expiring_soon: Expiring | None
    streak_days: int
    checked_in_today: bool
    today: list[RuleToday]


@dataclass(frozen=True, slots=True)
class ExpiryNotice:
    user_id: UUID
    phone: str
    points: int
    expiry_day: date


# How a resident is told that points expire soon. One function, wired in the container (the
# notification centre, lago_core/points/notices.py), so points need not know how telling works.
TellExpiry = Callable[[ExpiryNotice], Awaitable[None]]


def a_year_after(at: datetime) -> datetime:
    """The same instant a calendar year later (29 February: the 28th), as PostgreSQL's
    ``+ interval '1 year'`` counts it."""
    try:
        return at.replace(year=at.year + 1)
    except ValueError:
        return at.replace(year=at.year + 1, day=28)


class PointsService:
    def __init__(
        self,
        store: PointsStore,
        clock: Clock,
        *,
        limiter: RateLimiter | None = None,
        tell: TellExpiry | None = None,
    ) -> None:
        self.store = store
        self._clock = clock
        self._limiter = limiter
        self._tell = tell

    # --- earning ---------------------------------------------------------------------------------

    async def earn(
        self,
        user_id: UUID,
        rule: RuleName,
        source_key: str,
        *,
        at: datetime | None = None,
        amount: int | None = None,
        note: str = "",
    ) -> Earned:
        """:meth:`earn_in` in a transaction of its own."""
        async with self.store.pool.acquire() as conn, conn.transaction():
            return await self.earn_in(
                conn, user_id, rule, source_key, at=at, amount=amount, note=note
            )

    async def earn_in(
        self,
        conn: Conn,
        user_id: UUID,
        rule: RuleName,
        source_key: str,
        *,
        at: datetime | None = None,
        amount: int | None = None,
        note: str = "",
    ) -> Earned:
        """Credit ``rule`` for the event ``source_key`` once, within the rule's daily cap for the
        local day of ``at`` (the event's time; now by default).

        ``amount`` is the points of a rule without a fixed amount (spending). An earning the cap
        leaves nothing of is journaled with 0 points, so its source is used up: delivering it again
        on another day does not credit it then.
        """
        spec = RULES[rule]
        wanted = spec.points if spec.points is not None else amount
        if wanted is None or wanted < 0:
            raise ValueError(f"{rule} needs a non-negative amount")
        now = self._clock.now()
        day = local_day(at or now)
        await self.store.lock_account(conn, user_id, now)
        previous = await self.store.entry_by_source(conn, source_key)
        if previous is not None:
            return Earned(previous["delta"], previous["requested"], True, previous["id"])
        granted = wanted
        if spec.daily_cap is not None and wanted > 0:
            granted = await self.store.take_from_cap(
                conn, user_id, rule.value, day, wanted, spec.daily_cap
            )
        entry_id = uuid4()
        expires_at = a_year_after(now) if granted > 0 else None
        entry = await self.store.insert_entry(
            conn,
            {
                "id": entry_id,
                "user_id": user_id,
                "kind": "earn",
                "rule": rule.value,
                "delta": granted,
                "requested": wanted,
                "source_key": source_key,
                "note": (note or ("capped" if granted < wanted else ""))[:200],
                "local_day": day,
                "created_at": now,
                "expires_at": expires_at,
            },
        )
        assert entry is not None  # the source was checked under the account's lock
        if expires_at is not None:
            await self.store.insert_lot(conn, uuid4(), user_id, entry_id, granted, now, expires_at)
            await self.store.move_balance(conn, user_id, "earned_total", granted, now)
        POINTS_CHANGES.labels(kind="earn", rule=rule.value).inc()
        return Earned(granted, wanted, False, entry_id)

    # --- spending, take-backs, expiry ------------------------------------------------------------

    async def spend_in(
        self, conn: Conn, user_id: UUID, points: int, source_key: str, note: str = ""
    ) -> UUID:
        """Take ``points`` from the user's live lots, soonest expiry first, or refuse (409
        ``insufficient_points``) and take nothing. Returns the journal entry's id; a source key
        spent before is refused (409 ``points_already_spent``)."""
        if points <= 0:
            raise ValueError("spend a positive number of points")
        now = self._clock.now()
        await self.store.lock_account(conn, user_id, now)
        await self._expire_due_in(conn, user_id, now)
        lots = await self.store.live_lots(conn, user_id, now)
        available = sum(lot["remaining"] for lot in lots)
        if available < points:
            raise Conflict(
                "not enough points",
                code="insufficient_points",
                details={"balance": available, "needed": points},
            )
        entry = await self.store.insert_entry(
            conn,
            {
                "id": uuid4(),
                "user_id": user_id,
                "kind": "spend",
                "rule": SPEND_RULE,
                "delta": -points,
                "requested": points,
                "source_key": source_key,
                "note": note[:200],
                "created_at": now,
            },
        )
        if entry is None:
            raise Conflict("these points were spent already", code="points_already_spent")
        await self._draw(conn, entry["id"], lots, points, None)
        await self.store.move_balance(conn, user_id, "spent_total", points, now)
        POINTS_CHANGES.labels(kind="spend", rule=SPEND_RULE).inc()
        return UUID(str(entry["id"]))

    async def take_back_in(
        self, conn: Conn, user_id: UUID, earned_key: str, source_key: str, note: str = ""
    ) -> int:
        """Take back the points the earning ``earned_key`` credited (a refunded order's spending
        points), once per ``source_key``: from that earning's own lot first, then from the
        soonest-expiring others, never below zero. What could not be taken (spent already) is
        the entry's shortfall: ``requested`` minus ``-delta``. Returns the points taken."""
        now = self._clock.now()
        await self.store.lock_account(conn, user_id, now)
        if await self.store.entry_by_source(conn, source_key) is not None:
            return 0
        earned = await self.store.entry_by_source(conn, earned_key)
        if earned is None or earned["delta"] <= 0:
            return 0  # nothing was credited (not yet, or capped): nothing to take back
        owed = int(earned["delta"])
        await self._expire_due_in(conn, user_id, now)
        lots = await self.store.live_lots(conn, user_id, now)
        own = await self.store.lot_of_entry(conn, earned["id"])
        if own is not None:
            lots.sort(key=lambda lot: lot["id"] != own["id"])
        taken = min(owed, sum(int(lot["remaining"]) for lot in lots))
        shortfall = owed - taken
        entry = await self.store.insert_entry(
            conn,
            {
                "id": uuid4(),
                "user_id": user_id,
                "kind": "take_back",
                "rule": earned["rule"],
                "delta": -taken,
                "requested": owed,
                "source_key": source_key,
                "note": (note or (f"shortfall {shortfall}" if shortfall else ""))[:200],
                "created_at": now,
            },
        )
        assert entry is not None
        if taken:
            await self._draw(conn, entry["id"], lots, taken, None)
            await self.store.move_balance(conn, user_id, "taken_back_total", taken, now)
        if shortfall:
            log.info("points.take_back_shortfall", user_id=str(user_id), shortfall=shortfall)
        POINTS_CHANGES.labels(kind="take_back", rule=earned["rule"]).inc()
        return taken

    async def _draw(
        self,
        conn: Conn,
        entry_id: UUID,
        lots: list[asyncpg.Record],
        points: int,
        expired_at: datetime | None,
    ) -> None:
        left = points
        for lot in lots:
            if left == 0:
                break
            take = min(left, lot["remaining"])
            if take:
                await self.store.draw(conn, entry_id, lot["id"], take, expired_at)
                left -= take
        assert left == 0

    async def _expire_due_in(self, conn: Conn, user_id: UUID, now: datetime) -> int:
        """Retire the user's lots whose year is up (the caller holds the account's lock): one
        journal entry per lot, keyed by the lot, so a rerun retires nothing twice."""
        total = 0
        for lot in await self.store.due_lots(conn, user_id, now):
            points = lot["remaining"]
            entry = await self.store.insert_entry(
                conn,
                {
                    "id": uuid4(),
                    "user_id": user_id,
                    "kind": "expire",
                    "rule": EXPIRE_RULE,
                    "delta": -points,
                    "requested": points,
                    "source_key": f"expire:{lot['id']}",
                    "note": "",
                    "created_at": now,
                },
            )
            assert entry is not None  # a lot with points left has not been retired
            await self.store.draw(conn, entry["id"], lot["id"], points, now)
            await self.store.move_balance(conn, user_id, "expired_total", points, now)
            POINTS_CHANGES.labels(kind="expire", rule=EXPIRE_RULE).inc()
            total += points
        return total

    async def expire_due(self) -> int:
        """Retire every lot whose year is up (cron job; safe to rerun or run concurrently: each
        user's lots are retired under the account's lock). Returns the points retired."""
        total = 0
        while True:
            now = self._clock.now()
            users = await self.store.users_with_due_lots(now, _EXPIRE_BATCH)
            if not users:
                return total
            for user_id in users:
                async with self.store.pool.acquire() as conn, conn.transaction():
                    await self.store.lock_account(conn, user_id, now)
                    total += await self._expire_due_in(conn, user_id, now)

    async def notify_expiring(self) -> dict[str, int]:
        """Record a notice per user and local expiry day for points expiring within a week, and
        tell each resident once (cron job). A notice whose telling failed stays unsent and is
        told by the next run."""
        now = self._clock.now()
        recorded = await self.store.record_notices(
            now, now + timedelta(days=EXPIRY_NOTICE_DAYS), str(COMMUNITY_ZONE)
        )
        sent = 0
        if self._tell is not None:
            for row in await self.store.unsent_notices(500):
                notice = ExpiryNotice(
                    row["user_id"], row["phone"], row["points"], row["expiry_day"]
                )
                try:
                    await self._tell(notice)
                except Exception:
                    # One resident's failed message must not keep the others from theirs; the
                    # notice stays unsent and the next run tries it again.
                    NOTICE_FAILURES.inc()
                    log.exception("points.notice_failed", user_id=str(notice.user_id))
                    continue
                await self.store.notice_sent(row["user_id"], row["expiry_day"], self._clock.now())
                sent += 1
        return {"recorded": recorded, "sent": sent}

    # --- check-in --------------------------------------------------------------------------------

    async def check_in(self, actor: Principal) -> CheckIn:
        """The day's check-in (5 points) and, on every 7th day in a row, the streak bonus (20);
        a second check-in on the same local day is refused (409 ``already_checked_in``)."""
        if self._limiter is not None:
            await self._limiter.hit_or_raise(CHECK_INS, "points-check-in", str(actor.user_id))
        now = self._clock.now()
        today = local_day(now)
        user_id = actor.user_id
        async with self.store.pool.acquire() as conn, conn.transaction():
            account = await self.store.lock_account(conn, user_id, now)
            last = account["last_check_in"]
            if last == today:
                raise Conflict(
                    "you have checked in today",
                    code="already_checked_in",
                    details={"streak_days": account["streak_days"]},
                )
            streak = account["streak_days"] + 1 if last == today - timedelta(days=1) else 1
            await self.store.set_streak(conn, user_id, today, streak, now)
            earned = await self.earn_in(
                conn, user_id, RuleName.CHECK_IN, f"check_in:{user_id}:{today.isoformat()}"
            )
            bonus = 0
            if streak % STREAK_LENGTH == 0:
                bonus = (
                    await self.earn_in(
                        conn,
                        user_id,
                        RuleName.STREAK_BONUS,
                        f"streak_bonus:{user_id}:{today.isoformat()}",
                        note=f"连续签到{streak}天",
                    )
                ).points
            balance = (await self.store.lock_account(conn, user_id, now))["balance"]
        return CheckIn(earned.points, bonus, streak, int(balance))

    # --- reading ---------------------------------------------------------------------------------

    async def summary(self, actor: Principal) -> PointsSummary:
        """Balance (after retiring anything whose year is up), points expiring within the notice
        window, the check-in streak and today's earnings against each rule's cap."""
        now = self._clock.now()
        today = local_day(now)
        async with self.store.pool.acquire() as conn, conn.transaction():
            account = await self.store.lock_account(conn, actor.user_id, now)
            if await self._expire_due_in(conn, actor.user_id, now):
                account = await self.store.lock_account(conn, actor.user_id, now)
        soon = await self.store.expiring(
            actor.user_id, now, now + timedelta(days=EXPIRY_NOTICE_DAYS)
        )
        earned = await self.store.earned_on(actor.user_id, today)
        last = account["last_check_in"]
        streak = account["streak_days"] if last in (today, today - timedelta(days=1)) else 0
        return PointsSummary(
            balance=int(account["balance"]),
            expiring_soon=Expiring(int(soon["points"]), soon["first"]) if soon["points"] else None,
            streak_days=streak,
            checked_in_today=last == today,
            today=[
                RuleToday(rule.name.value, earned.get(rule.name.value, 0), rule.daily_cap)
                for rule in RULES.values()
                if rule.daily_cap is not None
            ],
        )

    async def history(
        self, actor: Principal, before: datetime | None, limit: int
    ) -> list[asyncpg.Record]:
        if not 1 <= limit <= 100:
            raise InvalidInput("limit is 1 to 100", code="invalid_limit")
        return await self.store.history(actor.user_id, before, limit)
