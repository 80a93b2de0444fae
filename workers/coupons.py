"""Coupon jobs. The sweep is safe to run twice: expiry is ``WHERE status = 'available' AND
expires_at <= now`` and a coupon comes back only from the status its holder left it in
(``locked``/``used``), each in one transaction with its template's counters (docs/money.md)."""

from __future__ import annotations

from typing import Any

from arq import cron

from lago_core.container import Core

__all__ = ["CRON_JOBS", "FUNCTIONS", "sweep_coupons"]


async def sweep_coupons(ctx: dict[str, Any]) -> dict[str, int]:
    """Mark expired coupons; bring back coupons a cancelled order, a released seat or a whole
    refund left held (a crash, or a seat the channel actor released)."""
    core: Core = ctx["core"]
    return await core.coupons.sweep()


FUNCTIONS = [sweep_coupons]
# Every five minutes, between the orders and payments sweeps: a coupon a released seat held is
# back in its wallet within minutes.
CRON_JOBS = [cron(sweep_coupons, minute=set(range(4, 60, 5)), unique=True)]
