"""A local three-master Redis Cluster for tests: redis-server and redis-cli from PATH, free
loopback ports, a temporary directory; never the shared Redis on 6379."""

from __future__ import annotations

import asyncio
import shutil
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import redis.asyncio as aioredis

__all__ = ["ClusterUnavailable", "LocalCluster", "local_cluster"]


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


async def _wait_ok(port: int) -> None:
    client = aioredis.Redis(host="127.0.0.1", port=port)
    try:
        async with asyncio.timeout(10):
            while True:
                try:
                    info = await client.execute_command("CLUSTER", "INFO")
                    text = info.decode() if isinstance(info, bytes) else str(info)
                    if "cluster_state:ok" in text:
                        return
                except (ConnectionError, OSError, aioredis.ConnectionError):
                    pass
                await asyncio.sleep(0.05)  # polling a condition, with the timeout above
    finally:
        await client.aclose()


@asynccontextmanager
async def local_cluster(tmp: Path, masters: int = 3) -> AsyncIterator[LocalCluster]:
    server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    if server is None or cli is None:
        raise ClusterUnavailable("redis-server and redis-cli (Redis 7) are needed on PATH")
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
            async with asyncio.timeout(10):
                while True:
                    try:
                        _, writer = await asyncio.open_connection("127.0.0.1", port)
                        writer.close()
                        await writer.wait_closed()
                        break
                    except OSError:
                        await asyncio.sleep(0.05)  # polling for the listener, bounded above
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
            await _wait_ok(port)
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
