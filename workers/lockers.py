"""Toy locker jobs (docs/lockers.md). Safe to run twice: each order move checks the order's status
first, so a second run finds nothing left to move."""

from __future__ import annotations

from typing import Any

from arq import cron

from lago_core.container import Core

__all__ = ["CRON_JOBS", "FUNCTIONS", "sweep_locker_orders"]


async def sweep_locker_orders(ctx: dict[str, Any]) -> int:
    """Move orders a crash left behind their locker doors (pickups, returns)."""
    core: Core = ctx["core"]
    return await core.lockers.sweep_orders()


FUNCTIONS = [sweep_locker_orders]
# Every five minutes, like the order sweep; the door path moves orders at once, this only heals.
CRON_JOBS = [cron(sweep_locker_orders, minute=set(range(2, 60, 5)), unique=True)]
