"""Processes of a benchmark run: the compiled load client, servers, and /proc readings."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson

__all__ = [
    "ClientProcess",
    "ServerProcess",
    "build_client",
    "free_port",
    "machine_cpu",
    "proc_cpu_s",
    "proc_rss_kb",
]

SOURCE = Path(__file__).with_name("wsclient.c")
PROJECT_ROOT = Path(__file__).resolve().parent.parent
_TICKS = os.sysconf("SC_CLK_TCK")


def build_client(bin_dir: Path | None = None) -> Path:
    """Compile wsclient.c with ``cc -O2`` into .lago-local/bin (again when the source is newer)."""
    bin_dir = bin_dir or PROJECT_ROOT / ".lago-local" / "bin"
    binary = bin_dir / "lago-bench-wsclient"
    if binary.exists() and binary.stat().st_mtime >= SOURCE.stat().st_mtime:
        return binary
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise RuntimeError("lago bench needs a C compiler (cc or gcc) to build its load client")
    bin_dir.mkdir(parents=True, exist_ok=True)
    tmp = bin_dir / f".{binary.name}.{os.getpid()}"
    result = subprocess.run(
        [cc, "-O2", "-Wall", "-o", str(tmp), str(SOURCE)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"compiling {SOURCE.name} failed:\n{result.stderr}")
    tmp.replace(binary)  # atomic: a concurrent run sees the old or the new binary, never half
    return binary


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (from /proc/<pid>/stat)."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, summed over cores (/proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])
    return (total - idle) / _TICKS, total / _TICKS


def machine_steal_s() -> float:
    """CPU seconds the hypervisor gave to others while this machine's vCPUs wanted to run.

    On a shared VM this is the part of "busy" that none of our processes got: a run with much of
    it measured a slower machine, whatever its figures say.
    """
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (fields[7] if len(fields) > 7 else 0) / _TICKS


def proc_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class ServerProcess:
    """A server under test, started as a subprocess with its output in a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], port: int, log: Path):
        self.name = name
        self.argv = argv
        self.env = env
        self.port = port
        self.log = log
        self.proc: asyncio.subprocess.Process | None = None
        self.info: dict[str, str] = {}  # versions worth reporting (e.g. node, socket.io)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def start(self, within: float = 30.0) -> None:
        with self.log.open("wb") as out:
            self.proc = await asyncio.create_subprocess_exec(
                *self.argv,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=str(PROJECT_ROOT),
            )
        url = f"http://127.0.0.1:{self.port}/healthz"
        deadline = time.monotonic() + within
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                if self.proc.returncode is not None:
                    break
                with contextlib.suppress(aiohttp.ClientError, OSError):
                    async with http.get(url, timeout=aiohttp.ClientTimeout(total=2)) as r:
                        if r.status == 200:
                            return
                await asyncio.sleep(0.1)
        await self.stop()
        raise RuntimeError(f"{self.name} did not become healthy; its log:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to release anything (a crashed node)."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)

    async def stop(self) -> None:
        proc = self.proc
        if proc is None or proc.returncode is not None:
            if proc is not None:
                await proc.wait()
            return
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), timeout=15)
        except TimeoutError:
            proc.kill()
            await proc.wait()


class ClientProcess:
    """One wsclient process: K connections, controlled line by line over stdin/stdout."""

    def __init__(self, binary: Path, args: list[str], label: str) -> None:
        self.binary = binary
        self.args = args
        self.label = label
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            str(self.binary),
            *self.args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            limit=16 << 20,
        )

    async def read_json(self, within: float) -> dict[str, Any]:
        assert self.proc is not None
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout=within)
        if not line:
            err = b""
            if self.proc.stderr is not None:
                with contextlib.suppress(TimeoutError):
                    err = await asyncio.wait_for(self.proc.stderr.read(), timeout=2)
            raise RuntimeError(f"load client {self.label} stopped: {err.decode(errors='replace')}")
        result: dict[str, Any] = orjson.loads(line)
        return result

    async def command(self, line: str) -> None:
        assert self.proc is not None
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        await self.proc.stdin.drain()

    async def stop(self) -> None:
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(Exception):
            await self.command("quit")
        try:
            await asyncio.wait_for(proc.wait(), timeout=5)
        except TimeoutError:
            proc.kill()
            await proc.wait()
