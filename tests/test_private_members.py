"""Every private (or undocumented) member of a library that our code reaches into, checked.

The libraries are pinned exactly in pyproject.toml for this reason; an upgrade that renames,
removes or rewires one of these members fails here, by name, instead of in production. Where we
replaced a library's own code with a copy (aiohttp's ``_post_start``), the original's source is
fingerprinted, so a changed original means our copy must be looked at again.

Each test names, first in its docstring, the adapter module that uses the member: one module per
library in ``lago_core/adapters/`` (tests/test_no_private_members.py keeps the rest of the code
out of library privates). The tests of ``lago_rt/gateway/`` go with it (issue 22).
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
import aiortc.rtcrtpreceiver
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

from lago_core.adapters.aiohttp import ParseErrorRunner
from lago_core.adapters.arq import ARQ_KEY_CONSTANTS, ArqWorker, use_deployment_prefix
from lago_core.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
ADAPTERS = ROOT / "lago_core" / "adapters"

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


# --- aiohttp: lago_core/adapters/aiohttp.py ------------------------------------------------------


def test_aiohttp_request_handler_handle_error() -> None:
    """``lago_core/adapters/aiohttp.py``: ``RequestHandler.handle_error`` is what aiohttp calls
    with a request its parser refused, and answers it (we replace the answer)."""
    assert params(RequestHandler.handle_error) == ["self", "request", "status", "exc", "message"]
    assert "self.handle_error(" in source(RequestHandler)
    # Slots only, so a subclass with ``__slots__ = ()`` has the same layout (``__class__`` swap).
    assert "__slots__" in vars(RequestHandler)
    assert "__dict__" not in dir(RequestHandler)


async def test_aiohttp_server_makes_one_request_handler_per_connection() -> None:
    """``lago_core/adapters/aiohttp.py``: ``web.Server`` is the protocol factory (called once per
    connection, no parameter for the handler class); the runner's public ``server`` is it after
    ``setup()``, and both classes take our subclasses in place."""
    assert "__call__" in vars(web.Server)
    assert "return RequestHandler(self" in source(web.Server.__call__)

    def answer(request: web.BaseRequest, status: int) -> web.StreamResponse:
        return web.Response(status=status)

    runner = ParseErrorRunner(web.Application(), answer=answer)
    await runner.setup()
    try:
        server = runner.server
        assert isinstance(server, web.Server)
        assert type(server) is not web.Server
        handler = server()
        assert isinstance(handler, RequestHandler)
        assert type(handler).handle_error is not RequestHandler.handle_error
    finally:
        await runner.cleanup()


# --- aiortc: lago_core/adapters/aiortc.py; aioice: lago_core/adapters/aioice.py --------------


async def test_aiortc_receiver_decoder_queue() -> None:
    """``lago_core/adapters/aiortc.py``: the receiver's name-mangled decoder queue gets encoded
    frames as ``(codec, frame)`` and ``None`` at the stop; its decoder thread only calls ``get``."""
    pc = RTCPeerConnection()
    try:
        receiver = pc.addTransceiver("video", direction="recvonly").receiver
        assert hasattr(receiver, "_RTCRtpReceiver__decoder_queue")
        body = source(aiortc.rtcrtpreceiver.RTCRtpReceiver)
        assert "self.__decoder_queue.put((codec, encoded_frame))" in body
        assert "self.__decoder_queue.put(None)" in body
        worker = source(aiortc.rtcrtpreceiver.decoder_worker)
        assert "input_q.get()" in worker
        assert "input_q.put" not in worker
    finally:
        await pc.close()


async def test_aiortc_receiver_sends_picture_loss_indications() -> None:
    """``lago_core/adapters/aiortc.py``: ``_send_rtcp_pli(media_ssrc)`` asks for a keyframe."""
    send = aiortc.rtcrtpreceiver.RTCRtpReceiver._send_rtcp_pli
    assert inspect.iscoroutinefunction(send)
    assert params(send) == ["self", "media_ssrc"]
    assert "RTCP_PSFB_PLI" in source(send)


async def test_aiortc_sender_keyframe() -> None:
    """``lago_core/adapters/aiortc.py``: a picture loss indication from the viewer calls the
    sender's ``_send_keyframe()``, looked up on the instance — what we replace per sender."""
    pc = RTCPeerConnection()
    try:
        transceiver = pc.addTransceiver("video", direction="sendonly")
        assert params(transceiver.sender._send_keyframe) == []
        assert "self._send_keyframe()" in source(aiortc.rtcrtpsender.RTCRtpSender)
    finally:
        await pc.close()


async def test_aiortc_transceiver_codecs() -> None:
    """``lago_core/adapters/aiortc.py``: the transceiver's ``_codecs``, set by negotiation."""
    pc = RTCPeerConnection()
    try:
        transceiver = pc.addTransceiver("video", direction="sendonly")
        assert transceiver._codecs == []  # filled in by negotiation
        assert "transceiver._codecs = " in source(RTCPeerConnection)
    finally:
        await pc.close()


def test_aioice_host_addresses_are_looked_up_at_gather_time() -> None:
    """``lago_core/adapters/aioice.py``: ``get_host_addresses``, rebound on its module."""
    assert params(aioice.ice.get_host_addresses) == ["use_ipv4", "use_ipv6"]
    # A module-global call, so replacing the module attribute changes what is gathered.
    assert "addresses = get_host_addresses(" in source(aioice.ice)


# --- arq: lago_core/adapters/arq.py ---------------------------------------------------------------


def test_arq_key_constants_are_the_only_key_names_arq_uses() -> None:
    """``lago_core/adapters/arq.py``: arq's key-name constants, imported by name by its modules."""
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
    """``lago_core/adapters/arq.py``: rebinding the constants moves every arq key."""
    modules = (arq.connections, arq.jobs, arq.worker)
    before = {(m, n): getattr(m, n) for m in modules for n in ARQ_KEY_CONSTANTS if hasattr(m, n)}
    try:
        use_deployment_prefix(Settings(redis_prefix="lago:probe:"))
        for (module, name), _ in before.items():
            assert getattr(module, name) == "lago:probe:arq:" + ARQ_KEY_CONSTANTS[name]
    finally:
        for (module, name), value in before.items():
            setattr(module, name, value)


async def _probe_job(ctx: dict[str, Any]) -> None:
    pass


def bare_worker() -> arq.worker.Worker:
    """A worker that never connects (inside a running loop, which arq's constructor takes)."""
    return arq.worker.Worker(functions=[_probe_job], queue_name="probe", handle_signals=False)


async def test_arq_worker_pool() -> None:
    """``lago_core/adapters/arq.py``: ``Worker._pool`` is None until ``main`` makes it, and
    ``main`` makes it only then, with the arguments ``ArqWorker.connect`` uses."""
    assert bare_worker()._pool is None
    main = source(arq.worker.Worker.main)
    assert "if self._pool is None:" in main
    making = main[main.index("self._pool = await create_pool(") :]
    making = making[: making.index(")") + 1]
    connect = source(ArqWorker.connect)
    arguments = ["self.redis_settings", *re.findall(r"\b\w+=self\.\w+", making)]
    assert len(arguments) == 5, making
    for argument in arguments:
        assert argument in connect, argument
    assert "return cast(ArqRedis, self._pool)" in source(arq.worker.Worker.__dict__["pool"].fget)


def test_arq_worker_poll_iteration() -> None:
    """``lago_core/adapters/arq.py``: ``main`` runs one ``_poll_iteration`` per poll, and a burst
    run ends once ``max_burst_jobs`` jobs have started."""
    worker = arq.worker.Worker
    assert inspect.iscoroutinefunction(worker._poll_iteration)
    assert params(worker._poll_iteration) == ["self"]
    assert "await self._poll_iteration()" in source(worker.main)
    assert "self.max_burst_jobs" in source(worker.main)


async def test_arq_worker_jobs_started() -> None:
    """``lago_core/adapters/arq.py``: ``_jobs_started()`` counts what ``max_burst_jobs`` is
    compared with."""
    worker = arq.worker.Worker
    assert params(worker._jobs_started) == ["self"]
    assert "self.max_burst_jobs <= self._jobs_started()" in source(worker.main)
    assert bare_worker()._jobs_started() == 0


def test_arq_worker_release_of_a_job_slot() -> None:
    """``lago_core/adapters/arq.py``: ``start_jobs`` takes a job's slot before its Redis calls;
    ``_release_sem_dec_counter_on_complete`` gives it back (workers/worker.py, when they fail)."""
    worker = arq.worker.Worker
    assert params(worker.start_jobs) == ["self", "job_ids"]
    taking = source(worker.start_jobs)
    assert taking.index("await self.sem.acquire()") < taking.index("self.pool.pipeline(")
    assert params(worker._release_sem_dec_counter_on_complete) == ["self"]
    assert "self.sem.release()" in source(worker._release_sem_dec_counter_on_complete)


def test_arq_worker_cron_runs() -> None:
    """``lago_core/adapters/arq.py`` (public, undocumented; overridden in workers/worker.py):
    ``run_cron`` from the heartbeat, and each cron job's ``next_run`` on the object."""
    worker = arq.worker.Worker
    assert params(worker.run_cron) == ["self", "n", "delay", "num_windows"]
    assert "await self.run_cron(" in source(worker.heart_beat)
    assert "next_run" in {f.name for f in dataclasses.fields(CronJob)}


# --- redis-py: lago_core/adapters/redis.py; limits: lago_core/ratelimit.py -----------------------------


def test_redis_pubsub_members_our_shard_pubsub_uses() -> None:
    """``lago_core/adapters/redis.py``: ``NodeShardPubSub`` overrides subscribe, unsubscribe,
    handle_message and the message-type tuples, and keeps redis-py's bookkeeping of channels with
    ``_normalize_keys`` and these members."""
    from redis.asyncio.client import PubSub

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
    """``lago_core/redis.py`` (public members of the cluster client, typed loosely)."""
    from redis.asyncio.cluster import NodesManager, RedisCluster

    assert inspect.iscoroutinefunction(NodesManager.initialize)
    assert params(RedisCluster.get_node_from_key) == ["self", "key", "replica"]
    assert params(RedisCluster.keyslot) == ["self", "key"]


async def test_limits_cluster_storage_keeps_its_client_on_the_bridge() -> None:
    """``lago_core/ratelimit.py``: not a private member, but one limits types only on its
    redis-py bridge, not on the bridge it declares."""
    from limits.aio.storage import RedisClusterStorage
    from redis.asyncio.cluster import RedisCluster

    storage = RedisClusterStorage("async+redis+cluster://127.0.0.1:1", implementation="redispy")
    client = storage.bridge.storage  # type: ignore[attr-defined]
    assert isinstance(client, RedisCluster)
    await client.aclose()


# --- the adapters ---------------------------------------------------------------------------------


def test_each_adapter_module_has_its_members_checked_here() -> None:
    named = {
        match
        for value in list(globals().values())
        if callable(value) and getattr(value, "__name__", "").startswith("test_")
        for match in re.findall(r"lago_core/adapters/\w+\.py", value.__doc__ or "")
    }
    adapters = {f"lago_core/adapters/{p.name}" for p in ADAPTERS.glob("*.py")}
    assert named == adapters - {"lago_core/adapters/__init__.py"}
