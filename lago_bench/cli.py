"""``lago bench``: argument parsing and the run of ``lago bench fanout``."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

__all__ = ["add_bench_parser", "main", "run_bench"]

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def add_bench_parser(sub: Any) -> None:
    """Add ``bench`` (with its ``fanout`` scenario) to the ``lago`` command's subparsers."""
    bench = sub.add_parser("bench", help="run a benchmark against servers it starts on loopback")
    scenarios = bench.add_subparsers(dest="scenario", required=True)
    f = scenarios.add_parser(
        "fanout",
        help="deliveries/s and latency of one channel of N members on one real-time node",
        description="Start a real-time node (and a python-socketio baseline) on 127.0.0.1, "
        "connect N members with a compiled load client and measure channel fan-out. "
        "Uses DATABASE_URL / REDIS_URL (creates and drops its own database and Redis keys).",
    )
    f.add_argument("--members", type=int, default=1_000, help="channel members (default 1000)")
    f.add_argument("--client-processes", type=int, default=2, help="receiver processes (default 2)")
    f.add_argument(
        "--targets",
        default="lago,python-socketio",
        help="comma-separated: lago, python-socketio (default both)",
    )
    f.add_argument(
        "--rate",
        type=float,
        help="send this many messages/s for one step (fixed mode) instead of searching "
        "for saturation",
    )
    f.add_argument(
        "--start-rate", type=float, default=None, help="first step of the saturation search"
    )
    f.add_argument("--step-factor", type=float, default=1.3, help="rate growth per step")
    f.add_argument("--max-steps", type=int, default=12)
    f.add_argument("--duration", type=float, default=3.0, help="seconds of sending per step")
    f.add_argument("--warmup", type=float, default=0.5, help="seconds not measured per step")
    f.add_argument("--drain", type=float, default=1.0, help="seconds to receive after sending")
    f.add_argument(
        "--settle", type=float, default=1.5, help="seconds between joining and the first step"
    )
    f.add_argument("--p99-bound", type=float, default=1_000.0, help="ms; above it = saturated")
    f.add_argument("--pad", type=int, default=0, help="extra characters in each message")
    f.add_argument("--json", dest="json_path", help="write the result as JSON here ('-' = stdout)")
    f.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    from lago_bench.live import add_live_parser

    add_live_parser(scenarios)


def run_live(args: argparse.Namespace) -> int:
    """``lago bench live`` (see lago_bench/live.py)."""
    import asyncio

    from lago_bench.live import live_main, live_table

    try:
        result = asyncio.run(live_main(args))
    except (RuntimeError, ValueError, TimeoutError) as exc:
        print(f"lago bench: {exc}", file=sys.stderr)
        return 1
    print(live_table(result), file=sys.stderr if args.json_path == "-" else sys.stdout, flush=True)
    if args.json_path:
        data = orjson.dumps(result, option=orjson.OPT_INDENT_2)
        if args.json_path == "-":
            sys.stdout.write(data.decode() + "\n")
        else:
            Path(args.json_path).write_bytes(data + b"\n")
    return 0


def run_bench(args: argparse.Namespace) -> int:
    if args.scenario == "live":
        return run_live(args)
    if args.scenario != "fanout":
        print(f"lago bench: unknown scenario {args.scenario}", file=sys.stderr)
        return 2
    try:
        import uvloop

        result = uvloop.run(fanout_main(args))
    except (RuntimeError, ValueError) as exc:
        print(f"lago bench: {exc}", file=sys.stderr)
        return 1
    from lago_bench.report import table

    # With --json - stdout carries the JSON alone; the table goes to stderr.
    print(table(result), file=sys.stderr if args.json_path == "-" else sys.stdout, flush=True)
    if args.json_path:
        data = orjson.dumps(result, option=orjson.OPT_INDENT_2)
        if args.json_path == "-":
            sys.stdout.write(data.decode() + "\n")
        else:
            Path(args.json_path).write_bytes(data + b"\n")
    failed = any("error" in t for t in result["targets"])
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lago")
    add_bench_parser(parser.add_subparsers(dest="command", required=True))
    return run_bench(parser.parse_args(argv))


async def fanout_main(args: argparse.Namespace) -> dict[str, Any]:
    from lago_bench.fanout import TARGETS, FanoutOptions, run_target
    from lago_bench.procs import PROJECT_ROOT, build_client, free_port
    from lago_bench.report import machine
    from lago_bench.world import create_world, drop_world

    names = [n.strip() for n in args.targets.split(",") if n.strip()]
    unknown = [n for n in names if n not in TARGETS]
    if unknown or not names:
        raise ValueError(f"unknown target(s) {unknown}; choose from {', '.join(TARGETS)}")
    if args.members < 2:
        raise ValueError("--members must be at least 2 (one sender, one receiver)")
    if not 1 <= args.client_processes <= 16:
        raise ValueError("--client-processes must be 1 to 16")
    if not 0 < args.step_factor <= 10 or args.duration > 60 or args.drain > 30:
        raise ValueError("--step-factor must be in (0, 10], --duration ≤ 60, --drain ≤ 30")
    if args.duration <= args.warmup:
        raise ValueError("--duration must be longer than --warmup")
    fixed = args.rate is not None
    start_rate = args.rate if fixed else args.start_rate or max(1.0, 20_000 / args.members)
    opts = FanoutOptions(
        members=args.members,
        client_processes=min(args.client_processes, args.members - 1),
        mode="fixed" if fixed else "saturate",
        rate=start_rate,
        step_factor=args.step_factor,
        max_steps=max(1, min(args.max_steps, 30)),
        duration_s=args.duration,
        warmup_s=args.warmup,
        drain_s=args.drain,
        settle_s=args.settle,
        p99_bound_ms=args.p99_bound,
        pad=args.pad,
    )

    def progress(line: str) -> None:
        if not args.quiet:
            print(line, file=sys.stderr, flush=True)

    binary = build_client()
    admin_dsn = os.environ.get("DATABASE_URL", DEFAULT_DSN)
    redis_url = os.environ.get("REDIS_URL", DEFAULT_REDIS)
    (PROJECT_ROOT / ".lago-local").mkdir(exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="bench-", dir=PROJECT_ROOT / ".lago-local"))
    started = time.monotonic()
    result: dict[str, Any] = {
        "benchmark": "fanout",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["lago", *sys.argv[1:]]),
        "machine": machine(),
        "settings": {
            "members": opts.members,
            "client_processes": opts.client_processes,
            "mode": opts.mode,
            "start_rate_msgs_per_s": opts.rate,
            "step_factor": opts.step_factor,
            "max_steps": opts.max_steps,
            "step_duration_s": opts.duration_s,
            "warmup_s": opts.warmup_s,
            "drain_s": opts.drain_s,
            "settle_s": opts.settle_s,
            "saturated_when": f"deliveries/s < {opts.keep_up:.0%} of offered, "
            f"or p99 > {opts.p99_bound_ms:g} ms",
            "message_pad_chars": opts.pad,
            "lago_server_env": {
                "LAGO_CLIENT_MSGS_PER_S": "10000",
                "LAGO_CLIENT_MSG_BURST": "100000",
                "LAGO_LOG_LEVEL": "WARNING",
                "event loop": "uvloop (lago rt)",
            },
            "load_client": "lago_bench/wsclient.c (epoll, cc -O2)",
            "targets": names,
        },
        "targets": [],
    }
    progress(f"creating {opts.members} members in a fresh database ...")
    world = await create_world(admin_dsn, redis_url, opts.members, workdir)
    try:
        for name in names:
            try:
                outcome = await run_target(
                    TARGETS[name], world, opts, binary, workdir, free_port(), progress
                )
            except (RuntimeError, TimeoutError) as exc:
                outcome = {"name": name, "error": str(exc) or type(exc).__name__}
                progress(f"{name}: FAILED: {outcome['error']}")
            result["targets"].append(outcome)
            # The channel actor keeps the same community; a new sender step id keeps
            # messages of different targets apart, so nothing else needs resetting.
    finally:
        await drop_world(world)
        with contextlib.suppress(OSError):
            shutil.rmtree(workdir)
    result["comparison"] = _comparison(result["targets"])
    result["wall_s"] = round(time.monotonic() - started, 1)
    return result


def _throughput(target: dict[str, Any]) -> float | None:
    if "error" in target or not target.get("steps"):
        return None
    sat = target.get("saturation")
    if sat:
        return float(sat["deliveries_per_s"])
    return float(target["steps"][0]["deliveries_per_s"])


def _comparison(targets: list[dict[str, Any]]) -> dict[str, Any]:
    by_name = {t["name"]: t for t in targets}
    out: dict[str, Any] = {}
    lago = by_name.get("lago")
    lago_rate = _throughput(lago) if lago else None
    for name, other in by_name.items():
        if name == "lago" or lago_rate is None:
            continue
        rate = _throughput(other)
        if rate:
            out[f"lago_vs_{name.replace('-', '_')}"] = round(lago_rate / rate, 2)
    if lago is not None and lago_rate is not None:
        out["lago_deliveries_per_s"] = round(lago_rate)
        out["lago_meets_100k_per_s"] = lago_rate >= 100_000
        half = lago.get("half_saturation")
        if half:
            out["lago_p99_at_half_saturation_ms"] = half["p99_ms"]
            out["lago_p99_at_half_within_50ms"] = half["p99_ms"] <= 50
    return out
