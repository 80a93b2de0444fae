"""Enqueue arq jobs from any process (REST, workers) onto this deployment's queue.

The jobs are a contract between processes: the name a process enqueues and the arguments it
passes must be those of a function the worker runs. Both sides import the definitions below;
``JobQueue.enqueue`` takes a :class:`Job` and refuses the wrong number of arguments, and the
worker refuses to start unless its functions are exactly these jobs, with these parameters
(``check_worker_functions``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis.asyncio as aioredis
from arq.connections import ArqRedis

from lago_core.adapters.arq import use_deployment_prefix
from lago_core.redis import is_cluster
from lago_core.settings import Settings

__all__ = [
    "ANSWER_SUPPORT_MESSAGE",
    "APPLY_PAYMENT_EVENT",
    "CANCEL_UNPAID_ORDERS",
    "CHECK_OVERDUE_RENTALS",
    "CREDIT_POINTS",
    "DELIVER_NOTIFICATION",
    "DELIVER_SANDBOX_WEBHOOK",
    "EMBED_LISTINGS",
    "EXPIRE_GROUP_BUY",
    "EXPIRE_POINTS",
    "EXPIRE_SWAPS",
    "EXPIRE_VIRTUAL_NUMBERS",
    "FAN_OUT_ANNOUNCEMENT",
    "FINISH_ENDED_EVENTS",
    "JOBS",
    "NOTIFY_EXPIRING_POINTS",
    "PAY_PROPERTY_SHARES",
    "PURGE_ENDED_SESSIONS",
    "PURGE_IDEMPOTENCY_KEYS",
    "RENEW_SUBSCRIPTIONS",
    "ROLL_UP_INSIGHTS",
    "SETTLE_ORDERS",
    "SUBMIT_PAYOUT",
    "SUBMIT_REFUND",
    "SWEEP_COUPONS",
    "SWEEP_GROUP_BUYS",
    "SWEEP_LOCKER_ORDERS",
    "SWEEP_NOTIFICATIONS",
    "SWEEP_ORDERS",
    "SWEEP_PAYMENTS",
    "SWEEP_UNSENT_IMAGES",
    "WEEKLY_SUGGESTIONS",
    "Job",
    "JobQueue",
    "check_worker_functions",
    "queue_name",
]


@dataclass(frozen=True, slots=True)
class Job:
    """A job's name and the names of its arguments, in order (the worker's function takes the
    arq context first, then these)."""

    name: str
    params: tuple[str, ...] = ()


APPLY_PAYMENT_EVENT = Job("apply_payment_event", ("provider", "event_id"))
SUBMIT_REFUND = Job("submit_refund", ("refund_id",))
SUBMIT_PAYOUT = Job("submit_payout", ("payout_id",))
DELIVER_SANDBOX_WEBHOOK = Job("deliver_sandbox_webhook", ("event_id",))
SWEEP_PAYMENTS = Job("sweep_payments")
PURGE_IDEMPOTENCY_KEYS = Job("purge_idempotency_keys")
CANCEL_UNPAID_ORDERS = Job("cancel_unpaid_orders")
CHECK_OVERDUE_RENTALS = Job("check_overdue_rentals")
SWEEP_ORDERS = Job("sweep_orders")
SETTLE_ORDERS = Job("settle_orders")
EXPIRE_GROUP_BUY = Job("expire_group_buy", ("group_id",))
SWEEP_GROUP_BUYS = Job("sweep_group_buys")
ANSWER_SUPPORT_MESSAGE = Job("answer_support_message", ("message_id",))
SWEEP_LOCKER_ORDERS = Job("sweep_locker_orders")
PURGE_ENDED_SESSIONS = Job("purge_ended_sessions")
# Points (docs/points.md): retire lots a year old, tell residents a week before, credit sources
# that have no hook (channel posts after their grace period, lottery entries) and heal hooks.
EXPIRE_POINTS = Job("expire_points")
NOTIFY_EXPIRING_POINTS = Job("notify_expiring_points")
CREDIT_POINTS = Job("credit_points")
DELIVER_NOTIFICATION = Job("deliver_notification", ("notification_id",))
FAN_OUT_ANNOUNCEMENT = Job("fan_out_announcement", ("announcement_id",))
SWEEP_NOTIFICATIONS = Job("sweep_notifications")
SWEEP_COUPONS = Job("sweep_coupons")
RENEW_SUBSCRIPTIONS = Job("renew_subscriptions")
EXPIRE_VIRTUAL_NUMBERS = Job("expire_virtual_numbers")
PAY_PROPERTY_SHARES = Job("pay_property_shares")
# AI operations (docs/insights.md): add views, favourites, searches, chat messages and message
# reports to the aggregates behind their marks; the week's suggestions, stored and pushed once.
ROLL_UP_INSIGHTS = Job("roll_up_insights")
WEEKLY_SUGGESTIONS = Job("weekly_suggestions")
# Swaps (docs/swaps.md): stale offers expire, unconfirmed swaps are cancelled, refunds healed.
EXPIRE_SWAPS = Job("expire_swaps")
# Events (docs/events.md): published events finished once their check-in door has closed.
FINISH_ENDED_EVENTS = Job("finish_ended_events")
# Conversations (docs/conversations.md): images uploaded and not sent within a day are deleted.
SWEEP_UNSENT_IMAGES = Job("sweep_unsent_images")
# Search by meaning (docs/ai.md): embed listings whose embedding is missing or older than their
# last change — idempotent (keyed by listing and content hash), a backfill in bounded rounds.
EMBED_LISTINGS = Job("embed_listings")

JOBS: tuple[Job, ...] = (
    APPLY_PAYMENT_EVENT,
    SUBMIT_REFUND,
    SUBMIT_PAYOUT,
    DELIVER_SANDBOX_WEBHOOK,
    SWEEP_PAYMENTS,
    PURGE_IDEMPOTENCY_KEYS,
    CANCEL_UNPAID_ORDERS,
    CHECK_OVERDUE_RENTALS,
    SWEEP_ORDERS,
    SETTLE_ORDERS,
    EXPIRE_GROUP_BUY,
    SWEEP_GROUP_BUYS,
    ANSWER_SUPPORT_MESSAGE,
    SWEEP_LOCKER_ORDERS,
    PURGE_ENDED_SESSIONS,
    EXPIRE_POINTS,
    NOTIFY_EXPIRING_POINTS,
    CREDIT_POINTS,
    DELIVER_NOTIFICATION,
    FAN_OUT_ANNOUNCEMENT,
    SWEEP_NOTIFICATIONS,
    SWEEP_COUPONS,
    RENEW_SUBSCRIPTIONS,
    EXPIRE_VIRTUAL_NUMBERS,
    PAY_PROPERTY_SHARES,
    ROLL_UP_INSIGHTS,
    WEEKLY_SUGGESTIONS,
    EXPIRE_SWAPS,
    FINISH_ENDED_EVENTS,
    SWEEP_UNSENT_IMAGES,
    EMBED_LISTINGS,
)


def check_worker_functions(
    functions: Iterable[Callable[..., Any]], jobs: Iterable[Job] = JOBS
) -> None:
    """Raise unless ``functions`` are exactly ``jobs``: one function per job, of the job's name,
    taking the arq context and then the job's parameters in order."""
    wanted = {job.name: job for job in jobs}
    problems: list[str] = []
    seen: set[str] = set()
    for function in functions:
        name = function.__name__
        seen.add(name)
        job = wanted.get(name)
        if job is None:
            problems.append(f"{name}: a worker function no Job in lago_core/jobs.py names")
            continue
        params = tuple(inspect.signature(function).parameters)[1:]
        if params != job.params:
            problems.append(f"{name}: takes {params}, the Job says {job.params}")
    problems += [f"{name}: a Job no worker function runs" for name in wanted.keys() - seen]
    if problems:
        raise TypeError("worker functions and jobs disagree: " + "; ".join(sorted(problems)))


def queue_name(settings: Settings) -> str:
    """The deployment's arq queue: every enqueuer and every worker uses this one name."""
    return settings.key("arq", "queue")


class JobQueue:
    def __init__(self, redis: aioredis.Redis, settings: Settings) -> None:
        use_deployment_prefix(settings)
        self._own_pool: aioredis.ConnectionPool | None = None
        if settings.jobs_url == settings.redis_url and not is_cluster(redis):
            # ArqRedis is a redis-py client: sharing the process's connection pool costs nothing.
            pool = redis.connection_pool
        else:
            # arq's queue on a Redis of its own (LAGO_JOBS_REDIS_URL): arq does not speak Redis
            # Cluster, and its enqueue is a multi-key transaction over unrelated slots.
            pool = self._own_pool = aioredis.ConnectionPool.from_url(
                settings.jobs_url, health_check_interval=30, socket_connect_timeout=5
            )
        self._arq = ArqRedis(pool_or_conn=pool, default_queue_name=queue_name(settings))

    async def close(self) -> None:
        if self._own_pool is not None:
            await self._own_pool.disconnect()

    async def enqueue(
        self,
        job: Job,
        *args: Any,
        job_id: str | None = None,
        defer_until: datetime | None = None,
    ) -> bool:
        """Queue ``job(*args)``, to run at ``defer_until`` if given; False when a job with
        ``job_id`` is queued or ran recently (arq keeps its result), which is how repeated
        triggers collapse into one run."""
        if len(args) != len(job.params):
            raise TypeError(f"{job.name} takes {job.params}, not {len(args)} argument(s)")
        queued = await self._arq.enqueue_job(
            job.name, *args, _job_id=job_id, _defer_until=defer_until
        )
        return queued is not None
