"""The arq worker for one deployment: its queue lives inside the deployment's Redis prefix."""

from __future__ import annotations

from typing import Any

from arq import cron
from arq.connections import RedisSettings
from arq.utils import timestamp_ms
from arq.worker import Worker

from lago_core.clock import Clock
from lago_core.container import Core, build_core
from lago_core.jobs import queue_name
from lago_core.settings import Settings
from workers import ai, groupbuys, lockers, orders, payments, settlement
from workers.maintenance import purge_ended_sessions

__all__ = ["FUNCTIONS", "create_worker", "queue_name"]

FUNCTIONS: list[Any] = [
    purge_ended_sessions,
    *payments.FUNCTIONS,
    *orders.FUNCTIONS,
    *settlement.FUNCTIONS,
    *groupbuys.FUNCTIONS,
    *ai.FUNCTIONS,
    *lockers.FUNCTIONS,
]


class LagoWorker(Worker):
    """arq's worker, except that a burst run ends once nothing is running and nothing is *due*.

    arq's own burst mode waits for every queued job, including jobs deferred to a later time
    (a group buy's expiry, tomorrow): a burst run (tests, ``lago worker --burst``) would wait for
    them. Deferred jobs stay queued for the next run.
    """

    async def _poll_iteration(self) -> None:
        await super()._poll_iteration()
        if not self.burst or self.tasks:
            return
        due = await self.pool.zcount(self.queue_name, float("-inf"), timestamp_ms())
        if due == 0:
            # arq's loop then stops: it ends a burst run once this many jobs have started.
            self.max_burst_jobs = self._jobs_started()


def create_worker(
    settings: Settings,
    *,
    core: Core | None = None,
    clock: Clock | None = None,
    burst: bool = False,
    handle_signals: bool = True,
) -> Worker:
    """A worker bound to this deployment; tests pass ``burst=True`` and their own ``core``."""

    async def startup(ctx: dict[str, Any]) -> None:
        ctx["core"] = core or await build_core(settings, clock=clock)

    async def shutdown(ctx: dict[str, Any]) -> None:
        if core is None and "core" in ctx:
            await ctx["core"].close()

    return LagoWorker(
        functions=FUNCTIONS,
        cron_jobs=[
            cron(purge_ended_sessions, hour={4}, minute={17}, unique=True),
            *payments.CRON_JOBS,
            *orders.CRON_JOBS,
            *settlement.CRON_JOBS,
            *groupbuys.CRON_JOBS,
            *lockers.CRON_JOBS,
        ],
        queue_name=queue_name(settings),
        redis_settings=RedisSettings.from_dsn(settings.redis_url),
        on_startup=startup,
        on_shutdown=shutdown,
        burst=burst,
        poll_delay=0 if burst else 0.5,
        handle_signals=handle_signals,
        health_check_key=settings.key("arq", "health-check"),
        keep_result=3600,
    )
