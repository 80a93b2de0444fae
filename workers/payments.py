"""Payment jobs. arq runs a job at least once, so each is safe to run twice (docs/money.md):
the effects are keyed (provider idempotency keys, ledger transaction keys, UNIQUE event ids) and
an event's effect commits together with its "applied" mark."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import aiohttp
from arq import Retry, cron

from lago_core.container import Core
from lago_core.logging import get_logger

__all__ = [
    "CRON_JOBS",
    "FUNCTIONS",
    "apply_payment_event",
    "deliver_sandbox_webhook",
    "purge_idempotency_keys",
    "submit_payout",
    "submit_refund",
    "sweep_payments",
]

log = get_logger(__name__)

# How long an Idempotency-Key is remembered; a client retries within minutes, not days.
IDEMPOTENCY_RETENTION = timedelta(hours=24)
# Sandbox deliveries are retried like a real provider's: back-off up to about an hour in all.
DELIVERY_ATTEMPTS = 8


async def apply_payment_event(ctx: dict[str, Any], provider: str, event_id: str) -> str:
    """Apply one recorded provider event (capture, failure, refund paid, payout paid)."""
    core: Core = ctx["core"]
    return await core.payments.apply_event(provider, event_id)


async def submit_refund(ctx: dict[str, Any], refund_id: str) -> str:
    """Ask the provider to pay back a decided refund (keyed by the refund id)."""
    core: Core = ctx["core"]
    return await core.payments.submit_refund(UUID(refund_id))


async def submit_payout(ctx: dict[str, Any], payout_id: str) -> str:
    """Ask the provider to pay out a settlement (keyed by the payout id)."""
    core: Core = ctx["core"]
    return await core.payments.submit_payout(UUID(payout_id))


async def deliver_sandbox_webhook(ctx: dict[str, Any], event_id: str) -> int:
    """The sandbox provider POSTs one signed event to the webhook URL; retried on failure."""
    core: Core = ctx["core"]
    if core.sandbox is None:
        return 0
    # A session per delivery: the sandbox sends little, and nothing is left to close at shutdown.
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        status = await core.sandbox.deliver(
            event_id, core.settings.webhook_url, session, call_url=core.settings.call_webhook_url
        )
    if not 200 <= status < 300:
        tries: int = ctx.get("job_try", 1)
        if tries < DELIVERY_ATTEMPTS:
            raise Retry(defer=min(2**tries * 5, 1800))
        log.warning("sandbox.webhook_undelivered", event_id=event_id, status=status)
    return status


async def sweep_payments(ctx: dict[str, Any]) -> dict[str, int]:
    """Queue again the payment work whose job was lost between a commit and its enqueue."""
    core: Core = ctx["core"]
    return await core.payments.sweep()


async def purge_idempotency_keys(ctx: dict[str, Any]) -> int:
    core: Core = ctx["core"]
    return await core.payments.idempotency.purge(core.clock.now() - IDEMPOTENCY_RETENTION)


FUNCTIONS = [
    apply_payment_event,
    submit_refund,
    submit_payout,
    deliver_sandbox_webhook,
    sweep_payments,
    purge_idempotency_keys,
]
# For the worker's cron_jobs: the sweeper every five minutes, the key purge daily.
CRON_JOBS = [
    cron(sweep_payments, minute=set(range(0, 60, 5)), unique=True),
    cron(purge_idempotency_keys, hour={4}, minute={37}, unique=True),
]
