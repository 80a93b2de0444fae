"""Event jobs. Safe to run twice: each event is finished under its row lock only if it is still
published and its check-in door has closed (docs/events.md)."""

from __future__ import annotations

from typing import Any

from arq import cron

from lago_core.container import Core

__all__ = ["CRON_JOBS", "FUNCTIONS", "finish_ended_events"]


async def finish_ended_events(ctx: dict[str, Any]) -> dict[str, int]:
    """Finish published events whose check-in has closed, giving back unused privileges."""
    core: Core = ctx["core"]
    return {"finished": await core.events.finish_ended()}


FUNCTIONS = [finish_ended_events]
# Every ten minutes: the door closes two hours after the end, so minutes of lag are noise.
CRON_JOBS = [cron(finish_ended_events, minute=set(range(8, 60, 10)), unique=True)]
