"""Settlement for merchants: monthly statements of T+7 payouts and the dashboard (商家看板).

Handlers are thin: who may read what is decided in :class:`lago_core.settlement.SettlementService`.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from typing import Literal
from uuid import UUID

from pydantic import Field

from lago_core.security.roles import Principal
from lago_rest.api import Api
from lago_rest.context import Services
from lago_rest.schemas import Schema

api = Api()
TAGS = ("settlement",)


class StatementQuery(Schema):
    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM, China time")


class MerchantDiscount(Schema):
    order_id: UUID = Field(description="a listing order or a group-buy order")
    discount_fen: int


class Settlement(Schema):
    id: UUID
    payee_kind: Literal["user", "merchant"]
    payee_id: UUID
    cutoff: datetime = Field(description="orders completed at or before this were settled")
    order_count: int = Field(description="orders covered, listing and group-buy orders alike")
    gross_fen: int = Field(
        description="price after the merchant's own coupons (platform coupons are paid by the "
        "platform and count in full), less refunds"
    )
    commission_fen: int
    property_share_fen: int
    withheld_fen: int = Field(description="rental deposit withheld (late fees, damages)")
    net_fen: int = Field(
        description="gross − commission − property share + withheld: a merchant's becomes its "
        "available balance (to withdraw), a resident seller's is paid out"
    )
    payout_id: UUID | None = Field(
        description="a resident seller's payout (null until requested); always null for a "
        "merchant, whose net became its available balance"
    )
    payout_status: Literal["pending", "paid", "failed"] | None
    created_at: datetime
    order_ids: list[UUID] = Field(description="the listing orders covered")
    group_buy_order_ids: list[UUID] = Field(description="the group-buy orders covered")
    merchant_discounts: list[MerchantDiscount] = Field(
        description="orders the merchant's own coupons discounted, and by how much"
    )
    merchant_discount_fen: int = Field(description="the merchant's own coupon discounts in all")


class StatementTotals(Schema):
    settlement_count: int
    order_count: int
    gross_fen: int
    commission_fen: int
    property_share_fen: int
    withheld_fen: int
    net_fen: int
    merchant_discount_fen: int = Field(description="the merchant's own coupon discounts")


class Statement(Schema):
    merchant_id: UUID
    month: str
    settlements: list[Settlement]
    totals: StatementTotals


class DayStats(Schema):
    day: date
    orders: int = Field(description="orders paid that day")
    revenue_fen: int = Field(
        description="price of orders paid (after the merchant's own coupons), less orders "
        "refunded, that day"
    )
    completed: int
    refunded: int
    discount_fen: int = Field(
        description="the merchant's own coupon discounts on those orders (revenue is after them)"
    )


class TopService(Schema):
    listing_id: UUID
    title: str
    orders: int
    revenue_fen: int


class Dashboard(Schema):
    merchant_id: UUID
    today: DayStats
    month: DayStats = Field(description="this month so far; day is its first day")
    pending_orders: int = Field(description="paid, not yet completed or refunded")
    rating_count: int
    rating_average: float | None = Field(description="buyers' scores 1–5; null before the first")
    trend: list[DayStats] = Field(description="the last 30 days, oldest first")
    top_services: list[TopService] = Field(description="this month's best sellers by revenue")


@api.get("/merchants/{merchant_id}/statements", tags=TAGS)
async def statement(
    merchant_id: UUID, query: StatementQuery, user: Principal, svc: Services
) -> Statement:
    """The month's settlements paid to the merchant and their totals (owner, staff, admins)."""
    return Statement.model_validate(
        asdict(await svc.settlement.statement(user, merchant_id, query.month))
    )


@api.get("/merchants/{merchant_id}/dashboard", tags=TAGS)
async def dashboard(merchant_id: UUID, user: Principal, svc: Services) -> Dashboard:
    """Today's and this month's orders and revenue, pending orders, rating, 30-day trend."""
    return Dashboard.model_validate(asdict(await svc.settlement.dashboard(user, merchant_id)))
