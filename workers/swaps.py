"""Swap jobs. Safe to run twice: expiry and cancellation are conditional updates
(``WHERE status = <expected>``) and a cancelled swap's refund is keyed by the swap
(docs/swaps.md)."""

from __future__ import annotations

from typing import Any

from arq import cron

from lago_core.container import Core

__all__ = ["CRON_JOBS", "FUNCTIONS", "expire_swaps"]


async def expire_swaps(ctx: dict[str, Any]) -> dict[str, int]:
    """Expire stale offers, cancel swaps not handed over in time, heal unrefunded differences."""
    core: Core = ctx["core"]
    return await core.swaps.expire()


FUNCTIONS = [expire_swaps]
# Every ten minutes: the TTLs are days, so a few minutes' lag is noise.
CRON_JOBS = [cron(expire_swaps, minute=set(range(6, 60, 10)), unique=True)]
