"""``lago bench groupbuy``: group-buy joins per second and join latency under contention.

One real-time node; ``groups`` groups (leaders seated) of at most ``max_members``; every other
member of the channel races to join a random group it has not seen full, up to ``attempts``
times, all at once. Joins per second counts seats won (acknowledged), attempts per second every
answered attempt; latency is send → acknowledgement as the client sees it. Afterwards the seats in
PostgreSQL are counted: oversell is seats above a group's maximum (must be 0), and the database
must hold exactly the seats that were acknowledged.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from lago_bench.fanout import lago_rt_process, service_urls
from lago_bench.groupbuy_client import join_members
from lago_bench.procs import (
    PROJECT_ROOT,
    ServerProcess,
    free_port,
    machine_cpu,
    proc_cpu_s,
    proc_rss_kb,
)
from lago_bench.scenario import Check, Progress, Scenario, check
from lago_bench.world import BenchWorld, create_world, drop_world

__all__ = ["SCENARIO", "GroupBuyOptions", "run_groupbuy"]

WARM_UP_JOINS = 20


@dataclass
class GroupBuyOptions:
    members: int = 3_000
    groups: int = 200
    max_members: int = 10
    attempts: int = 5
    client_processes: int = 2
    # Attempts per second offered by all load processes together; 0: every member at once.
    rate: float = 0.0
    timeout_s: float = 120.0


def _server(port: int, world: BenchWorld, workdir: Path) -> ServerProcess:
    env = {"LAGO_CLIENT_MSGS_PER_S": "10000", "LAGO_CLIENT_MSG_BURST": "100000"}
    return lago_rt_process(
        "lago", "bench-groupbuy", port, world, workdir / "lago-rt-groupbuy.log", env
    )


async def _campaign(world: BenchWorld, max_members: int) -> uuid.UUID:
    """A merchant with a catalogue item and a campaign offered in the bench community."""
    now = datetime.now(UTC)
    merchant, item, campaign = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    conn = await asyncpg.connect(world.dsn)
    try:
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO merchants (id, name) VALUES ($1, 'bench merchant')", merchant
            )
            await conn.execute(
                "INSERT INTO merchant_items (id, merchant_id, name, kind, price_fen, stock) "
                "VALUES ($1, $2, 'bench class', 'service', 20000, 0)",
                item,
                merchant,
            )
            await conn.execute(
                """
                INSERT INTO group_buy_campaigns
                    (id, merchant_id, organiser, created_by, title, item_id, group_price_fen,
                     original_price_fen, min_members, max_members, payment_window_s,
                     created_at, updated_at, per_user_limit)
                VALUES ($1, $2, 'platform', $3, 'bench group buy', $4, 9900, 20000, 2, $5,
                        900, $6, $6, 2)
                """,
                campaign,
                merchant,
                world.user_ids[0],
                item,
                max_members,
                now,
            )
            await conn.execute(
                "INSERT INTO group_buy_campaign_communities (campaign_id, community_id) "
                "VALUES ($1, $2)",
                campaign,
                uuid.UUID(world.community_id),
            )
    finally:
        await conn.close()
    return campaign


async def _start_groups(
    port: int, tokens: list[str], world: BenchWorld, campaign: uuid.UUID
) -> tuple[int, list[str]]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        leaders = await join_members(http, port, tokens, world.community_id)
        replies = await asyncio.gather(
            *(
                m.call(
                    "groupbuy:start",
                    {"community_id": world.community_id, "campaign_id": str(campaign)},
                )
                for m in leaders
            )
        )
        bad = [r for r in replies if not r.get("ok")]
        if bad:
            raise RuntimeError(f"groupbuy:start refused: {bad[0]}")
        groups = [r["group"]["group_id"] for r in replies]
        # Warm-up, not measured: leaders join each other's groups (the campaign allows two seats
        # a member), so the node's first joins (statement preparation on each pooled connection)
        # are not counted as contention.
        warm = 0
        for i in range(min(WARM_UP_JOINS, len(leaders) - 1)):
            payload = {"community_id": world.community_id, "group_id": groups[i + 1]}
            reply = await leaders[i].call("groupbuy:join", payload)
            warm += bool(reply.get("ok"))
        for m in leaders:
            await m.close()
    return warm, groups


async def _client(
    port: int, world: BenchWorld, start: int, count: int, groups: list[str], opts: GroupBuyOptions
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "lago_bench.groupbuy_client",
        "--port",
        str(port),
        "--tokens-file",
        str(world.tokens_file),
        "--start",
        str(start),
        "--count",
        str(count),
        "--community",
        world.community_id,
        "--groups",
        ",".join(groups),
        "--attempts",
        str(opts.attempts),
        "--seed",
        str(start),
        "--rate",
        str(opts.rate / opts.client_processes),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        limit=64 << 20,
    )


async def _read_json(proc: asyncio.subprocess.Process, within: float) -> dict[str, Any]:
    import orjson

    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), within)
    if not line:
        raise RuntimeError("a group-buy load client stopped early")
    result: dict[str, Any] = orjson.loads(line)
    return result


async def _quiet(pid: int, within: float, busy_below: float = 0.15) -> float:
    """Seconds until the process used less than ``busy_below`` of a core over half a second."""
    started = time.perf_counter()
    while time.perf_counter() - started < within:
        before = proc_cpu_s(pid)
        await asyncio.sleep(0.5)
        if proc_cpu_s(pid) - before < busy_below * 0.5:
            break
    return round(time.perf_counter() - started, 1)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run_groupbuy(
    admin_dsn: str, redis_url: str, workdir: Path, opts: GroupBuyOptions
) -> dict[str, Any]:
    world = await create_world(admin_dsn, redis_url, opts.members, workdir)
    server: ServerProcess | None = None
    procs: list[asyncio.subprocess.Process] = []
    try:
        campaign = await _campaign(world, opts.max_members)
        server = _server(free_port(), world, workdir)
        await server.start()
        tokens = world.tokens_file.read_text().split()
        warm, groups = await _start_groups(server.port, tokens[: opts.groups], world, campaign)
        joiners = opts.members - opts.groups
        share = -(-joiners // opts.client_processes)
        for index in range(opts.client_processes):
            start = opts.groups + index * share
            count = min(share, opts.members - start)
            if count > 0:
                procs.append(await _client(server.port, world, start, count, groups, opts))
        ready = [await _read_json(p, opts.timeout_s) for p in procs]
        # Every join acknowledged does not mean the node is done: it is still delivering the
        # presence events of the join storm. Start the race once it has gone quiet.
        settled_s = await _quiet(server.pid, opts.timeout_s)
        rss_before = proc_rss_kb(server.pid)
        cpu0, (busy0, total0) = proc_cpu_s(server.pid), machine_cpu()
        wall0 = time.perf_counter()
        for p in procs:
            assert p.stdin is not None
            p.stdin.write(b"go\n")
            await p.stdin.drain()
        results = [await _read_json(p, opts.timeout_s) for p in procs]
        wall = time.perf_counter() - wall0
        cpu1, (busy1, total1) = proc_cpu_s(server.pid), machine_cpu()
        codes: Counter[str] = Counter()
        latencies: list[float] = []
        for r in results:
            codes.update(r["codes"])
            latencies += r["latencies_ms"]
        seats = await _seats(world)
        won = codes["ok"]
        attempts = sum(codes.values())
        load_cpu = sum(r["cpu_s"] for r in results)
        return {
            "scenario": "groupbuy",
            "settings": {
                "members": opts.members,
                "groups": opts.groups,
                "max_members": opts.max_members,
                "attempts_per_member": opts.attempts,
                "client_processes": opts.client_processes,
                "offered_attempts_per_s": opts.rate or "all at once",
                "connected": sum(r["ready"] for r in ready),
            },
            "wall_s": round(wall, 3),
            "settle_before_race_s": settled_s,
            "joins": won,
            "joins_per_s": round(won / wall, 1),
            "attempts": attempts,
            "attempts_per_s": round(attempts / wall, 1),
            "outcomes": dict(codes),
            "latency_ms": {
                "p50": round(_percentile(latencies, 0.50), 2),
                "p99": round(_percentile(latencies, 0.99), 2),
                "max": round(max(latencies, default=float("nan")), 2),
            },
            "seats_in_db": seats["total"],
            "seats_expected": won + opts.groups + warm,
            "oversold": seats["oversold"],
            "fullest_group": seats["fullest"],
            "cpu": {
                "server_pct": round(100 * (cpu1 - cpu0) / wall, 1),
                "load_clients_pct": round(100 * load_cpu / wall, 1),
                "machine_pct": round(100 * (busy1 - busy0) / max(total1 - total0, 1e-9), 1),
                "cores": os.cpu_count(),
            },
            "server_rss_mb": round(proc_rss_kb(server.pid) / 1024, 1),
            "server_rss_mb_before": round(rss_before / 1024, 1),
        }
    finally:
        for p in procs:
            if p.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    p.kill()
                await p.wait()
        if server is not None:
            await server.stop()
        await drop_world(world)


async def _seats(world: BenchWorld) -> dict[str, int]:
    conn = await asyncpg.connect(world.dsn)
    try:
        rows = await conn.fetch(
            "SELECT g.max_members, count(s.id) AS n FROM group_buys g "
            "LEFT JOIN group_buy_seats s ON s.group_id = g.id "
            "AND s.status IN ('reserved', 'paid') GROUP BY g.id, g.max_members"
        )
    finally:
        await conn.close()
    return {
        "total": sum(r["n"] for r in rows),
        "oversold": sum(max(0, r["n"] - r["max_members"]) for r in rows),
        "fullest": max((r["n"] for r in rows), default=0),
    }


TARGET_JOINS_PER_S = 5_000
TARGET_P99_MS = 100.0


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--members", type=int, default=3_000, help="channel members (default 3000)")
    p.add_argument("--groups", type=int, default=200, help="groups, one leader each (default 200)")
    p.add_argument("--max-members", type=int, default=10, help="seats per group (default 10)")
    p.add_argument("--attempts", type=int, default=5, help="join attempts per member (default 5)")
    p.add_argument("--client-processes", type=int, default=2, help="load processes (default 2)")
    p.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="offer this many join attempts/s in all (default 0: every member at once)",
    )


async def groupbuy_main(
    args: argparse.Namespace, progress: Progress | None = None
) -> dict[str, Any]:
    from lago_bench.report import machine

    if not 2 <= args.max_members <= 100:
        raise ValueError("--max-members must be 2 to 100")
    if not 1 <= args.groups < args.members <= 20_000:
        raise ValueError("need 1 ≤ --groups < --members ≤ 20000")
    if not 1 <= args.attempts <= 100 or not 1 <= args.client_processes <= 16:
        raise ValueError("--attempts must be 1 to 100 and --client-processes 1 to 16")
    opts = GroupBuyOptions(
        members=args.members,
        groups=args.groups,
        max_members=args.max_members,
        attempts=args.attempts,
        client_processes=args.client_processes,
        rate=max(0.0, min(args.rate, 100_000.0)),
    )
    admin_dsn, redis_url = service_urls()
    (PROJECT_ROOT / ".lago-local").mkdir(exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="bench-groupbuy-", dir=PROJECT_ROOT / ".lago-local"))
    try:
        result = await run_groupbuy(admin_dsn, redis_url, workdir, opts)
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(workdir)
    result["benchmark"] = "groupbuy"
    result["machine"] = machine()
    result["started_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    if progress is not None:
        progress(table(result))
    return result


def table(result: dict[str, Any]) -> str:
    """A short report for the terminal."""
    s, lat, cpu = result["settings"], result["latency_ms"], result["cpu"]
    return "\n".join(
        [
            f"one lago rt node; {s['members']} members in one channel, {s['groups']} groups of at "
            f"most {s['max_members']} (a leader each), every other member racing to join a "
            f"random group not seen full, up to {s['attempts_per_member']} attempts, "
            f"{s['client_processes']} load processes, offered: {s['offered_attempts_per_s']}",
            f"joins (seats won)      {result['joins_per_s']:>10,.0f} /s  "
            f"({result['joins']} in {result['wall_s']} s)",
            f"attempts answered      {result['attempts_per_s']:>10,.0f} /s  {result['outcomes']}",
            f"join latency           p50 {lat['p50']} ms, p99 {lat['p99']} ms, max {lat['max']} ms",
            f"oversold seats         {result['oversold']}  (PostgreSQL holds "
            f"{result['seats_in_db']} seats; acknowledged {result['seats_expected']})",
            f"CPU                    server {cpu['server_pct']}%, load clients "
            f"{cpu['load_clients_pct']}%, machine {cpu['machine_pct']}% of {cpu['cores']} cores",
        ]
    )


def checks(result: dict[str, Any]) -> list[Check]:
    lat = result["latency_ms"]
    exact = result["oversold"] == 0 and result["seats_in_db"] == result["seats_expected"]
    return [
        check(
            f"group buys: ≥ {TARGET_JOINS_PER_S:,} joins/s on one node",
            result["joins_per_s"],
            "joins/s",
            result["joins_per_s"] >= TARGET_JOINS_PER_S,
        ),
        check(
            f"group buys: join p99 ≤ {TARGET_P99_MS:g} ms under contention",
            lat["p99"],
            "ms",
            lat["p99"] <= TARGET_P99_MS,
        ),
        check(
            "group buys: zero oversell, database = acknowledged seats",
            result["oversold"],
            "seats",
            exact,
        ),
    ]


SCENARIO = Scenario(
    name="groupbuy",
    help="group-buy joins/s and join latency under contention on one real-time node",
    description="Start a real-time node on 127.0.0.1, seat a leader in each of G groups, then "
    "let every other member race to join a random group it has not seen full. Reports joins/s, "
    "attempts/s, p50/p99 join latency and oversell counted in PostgreSQL. Uses DATABASE_URL / "
    "REDIS_URL (creates and drops its own database and Redis keys).",
    configure=configure,
    run=groupbuy_main,
    table=table,
    checks=checks,
    quick=("--members", "60", "--groups", "5", "--attempts", "3", "--client-processes", "1"),
)
