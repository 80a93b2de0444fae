"""Workers ride out a Redis outage, and every key a deployment writes lives under its prefix.

Both tests run against a redis-server of their own (tests/dedicated_redis.py), never the shared one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import sys
from pathlib import Path

import orjson
import pytest
import redis.asyncio as aioredis
from arq import create_pool
from arq.connections import RedisSettings

from lago_core.clock import ManualClock
from lago_core.container import build_core
from lago_core.jobs import PURGE_ENDED_SESSIONS, JobQueue, queue_name
from lago_core.settings import Settings
from workers.worker import CRON_JOBS, FUNCTIONS, REDIS_DOWN, LagoWorker, create_worker

from .dedicated_redis import DedicatedRedis, dedicated_redis
from .waiting import until


async def _read_until(stream: asyncio.StreamReader, needle: bytes, seen: list[bytes]) -> None:
    while True:
        line = await stream.readline()
        if not line:
            raise AssertionError(f"output ended before {needle!r}: {b''.join(seen[-20:])!r}")
        seen.append(line)
        if needle in line:
            return


async def _start_worker(deployment: Settings, **env: str) -> asyncio.subprocess.Process:
    """`lago worker` for ``deployment``, logging JSON lines to its stdout."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "lago_cli", "worker",
        env={**os.environ, **deployment.as_env(), "LAGO_LOG_FORMAT": "json", **env},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip


async def _job_runs(redis: aioredis.Redis, deployment: Settings, job_id: str) -> None:
    """Enqueue a job and wait until the worker has stored its result."""
    await JobQueue(redis, deployment).enqueue(PURGE_ENDED_SESSIONS, job_id=job_id)
    result = deployment.key("arq", "result", job_id)
    await until(lambda: redis.exists(result), within=20, every=0.05)


async def _stop(worker: asyncio.subprocess.Process) -> bytes:
    """Stop the worker as an operator would (SIGINT) and return the rest of its output."""
    if worker.returncode is None:
        worker.send_signal(signal.SIGINT)
    async with asyncio.timeout(20):
        rest, _ = await worker.communicate()
    return rest


async def test_worker_survives_redis_restart_and_runs_new_jobs(
    settings: Settings, tmp_path: Path
) -> None:
    async with dedicated_redis(tmp_path) as server:
        deployment = dataclasses.replace(settings, redis_url=server.url)
        worker = await _start_worker(deployment)
        assert worker.stdout is not None
        seen: list[bytes] = []
        redis = aioredis.Redis.from_url(server.url)
        try:
            health = deployment.key("arq", "health-check")
            await until(lambda: redis.exists(health), within=30, every=0.05)

            await server.kill()
            async with asyncio.timeout(20):
                await _read_until(worker.stdout, b"worker.redis_unavailable", seen)
            await server.start()  # empty: no persistence
            async with asyncio.timeout(20):
                await _read_until(worker.stdout, b"worker.redis_back", seen)
            assert worker.returncode is None

            await _job_runs(redis, deployment, "after")
            assert worker.returncode is None
        finally:
            await redis.aclose()
            seen.append(await _stop(worker))
    assert b"Traceback" not in b"".join(seen), b"".join(seen)[-4000:]


async def test_a_worker_started_while_redis_is_down_waits_for_it(
    settings: Settings, tmp_path: Path
) -> None:
    server = DedicatedRedis(tmp_path)  # its port is chosen, nothing listens there yet
    deployment = dataclasses.replace(settings, redis_url=server.url)
    worker = await _start_worker(deployment, LAGO_LOG_LEVEL="DEBUG")
    assert worker.stdout is not None
    seen: list[bytes] = []
    redis: aioredis.Redis | None = None
    try:
        async with asyncio.timeout(20):
            await _read_until(worker.stdout, b"worker.redis_unavailable", seen)
        # arq alone gave up after five attempts a second apart (about 5 s); this outage
        # outlasts that: the seventh failed attempt comes after about 6.3 s of backoff.
        async with asyncio.timeout(30):
            while True:
                await _read_until(worker.stdout, b"worker.redis_wait", seen)
                if orjson.loads(seen[-1])["failed_polls"] >= 7:
                    break
        assert worker.returncode is None, b"".join(seen)[-4000:]
        await server.start()
        async with asyncio.timeout(20):
            await _read_until(worker.stdout, b"worker.redis_back", seen)
        redis = aioredis.Redis.from_url(server.url)
        await _job_runs(redis, deployment, "first")
        assert worker.returncode is None
    finally:
        if redis is not None:
            await redis.aclose()
        seen.append(await _stop(worker))
        await server.kill()
    assert b"Traceback" not in b"".join(seen), b"".join(seen)[-4000:]


async def test_every_key_of_a_worker_with_cron_jobs_is_under_the_prefix(
    settings: Settings, clock: ManualClock, tmp_path: Path
) -> None:
    async with dedicated_redis(tmp_path) as server:
        deployment = dataclasses.replace(settings, redis_url=server.url)
        core = await build_core(deployment, clock=clock)
        redis = aioredis.Redis.from_url(server.url)
        try:
            queue = JobQueue(redis, deployment)
            await queue.enqueue(PURGE_ENDED_SESSIONS, job_id="now")
            # A job for later stays queued: its job key is left behind for the scan.
            await queue.enqueue(
                PURGE_ENDED_SESSIONS, job_id="later", defer_until=clock.now().replace(year=2999)
            )
            every_cron_now = [dataclasses.replace(job, run_at_startup=True) for job in CRON_JOBS]
            worker = create_worker(
                deployment, core=core, burst=True, handle_signals=False, cron_jobs=every_cron_now
            )
            await worker.main()
            assert worker.jobs_complete >= len(CRON_JOBS) + 1, worker.jobs_failed
            keys = [key.decode() async for key in redis.scan_iter(count=1000)]
            await worker.close()
        finally:
            await redis.aclose()
            await core.close()
    arq_keys = deployment.key("arq", "")
    assert any(k.startswith(arq_keys + "in-progress:cron:") for k in keys), keys
    assert any(k.startswith(arq_keys + "result:") for k in keys), keys
    assert any(k.startswith(arq_keys + "job:later") for k in keys), keys
    outside = [k for k in keys if not k.startswith(deployment.redis_prefix)]
    assert outside == []


async def test_a_job_slot_is_given_back_when_redis_fails_while_starting_the_job(
    settings: Settings, tmp_path: Path
) -> None:
    """arq kept the slot of a job whose start failed on Redis: max_jobs outages, no more jobs."""
    async with dedicated_redis(tmp_path) as server:
        deployment = dataclasses.replace(settings, redis_url=server.url)
        pool = await create_pool(
            RedisSettings.from_dsn(server.url), default_queue_name=queue_name(deployment)
        )
        worker = LagoWorker(
            functions=FUNCTIONS,
            redis_pool=pool,
            queue_name=queue_name(deployment),
            max_jobs=2,
            burst=True,
            handle_signals=False,
        )
        try:
            await server.kill()
            # A kept slot would make the third attempt wait for one forever.
            for _ in range(4):
                async with asyncio.timeout(5):
                    with pytest.raises(REDIS_DOWN):
                        await worker.start_jobs([b"some-job"])
            assert worker.job_counter == 0
        finally:
            await pool.aclose()
