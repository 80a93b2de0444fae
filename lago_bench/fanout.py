"""``lago bench fanout``: deliveries/s and send-to-receive latency of one channel on one node.

For each target (Lago's real-time node, then a plain python-socketio room broadcast) the run
starts the server as a subprocess on 127.0.0.1, connects N members with the compiled load client
(split over several processes; member 0 is the sender), and runs steps: the sender emits at a
target rate for a fixed time while every member counts what it receives and the latency of each
message (the send time travels in the text). In ``saturate`` mode the rate grows step by step
until the server no longer keeps up, then one step runs at half the saturation throughput.
Server CPU comes from /proc, the load clients' from their own getrusage, over the same window.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lago_bench.procs import ClientProcess, ServerProcess, machine_cpu, proc_cpu_s, proc_rss_kb
from lago_bench.world import BenchWorld

__all__ = ["TARGETS", "FanoutOptions", "Target", "run_target"]

NS = 1_000_000_000


@dataclass(frozen=True)
class FanoutOptions:
    members: int = 1_000
    client_processes: int = 2
    mode: str = "saturate"  # or "fixed"
    rate: float = 50.0  # messages/s: the fixed rate, or the first step of the saturation search
    step_factor: float = 1.3
    max_steps: int = 12
    duration_s: float = 3.0  # sending time of one step (warm-up included)
    warmup_s: float = 0.5
    drain_s: float = 1.0
    settle_s: float = 1.5  # after everyone joined, before the first step
    keep_up: float = 0.9  # a step keeps up when delivered/offered in the window is at least this
    p99_bound_ms: float = 1_000.0  # ... and its p99 stays under this
    pad: int = 0  # extra characters in each message's text
    connect_timeout_s: float = 90.0
    budget_s: float = 75.0  # a target's steps stop starting after this (the run always ends)
    server_env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Target:
    name: str
    description: str
    event: str  # what the sender emits
    server: Callable[[int, BenchWorld, Path, FanoutOptions], ServerProcess]


def _lago_server(port: int, world: BenchWorld, workdir: Path, opts: FanoutOptions) -> ServerProcess:
    env = {
        **os.environ,
        "DATABASE_URL": world.dsn,
        "REDIS_URL": world.redis_url,
        "LAGO_REDIS_PREFIX": world.redis_prefix,
        "LAGO_JWT_SECRET": world.jwt_secret,
        "LAGO_ENV": "dev",
        "LAGO_NODE_ID": "bench-node",
        "LAGO_CLIENT_MSGS_PER_S": "10000",
        "LAGO_CLIENT_MSG_BURST": "100000",
        "LAGO_LOG_LEVEL": "WARNING",
        **opts.server_env,
    }
    argv = [sys.executable, "-m", "lago_cli", "rt", "--host", "127.0.0.1", "--port", str(port)]
    return ServerProcess("lago", argv, env, port, workdir / "lago-rt.log")


def _baseline_server(
    port: int, world: BenchWorld, workdir: Path, opts: FanoutOptions
) -> ServerProcess:
    script = Path(__file__).with_name("baseline_sio.py")
    argv = [sys.executable, str(script), "--port", str(port)]
    return ServerProcess(
        "python-socketio", argv, dict(os.environ), port, workdir / "baseline-sio.log"
    )


TARGETS: dict[str, Target] = {
    "lago": Target(
        "lago",
        "Lago real-time node (lago rt): chat:send -> channel actor -> Redis -> one-frame fan-out",
        "chat:send",
        _lago_server,
    ),
    "python-socketio": Target(
        "python-socketio",
        "plain python-socketio AsyncServer on aiohttp: await sio.emit(..., room='all')",
        "send",
        _baseline_server,
    ),
}


def _split(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts) if base + (1 if i < extra else 0)]


def merge_percentiles(hists: list[list[list[float]]]) -> dict[str, float]:
    """p50/p90/p99/p99.9/max in ms from the clients' histograms ([[µs, count], ...])."""
    merged: dict[float, int] = {}
    for hist in hists:
        for value, count in hist:
            merged[value] = merged.get(value, 0) + int(count)
    total = sum(merged.values())
    out: dict[str, float] = {}
    if not total:
        return {"p50_ms": 0.0, "p90_ms": 0.0, "p99_ms": 0.0, "p999_ms": 0.0, "max_ms": 0.0}
    ordered = sorted(merged.items())
    for name, q in (("p50_ms", 0.5), ("p90_ms", 0.9), ("p99_ms", 0.99), ("p999_ms", 0.999)):
        want = max(1, int(q * total + 0.999999))
        acc = 0
        for value, count in ordered:
            acc += count
            if acc >= want:
                out[name] = round(value / 1000, 3)
                break
    out["max_ms"] = round(ordered[-1][0] / 1000, 3)
    return out


class _Run:
    def __init__(
        self, target: Target, world: BenchWorld, opts: FanoutOptions, server: ServerProcess
    ) -> None:
        self.target = target
        self.world = world
        self.opts = opts
        self.server = server
        self.clients: list[ClientProcess] = []
        self.sender: ClientProcess | None = None
        self.step_id = 0

    async def connect(self, binary: Path) -> dict[str, Any]:
        opts, world = self.opts, self.world
        common = ["--port", str(self.server.port), "--tokens", str(world.tokens_file)]
        common += ["--join", world.community_id, "--pad", str(opts.pad)]
        common += ["--connect-timeout", str(opts.connect_timeout_s)]
        self.sender = ClientProcess(
            binary,
            [*common, "--first", "0", "--count", "1", "--send", "--event", self.target.event],
            "sender",
        )
        first = 1
        for i, count in enumerate(_split(opts.members - 1, opts.client_processes)):
            args = [*common, "--first", str(first), "--count", str(count)]
            self.clients.append(ClientProcess(binary, args, f"receivers-{i + 1}"))
            first += count
        rss_before = proc_rss_kb(self.server.pid)
        started = time.monotonic()
        # Receivers first, the sender last, so the sender's join finds everyone there.
        for client in self.clients:
            await client.start()
        ready = await asyncio.gather(
            *(c.read_json(opts.connect_timeout_s + 30) for c in self.clients)
        )
        await self.sender.start()
        ready.append(await self.sender.read_json(opts.connect_timeout_s + 30))
        connect_s = time.monotonic() - started
        joined = sum(int(r["ready"]) for r in ready)
        if joined != opts.members:
            errors = "; ".join(str(r.get("error")) for r in ready if r.get("error"))
            raise RuntimeError(
                f"{self.target.name}: only {joined} of {opts.members} members joined: {errors}\n"
                f"server log:\n{self.server.tail()}"
            )
        await asyncio.sleep(opts.settle_s)  # let join-time traffic (presence events) settle
        rss_after = proc_rss_kb(self.server.pid)
        return {
            "idle_connections": joined,
            "connect_and_join_s": round(connect_s, 2),
            "server_rss_before_kb": rss_before,
            "server_rss_after_kb": rss_after,
            "server_rss_per_connection_kb": round((rss_after - rss_before) / joined, 1),
        }

    async def step(self, rate: float) -> dict[str, Any]:
        opts = self.opts
        assert self.sender is not None
        self.step_id += 1
        now = time.monotonic_ns()
        start = now + int(0.2 * NS)
        measure = start + int(opts.warmup_s * NS)
        end = start + int(opts.duration_s * NS)
        stop = end + int(opts.drain_s * NS)
        everyone = [*self.clients, self.sender]
        line = f"step {self.step_id} {start} {measure} {end} {stop} {rate:.6f}"
        for client in self.clients:
            await client.command(f"step {self.step_id} {start} {measure} {end} {stop} 0")
        await self.sender.command(line)
        reading = asyncio.gather(*(c.read_json((stop - now) / NS + 30) for c in everyone))
        await asyncio.sleep(max(0.0, (measure - time.monotonic_ns()) / NS))
        cpu0, machine0 = proc_cpu_s(self.server.pid), machine_cpu()
        await asyncio.sleep(max(0.0, (end - time.monotonic_ns()) / NS))
        cpu1, machine1 = proc_cpu_s(self.server.pid), machine_cpu()
        results = await reading
        window_s = (end - measure) / NS
        sender = results[-1]
        delivered = sum(int(r["count"]) for r in results)
        in_window = sum(int(r["window_count"]) for r in results)
        expected = int(sender["sent"]) * opts.members
        closed = sum(int(r["closed"]) for r in results)
        step: dict[str, Any] = {
            "step": self.step_id,
            "rate_msgs_per_s": round(rate, 2),
            "offered_deliveries_per_s": round(rate * opts.members),
            "sent": int(sender["sent"]),
            "acked_ok": int(sender["ack_ok"]),
            "acked_error": int(sender["ack_err"]),
            "skipped_by_sender": int(sender["skipped"]),
            "delivered": delivered,
            "expected": expected,
            "all_delivered": delivered == expected and closed == 0,
            "deliveries_per_s": round(in_window / window_s),
            **merge_percentiles([r["hist"] for r in results]),
            "avg_event_frame_bytes": round(sum(int(r["bytes"]) for r in results) / delivered, 1)
            if delivered
            else 0,
            "server_cpu_pct": round(100 * (cpu1 - cpu0) / window_s, 1),
            "client_cpu_pct": [
                round(100 * float(r["cpu_window_s"]) / window_s, 1) for r in results
            ],
            "client_labels": [c.label for c in everyone],
            # Everything on the machine (server, clients, Redis, kernel), % of all cores.
            "machine_cpu_busy_pct": round(
                100 * (machine1[0] - machine0[0]) / max(1e-9, machine1[1] - machine0[1]), 1
            ),
            "connections_closed": closed,
            "late_from_earlier_steps": sum(int(r["other_step"]) for r in results),
            "errors": sorted({str(r["error"]) for r in results if r.get("error")}),
        }
        cores = os.cpu_count() or 1
        # CPU used by everything else (Redis, kernel threads, other people's processes), in %
        # of one core: when high, the machine was not ours alone and the figures are low.
        step["other_cpu_pct"] = round(
            max(
                0.0,
                step["machine_cpu_busy_pct"] * cores
                - step["server_cpu_pct"]
                - sum(step["client_cpu_pct"]),
            ),
            1,
        )
        step["kept_up"] = (
            step["deliveries_per_s"] >= opts.keep_up * step["offered_deliveries_per_s"]
            and step["p99_ms"] <= opts.p99_bound_ms
        )
        missing = expected - delivered
        if missing > 0 and step["deliveries_per_s"] > 0:
            # Let the server drain what it still holds before the next step (bounded).
            await asyncio.sleep(min(15.0, missing / step["deliveries_per_s"] + 0.5))
        return step

    async def close(self) -> None:
        for client in [*self.clients, *([self.sender] if self.sender else [])]:
            await client.stop()


async def run_target(
    target: Target,
    world: BenchWorld,
    opts: FanoutOptions,
    binary: Path,
    workdir: Path,
    port: int,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    server = target.server(port, world, workdir, opts)
    await server.start()
    run = _Run(target, world, opts, server)
    began = time.monotonic()
    try:
        result: dict[str, Any] = {"name": target.name, "description": target.description}
        result.update(await run.connect(binary))
        progress(
            f"{target.name}: {result['idle_connections']} members joined in "
            f"{result['connect_and_join_s']} s, server RSS "
            f"{result['server_rss_per_connection_kb']} KB per connection"
        )
        steps: list[dict[str, Any]] = []
        rate = opts.rate
        for _ in range(opts.max_steps if opts.mode == "saturate" else 1):
            step = await run.step(rate)
            steps.append(step)
            progress(_step_line(target.name, step))
            if opts.mode != "saturate" or not step["kept_up"]:
                break
            if time.monotonic() - began > opts.budget_s:
                progress(f"{target.name}: time budget reached; stopping the rate search")
                break
            rate *= opts.step_factor
        result["steps"] = steps
        if opts.mode == "saturate":
            best = max(steps, key=lambda s: s["deliveries_per_s"])
            result["saturation"] = {
                "deliveries_per_s": best["deliveries_per_s"],
                "at_rate_msgs_per_s": best["rate_msgs_per_s"],
                "p50_ms": best["p50_ms"],
                "p99_ms": best["p99_ms"],
                "server_cpu_pct": best["server_cpu_pct"],
                "client_cpu_pct": best["client_cpu_pct"],
                "reached": not steps[-1]["kept_up"],
            }
            half_rate = best["deliveries_per_s"] / opts.members / 2
            if half_rate > 0:
                half = await run.step(half_rate)
                half["role"] = "half of saturation"
                steps.append(half)
                progress(_step_line(target.name, half))
                result["half_saturation"] = {
                    "rate_msgs_per_s": half["rate_msgs_per_s"],
                    "deliveries_per_s": half["deliveries_per_s"],
                    "p50_ms": half["p50_ms"],
                    "p99_ms": half["p99_ms"],
                    "all_delivered": half["all_delivered"],
                }
        result["wall_s"] = round(time.monotonic() - began, 1)
        return result
    finally:
        await run.close()
        await server.stop()


def _step_line(name: str, s: dict[str, Any]) -> str:
    return (
        f"{name}: step {s['step']} rate {s['rate_msgs_per_s']}/s -> "
        f"{s['deliveries_per_s']:,} deliveries/s (offered {s['offered_deliveries_per_s']:,}), "
        f"p50 {s['p50_ms']} ms p99 {s['p99_ms']} ms, server CPU {s['server_cpu_pct']}%, "
        f"clients {s['client_cpu_pct']}%, other {s['other_cpu_pct']}%{'' if s['kept_up'] else '  [saturated]'}"
    )
