"""Settlement job: T+7 payouts. Safe to run twice: UNIQUE(order_id) in settlement_items settles
each order once, and each payout is keyed ``settlement:<id>`` (docs/money.md "## Settlement")."""

from __future__ import annotations

from typing import Any

from arq import cron

from lago_core.container import Core

__all__ = ["CRON_JOBS", "FUNCTIONS", "pay_property_shares", "settle_orders"]


async def settle_orders(ctx: dict[str, Any]) -> dict[str, int]:
    """Settle and pay out orders completed at least seven days ago; request lost payouts."""
    core: Core = ctx["core"]
    return await core.settlement.settle()


async def pay_property_shares(ctx: dict[str, Any]) -> dict[str, int]:
    """Pay each property company its share of last month's settled orders (once per company
    and month: the payout key and property_payouts' primary key)."""
    core: Core = ctx["core"]
    return await core.moneyout.pay_property_shares()


FUNCTIONS = [settle_orders, pay_property_shares]
# Daily, at 02:13 UTC (10:13 in China): after the night's completions, in office hours should a
# payout need a person. Property shares: the 3rd of each month at 03:07 UTC, after the month's
# last settlement run (a company paid already is skipped, so running daily would be harmless).
CRON_JOBS = [
    cron(settle_orders, hour={2}, minute={13}, unique=True),
    cron(pay_property_shares, day={3}, hour={3}, minute={7}, unique=True),
]
