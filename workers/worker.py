"""The arq worker for one deployment: every key it uses lives inside the deployment's Redis prefix,
and it rides out a Redis outage instead of exiting."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from arq import cron
from arq.connections import RedisSettings
from arq.cron import CronJob
from arq.utils import timestamp_ms
from prometheus_client import Counter, Gauge
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from lago_core.adapters.arq import ArqWorker, use_deployment_prefix
from lago_core.clock import Clock
from lago_core.container import Core, build_core
from lago_core.jobs import check_worker_functions, queue_name
from lago_core.logging import get_logger
from lago_core.settings import Settings
from workers import (
    ai,
    conversations,
    coupons,
    events,
    groupbuys,
    insights,
    lockers,
    notifications,
    orders,
    payments,
    points,
    settlement,
    subscriptions,
    swaps,
)
from workers.maintenance import purge_ended_sessions

__all__ = ["CRON_JOBS", "FUNCTIONS", "REDIS_DOWN", "LagoWorker", "create_worker", "queue_name"]

log = get_logger(__name__)

REDIS_OUTAGES = Counter(
    "lago_worker_redis_outages_total", "Times a worker lost Redis and kept running"
)
REDIS_FAILED_POLLS = Counter(
    "lago_worker_redis_failed_polls_total", "Worker poll iterations that failed for want of Redis"
)
REDIS_UP = Gauge("lago_worker_redis_up", "1 while the worker reaches Redis, 0 during an outage")

# What a lost or restarting Redis raises through redis-py (BusyLoadingError is a ConnectionError).
REDIS_DOWN: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError, OSError)

FUNCTIONS: list[Any] = [
    purge_ended_sessions,
    *payments.FUNCTIONS,
    *orders.FUNCTIONS,
    *settlement.FUNCTIONS,
    *groupbuys.FUNCTIONS,
    *ai.FUNCTIONS,
    *lockers.FUNCTIONS,
    *points.FUNCTIONS,
    *notifications.FUNCTIONS,
    *coupons.FUNCTIONS,
    *subscriptions.FUNCTIONS,
    *insights.FUNCTIONS,
    *swaps.FUNCTIONS,
    *events.FUNCTIONS,
    *conversations.FUNCTIONS,
]


CRON_JOBS: list[CronJob] = [
    cron(purge_ended_sessions, hour={4}, minute={17}, unique=True),
    *payments.CRON_JOBS,
    *orders.CRON_JOBS,
    *settlement.CRON_JOBS,
    *groupbuys.CRON_JOBS,
    *ai.CRON_JOBS,
    *lockers.CRON_JOBS,
    *points.CRON_JOBS,
    *notifications.CRON_JOBS,
    *coupons.CRON_JOBS,
    *subscriptions.CRON_JOBS,
    *insights.CRON_JOBS,
    *swaps.CRON_JOBS,
    *events.CRON_JOBS,
    *conversations.CRON_JOBS,
]


class LagoWorker(ArqWorker):
    """arq's worker, with two changes (arq's private members through lago_core/adapters/arq.py).

    A burst run ends once nothing is running and nothing is *due*: arq's own burst mode waits for
    every queued job, including jobs deferred to a later time (a group buy's expiry, tomorrow), so
    a burst run (tests, ``lago worker --burst``) would wait for them. Deferred jobs stay queued.

    A lost Redis does not end the worker: arq lets the poll loop's ConnectionError end ``main()``,
    so `lago worker` exited on the first Redis restart and never came back (issue 16, item 7).
    Here a failed poll is logged and counted, the worker waits with a growing backoff, and polls
    again; redis-py reconnects on the next command, and queued jobs run once Redis answers. A
    worker started while Redis is down waits for it the same way, instead of giving up after
    arq's five connection attempts.
    """

    backoff_first_s = 0.1
    backoff_max_s = 5.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._outage_since: float | None = None
        self._failed_polls = 0

    async def main(self) -> None:
        while not self.connected:
            try:
                await self.connect()
            except REDIS_DOWN as exc:
                await self._redis_unavailable(exc)
        self._redis_answered()
        await super().main()

    async def poll_iteration(self) -> None:
        try:
            await self._poll_once()
        except REDIS_DOWN as exc:
            await self._redis_unavailable(exc)
            return
        self._redis_answered()

    def _redis_answered(self) -> None:
        if self._outage_since is not None:
            log.info(
                "worker.redis_back",
                outage_s=round(time.monotonic() - self._outage_since, 3),
                failed_polls=self._failed_polls,
            )
            self._outage_since = None
            self._failed_polls = 0
        REDIS_UP.set(1)

    async def _poll_once(self) -> None:
        await super().poll_iteration()
        if not self.burst or self.tasks:
            return
        due = await self.pool.zcount(self.queue_name, float("-inf"), timestamp_ms())
        if due == 0:
            # arq's loop then stops: it ends a burst run once this many jobs have started.
            self.max_burst_jobs = self.jobs_started()

    async def _redis_unavailable(self, exc: BaseException) -> None:
        if self._outage_since is None:
            self._outage_since = time.monotonic()
            REDIS_OUTAGES.inc()
            REDIS_UP.set(0)
            log.warning("worker.redis_unavailable", error=f"{type(exc).__name__}: {exc}")
        REDIS_FAILED_POLLS.inc()
        self._failed_polls += 1
        delay = min(self.backoff_max_s, self.backoff_first_s * 2 ** (self._failed_polls - 1))
        log.debug("worker.redis_wait", failed_polls=self._failed_polls, delay_s=delay)
        await asyncio.sleep(delay)

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        # arq takes a job slot (its semaphore and counter) before the Redis calls that start a
        # job and gives it back only on the outcomes it expects: a lost connection there kept the
        # slot for good, and after max_jobs such failures the worker would run nothing again.
        # One job at a time, so a failure is known to hold exactly one slot.
        for job_id in job_ids:
            try:
                await super().start_jobs([job_id])
            except REDIS_DOWN:
                self.release_job_slot()
                raise

    async def run_cron(self, n: datetime, delay: float, num_windows: int = 2) -> None:
        # arq moves each cron job's next run forward as it enqueues it; when the enqueue fails
        # for want of Redis, put them back so the run is enqueued once Redis is back, not lost
        # until the next day. Unique cron jobs have fixed ids, so nothing runs twice.
        planned = [(job, job.next_run) for job in self.cron_jobs]
        try:
            await super().run_cron(n, delay, num_windows)
        except REDIS_DOWN:
            for job, next_run in planned:
                job.next_run = next_run
            raise


def create_worker(
    settings: Settings,
    *,
    core: Core | None = None,
    clock: Clock | None = None,
    burst: bool = False,
    handle_signals: bool = True,
    cron_jobs: Sequence[CronJob] = CRON_JOBS,
) -> LagoWorker:
    """A worker bound to this deployment; tests pass ``burst=True`` and their own ``core``."""
    # Every job another process may enqueue has its function here, with its arguments.
    check_worker_functions(FUNCTIONS)
    use_deployment_prefix(settings)

    async def startup(ctx: dict[str, Any]) -> None:
        ctx["core"] = core or await build_core(settings, clock=clock)

    async def shutdown(ctx: dict[str, Any]) -> None:
        if core is None and "core" in ctx:
            await ctx["core"].close()

    return LagoWorker(
        functions=FUNCTIONS,
        # Copies: arq keeps each cron job's next run on the object itself.
        cron_jobs=[dataclasses.replace(job, next_run=None) for job in cron_jobs],
        queue_name=queue_name(settings),
        # No attempts of arq's own at start-up: LagoWorker.main waits for Redis, logged and
        # counted like an outage, for as long as it takes.
        redis_settings=dataclasses.replace(
            RedisSettings.from_dsn(settings.jobs_url), conn_retries=0
        ),
        on_startup=startup,
        on_shutdown=shutdown,
        burst=burst,
        poll_delay=0 if burst else 0.5,
        handle_signals=handle_signals,
        health_check_key=settings.key("arq", "health-check"),
        keep_result=3600,
    )
