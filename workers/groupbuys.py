"""Group-buy jobs: end a group at its expiry (deferred to ``expires_at`` when the group starts)
and a sweep that heals lost jobs and refunds a crash left owed. Both are safe to run twice:
:meth:`GroupBuyService.expire` acts once under a row lock and each refund is keyed by its
payment (docs/groupbuys.md)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from arq import cron

from lago_core.container import Core

__all__ = ["CRON_JOBS", "FUNCTIONS", "expire_group_buy", "sweep_group_buys"]


async def expire_group_buy(ctx: dict[str, Any], group_id: str) -> str:
    """End the group if its time is up: fail it (refunding every paid member) or close it."""
    core: Core = ctx["core"]
    return await core.groupbuys.expire(UUID(group_id))


async def sweep_group_buys(ctx: dict[str, Any]) -> dict[str, int]:
    core: Core = ctx["core"]
    return await core.groupbuys.sweep()


FUNCTIONS = [expire_group_buy, sweep_group_buys]
# Every minute: an expiry job lost with Redis, or run early by a clock ahead of ours, is caught
# within a minute of the group's end.
CRON_JOBS = [cron(sweep_group_buys, second={41}, unique=True)]
