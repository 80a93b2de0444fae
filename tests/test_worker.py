"""The arq worker runs real jobs from the deployment's own queue, and a repeat is harmless."""

from __future__ import annotations

from typing import Any

from arq import create_pool
from arq.connections import RedisSettings

from lago_core.clock import ManualClock
from lago_core.container import Core
from lago_core.settings import Settings
from workers import create_worker, queue_name

from .conftest import Account


async def test_purge_ended_sessions_job(
    settings: Settings, core: Core, clock: ManualClock, make_account: Any
) -> None:
    kept: Account = await make_account()
    ended: Account = await make_account()
    await core.pool.execute(
        "UPDATE sessions SET revoked_at = $2 WHERE user_id = $1", ended.id, clock.now()
    )
    # A month and a day later the revoked session is past retention; the live one (its refresh
    # token lasts 30 days from log-in) ended only a day ago and is kept.
    clock.advance(31 * 86_400)
    redis = await create_pool(
        RedisSettings.from_dsn(settings.redis_url), default_queue_name=queue_name(settings)
    )
    try:
        for _ in range(2):  # at-least-once delivery: the second run must change nothing more
            await redis.enqueue_job("purge_ended_sessions")
            worker = create_worker(settings, core=core, burst=True, handle_signals=False)
            await worker.main()
            await worker.close()
        sessions = await core.pool.fetch("SELECT user_id FROM sessions")
        assert [r["user_id"] for r in sessions] == [kept.id]
    finally:
        await redis.aclose()
