"""AI operations jobs (docs/insights.md). Both are safe to run twice: the roll-up moves each
source's mark in the transaction that adds its rows, and the week's suggestions are stored once
per week key and pushed under a dedupe key."""

from __future__ import annotations

from typing import Any

from arq import cron

from lago_core.container import Core

__all__ = ["CRON_JOBS", "FUNCTIONS", "roll_up_insights", "weekly_suggestions"]


async def roll_up_insights(ctx: dict[str, Any]) -> dict[str, int]:
    """Add what the append-only sources gained to the aggregates."""
    core: Core = ctx["core"]
    return await core.insights.roll_up()


async def weekly_suggestions(ctx: dict[str, Any]) -> dict[str, int]:
    """The week's suggestions for property staff and merchants."""
    core: Core = ctx["core"]
    await core.insights.roll_up()
    return await core.insights.weekly_suggestions()


FUNCTIONS = [roll_up_insights, weekly_suggestions]
CRON_JOBS = [
    # Every five minutes: hotness lags views and searches by at most that (plus the settle time).
    cron(roll_up_insights, minute=set(range(2, 60, 5)), second={41}, unique=True),
    # Monday 01:07 in the worker's timezone (09:07 in Shanghai on a UTC host): the new week's
    # suggestions; the week key comes from the clock, so the hour does not change the key.
    cron(weekly_suggestions, weekday={0}, hour={1}, minute={7}, second={0}, unique=True),
]
