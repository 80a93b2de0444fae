"""Settlement: seven days after completion (T+7), settle what the ledger owes each payee for
their completed orders (listing orders, and group-buy orders of merchants) — paid out at once to
a resident seller, made the merchant's available balance (which the merchant withdraws:
lago_core/moneyout); monthly statements; the merchant dashboard from kept-up aggregates.

Amounts are not recomputed here: each order's gross, commission and property share are what the
capture split (the payment's columns, which the ledger posted), less what refunds took back, plus
the deposit a rental withheld — exactly what the payee's payable account received for the order.
docs/money.md "## Settlement" describes the job and why a second run (or a crash) is harmless.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import asyncpg

from lago_core.clock import Clock
from lago_core.errors import InvalidInput
from lago_core.ledger import Party, PartyKind, flows
from lago_core.ledger.store import Conn
from lago_core.logging import get_logger
from lago_core.merchants import MerchantService
from lago_core.orders import OrderService, Status
from lago_core.payments import PaymentService
from lago_core.security.roles import Principal
from lago_core.settlement.store import SettlementStore

if TYPE_CHECKING:
    from lago_core.groupbuys import GroupBuyService

__all__ = [
    "BUSINESS_TZ",
    "SETTLEMENT_DELAY",
    "Dashboard",
    "DayStats",
    "SettlementService",
    "Statement",
]

log = get_logger(__name__)

# Days, months and "today" are those of the communities we serve, not UTC: a merchant's day
# starts at midnight in China.
BUSINESS_TZ = ZoneInfo("Asia/Shanghai")
# T+7: the buyer has a week after completion to raise a dispute before the money leaves.
SETTLEMENT_DELAY = timedelta(days=7)
TREND_DAYS = 30


TOP_SERVICES = 5


@dataclass(frozen=True, slots=True)
class DayStats:
    day: date
    orders: int = 0
    revenue_fen: int = 0
    completed: int = 0
    refunded: int = 0
    # The merchant's own coupon discounts on those orders (revenue_fen is after them).
    discount_fen: int = 0


@dataclass(frozen=True, slots=True)
class Dashboard:
    merchant_id: UUID
    today: DayStats
    month: DayStats  # ``day`` is the month's first day
    pending_orders: int
    rating_count: int
    rating_average: float | None
    trend: list[DayStats]  # the last 30 days, oldest first, every day present
    top_services: list[dict[str, Any]]  # this month's best sellers by revenue


@dataclass(frozen=True, slots=True)
class Statement:
    merchant_id: UUID
    month: str
    settlements: list[dict[str, Any]]
    totals: dict[str, int]


def business_day(at: datetime) -> date:
    return at.astimezone(BUSINESS_TZ).date()


def month_bounds(month: str) -> tuple[date, datetime, datetime]:
    """(first day, start, end) of a YYYY-MM month in business time, as UTC instants."""
    try:
        first = datetime.strptime(month, "%Y-%m").replace(tzinfo=BUSINESS_TZ)
        following = (first + timedelta(days=32)).replace(day=1)
        return first.date(), first.astimezone(UTC), following.astimezone(UTC)
    except (ValueError, OverflowError):
        # OverflowError: 0001-01 starts before UTC's year 1, 9999-12 ends after year 9999.
        raise InvalidInput("month is YYYY-MM", code="invalid_month") from None


class SettlementService:
    def __init__(
        self,
        store: SettlementStore,
        payments: PaymentService,
        merchants: MerchantService,
        orders: OrderService,
        clock: Clock,
    ) -> None:
        self.store = store
        self._payments = payments
        self._merchants = merchants
        self._clock = clock
        # A test seam, like PaymentService's: raise at a named point to simulate a crash there.
        self.crash_hook: Callable[[str], None] | None = None
        self._available_hooks: list[Callable[[Conn, asyncpg.Record], Awaitable[None]]] = []
        orders.on_transition(self._on_order_moved)
        orders.on_rating(self._on_rated)

    def on_made_available(self, hook: Callable[[Conn, asyncpg.Record], Awaitable[None]]) -> None:
        """Run ``hook`` in the transaction of each merchant settlement made available."""
        self._available_hooks.append(hook)

    def follow_group_buys(self, groupbuys: GroupBuyService) -> None:
        """Count group-buy orders on the dashboard as they are created and completed (settling
        them needs no hook: the job reads completed group-buy orders as it reads orders)."""
        groupbuys.on_order_moved(self._on_order_moved)

    # --- T+7 settlement (job) ----------------------------------------------------------------------

    async def settle(self) -> dict[str, int]:
        """Settle every payee's orders completed at least SETTLEMENT_DELAY ago (job).

        First the payouts of settlements a crash left unrequested, then new settlements: one per
        payee, its rows committed before the payout is requested, so a crash in between is
        healed by the next run and nothing is paid without a record of what it covers.
        """
        healed = 0
        for unpaid in await self.store.without_payout():
            await self._pay(unpaid)
            healed += 1
        cutoff = self._clock.now() - SETTLEMENT_DELAY
        settled = 0
        for payee in await self.store.payees_due(cutoff):
            party = Party(PartyKind(payee["payee_kind"]), payee["payee_id"])
            row = await self._settle_payee(party, cutoff)
            if row is None:
                continue
            settled += 1
            if self.crash_hook is not None:
                self.crash_hook("settlement.rows_committed")
            if row["payee_kind"] == PartyKind.USER.value:
                await self._pay(row)
        return {"settlements": settled, "healed": healed}

    async def _settle_payee(self, payee: Party, cutoff: datetime) -> asyncpg.Record | None:
        try:
            async with self.store.pool.acquire() as conn, conn.transaction():
                # Under the payee's lock the due orders are read after any concurrent run's
                # settlement committed, so both runs never pick the same orders.
                await self.store.lock_payee(conn, payee.id)
                due = await self.store.items_due(conn, payee.kind.value, payee.id, cutoff)
                if not due:
                    return None
                items = [
                    dict(r)
                    | {
                        "net_fen": r["gross_fen"]
                        - r["commission_fen"]
                        - r["property_share_fen"]
                        + r["withheld_fen"]
                    }
                    for r in due
                ]

                def total(name: str) -> int:
                    return sum(int(i[name]) for i in items)

                row = await self.store.insert_settlement(
                    conn,
                    {
                        "id": uuid4(),
                        "payee_kind": payee.kind.value,
                        "payee_id": payee.id,
                        "cutoff": cutoff,
                        "order_count": len(items),
                        "gross_fen": total("gross_fen"),
                        "commission_fen": total("commission_fen"),
                        "property_share_fen": total("property_share_fen"),
                        "withheld_fen": total("withheld_fen"),
                        "net_fen": total("net_fen"),
                        "created_at": self._clock.now(),
                    },
                )
                await self.store.insert_items(conn, row["id"], items)
                if payee.kind is PartyKind.MERCHANT and row["net_fen"] > 0:
                    # A merchant withdraws when it wants (docs/money.md, "Available balance"):
                    # the net becomes available in the settlement's own transaction, so there
                    # is nothing for a crash to leave half done.
                    await self._payments.ledger.post(
                        f"settlement:{row['id']}:available",
                        f"settlement {row['id']} made available to merchant {payee.id}",
                        flows.made_available(payee, row["net_fen"]),
                        conn=conn,
                    )
                    for hook in self._available_hooks:
                        await hook(conn, row)
        except asyncpg.UniqueViolationError:
            # UNIQUE(order_id): another run settled one of these orders first; it pays them.
            log.info("settlement.already_settled", payee_id=str(payee.id))
            return None
        log.info(
            "settlement.created",
            settlement_id=str(row["id"]),
            payee_id=str(payee.id),
            net_fen=row["net_fen"],
        )
        return row

    async def _pay(self, row: asyncpg.Record) -> None:
        """Request the settlement's payout, keyed by the settlement: a repeat finds the first."""
        if row["net_fen"] == 0:
            return  # everything went to commission: nothing to pay, nothing to heal
        payee = Party(PartyKind(row["payee_kind"]), row["payee_id"])
        payout = await self._payments.pay_out(f"settlement:{row['id']}", payee, row["net_fen"])
        await self.store.set_payout(row["id"], payout.id)

    # --- statements ------------------------------------------------------------------------------

    async def statement(self, actor: Principal, merchant_id: UUID, month: str) -> Statement:
        """The merchant's settlements created in ``month`` (YYYY-MM, business time) and totals."""
        await self._require_reader(actor, merchant_id)
        _, start, end = month_bounds(month)
        rows = await self.store.of_payee(PartyKind.MERCHANT.value, merchant_id, start, end)
        settlements = []
        for r in rows:
            items = await self.store.items_of(r["id"])
            settlements.append(
                dict(r)
                | {
                    "order_ids": [i["order_id"] for i in items if i["kind"] == "order"],
                    "group_buy_order_ids": [
                        i["order_id"] for i in items if i["kind"] == "group_buy_order"
                    ],
                    # The merchant's own coupon discounts, per order and in all: gross is the
                    # price after them (docs/money.md, "Coupons and discounts").
                    "merchant_discounts": [
                        {"order_id": i["order_id"], "discount_fen": i["merchant_discount_fen"]}
                        for i in items
                        if i["merchant_discount_fen"]
                    ],
                    "merchant_discount_fen": sum(int(i["merchant_discount_fen"]) for i in items),
                }
            )
        names = ("order_count", "gross_fen", "commission_fen", "property_share_fen")
        totals = {n: sum(int(r[n]) for r in rows) for n in (*names, "withheld_fen", "net_fen")}
        totals["merchant_discount_fen"] = sum(s["merchant_discount_fen"] for s in settlements)
        totals["settlement_count"] = len(rows)
        return Statement(merchant_id, month, settlements, totals)

    # --- dashboard -------------------------------------------------------------------------------

    async def dashboard(self, actor: Principal, merchant_id: UUID) -> Dashboard:
        """Today's and this month's figures, pending orders, rating and a 30-day trend, read
        from the aggregates the order moves keep (at most ~60 rows, whatever the order count)."""
        await self._require_reader(actor, merchant_id)
        today = business_day(self._clock.now())
        month_start = today.replace(day=1)
        trend_start = today - timedelta(days=TREND_DAYS - 1)
        rows = await self.store.days(merchant_id, min(month_start, trend_start), today)
        by_day = {r["day"]: DayStats(**dict(r)) for r in rows}
        in_month = [s for d, s in by_day.items() if d >= month_start]
        month = DayStats(
            month_start,
            sum(s.orders for s in in_month),
            sum(s.revenue_fen for s in in_month),
            sum(s.completed for s in in_month),
            sum(s.refunded for s in in_month),
            sum(s.discount_fen for s in in_month),
        )
        trend = [
            by_day.get(d, DayStats(d))
            for d in (trend_start + timedelta(days=n) for n in range(TREND_DAYS))
        ]
        totals = await self.store.totals(merchant_id)
        count = totals["rating_count"] if totals else 0
        return Dashboard(
            merchant_id=merchant_id,
            today=by_day.get(today, DayStats(today)),
            month=month,
            pending_orders=totals["pending_orders"] if totals else 0,
            rating_count=count,
            rating_average=round(totals["rating_sum"] / count, 2) if totals and count else None,
            trend=trend,
            top_services=[
                dict(r)
                for r in await self.store.top_listings(merchant_id, month_start, TOP_SERVICES)
            ],
        )

    async def _require_reader(self, actor: Principal, merchant_id: UUID) -> None:
        """The merchant's owner and staff, and admins; another merchant's people: 403."""
        if actor.is_admin:
            await self._merchants.get(merchant_id)
        else:
            await self._merchants.require_member(actor, merchant_id)

    # --- the order hooks (inside the move's transaction) --------------------------------------

    async def _on_order_moved(self, conn: Conn, row: asyncpg.Record) -> None:
        """A listing order's move, or a group-buy order's (created ``paid``, then ``confirmed``
        and ``completed``; it has no listing, so no best-seller line)."""
        merchant_id = row["merchant_id"]
        if merchant_id is None:
            return
        day = business_day(self._clock.now())
        status = row["status"]
        month = day.replace(day=1)
        listing_id = row.get("listing_id")
        # A merchant's own coupon lowers its revenue (the platform's does not: it pays it).
        discount = row.get("merchant_discount_fen") or 0
        revenue = row["price_fen"] - discount
        if status == Status.PAID:
            await self.store.bump_day(
                conn, merchant_id, day, orders=1, revenue_fen=revenue, discount_fen=discount
            )
            await self.store.bump_totals(conn, merchant_id, pending=1)
            if listing_id is not None:
                await self.store.bump_listing_month(
                    conn, merchant_id, month, listing_id, orders=1, revenue_fen=revenue
                )
        elif status == Status.COMPLETED:
            await self.store.bump_day(conn, merchant_id, day, completed=1)
            await self.store.bump_totals(conn, merchant_id, pending=-1)
        elif status == Status.REFUNDED:
            # Refunded only from a paid status: the paid day keeps its order, today loses the
            # revenue (as the money went back today).
            await self.store.bump_day(
                conn, merchant_id, day, refunded=1, revenue_fen=-revenue, discount_fen=-discount
            )
            await self.store.bump_totals(conn, merchant_id, pending=-1)
            if listing_id is not None:
                await self.store.bump_listing_month(
                    conn, merchant_id, month, listing_id, orders=-1, revenue_fen=-revenue
                )

    async def _on_rated(self, conn: Conn, order: asyncpg.Record, rating: asyncpg.Record) -> None:
        """The buyer's rating of a merchant's order is the merchant's rating."""
        if order["merchant_id"] is not None and rating["rater_id"] == order["buyer_id"]:
            await self.store.bump_totals(conn, order["merchant_id"], rating=rating["score"])
