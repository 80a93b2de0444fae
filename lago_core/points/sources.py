"""Where points come from: the hooks of other services, and the scan that credits what has no
hook (channel posts after their grace period, lottery entries) or whose hook may have failed.

Hooks that hand over a connection (orders' ``on_transition`` and ``on_rating``, group buys'
``on_order_moved``, sign-up) earn inside the source event's transaction, under a savepoint: a
failure of points is logged and counted and never undoes an order's move; the scan credits what
it left undone. Hooks that run after a commit (a listing created, a membership verified) earn
idempotently afterwards. Every credit names its source in the journal's UNIQUE source key, so
however often an event is delivered — hook, retry, scan — it is credited once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg
from prometheus_client import Counter

from lago_core.clock import Clock
from lago_core.ledger.store import Conn
from lago_core.logging import get_logger
from lago_core.points.invitations import InvitationService
from lago_core.points.rules import RuleName
from lago_core.points.service import PointsService
from lago_core.points.store import PointsStore

__all__ = ["POINTS_HOOK_FAILURES", "PointsSources"]

log = get_logger(__name__)

POINTS_HOOK_FAILURES = Counter(
    "lago_points_hook_failures_total",
    "Points earnings a source event's hook could not make (the scan makes them later)",
    ["source"],
)

# How far back the scan looks for sources: the archive may write a post late (a channel's new
# owner archives the stream's tail), and a crashed run leaves work for the next.
SCAN_LOOKBACK = timedelta(days=2)
_SCAN_BATCH = 500
# At most this many batches of a kind per run; the next run (five minutes on) goes on.
_SCAN_BATCHES = 20


def yuan(amount_fen: int) -> int:
    """Spending points: one per whole yuan."""
    return max(0, amount_fen) // 100


class PointsSources:
    def __init__(
        self,
        store: PointsStore,
        points: PointsService,
        invitations: InvitationService,
        clock: Clock,
        post_grace_s: int,
    ) -> None:
        self.store = store
        self._points = points
        self._invitations = invitations
        self._clock = clock
        self._post_grace = timedelta(seconds=post_grace_s)

    async def _guarded(
        self, conn: Conn, source: str, earn: Callable[[], Awaitable[object]]
    ) -> None:
        """Run ``earn`` in a savepoint of the caller's transaction; a failure rolls back the
        savepoint only."""
        try:
            async with conn.transaction():
                await earn()
        except Exception:
            POINTS_HOOK_FAILURES.labels(source=source).inc()
            log.exception("points.hook_failed", source=source)

    # --- orders ----------------------------------------------------------------------------------

    async def order_moved(self, conn: Conn, order: asyncpg.Record) -> None:
        """OrderService.on_transition: spending points when an order completes, taken back when
        it is refunded."""
        await self._spending(conn, "order", order)

    async def group_buy_order_moved(self, conn: Conn, order: asyncpg.Record) -> None:
        """GroupBuyService.on_order_moved: an order is created (``paid``) when its group
        succeeds — taking part in an activity — and completes or is refunded like an order."""
        if order["status"] == "paid":
            user_id, group_id = order["buyer_id"], order["group_id"]

            async def activity() -> None:
                await self._points.earn_in(
                    conn,
                    user_id,
                    RuleName.ACTIVITY,
                    f"activity:group_buy:{group_id}:{user_id}",
                    note="拼团成功",
                )

            await self._guarded(conn, "group_buy", activity)
        await self._spending(conn, "group_buy_order", order)

    async def _spending(self, conn: Conn, kind: str, order: asyncpg.Record) -> None:
        order_id, buyer_id = order["id"], order["buyer_id"]
        if order["status"] == "completed":

            async def credit() -> None:
                await self.credit_spending_in(conn, kind, order_id, buyer_id, order["payment_id"])

            await self._guarded(conn, f"{kind}_completed", credit)
        elif order["status"] == "refunded":

            async def take_back() -> None:
                await self._points.take_back_in(
                    conn,
                    buyer_id,
                    f"spending:{kind}:{order_id}",
                    f"take_back:{kind}:{order_id}",
                )

            await self._guarded(conn, f"{kind}_refunded", take_back)

    async def credit_spending_in(
        self, conn: Conn, kind: str, order_id: UUID, buyer_id: UUID, payment_id: UUID | None
    ) -> None:
        if payment_id is None:
            return
        # What the buyer paid for the price, after any discount, without the deposit.
        amount_fen = await conn.fetchval(
            "SELECT amount_fen FROM payments WHERE id = $1", payment_id
        )
        await self._points.earn_in(
            conn,
            buyer_id,
            RuleName.SPENDING,
            f"spending:{kind}:{order_id}",
            amount=yuan(int(amount_fen or 0)),
        )

    async def rated(self, conn: Conn, order: asyncpg.Record, rating: asyncpg.Record) -> None:
        """OrderService.on_rating: rating a completed order."""
        rater, order_id = rating["rater_id"], order["id"]

        async def credit() -> None:
            await self._points.earn_in(conn, rater, RuleName.RATING, f"rating:{order_id}:{rater}")

        await self._guarded(conn, "rating", credit)

    # --- after-commit hooks ----------------------------------------------------------------------

    async def listing_created(self, listing: asyncpg.Record) -> None:
        """ListingService.on_created: a resident's listing is publishing; a merchant's is the
        merchant's trade, not a resident's activity, and earns nothing."""
        if listing["merchant_id"] is not None:
            return
        try:
            await self._points.earn(
                listing["seller_id"],
                RuleName.PUBLISHING,
                f"publishing:listing:{listing['id']}",
                at=listing["created_at"],
                note="发布闲置",
            )
        except Exception:
            POINTS_HOOK_FAILURES.labels(source="listing").inc()
            log.exception("points.hook_failed", source="listing")

    async def member_verified(self, user_id: UUID, community_id: UUID) -> None:
        """CommunityService.on_verified: an invitee verified in a community pays the inviter."""
        del community_id
        try:
            await self._invitations.credit(user_id)
        except Exception:
            POINTS_HOOK_FAILURES.labels(source="invitation").inc()
            log.exception("points.hook_failed", source="invitation")

    async def event_attended(self, user_id: UUID, event_id: str, at: datetime | None = None) -> int:
        """Attending an event (``EventService.check_in`` calls this once it checks a resident
        in; docs/events.md). Idempotent by event and user; returns the points credited."""
        earned = await self._points.earn(
            user_id,
            RuleName.ACTIVITY,
            f"activity:event:{event_id}:{user_id}",
            at=at,
            note="参加活动",
        )
        return 0 if earned.duplicate else earned.points

    # --- the scan (cron) -------------------------------------------------------------------------

    async def scan(self) -> dict[str, int]:
        """Credit sources without a hook and heal failed hooks (cron job; idempotent). Each kind
        is read in batches until one comes back short: a batch only holds sources not credited
        yet, so every batch makes progress."""
        now = self._clock.now()
        counts = {"posts": 0, "lottery": 0, "invitations": 0, "spending": 0}
        grace_end = now - self._post_grace
        for _ in range(_SCAN_BATCHES):
            posts = await self.store.posts_between(
                grace_end - SCAN_LOOKBACK, grace_end, _SCAN_BATCH
            )
            for post in posts:
                earned = await self._points.earn(
                    post["user_id"],
                    RuleName.PUBLISHING,
                    f"publishing:post:{post['community_id']}:{post['seq']}",
                    at=post["created_at"],
                    note="社区动态",
                )
                counts["posts"] += not earned.duplicate
            if len(posts) < _SCAN_BATCH:
                break
        for _ in range(_SCAN_BATCHES):
            entries = await self.store.draw_entries_since(now - SCAN_LOOKBACK, _SCAN_BATCH)
            for entry in entries:
                earned = await self._points.earn(
                    entry["user_id"],
                    RuleName.ACTIVITY,
                    f"activity:lottery:{entry['draw_id']}:{entry['user_id']}",
                    at=entry["drawn_at"],
                    note="参加抽奖",
                )
                counts["lottery"] += not earned.duplicate
            if len(entries) < _SCAN_BATCH:
                break
        for invitee_id in await self.store.pending_verified_invitees(_SCAN_BATCH):
            counts["invitations"] += bool(await self._invitations.credit(invitee_id))
        counts["spending"] = await self._heal_spending(now - SCAN_LOOKBACK)
        return counts

    async def _heal_spending(self, since: datetime) -> int:
        """Completed orders without their spending entry, refunded ones whose credit was not
        taken back: what a failed hook left."""
        healed = 0
        rows = await self.store.pool.fetch(
            """SELECT 'order' AS kind, id, buyer_id, payment_id, status FROM orders
               WHERE updated_at > $1 AND status IN ('completed', 'refunded')
               UNION ALL
               SELECT 'group_buy_order', id, buyer_id, payment_id, status FROM group_buy_orders
               WHERE updated_at > $1 AND status IN ('completed', 'refunded')""",
            since,
        )
        for row in rows:
            kind, order_id = row["kind"], row["id"]
            credited = await self._journaled(f"spending:{kind}:{order_id}")
            if row["status"] == "completed":
                if credited:
                    continue
            else:
                key = f"take_back:{kind}:{order_id}"
                if not credited or await self._journaled(key):
                    continue
            async with self.store.pool.acquire() as conn, conn.transaction():
                if row["status"] == "completed":
                    await self.credit_spending_in(
                        conn, kind, order_id, row["buyer_id"], row["payment_id"]
                    )
                else:
                    await self._points.take_back_in(
                        conn, row["buyer_id"], f"spending:{kind}:{order_id}", key
                    )
            healed += 1
        return healed

    async def _journaled(self, source_key: str) -> bool:
        found = await self.store.pool.fetchval(
            "SELECT 1 FROM points_journal WHERE source_key = $1", source_key
        )
        return found is not None
