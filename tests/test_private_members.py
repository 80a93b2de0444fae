"""Every private (or undocumented) member of a library that our code reaches into, checked.

The libraries are pinned exactly in pyproject.toml for this reason; an upgrade that renames,
removes or rewires one of these members fails here, by name, instead of in production. Where we
replaced a library's own code with a copy (aiohttp's ``_post_start``), the original's source is
fingerprinted, so a changed original means our copy must be looked at again.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import inspect
import re
import tomllib
from pathlib import Path
from typing import Any

import aioice.ice
import aiortc.rtcrtpsender
import arq.connections
import arq.constants
import arq.jobs
import arq.worker
import pytest
from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiortc import RTCPeerConnection
from arq.cron import CronJob

from lago_core.arq_keys import ARQ_KEY_CONSTANTS, use_deployment_prefix
from lago_core.settings import Settings

ROOT = Path(__file__).resolve().parent.parent

# The libraries we reach into, each pinned with == in pyproject.toml.
PINNED = (
    "aiohttp",
    "arq",
    "aiortc",
    "aioice",
    "redis",
    "limits",
)


def params(function: Any) -> list[str]:
    return list(inspect.signature(function).parameters)


def source(obj: Any) -> str:
    return inspect.getsource(obj)


# --- pins ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PINNED)
def test_each_library_we_reach_into_is_pinned_exactly_and_installed_at_the_pin(
    name: str,
) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = [
        d for d in project["dependencies"] if re.split(r"[=<>!~ \[;]", d, maxsplit=1)[0] == name
    ]
    assert len(pins) == 1, f"{name} is not a direct dependency"
    match = re.fullmatch(rf"{re.escape(name)}==([\w.]+)", pins[0])
    assert match, f"{name} must be pinned with ==, not {pins[0]!r}"
    assert importlib.metadata.version(name) == match.group(1)
    for lock_file in ("requirements.lock", "deploy/requirements.lock"):
        lock = (ROOT / lock_file).read_text()
        assert f"\n{name}=={match.group(1)} \\" in lock, f"{lock_file} disagrees on {name}"


# --- aiohttp: lago_rest/server.py ---------------------------------------------------------------


def test_aiohttp_runner_and_request_handler_members_rest_runner_uses() -> None:
    """``lago_rest/server.py``: ``AppRunner._make_server`` makes the ``web.Server``; a
    ``web.Server`` called makes a ``RequestHandler``; ``handle_error`` answers parser errors and
    both take a subclass without new slots in place (``__class__`` assignment)."""
    from lago_rest.server import RestRunner

    assert inspect.iscoroutinefunction(web.AppRunner._make_server)
    assert params(web.AppRunner._make_server) == ["self"]
    assert params(RequestHandler.handle_error) == ["self", "request", "status", "exc", "message"]
    assert "__call__" in vars(web.Server)
    assert RestRunner._make_server is not web.AppRunner._make_server


# --- aiortc and aioice: lago_rt/media/aiortc_backend.py ------------------------------------------


async def test_aiortc_transceiver_codecs_and_sender_keyframe() -> None:
    pc = RTCPeerConnection()
    try:
        transceiver = pc.addTransceiver("video", direction="sendonly")
        assert transceiver._codecs == []  # filled in by negotiation
        assert params(transceiver.sender._send_keyframe) == []
        # A picture loss indication from the viewer calls it: what we replace it for.
        assert "self._send_keyframe()" in source(aiortc.rtcrtpsender.RTCRtpSender)
    finally:
        await pc.close()


def test_aioice_host_addresses_are_looked_up_at_gather_time() -> None:
    assert params(aioice.ice.get_host_addresses) == ["use_ipv4", "use_ipv6"]
    # A module-global call, so replacing the module attribute changes what is gathered.
    assert "addresses = get_host_addresses(" in source(aioice.ice)


# --- arq: lago_core/arq_keys.py, workers/worker.py -----------------------------------------------


def test_arq_key_constants_are_the_only_key_names_arq_uses() -> None:
    for name in ARQ_KEY_CONSTANTS:
        assert hasattr(arq.constants, name), name
    needs = {
        arq.connections: {"job_key_prefix", "result_key_prefix"},
        arq.jobs: {
            "abort_jobs_ss",
            "in_progress_key_prefix",
            "job_key_prefix",
            "result_key_prefix",
        },
        arq.worker: set(ARQ_KEY_CONSTANTS),
    }
    for module, names in needs.items():
        for name in names:
            assert hasattr(module, name), f"{module.__name__}.{name}"
        # No key spelled out literally, which rebinding the constants would not reach.
        assert "'arq:" not in source(module), module.__name__
        assert '"arq:' not in source(module), module.__name__


def test_arq_key_constants_follow_the_deployment_prefix() -> None:
    modules = (arq.connections, arq.jobs, arq.worker)
    before = {(m, n): getattr(m, n) for m in modules for n in ARQ_KEY_CONSTANTS if hasattr(m, n)}
    try:
        use_deployment_prefix(Settings(redis_prefix="lago:probe:"))
        for (module, name), _ in before.items():
            assert getattr(module, name) == "lago:probe:arq:" + ARQ_KEY_CONSTANTS[name]
    finally:
        for (module, name), value in before.items():
            setattr(module, name, value)


def test_arq_worker_members_our_worker_overrides() -> None:
    worker = arq.worker.Worker
    assert params(worker._poll_iteration) == ["self"]
    assert "await self._poll_iteration()" in source(worker.main)
    assert params(worker.run_cron) == ["self", "n", "delay", "num_windows"]
    assert "await self.run_cron(" in source(worker.heart_beat)
    assert params(worker._jobs_started) == ["self"]
    # start_jobs takes a job's slot before its Redis calls; ours gives it back when they fail.
    assert params(worker.start_jobs) == ["self", "job_ids"]
    taking = source(worker.start_jobs)
    assert taking.index("await self.sem.acquire()") < taking.index("self.pool.pipeline(")
    assert params(worker._release_sem_dec_counter_on_complete) == ["self"]
    assert "self.sem.release()" in source(worker._release_sem_dec_counter_on_complete)
    assert "self.max_burst_jobs" in source(worker.main)
    assert "next_run" in {f.name for f in dataclasses.fields(CronJob)}


# --- redis-py and limits: lago_core/redis.py, lago_core/ratelimit.py -----------------------------


def test_redis_pubsub_members_our_shard_pubsub_uses() -> None:
    from redis.asyncio.client import PubSub

    # _ShardPubSub overrides subscribe/unsubscribe/handle_message and the message-type tuples,
    # and keeps redis-py's bookkeeping of channels with these members.
    assert PubSub.PUBLISH_MESSAGE_TYPES == ("message", "pmessage")
    assert PubSub.UNSUBSCRIBE_MESSAGE_TYPES == ("unsubscribe", "punsubscribe")
    assert params(PubSub._normalize_keys) == ["self", "data"]
    assert params(PubSub.handle_message) == ["self", "response", "ignore_subscribe_messages"]
    handle = source(PubSub.handle_message)
    assert "self.PUBLISH_MESSAGE_TYPES" in handle
    assert "self.UNSUBSCRIBE_MESSAGE_TYPES" in handle
    assert "self.pending_unsubscribe_channels" in handle
    # A reconnection subscribes again through the (overridden) subscribe, with keyword names.
    assert "await self.subscribe(**channels)" in source(PubSub.on_connect)
    assert "self.channels or self.patterns" in source(PubSub.__dict__["subscribed"].fget)


def test_redis_cluster_members_our_shard_pubsub_uses() -> None:
    from redis.asyncio.cluster import NodesManager, RedisCluster

    assert inspect.iscoroutinefunction(NodesManager.initialize)
    assert params(RedisCluster.get_node_from_key) == ["self", "key", "replica"]
    assert params(RedisCluster.keyslot) == ["self", "key"]


async def test_limits_cluster_storage_keeps_its_client_on_the_bridge() -> None:
    from limits.aio.storage import RedisClusterStorage
    from redis.asyncio.cluster import RedisCluster

    storage = RedisClusterStorage("async+redis+cluster://127.0.0.1:1", implementation="redispy")
    client = storage.bridge.storage  # type: ignore[attr-defined]
    assert isinstance(client, RedisCluster)
    await client.aclose()
