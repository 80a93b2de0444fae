"""AI operations (智能运营) and the customer portrait (用户画像), docs/insights.md.

Aggregates are kept as things happen: order moves, ratings and group-buy orders bump them in the
event's own transaction (hooks registered in lago_core/container.py); views, favourites,
searches, chat messages and message reports — append-only tables written on hot paths — are
rolled up by a job behind persisted marks. Every screen and the weekly suggestions read only
the aggregates.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
from prometheus_client import Counter as Metric

from lago_core.clock import Clock
from lago_core.communities import CommunityService
from lago_core.errors import Forbidden, InvalidInput, NotFound
from lago_core.groupbuys import GroupBuyService
from lago_core.insights.rules import (
    CATEGORY_NAMES,
    HOTNESS_DAYS,
    K_ANONYMITY,
    LOW_RATING,
    OTHER,
    RISK_DAYS,
    RiskCounts,
    Suppressed,
    age_band,
    area_of,
    business_day,
    percent,
    risk_level,
    risk_reasons,
    risk_score,
    suppress,
    week_of,
)
from lago_core.insights.store import InsightStore
from lago_core.ledger.store import Conn
from lago_core.listings import ListingService
from lago_core.logging import get_logger
from lago_core.merchants import MerchantService
from lago_core.notifications import Notice, NotificationService
from lago_core.orders import OrderService, Status
from lago_core.ratelimit import RateLimiter
from lago_core.security.roles import Principal
from lago_core.text import refuse_unstorable

__all__ = ["EffectWindow", "InsightService", "WindowSource"]

log = get_logger(__name__)

HOOK_FAILURES = Metric(
    "lago_insight_hook_failures_total",
    "events whose insight aggregates could not be bumped (the event itself went ahead)",
    ["hook"],
)
ROLLED_UP = Metric(
    "lago_insight_rolled_up_total", "source rows added to the aggregates", ["source"]
)

# Rows younger than this are left to the next roll-up: a row whose transaction commits late
# (its id or time taken before a neighbour's that committed first) is then still ahead of the mark.
ROLLUP_SETTLE = timedelta(seconds=60)
ROLLUP_BATCH = 5_000
# A live announcement records when the stream starts, not when it ends.
LIVE_ASSUMED = timedelta(hours=2)
PORTRAIT_MAX_DAYS = 366
# Each new report raises a seller's complaint risk: one account may not sweep a community's
# listings (the same per-account guard as a conversation's reports and sponsored reports).
REPORT_LIMIT = "20/hour"
HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class EffectWindow:
    """What an effect is measured over: the communities it ran in, and when."""

    kind: str
    id: UUID
    title: str
    communities: tuple[UUID, ...]
    start: datetime
    end: datetime
    # The merchant behind it (its people may read the effect); None for residents' streams.
    merchant_id: UUID | None = None


# One per kind (live, group_buy, event…): the window of the thing with that id, None if unknown.
WindowSource = Callable[[UUID], Awaitable[EffectWindow | None]]


def _hour(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


class InsightService:
    def __init__(
        self,
        store: InsightStore,
        *,
        communities: CommunityService,
        merchants: MerchantService,
        listings: ListingService,
        notifications: NotificationService,
        limiter: RateLimiter,
        clock: Clock,
        settle: timedelta = ROLLUP_SETTLE,
    ) -> None:
        self.store = store
        self._limiter = limiter
        self._communities = communities
        self._merchants = merchants
        self._listings = listings
        self._notifications = notifications
        self._clock = clock
        self._settle = settle
        self._windows: dict[str, WindowSource] = {
            "live": self._live_window,
            "group_buy": self._group_buy_window,
            "event": self._event_window,
        }

    # --- wiring ----------------------------------------------------------------------------------

    def follow(
        self, orders: OrderService, groupbuys: GroupBuyService, communities: CommunityService
    ) -> None:
        """Keep the aggregates with the events that have hooks."""
        orders.on_transition(self.order_moved)
        orders.on_rating(self.rated)
        groupbuys.on_order_moved(self.group_buy_order_moved)
        communities.on_verified(self.member_verified)

    def add_window_source(self, kind: str, source: WindowSource) -> None:
        """Measure the effect of another kind of thing (community events wire theirs here)."""
        self._windows[kind] = source

    @property
    def window_kinds(self) -> list[str]:
        return sorted(self._windows)

    async def _guarded(self, hook: str, conn: Conn, work: Callable[[], Awaitable[None]]) -> None:
        # A savepoint: an aggregate must never undo or fail the event it counts.
        try:
            async with conn.transaction():
                await work()
        except Exception:
            HOOK_FAILURES.labels(hook).inc()
            log.exception("insights.hook_failed", hook=hook)

    # --- hooks (inside the event's transaction) --------------------------------------------------

    async def order_moved(self, conn: Conn, row: asyncpg.Record) -> None:
        async def work() -> None:
            await self._order_moved(conn, row)

        await self._guarded("order_moved", conn, work)

    async def _order_moved(self, conn: Conn, row: asyncpg.Record) -> None:
        status = row["status"]
        counts: dict[str, int] = {}
        if status == Status.PAID:
            counts["orders"] = 1
        elif status == Status.REFUNDED:
            counts["refunds"] = 1
        elif status == Status.CANCELLED and (
            row["paid_at"] is not None or row["cancel_reason"] == "seller"
        ):
            # An unpaid order the buyer dropped says nothing about the seller.
            counts["cancellations"] = 1
        if not counts:
            return
        now = self._clock.now()
        community = await self.store.home_community(conn, row["buyer_id"])
        if status == Status.PAID:
            await self.store.bump_activity(
                conn, community, row["category"], _hour(now), orders=1, gmv_fen=row["price_fen"]
            )
            if row["merchant_id"] is not None:
                await self.store.add_buyer(
                    conn, row["merchant_id"], row["buyer_id"], community, row["price_fen"], now
                )
        await self._bump_subjects(conn, row, community, now, counts)

    async def _bump_subjects(
        self,
        conn: Conn,
        row: asyncpg.Record,
        community: UUID,
        now: datetime,
        counts: dict[str, int],
    ) -> None:
        day = business_day(now)
        await self.store.bump_risk(conn, "listing", row["listing_id"], community, day, **counts)
        if row["merchant_id"] is not None:
            await self.store.bump_risk(
                conn, "merchant", row["merchant_id"], community, day, **counts
            )
        else:
            await self.store.bump_risk(conn, "seller", row["seller_id"], community, day, **counts)

    async def rated(self, conn: Conn, order: asyncpg.Record, rating: asyncpg.Record) -> None:
        """The buyer's rating counts against the listing and its seller or merchant."""
        if rating["rater_id"] != order["buyer_id"]:
            return

        async def work() -> None:
            community = await self.store.home_community(conn, order["buyer_id"])
            low = 1 if rating["score"] <= LOW_RATING else 0
            counts = {"ratings": 1, "low_ratings": low}
            await self._bump_subjects(conn, order, community, self._clock.now(), counts)

        await self._guarded("rated", conn, work)

    async def group_buy_order_moved(self, conn: Conn, row: asyncpg.Record) -> None:
        """A group-buy order is created paid (an order in the group's community) and may be
        refunded (a refund of the merchant)."""
        if row["status"] not in ("paid", "refunded"):
            return

        async def work() -> None:
            context = await self.store.group_buy_order_context(conn, row["group_id"])
            if context is None:
                return
            now = self._clock.now()
            community = context["community_id"]
            day = business_day(now)
            merchant = row["merchant_id"]
            if row["status"] == "paid":
                await self.store.bump_activity(
                    conn,
                    community,
                    context["category"],
                    _hour(now),
                    orders=1,
                    gmv_fen=row["price_fen"],
                )
                await self.store.add_buyer(
                    conn, merchant, row["buyer_id"], community, row["price_fen"], now
                )
                await self.store.bump_risk(conn, "merchant", merchant, community, day, orders=1)
            else:
                await self.store.bump_risk(conn, "merchant", merchant, community, day, refunds=1)

        await self._guarded("group_buy_order_moved", conn, work)

    async def member_verified(self, user_id: UUID, community_id: UUID) -> None:
        """After the commit (the communities service has no transaction hook): a crash right
        after the verification loses one count; it never fails the verification."""
        try:
            await self.store.bump_community_hour(
                self.store.pool, community_id, _hour(self._clock.now()), members_joined=1
            )
        except Exception:
            HOOK_FAILURES.labels("member_verified").inc()
            log.exception("insights.hook_failed", hook="member_verified")

    # --- listing reports -------------------------------------------------------------------------

    async def report_listing(self, actor: Principal, listing_id: UUID, reason: str) -> bool:
        """A resident reports a listing (once per listing); True when this report is new."""
        refuse_unstorable(reason, "reason")
        reason = reason.strip()
        if not 1 <= len(reason) <= 200:
            raise InvalidInput("say why, in 1 to 200 characters", code="invalid_reason")
        # Only a listing the caller may see (404 otherwise, as if it did not exist).
        listing = await self._listings.get(actor, listing_id)
        if actor.user_id == listing["seller_id"]:
            raise InvalidInput("you cannot report your own listing", code="own_listing")
        await self._limiter.hit_or_raise(REPORT_LIMIT, "listing-report", str(actor.user_id))
        now = self._clock.now()
        async with self.store.pool.acquire() as conn, conn.transaction():
            report_id = await self.store.add_listing_report(
                conn, listing_id, actor.user_id, reason, now
            )
            if report_id is None:
                return False
            community = await self.store.home_community(conn, actor.user_id)
            day = business_day(now)
            await self.store.bump_risk(conn, "listing", listing_id, community, day, reports=1)
            if listing["merchant_id"] is not None:
                await self.store.bump_risk(
                    conn, "merchant", listing["merchant_id"], community, day, reports=1
                )
            else:
                await self.store.bump_risk(
                    conn, "seller", listing["seller_id"], community, day, reports=1
                )
        return True

    # --- roll-up (job) ---------------------------------------------------------------------------

    async def roll_up(self) -> dict[str, int]:
        """Add what the append-only sources gained since their marks. Each source in one
        transaction with its mark locked: concurrent or repeated runs count every row once."""
        now = self._clock.now()
        before = now - self._settle
        added: dict[str, int] = {}
        for source, roll in (
            ("views", self.store.roll_up_views),
            ("searches", self.store.roll_up_searches),
        ):
            total = 0
            while True:
                async with self.store.pool.acquire() as conn, conn.transaction():
                    mark = await self.store.lock_mark(conn, source)
                    last, taken = await roll(conn, mark["last_id"], before, ROLLUP_BATCH)
                    await self.store.set_mark(conn, source, last_id=last, at=now)
                total += taken
                if taken < ROLLUP_BATCH:
                    break
            added[source] = total
        for source, timed in (
            ("favourites", self.store.roll_up_favourites),
            ("message_reports", self.store.roll_up_message_reports),
            ("conversation_reports", self.store.roll_up_conversation_reports),
        ):
            async with self.store.pool.acquire() as conn, conn.transaction():
                mark = await self.store.lock_mark(conn, source)
                after = mark["last_at"] or datetime.fromtimestamp(0, tz=now.tzinfo)
                if after < before:
                    await timed(conn, after, before)
                    await self.store.set_mark(conn, source, last_at=before, at=now)
        async with self.store.pool.acquire() as conn, conn.transaction():
            await self.store.lock_mark(conn, "messages")
            added["messages"] = await self.store.roll_up_messages(conn)
        for source, n in added.items():
            ROLLED_UP.labels(source).inc(max(n, 0))
        return added

    # --- who sees what ---------------------------------------------------------------------------

    async def _community_scope(
        self, actor: Principal, community_id: UUID | None
    ) -> list[UUID] | None:
        """The communities ``actor`` may read: one asked for (its staff or an admin), or all of
        theirs; None for every community (admins and customer service asking for none)."""
        service = actor.is_admin or actor.is_customer_service
        if community_id is not None:
            if service:
                await self._communities.get(community_id)
            else:
                await self._communities.require_staff_or_admin(actor, community_id)
            return [community_id]
        if service:
            return None
        mine = await self.store.staff_communities(actor.user_id)
        if not mine:
            raise Forbidden("only property staff, merchants and admins read insights")
        return mine

    async def _merchant_reader(self, actor: Principal, merchant_id: UUID) -> None:
        if actor.is_admin or actor.is_customer_service:
            await self._merchants.get(merchant_id)
        else:
            await self._merchants.require_member(actor, merchant_id)

    # --- hotness ---------------------------------------------------------------------------------

    async def hotness(
        self, actor: Principal, *, community_id: UUID | None = None, merchant_id: UUID | None = None
    ) -> list[dict[str, Any]]:
        """Categories by decayed hotness over the last four weeks, with totals and the change of
        the last seven days against the seven before."""
        categories: list[str] | None = None
        if merchant_id is not None:
            await self._merchant_reader(actor, merchant_id)
            scope: list[UUID] | None = await self.store.merchant_communities(merchant_id)
            categories = await self.store.merchant_categories(merchant_id)
        else:
            scope = await self._community_scope(actor, community_id)
        now = self._clock.now()
        rows = await self.store.hotness(scope, now - timedelta(days=HOTNESS_DAYS), now)
        week = {
            r["category"]: r for r in await self.store.hotness(scope, now - timedelta(days=7), now)
        }
        fortnight = {
            r["category"]: r for r in await self.store.hotness(scope, now - timedelta(days=14), now)
        }
        out = []
        for r in rows:
            if categories is not None and r["category"] not in categories:
                continue
            last = _plain(week.get(r["category"]))
            before = _plain(fortnight.get(r["category"])) - last
            out.append(
                {
                    "category": r["category"],
                    "name": CATEGORY_NAMES.get(r["category"], r["category"]),
                    "score": round(float(r["score"] or 0), 2),
                    "views": r["views"],
                    "favourites": r["favourites"],
                    "searches": r["searches"],
                    "orders": r["orders"],
                    "gmv_fen": r["gmv_fen"],
                    "trend_percent": _change(before, last),
                }
            )
        out.sort(key=lambda c: (-c["score"], c["category"]))
        return out

    # --- risk ------------------------------------------------------------------------------------

    async def risk(
        self,
        actor: Principal,
        *,
        community_id: UUID | None = None,
        merchant_id: UUID | None = None,
        limit: int = 20,
    ) -> list[dict[str, Any]]:
        """Subjects with any complaint signal in the last RISK_DAYS, riskiest first."""
        since = business_day(self._clock.now()) - timedelta(days=RISK_DAYS - 1)
        if merchant_id is not None:
            await self._merchant_reader(actor, merchant_id)
            subjects: list[tuple[str, UUID]] = [("merchant", merchant_id)]
            subjects += [("listing", i) for i in await self.store.merchant_listings(merchant_id)]
            rows = await self.store.risk(None, subjects, since)
        else:
            scope = await self._community_scope(actor, community_id)
            rows = await self.store.risk(scope, None, since)
        scored = []
        for r in rows:
            counts = RiskCounts.of(r)
            score = risk_score(counts)
            if score <= 0:
                continue
            scored.append((score, r["subject_kind"], r["subject_id"], counts))
        scored.sort(key=lambda s: (-s[0], s[1], str(s[2])))
        scored = scored[:limit]
        names: dict[UUID, str] = {}
        for kind in {s[1] for s in scored}:
            names |= await self.store.subject_names(kind, [s[2] for s in scored if s[1] == kind])
        return [
            {
                "subject_kind": kind,
                "subject_id": subject,
                "name": names.get(subject, ""),
                "score": score,
                "level": risk_level(score),
                "reasons": risk_reasons(counts),
                "orders": counts.orders,
                "reports": counts.reports,
                "refunds": counts.refunds,
                "cancellations": counts.cancellations,
                "low_ratings": counts.low_ratings,
                "reported_messages": counts.reported_messages,
            }
            for score, kind, subject, counts in scored
        ]

    # --- effect of live streams, group buys, events ------------------------------------------------

    async def _live_window(self, announcement_id: UUID) -> EffectWindow | None:
        row = await self.store.live_window(announcement_id)
        if row is None:
            return None
        start = row["starts_at"]
        return EffectWindow(
            "live", row["id"], row["title"], (row["community_id"],), start, start + LIVE_ASSUMED
        )

    async def _group_buy_window(self, group_id: UUID) -> EffectWindow | None:
        row = await self.store.group_buy_window(group_id)
        if row is None:
            return None
        return EffectWindow(
            "group_buy",
            row["id"],
            row["title"],
            (row["community_id"],),
            row["starts_at"],
            row["ends_at"],
            row["merchant_id"],
        )

    async def _event_window(self, event_id: UUID) -> EffectWindow | None:
        row = await self.store.event_window(event_id)
        if row is None:
            return None
        return EffectWindow(
            "event",
            row["id"],
            row["title"],
            (row["community_id"],),
            row["starts_at"],
            row["ends_at"],
        )

    async def effect(self, actor: Principal, kind: str, thing_id: UUID) -> dict[str, Any]:
        """Channel members, messages, orders and GMV in the window against the same length of
        time just before it (from the hourly aggregates)."""
        source = self._windows.get(kind)
        if source is None:
            raise InvalidInput(
                f"kind is one of {', '.join(self.window_kinds)}", code="invalid_kind"
            )
        window = await source(thing_id)
        if window is None:
            raise NotFound(f"no {kind} with that id", code="not_found")
        if not (actor.is_admin or actor.is_customer_service):
            allowed = False
            if window.merchant_id is not None:
                allowed = window.merchant_id in {m["id"] for m in await self._merchants.mine(actor)}
            if not allowed:
                staffed = set(await self.store.staff_communities(actor.user_id))
                allowed = bool(staffed.intersection(window.communities))
            if not allowed:
                raise Forbidden("only the community's property staff, its merchant and admins")
        now = self._clock.now()
        # Widened to whole hours: the aggregates are hourly buckets.
        start = _hour(window.start)
        end = _hour(min(window.end, max(now, window.start)) + HOUR - timedelta(microseconds=1))
        end = max(end, start + HOUR)
        length = end - start
        before_start = start - length
        before = await self.store.window_sums(window.communities, before_start, start)
        during = await self.store.window_sums(window.communities, start, end)
        return {
            "kind": kind,
            "id": window.id,
            "title": window.title,
            "community_ids": list(window.communities),
            "before": {"start": before_start, "end": start, **before},
            "during": {"start": start, "end": end, **during},
            "change_percent": {k: _change(before[k], during[k]) for k in during},
        }

    # --- weekly suggestions (job) ------------------------------------------------------------------

    async def weekly_suggestions(self) -> dict[str, int]:
        """The week's suggestions for each active community (to its property staff) and each
        approved merchant (to its people): stored once per week key and pushed under a dedupe
        key, so a second run, or a run after a crash between the two, tells nobody twice."""
        now = self._clock.now()
        week = week_of(now)
        told = {"communities": 0, "merchants": 0}
        for community_id in await self.store.active_communities(now - timedelta(days=HOTNESS_DAYS)):
            items = await self._community_items(community_id, now)
            if items and await self._publish("community", community_id, week, items, now):
                told["communities"] += 1
        for merchant_id in await self.store.active_merchants():
            items = await self._merchant_items(merchant_id, now)
            if items and await self._publish("merchant", merchant_id, week, items, now):
                told["merchants"] += 1
        return told

    async def _publish(
        self, kind: str, audience_id: UUID, week: date, items: list[dict[str, Any]], now: datetime
    ) -> bool:
        row = await self.store.save_suggestions(kind, audience_id, week, items, now)
        stored: list[dict[str, Any]] = _items(row["items"])
        people = (
            await self.store.community_staff(audience_id)
            if kind == "community"
            else await self.store.merchant_people(audience_id)
        )
        notice = Notice(
            kind="insight_suggestions",
            key=f"insights:{kind}:{audience_id}:{week.isoformat()}",
            title="本周运营建议",
            body="；".join(i["text"] for i in stored)[:500],
            data={"audience_kind": kind, "audience_id": str(audience_id), "week": str(week)},
        )
        made = await self._notifications.notify(people, notice)
        return bool(made)

    async def _best_slot(
        self, communities: list[UUID] | None, categories: list[str] | None, now: datetime
    ) -> dict[str, Any] | None:
        slots = await self.store.slots(communities, categories, now - timedelta(days=HOTNESS_DAYS))
        if not slots or slots[0]["score"] <= 0:
            return None
        top = slots[0]
        when = "周末" if top["weekend"] else "工作日"
        block = int(top["block"])
        name = CATEGORY_NAMES.get(top["category"], top["category"])
        return {
            "kind": "best_slot",
            "text": f"{when} {block}–{block + 3} 点 {name} 类热度最高，建议安排直播或拼团",
            "category": top["category"],
        }

    async def _community_items(self, community_id: UUID, now: datetime) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        slot = await self._best_slot([community_id], None, now)
        if slot:
            items.append(slot)
        rising = await self._rising([community_id], now)
        if rising:
            items.append(rising)
        since = business_day(now) - timedelta(days=6)
        risky = []
        for r in await self.store.risk([community_id], None, since):
            counts = RiskCounts.of(r)
            score = risk_score(counts)
            if risk_level(score) == "high":
                risky.append((score, counts))
        if risky:
            risky.sort(key=lambda s: -s[0])
            items.append(
                {
                    "kind": "risk",
                    "text": f"本周有 {len(risky)} 个高风险对象，最高者："
                    + "、".join(risk_reasons(risky[0][1])),
                }
            )
        return items

    async def _rising(self, communities: list[UUID], now: datetime) -> dict[str, Any] | None:
        week = {
            r["category"]: _plain(r)
            for r in await self.store.hotness(communities, now - timedelta(days=7), now)
        }
        two = {
            r["category"]: _plain(r)
            for r in await self.store.hotness(communities, now - timedelta(days=14), now)
        }
        best: tuple[int, str] | None = None
        for category, last in week.items():
            before = two.get(category, 0) - last
            change = _change(before, last)
            if change is not None and change >= 20 and (best is None or change > best[0]):
                best = (change, category)
        if best is None:
            return None
        name = CATEGORY_NAMES.get(best[1], best[1])
        return {
            "kind": "rising",
            "text": f"{name} 类本周热度上升 {best[0]} %，建议多上架相关商品",
            "category": best[1],
        }

    async def _merchant_items(self, merchant_id: UUID, now: datetime) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        today = business_day(now)
        this_week = await self.store.risk(None, [("merchant", merchant_id)], today - timedelta(6))
        last_week = await self.store.risk(
            None, [("merchant", merchant_id)], today - timedelta(13), today - timedelta(7)
        )
        now_counts = RiskCounts.of(this_week[0]) if this_week else RiskCounts()
        was = RiskCounts.of(last_week[0]) if last_week else RiskCounts()
        rate_now = percent(now_counts.refunds, now_counts.orders)
        rate_was = percent(was.refunds, was.orders)
        if now_counts.refunds and rate_now > rate_was:
            reasons = "、".join(risk_reasons(now_counts))
            items.append(
                {
                    "kind": "refunds_rising",
                    "text": f"本周退款率上升（{rate_was} % → {rate_now} %），原因：{reasons}",
                }
            )
        elif now_counts.low_ratings:
            items.append(
                {
                    "kind": "low_ratings",
                    "text": f"本周收到 {now_counts.low_ratings} 次差评，建议回访买家",
                }
            )
        communities = await self.store.merchant_communities(merchant_id)
        categories = await self.store.merchant_categories(merchant_id)
        if communities and categories:
            slot = await self._best_slot(communities, categories, now)
            if slot:
                items.append(slot)
        return items

    async def suggestions(
        self, actor: Principal, *, community_id: UUID | None = None, merchant_id: UUID | None = None
    ) -> dict[str, Any] | None:
        """The latest week's suggestions for a community (its staff) or a merchant (its people)."""
        if merchant_id is not None:
            await self._merchant_reader(actor, merchant_id)
            row = await self.store.latest_suggestions("merchant", merchant_id)
        elif community_id is not None:
            await self._communities.require_staff_or_admin(actor, community_id)
            row = await self.store.latest_suggestions("community", community_id)
        else:
            raise InvalidInput("name a community_id or a merchant_id", code="missing_audience")
        if row is None:
            return None
        return {"week": row["week"], "items": _items(row["items"]), "created_at": row["created_at"]}

    # --- portrait --------------------------------------------------------------------------------

    async def portrait(self, actor: Principal, merchant_id: UUID, days: int) -> dict[str, Any]:
        """The merchant's buyers of the last ``days``, grouped; no group under K people shown."""
        if not 1 <= days <= PORTRAIT_MAX_DAYS:
            raise InvalidInput(f"days is 1 to {PORTRAIT_MAX_DAYS}", code="invalid_days")
        await self._merchant_reader(actor, merchant_id)
        now = self._clock.now()
        since = now - timedelta(days=days)
        rows = await self.store.buyers(merchant_id, since)
        today = business_day(now)
        communities = suppress(Counter(r["community_name"] or "未归属小区" for r in rows).items())
        areas = suppress(Counter(area_of(r["address"] or "") for r in rows).items())
        repeat = sum(1 for r in rows if r["orders"] >= 2)
        repeat_split = suppress([("repeat", repeat), ("once", len(rows) - repeat)])
        new = sum(1 for r in rows if r["first_paid_at"] >= since)
        new_split = suppress([("new", new), ("returning", len(rows) - new)])
        genders = suppress(Counter(r["gender"] for r in rows if r["gender"]).items())
        ages = suppress(
            Counter(age_band(r["birth_year"], today) for r in rows if r["birth_year"]).items()
        )
        repeats = _split(repeat_split)
        news = _split(new_split)
        return {
            "days": days,
            "buyers": communities.total,
            "by_community": _buckets(communities),
            "by_area": _buckets(areas),
            "repeat_rate_percent": (
                percent(repeats["repeat"], len(rows)) if repeats is not None else None
            ),
            "new_buyers": news["new"] if news is not None else None,
            "returning_buyers": news["returning"] if news is not None else None,
            "by_gender": _buckets(genders),
            "by_age": _buckets(ages),
            "k": K_ANONYMITY,
        }

    # --- the user's own optional profile fields ---------------------------------------------------

    async def my_demographics(self, actor: Principal) -> asyncpg.Record | None:
        return await self.store.demographics(actor.user_id)

    async def give_demographics(
        self, actor: Principal, gender: str | None, birth_year: int | None, consent: bool
    ) -> asyncpg.Record:
        if not consent:
            raise InvalidInput("giving these fields needs your consent", code="consent_required")
        if gender is None and birth_year is None:
            raise InvalidInput("give a gender, a birth year or both", code="nothing_given")
        year = business_day(self._clock.now()).year
        if birth_year is not None and not year - 110 <= birth_year <= year:
            raise InvalidInput("that birth year is out of range", code="invalid_birth_year")
        return await self.store.set_demographics(
            actor.user_id, gender, birth_year, self._clock.now()
        )

    async def withdraw_demographics(self, actor: Principal) -> None:
        await self.store.delete_demographics(actor.user_id)


def _plain(row: asyncpg.Record | None) -> int:
    """Undecayed interest of a hotness row (for week-on-week change)."""
    if row is None:
        return 0
    return int(row["views"] + 3 * row["favourites"] + 2 * row["searches"] + 5 * row["orders"])


def _change(before: int, after: int) -> int | None:
    """Whole percent change; None when there was nothing before to compare with."""
    if before <= 0:
        return None
    return (after - before) * 100 // before


def _buckets(s: Suppressed) -> list[dict[str, Any]]:
    out = [{"label": label, "count": n} for label, n in s.shown]
    if s.other:
        out.append({"label": OTHER, "count": s.other})
    return out


def _split(s: Suppressed) -> dict[str, int] | None:
    """A two-way split is shown only whole: once either side had to be merged away, showing the
    other would give it away as total minus the other."""
    if s.total is None or s.other:
        return None
    return Counter(dict(s.shown))


def _items(value: Any) -> list[dict[str, Any]]:
    return list(value) if isinstance(value, list) else []
