"""Points jobs (docs/points.md). Safe to run twice or at once: expiry retires each lot under its
account's lock with one journal entry keyed by the lot; notices are unique per user and expiry
day; every credit of the scan is keyed by its source."""

from __future__ import annotations

from typing import Any

from arq import cron

from lago_core.container import Core

__all__ = ["CRON_JOBS", "FUNCTIONS", "credit_points", "expire_points", "notify_expiring_points"]


async def expire_points(ctx: dict[str, Any]) -> int:
    """Retire lots whose year is up; returns the points retired."""
    core: Core = ctx["core"]
    return await core.points.service.expire_due()


async def notify_expiring_points(ctx: dict[str, Any]) -> dict[str, int]:
    """Tell residents whose points expire within a week (once per expiry day)."""
    core: Core = ctx["core"]
    return await core.points.service.notify_expiring()


async def credit_points(ctx: dict[str, Any]) -> dict[str, int]:
    """Credit channel posts past their grace period, lottery entries, verified invitees, and
    what failed hooks left."""
    core: Core = ctx["core"]
    return await core.points.sources.scan()


FUNCTIONS = [expire_points, notify_expiring_points, credit_points]
CRON_JOBS = [
    # Hourly: a lot is retired within the hour its year ends (spending retires it at once).
    cron(expire_points, minute={7}, unique=True),
    # Daily at 01:37 UTC (09:37 in China): a notice in the morning, not at night.
    cron(notify_expiring_points, hour={1}, minute={37}, unique=True),
    cron(credit_points, minute=set(range(4, 60, 5)), unique=True),
]
