"""Order jobs. Each is safe to run twice: the unpaid cancel and the overdue flag are conditional
updates (``WHERE status = 'created'``, ``WHERE overdue_at IS NULL``), and the sweep's refunds and
releases are keyed by the order (docs/orders.md)."""

from __future__ import annotations

from typing import Any

from arq import cron

from lago_core.container import Core

__all__ = [
    "CRON_JOBS",
    "FUNCTIONS",
    "cancel_unpaid_orders",
    "check_overdue_rentals",
    "sweep_orders",
]


async def cancel_unpaid_orders(ctx: dict[str, Any]) -> int:
    """Cancel orders left unpaid for LAGO_UNPAID_ORDER_TTL_S."""
    core: Core = ctx["core"]
    return await core.orders.cancel_unpaid()


async def check_overdue_rentals(ctx: dict[str, Any]) -> int:
    """Flag running rentals past their due time and tell the renter and the merchant."""
    core: Core = ctx["core"]
    return await core.orders.check_overdue()


async def sweep_orders(ctx: dict[str, Any]) -> dict[str, int]:
    """Finish refunds and deposit releases that a crash after an order's move left undone."""
    core: Core = ctx["core"]
    return await core.orders.sweep()


FUNCTIONS = [cancel_unpaid_orders, check_overdue_rentals, sweep_orders]
# Every minute for unpaid orders (the TTL is half an hour by default, so a minute's lag is noise);
# overdue rentals every ten minutes; the sweep every five, like the payments sweep.
CRON_JOBS = [
    cron(cancel_unpaid_orders, second={7}, unique=True),
    cron(check_overdue_rentals, minute=set(range(3, 60, 10)), unique=True),
    cron(sweep_orders, minute=set(range(1, 60, 5)), unique=True),
]
