"""Settlement job: T+7 payouts. Safe to run twice: UNIQUE(order_id) in settlement_items settles
each order once, and each payout is keyed ``settlement:<id>`` (docs/money.md "## Settlement")."""

from __future__ import annotations

from typing import Any

from arq import cron

from lago_core.container import Core

__all__ = ["CRON_JOBS", "FUNCTIONS", "settle_orders"]


async def settle_orders(ctx: dict[str, Any]) -> dict[str, int]:
    """Settle and pay out orders completed at least seven days ago; request lost payouts."""
    core: Core = ctx["core"]
    return await core.settlement.settle()


FUNCTIONS = [settle_orders]
# Daily, at 02:13 UTC (10:13 in China): after the night's completions, in office hours should a
# payout need a person.
CRON_JOBS = [cron(settle_orders, hour={2}, minute={13}, unique=True)]
