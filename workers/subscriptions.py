"""Subscription and virtual-number jobs (docs/subscriptions.md). Both are safe to run twice:
each subscription is tended under its row lock, a period's charge is keyed by (subscription,
period) here and at the provider, and a binding is unbound with ``WHERE unbound_at IS NULL``."""

from __future__ import annotations

from typing import Any

from arq import cron

from lago_core.container import Core

__all__ = ["CRON_JOBS", "FUNCTIONS", "expire_virtual_numbers", "renew_subscriptions"]


async def renew_subscriptions(ctx: dict[str, Any]) -> dict[str, int]:
    """Charge due periods, retry failed ones, end cancelled and lapsed subscriptions."""
    core: Core = ctx["core"]
    return await core.subscriptions.renew()


async def expire_virtual_numbers(ctx: dict[str, Any]) -> int:
    """Unbind the virtual numbers whose time is up (the number goes back to the pool)."""
    core: Core = ctx["core"]
    return await core.virtual_numbers.expire()


FUNCTIONS = [renew_subscriptions, expire_virtual_numbers]
# Every ten minutes: a renewal is charged within minutes of its period's end, and a retry
# within minutes of its time; bindings are unbound within five minutes of expiry.
CRON_JOBS = [
    cron(renew_subscriptions, minute=set(range(2, 60, 10)), unique=True),
    cron(expire_virtual_numbers, minute=set(range(1, 60, 5)), unique=True),
]
