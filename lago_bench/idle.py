"""``lago bench idle``: idle connections held by one node, and the memory each one costs.

N members (default 5,000) connect to one server with the compiled load client, authenticate,
join their community's channel and then stay idle. Members are spread over communities of
``--per-channel`` members (default 100, a realistic 小区 channel online at once), so the join
storm's presence broadcasts stay linear in N rather than quadratic. The figure is the server's
RSS after everyone joined and things settled, minus its RSS before the first connection, divided
by N: everything a connection costs (socket.io and engine.io state, aiohttp's request and
WebSocket objects, tasks, our per-socket entries, the presence session), not only the socket.
The same run can hold the connections on the baselines (their ``channel:join`` puts everyone in
one room) for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lago_bench.fanout import TARGETS, FanoutOptions, service_urls
from lago_bench.nodeinstall import TargetSkipped
from lago_bench.procs import ClientProcess, build_client, free_port, proc_cpu_s, proc_rss_kb
from lago_bench.scenario import Check, Progress, Scenario, check
from lago_bench.world import BenchWorld, remove_workdir

__all__ = ["SCENARIO", "idle_main"]

KB_PER_IDLE_CONNECTION = 30.0


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--connections", type=int, default=5_000, help="members connected (5000)")
    p.add_argument("--per-channel", type=int, default=100, help="members per community (100)")
    p.add_argument("--client-processes", type=int, default=4, help="load processes (4)")
    p.add_argument(
        "--targets",
        default=",".join(TARGETS),
        help=f"comma-separated: {', '.join(TARGETS)} (default all)",
    )
    p.add_argument(
        "--settle", type=float, default=3.0, help="seconds between the last join and the reading"
    )
    p.add_argument("--connect-timeout", type=float, default=180.0, help="seconds to connect all")


async def _hold(
    name: str,
    args: argparse.Namespace,
    world: BenchWorld,
    binary: Path,
    workdir: Path,
    say: Progress,
) -> dict[str, Any]:
    target = TARGETS[name]
    server = await asyncio.to_thread(
        target.server, free_port(), world, workdir, FanoutOptions(members=args.connections)
    )
    await server.start()
    clients: list[ClientProcess] = []
    try:
        await asyncio.sleep(1.0)  # let start-up allocations finish before the first reading
        rss_before = proc_rss_kb(server.pid)
        common = ["--port", str(server.port), "--tokens", str(world.tokens_file)]
        common += ["--joins", str(world.joins_file), "--connect-timeout", str(args.connect_timeout)]
        base, extra = divmod(args.connections, args.client_processes)
        first = 0
        for i in range(args.client_processes):
            count = base + (1 if i < extra else 0)
            if count:
                extra_args = ["--first", str(first), "--count", str(count)]
                clients.append(ClientProcess(binary, [*common, *extra_args], f"holders-{i + 1}"))
                first += count
        cpu_before = proc_cpu_s(server.pid)
        started = time.monotonic()
        for client in clients:
            await client.start()
        ready = await asyncio.gather(*(c.read_json(args.connect_timeout + 30) for c in clients))
        connect_s = time.monotonic() - started
        # The server's own CPU for the storm: steadier than the wall time on a shared machine.
        storm_cpu_s = proc_cpu_s(server.pid) - cpu_before
        held = sum(int(r["ready"]) for r in ready)
        if held != args.connections:
            errors = "; ".join(sorted({str(r.get("error")) for r in ready if r.get("error")}))
            raise RuntimeError(
                f"{name}: only {held} of {args.connections} members joined: {errors}\n"
                f"server log:\n{server.tail()}"
            )
        await asyncio.sleep(args.settle)
        rss_after = proc_rss_kb(server.pid)
        result: dict[str, Any] = {
            "name": name,
            "connections_held": held,
            "channels": len(world.community_ids),
            "connect_and_join_s": round(connect_s, 2),
            "server_cpu_ms_per_join": round(storm_cpu_s * 1000 / held, 3),
            "server_rss_before_kb": rss_before,
            "server_rss_after_kb": rss_after,
            "server_rss_per_connection_kb": round((rss_after - rss_before) / held, 1),
        }
        if server.info:
            result["server_versions"] = server.info
        say(
            f"idle: {name}: {held} connections in {result['channels']} channels, joined in "
            f"{result['connect_and_join_s']} s ({result['server_cpu_ms_per_join']} ms of server CPU "
            f"each), {result['server_rss_per_connection_kb']} KB per connection "
            f"(RSS {rss_before // 1024} -> {rss_after // 1024} MB)"
        )
        return result
    finally:
        for client in clients:
            await client.stop()
        await server.stop()


async def idle_main(args: argparse.Namespace, progress: Progress | None = None) -> dict[str, Any]:
    from lago_bench.procs import PROJECT_ROOT
    from lago_bench.report import machine
    from lago_bench.world import create_world, drop_world

    names = [n.strip() for n in args.targets.split(",") if n.strip()]
    unknown = [n for n in names if n not in TARGETS]
    if unknown or not names:
        raise ValueError(f"unknown target(s) {unknown}; choose from {', '.join(TARGETS)}")
    if not 1 <= args.connections <= 15_000:
        raise ValueError("--connections must be 1 to 15000 (each needs a file descriptor)")
    if not 1 <= args.per_channel <= args.connections:
        raise ValueError("--per-channel must be 1 to --connections")
    if not 1 <= args.client_processes <= 16:
        raise ValueError("--client-processes must be 1 to 16")
    say: Progress = progress or (lambda line: None)
    binary = build_client()
    admin_dsn, redis_url = service_urls()
    (PROJECT_ROOT / ".lago-local").mkdir(exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="bench-idle-", dir=PROJECT_ROOT / ".lago-local"))
    started = time.monotonic()
    result: dict[str, Any] = {
        "benchmark": "idle",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["lago", *sys.argv[1:]]),
        "machine": machine(),
        "settings": {
            "connections": args.connections,
            "members_per_channel": args.per_channel,
            "client_processes": args.client_processes,
            "settle_s": args.settle,
            "targets": names,
            "measure": "(server RSS after all joined and settled - RSS before) / connections",
        },
        "targets": [],
    }
    say(f"idle: creating {args.connections} members in a fresh database ...")
    world = await create_world(
        admin_dsn, redis_url, args.connections, workdir, per_community=args.per_channel
    )
    try:
        for name in names:
            try:
                outcome = await _hold(name, args, world, binary, workdir, say)
            except TargetSkipped as exc:
                outcome = {"name": name, "skipped": str(exc)}
                say(f"idle: {name}: skipped: {exc}")
            except (RuntimeError, TimeoutError) as exc:
                outcome = {"name": name, "error": str(exc) or type(exc).__name__}
                say(f"idle: {name}: FAILED: {outcome['error']}")
            result["targets"].append(outcome)
    finally:
        await drop_world(world)
        remove_workdir(workdir)
    result["wall_s"] = round(time.monotonic() - started, 1)
    return result


def table(result: dict[str, Any]) -> str:
    s = result["settings"]
    lines = [
        f"{s['connections']} idle members, {s['members_per_channel']} per channel, on one server "
        f"process; {s['client_processes']} load processes",
        "",
        f"{'target':<16} {'held':>6} {'channels':>8} {'join s':>7} {'CPU ms/join':>11} "
        f"{'RSS before':>11} {'RSS after':>10} {'KB/conn':>8}",
    ]
    for t in result["targets"]:
        if "error" in t or "skipped" in t:
            why = f"FAILED: {t['error']}" if "error" in t else f"skipped: {t['skipped']}"
            lines.append(f"{t['name']:<16} {why}")
            continue
        lines.append(
            f"{t['name']:<16} {t['connections_held']:>6} {t['channels']:>8} "
            f"{t['connect_and_join_s']:>7.1f} {t.get('server_cpu_ms_per_join', 0):>11.3f} "
            f"{t['server_rss_before_kb'] / 1024:>8.0f} MB "
            f"{t['server_rss_after_kb'] / 1024:>7.0f} MB {t['server_rss_per_connection_kb']:>8.1f}"
        )
    return "\n".join(lines)


# Issue 22: against Node.js Socket.IO 4 in the same run.
JOIN_TIME_VS_NODE = 1.5


def checks(result: dict[str, Any]) -> list[Check]:
    by_name = {t["name"]: t for t in result["targets"]}
    lago = by_name.get("lago")
    node = by_name.get("node-socketio")
    label = f"memory: ≤ {KB_PER_IDLE_CONNECTION:g} KB per idle joined connection on a Lago node"
    if lago is None or "server_rss_per_connection_kb" not in lago:
        why = "Lago not in --targets" if lago is None else lago.get("error", "not measured")
        return [check(label, None, "KB", None, str(why).splitlines()[0])]
    per_conn = lago["server_rss_per_connection_kb"]
    note = f"{lago['connections_held']} connections held"
    out = [check(label, per_conn, "KB", per_conn <= KB_PER_IDLE_CONNECTION, note)]
    mem_label = "memory: Lago ≤ Node.js Socket.IO per idle joined connection"
    join_label = f"connect + join: Lago ≤ {JOIN_TIME_VS_NODE:g}× Node.js Socket.IO's time"
    if node is None or "server_rss_per_connection_kb" not in node:
        why = "node-socketio not in --targets" if node is None else "Node.js did not run"
        why = str(node.get("skipped") or node.get("error") or why) if node else why
        out.append(check(mem_label, None, "KB", None, why.splitlines()[0]))
        out.append(check(join_label, None, "×", None, why.splitlines()[0]))
        return out
    node_kb = node["server_rss_per_connection_kb"]
    out.append(check(mem_label, per_conn, "KB", per_conn <= node_kb, f"Node.js {node_kb:.1f} KB"))
    ratio = round(lago["connect_and_join_s"] / max(node["connect_and_join_s"], 1e-9), 2)
    note = f"{lago['connect_and_join_s']:.1f} s against {node['connect_and_join_s']:.1f} s"
    out.append(check(join_label, ratio, "×", ratio <= JOIN_TIME_VS_NODE, note))
    return out


SCENARIO = Scenario(
    name="idle",
    help="idle connections held by one node and the server memory per connection",
    description="Connect N members (spread over channels of --per-channel) to one server on "
    "127.0.0.1, join, stay idle, and read the server's RSS per connection. Uses DATABASE_URL / "
    "REDIS_URL (creates and drops its own database and Redis keys).",
    configure=configure,
    run=idle_main,
    table=table,
    checks=checks,
    quick=(
        "--connections",
        "40",
        "--per-channel",
        "20",
        "--client-processes",
        "2",
        "--settle",
        "0.3",
    ),
)
