"""Running one arq job the way production does: enqueued on the deployment's queue in Redis and
taken by a real worker in burst mode (lago_core/jobs.py names the jobs)."""

from __future__ import annotations

from arq import create_pool
from arq.connections import RedisSettings

from lago_core.container import Core
from lago_core.settings import Settings
from workers import create_worker, queue_name


async def run_job(settings: Settings, core: Core, name: str) -> None:
    """Enqueue job ``name`` and run a burst worker until nothing is due."""
    redis = await create_pool(
        RedisSettings.from_dsn(settings.redis_url), default_queue_name=queue_name(settings)
    )
    try:
        await redis.enqueue_job(name)
        worker = create_worker(settings, core=core, burst=True, handle_signals=False)
        await worker.main()
        await worker.close()
    finally:
        await redis.aclose()
