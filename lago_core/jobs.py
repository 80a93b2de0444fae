"""Enqueue arq jobs from any process (REST, workers) onto this deployment's queue."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import redis.asyncio as aioredis
from arq.connections import ArqRedis

from lago_core.arq_keys import use_deployment_prefix
from lago_core.settings import Settings

__all__ = ["JobQueue", "queue_name"]


def queue_name(settings: Settings) -> str:
    """The deployment's arq queue: every enqueuer and every worker uses this one name."""
    return settings.key("arq", "queue")


class JobQueue:
    def __init__(self, redis: aioredis.Redis, settings: Settings) -> None:
        use_deployment_prefix(settings)
        # ArqRedis is a redis-py client: sharing the process's connection pool costs nothing.
        self._arq = ArqRedis(
            pool_or_conn=redis.connection_pool, default_queue_name=queue_name(settings)
        )

    async def enqueue(
        self,
        function: str,
        *args: Any,
        job_id: str | None = None,
        defer_until: datetime | None = None,
    ) -> bool:
        """Queue ``function(*args)``, to run at ``defer_until`` if given; False when a job with
        ``job_id`` is queued or ran recently (arq keeps its result), which is how repeated
        triggers collapse into one run."""
        job = await self._arq.enqueue_job(function, *args, _job_id=job_id, _defer_until=defer_until)
        return job is not None
