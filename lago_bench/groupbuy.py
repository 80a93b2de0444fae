"""``lago bench groupbuy``: group-buy joins per second and join latency of one node under contention.

One real-time node and one community channel of N members. The first ``--leaders`` members lead
the groups and never connect; every other member (a racer) connects with the compiled load client
(``lago_bench/wsclient.c --race``, 2 processes) and joins the channel. The run then offers join
attempts at a fixed total rate, step by step (a warm-up step first, not judged): each attempt goes
to the next idle racer, for a random group among the first ``--hot`` groups of the step that the
process has not seen full — many members racing for the last seats of the same few groups.

Each step has its own campaign and enough groups (leader seated) for every attempt it may offer.
They are written to PostgreSQL just before the step and announced to the channel actor with
``groupbuy.sync``, the message a payment worker sends (one per group; the actor loads the group
from the database); the step starts once the leader of the step's last group, the run's only
connected leader, gets ``already`` for a join of its own group (the actor's mailbox is in order, so
every group before it is loaded too). Not all before the node starts: a ``channel:join`` reply
carries every live group of the channel, so groups for all steps at once would make each of the
thousands of joins cost megabytes and a third of a second of server time.

Reported per step: attempts answered per second, joins (new seats) per second, outcomes by code,
p50/p90/p99/max latency (send -> acknowledgement, attempts sent in the measured window), skipped
offers, server / load-client / machine CPU. Afterwards PostgreSQL is counted: no group may hold more
seats than its maximum, and the active seats must be exactly the leaders' plus every seat
acknowledged to a racer.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson
import redis.asyncio as aioredis

from lago_bench.fanout import lago_rt_process, merge_percentiles, service_urls
from lago_bench.pauses import pause_report, read_pauses
from lago_bench.procs import (
    PROJECT_ROOT,
    ClientProcess,
    ServerProcess,
    build_client,
    free_port,
    machine_cpu,
    machine_steal_s,
    proc_cpu_s,
    proc_rss_kb,
)
from lago_bench.scenario import Check, Progress, Scenario, check
from lago_bench.world import BenchWorld, create_world, drop_world, remove_workdir
from lago_core.actor_keys import CHANNEL_KIND, tell_actor
from lago_core.actor_messages import GROUPBUY_SYNC

__all__ = ["SCENARIO", "GroupBuyOptions", "StepPlan", "plan_steps", "run_groupbuy"]

NS = 1_000_000_000
TARGET_JOINS_PER_S = 5_000
TARGET_P99_MS = 100.0
PER_USER_LIMIT = 10  # the campaigns' seats per member (the schema's maximum)
DEFAULT_RATES = "2000,3000,4000,5000,6000,7000,8000"
EXPECTED_CODES = {"ok", "already", "group_full", "limit_reached"}
SERVER_ENV = {"LAGO_CLIENT_MSGS_PER_S": "10000", "LAGO_CLIENT_MSG_BURST": "100000"}


@dataclass(frozen=True)
class GroupBuyOptions:
    members: int = 3_000
    leaders: int = 100
    max_members: int = 10
    hot: int = 32
    rates: tuple[float, ...] = (2000.0, 3000.0, 4000.0, 5000.0, 6000.0, 7000.0, 8000.0)
    step_s: float = 3.0  # measured window of a step
    lead_in_s: float = 0.5  # offered, not measured
    drain_s: float = 1.5  # at least this long after a step's offers end ...
    drain_max_s: float = 10.0  # ... and until nothing is outstanding, or this long
    warmup_rate: float = 1_000.0
    client_processes: int = 2
    keep_up: float = 0.9  # answered in the window / offered, at least
    p99_bound_ms: float = 1_000.0
    connect_timeout_s: float = 300.0
    seed: int = 1

    @property
    def racers(self) -> int:
        return self.members - self.leaders


@dataclass(frozen=True)
class StepPlan:
    step: int
    role: str  # "warm-up" or "measured"
    rate: float  # attempts/s offered by all load processes together
    lead_in_s: float
    window_s: float
    seats: int  # free seats provisioned (leaders' seats not included)
    groups: list[uuid.UUID] = field(default_factory=list)
    campaign: uuid.UUID = field(default_factory=uuid.uuid4)


def plan_steps(opts: GroupBuyOptions) -> list[StepPlan]:
    """The warm-up step and one step per rate, each with enough groups for all it may offer."""
    free = opts.max_members - 1  # the leader holds seat 1
    # The hot window of each process must never run dry, even at the end of a step.
    margin = 2 * opts.hot * free * opts.client_processes
    warm_window = max(0.5, opts.racers / opts.warmup_rate)
    specs = [("warm-up", opts.racers / warm_window, 0.0, warm_window)]
    specs += [("measured", rate, opts.lead_in_s, opts.step_s) for rate in opts.rates]
    steps: list[StepPlan] = []
    for i, (role, rate, lead_in, window) in enumerate(specs):
        wanted = math.ceil(1.1 * rate * (lead_in + window))
        seats = min(wanted, opts.racers * PER_USER_LIMIT) + margin
        groups = [uuid.uuid4() for _ in range(math.ceil(seats / free))]
        steps.append(StepPlan(i, role, rate, lead_in, window, seats, groups))
    return steps


# --- setup: the campaigns, then each step's groups ------------------------------------------------


async def _campaigns(world: BenchWorld, opts: GroupBuyOptions, steps: list[StepPlan]) -> None:
    """A merchant, a catalogue item and one campaign per step, offered in the bench community."""
    now = datetime.now(UTC)
    merchant, item = uuid.uuid4(), uuid.uuid4()
    community = uuid.UUID(world.community_id)
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
            await conn.executemany(
                """
                INSERT INTO group_buy_campaigns
                    (id, merchant_id, organiser, created_by, title, item_id, group_price_fen,
                     original_price_fen, min_members, max_members, valid_hours, per_user_limit,
                     stock, seats_taken, payment_window_s, created_at, updated_at)
                VALUES ($1, $2, 'platform', $3, $4, $5, 9900, 20000, 2, $6, 24, $7,
                        NULL, 0, 900, $8, $8)
                """,
                [
                    (
                        s.campaign,
                        merchant,
                        world.user_ids[0],
                        f"bench group buy, step {s.step}",
                        item,
                        opts.max_members,
                        PER_USER_LIMIT,
                        now,
                    )
                    for s in steps
                ],
            )
            await conn.executemany(
                "INSERT INTO group_buy_campaign_communities (campaign_id, community_id) "
                "VALUES ($1, $2)",
                [(s.campaign, community) for s in steps],
            )
    finally:
        await conn.close()


async def _insert_groups(world: BenchWorld, opts: GroupBuyOptions, step: StepPlan) -> None:
    """The step's groups, each with its leader in seat 1: leaders taken round-robin, backwards so
    that the last group's is the first leader (the probe)."""
    now = datetime.now(UTC)
    community = uuid.UUID(world.community_id)
    n = len(step.groups)
    leaders = [world.user_ids[(n - 1 - i) % opts.leaders] for i in range(n)]
    expires = now + timedelta(hours=24)
    conn = await asyncpg.connect(world.dsn)
    try:
        async with conn.transaction():
            await conn.copy_records_to_table(
                "group_buys",
                columns=[
                    "id",
                    "campaign_id",
                    "community_id",
                    "leader_id",
                    "min_members",
                    "max_members",
                    "status",
                    "expires_at",
                    "created_at",
                ],
                records=[
                    (
                        gid,
                        step.campaign,
                        community,
                        leaders[i],
                        2,
                        opts.max_members,
                        "open",
                        expires,
                        now + timedelta(microseconds=i),  # keeps the file's order in the channel
                    )
                    for i, gid in enumerate(step.groups)
                ],
            )
            await conn.copy_records_to_table(
                "group_buy_seats",
                columns=[
                    "id",
                    "group_id",
                    "max_members",
                    "campaign_id",
                    "user_id",
                    "seat_no",
                    "status",
                    "reserved_until",
                    "joined_at",
                ],
                records=[
                    (
                        uuid.uuid4(),
                        gid,
                        opts.max_members,
                        step.campaign,
                        leaders[i],
                        1,
                        "reserved",
                        now + timedelta(seconds=900),
                        now,
                    )
                    for i, gid in enumerate(step.groups)
                ],
            )
            await conn.execute(
                "UPDATE group_buy_campaigns SET seats_taken = seats_taken + $2 WHERE id = $1",
                step.campaign,
                len(step.groups),
            )
    finally:
        await conn.close()


async def _announce(world: BenchWorld, groups: list[uuid.UUID]) -> None:
    """Tell the channel actor about the new groups (``groupbuy.sync``: it loads them from the
    database, as after a payment made elsewhere), a thousand at a time."""
    client = aioredis.Redis.from_url(world.redis_url)
    try:
        for start in range(0, len(groups), 1_000):
            told = await tell_actor(
                client,
                world.redis_prefix,
                CHANNEL_KIND,
                world.community_id,
                GROUPBUY_SYNC,
                {"group_ids": [str(g) for g in groups[start : start + 1_000]]},
            )
            if not told:
                raise RuntimeError("the channel actor did not receive groupbuy.sync")
    finally:
        await client.aclose()


async def _quiet(pid: int, within: float, busy_below: float = 0.15) -> float:
    """Seconds until the process used less than ``busy_below`` of a core over half a second."""
    started = time.perf_counter()
    while time.perf_counter() - started < within:
        before = proc_cpu_s(pid)
        await asyncio.sleep(0.5)
        if proc_cpu_s(pid) - before < busy_below * 0.5:
            break
    return round(time.perf_counter() - started, 1)


class _Probe:
    """One socket.io connection (aiohttp, no python-socketio) of the first leader, who leads the
    last group of every step: a join of that group answers ``already`` once the channel actor has
    loaded it. Channel events are read and dropped."""

    def __init__(self, http: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.http = http
        self.ws = ws
        self._next_id = 0
        self._acks: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._connected: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, port: int, token: str, community_id: str) -> _Probe:
        http = aiohttp.ClientSession()
        try:
            ws = await http.ws_connect(
                f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket",
                autoping=False,
                max_msg_size=0,
            )
            opened = await ws.receive_str(timeout=10)
            if not opened.startswith("0"):
                raise RuntimeError(f"probe: no engine.io open packet: {opened[:80]}")
            await ws.send_str("40" + orjson.dumps({"token": token}).decode())
            probe = cls(http, ws)
        except BaseException:
            await http.close()
            raise
        try:
            await asyncio.wait_for(probe._connected, 10)
            for _ in range(5):
                reply = await probe.call("channel:join", {"community_id": community_id})
                if reply.get("ok"):
                    return probe
                if reply.get("error", {}).get("code") != "channel_unavailable":
                    break
            raise RuntimeError(f"probe: channel:join refused: {str(reply)[:200]}")
        except BaseException:
            await probe.close()
            raise

    async def _read(self) -> None:
        with contextlib.suppress(asyncio.CancelledError, aiohttp.ClientError):
            async for message in self.ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    break
                data: str = message.data
                if data == "2":
                    await self.ws.send_str("3")
                elif data.startswith("43"):
                    bracket = data.index("[")
                    fut = self._acks.pop(int(data[2:bracket]), None)
                    if fut is not None and not fut.done():
                        fut.set_result(orjson.loads(data[bracket:])[0])
                elif data.startswith("40") and not self._connected.done():
                    self._connected.set_result(None)
                elif data.startswith("44") and not self._connected.done():
                    self._connected.set_exception(RuntimeError(f"probe refused: {data[:200]}"))
        waiting: list[asyncio.Future[Any]] = [*self._acks.values(), self._connected]
        for pending in waiting:
            if not pending.done():
                pending.set_exception(ConnectionError("probe: socket closed"))

    async def call(
        self, event: str, payload: dict[str, Any], within: float = 30.0
    ) -> dict[str, Any]:
        self._next_id += 1
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._acks[self._next_id] = fut
        await self.ws.send_str(f"42{self._next_id}" + orjson.dumps([event, payload]).decode())
        return await asyncio.wait_for(fut, within)

    async def loaded(self, community_id: str, group_id: uuid.UUID, within: float) -> None:
        """Until the channel actor holds ``group_id`` (bounded)."""
        deadline = time.monotonic() + within
        payload = {"community_id": community_id, "group_id": str(group_id)}
        while True:
            reply = await self.call("groupbuy:join", payload, max(1.0, deadline - time.monotonic()))
            if reply.get("ok") and reply.get("already"):
                return
            code = reply.get("error", {}).get("code")
            if reply.get("ok") or code not in ("group_not_found", "channel_unavailable"):
                raise RuntimeError(f"probe: unexpected answer {str(reply)[:200]}")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the channel actor did not load the groups within {within:.0f} s"
                )
            await asyncio.sleep(0.2)

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(Exception):
            await self.ws.close()
        await self.http.close()


def _split(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


# --- the run ---------------------------------------------------------------------------------------


class _Run:
    def __init__(self, world: BenchWorld, opts: GroupBuyOptions, server: ServerProcess) -> None:
        self.world = world
        self.opts = opts
        self.server = server
        self.clients: list[ClientProcess] = []
        self.probe: _Probe | None = None
        self.leader_seats = 0
        self.unanswered = 0
        self._steal_pct = 0.0

    async def connect(self, binary: Path, groups_file: Path) -> dict[str, Any]:
        opts, world = self.opts, self.world
        first = opts.leaders
        for i, count in enumerate(_split(opts.racers, opts.client_processes)):
            args = ["--port", str(self.server.port), "--tokens", str(world.tokens_file)]
            args += ["--first", str(first), "--count", str(count), "--join", world.community_id]
            args += ["--race", str(groups_file), "--limit", str(PER_USER_LIMIT)]
            args += ["--hot", str(opts.hot), "--seed", str(opts.seed * 1000 + i + 1)]
            args += ["--max-members", str(opts.max_members)]
            args += ["--connect-timeout", str(opts.connect_timeout_s)]
            self.clients.append(ClientProcess(binary, args, f"racers-{i + 1}"))
            first += count
        rss_before = proc_rss_kb(self.server.pid)
        started = time.monotonic()
        for client in self.clients:
            await client.start()
        ready = await asyncio.gather(
            *(c.read_json(opts.connect_timeout_s + 30) for c in self.clients)
        )
        connect_s = time.monotonic() - started
        joined = sum(int(r["ready"]) for r in ready)
        if joined != opts.racers:
            errors = "; ".join(str(r.get("error")) for r in ready if r.get("error"))
            raise RuntimeError(
                f"only {joined} of {opts.racers} racers joined the channel: {errors}\n"
                f"server log:\n{self.server.tail()}"
            )
        token = world.tokens_file.read_text().split("\n", 1)[0]
        self.probe = await _Probe.open(self.server.port, token, world.community_id)
        # Every join acknowledged does not mean the node is done: it is still delivering the
        # presence events of the join storm. Start once it has gone quiet.
        settle_s = await _quiet(self.server.pid, opts.connect_timeout_s)
        return {
            "racers_joined": joined,
            "connect_and_join_s": round(connect_s, 1),
            "settle_s": settle_s,
            "server_rss_mb_before": round(rss_before / 1024, 1),
            "server_rss_mb_after_join": round(proc_rss_kb(self.server.pid) / 1024, 1),
        }

    async def provision(self, step: StepPlan) -> float:
        """Write the step's groups and have the channel actor load them; seconds it took."""
        started = time.monotonic()
        await _insert_groups(self.world, self.opts, step)
        self.leader_seats += len(step.groups)
        await _announce(self.world, step.groups)
        # The actor loads them one by one from its mailbox, in order: when it holds the last one
        # it holds them all.
        assert self.probe is not None
        await self.probe.loaded(
            self.world.community_id, step.groups[-1], 60 + 0.1 * len(step.groups)
        )
        await _quiet(self.server.pid, 10.0)
        return round(time.monotonic() - started, 1)

    async def step(self, plan: StepPlan, provision_s: float) -> dict[str, Any]:
        opts = self.opts
        now = time.monotonic_ns()
        start = now + int(0.2 * NS)
        measure = start + int(plan.lead_in_s * NS)
        end = measure + int(plan.window_s * NS)
        drained = end + int(opts.drain_s * NS)
        stop = end + int(max(opts.drain_s, opts.drain_max_s) * NS)
        rate = plan.rate / len(self.clients)
        for client in self.clients:
            await client.command(
                f"step {plan.step} {start} {measure} {end} {stop} {rate:.6f} {drained}"
            )
        reading = asyncio.gather(*(c.read_json((stop - now) / NS + 30) for c in self.clients))
        await asyncio.sleep(max(0.0, (measure - time.monotonic_ns()) / NS))
        cpu0, machine0, steal0 = proc_cpu_s(self.server.pid), machine_cpu(), machine_steal_s()
        pauses0 = await read_pauses(self.server.port)
        await asyncio.sleep(max(0.0, (end - time.monotonic_ns()) / NS))
        cpu1, machine1, steal1 = proc_cpu_s(self.server.pid), machine_cpu(), machine_steal_s()
        pauses1 = await read_pauses(self.server.port)
        self._steal_pct = round(100 * (steal1 - steal0) / max(1e-9, machine1[1] - machine0[1]), 1)
        results: list[dict[str, Any]] = list(await reading)
        step = self._summarise(plan, provision_s, results, cpu1 - cpu0, machine0, machine1)
        step["pauses"] = pause_report(pauses0, pauses1)
        return step

    def _summarise(
        self,
        plan: StepPlan,
        provision_s: float,
        results: list[dict[str, Any]],
        server_cpu_s: float,
        machine0: tuple[float, float],
        machine1: tuple[float, float],
    ) -> dict[str, Any]:
        opts = self.opts
        window = plan.window_s
        outcomes: dict[str, int] = {}
        for r in results:
            for code, n in r["codes"].items():
                outcomes[code] = outcomes.get(code, 0) + int(n)
        total = {
            k: sum(int(r[k]) for r in results)
            for k in (
                "offered",
                "sent",
                "sent_window",
                "skipped",
                "skipped_no_group",
                "skipped_no_connection",
                "answered",
                "answered_window",
                "ok_window",
                "outstanding",
                "late",
                "late_ok",
                "lost",
                "closed",
                "events",
                "event_bytes",
            )
        }
        answered = total["answered"]
        cores = os.cpu_count() or 1
        step: dict[str, Any] = {
            "step": plan.step,
            "role": plan.role,
            "offered_per_s": round(plan.rate, 1),
            "lead_in_s": plan.lead_in_s,
            "window_s": window,
            "groups": len(plan.groups),
            "free_seats": len(plan.groups) * (opts.max_members - 1),
            "provision_s": provision_s,
            "offered": total["offered"],
            "sent": total["sent"],
            "answered": answered,
            "answered_per_s": round(total["answered_window"] / window, 1),
            "joins_per_s": round(total["ok_window"] / window, 1),
            "joins": outcomes.get("ok", 0),
            "outcomes": dict(sorted(outcomes.items(), key=lambda kv: -kv[1])),
            "group_full_share": round(outcomes.get("group_full", 0) / answered, 3)
            if answered
            else 0.0,
            **merge_percentiles([r["hist"] for r in results]),
            "latency_samples": sum(int(r["latency_samples"]) for r in results),
            "skipped": total["skipped"],
            "skipped_no_group": total["skipped_no_group"],
            "skipped_no_connection": total["skipped_no_connection"],
            "outstanding_at_stop": total["outstanding"],
            "late_from_earlier_steps": total["late"],
            "connections_closed": total["closed"],
            "events_per_racer": round(total["events"] / opts.racers, 1),
            "avg_event_bytes": round(total["event_bytes"] / total["events"])
            if total["events"]
            else 0,
            "server_cpu_pct": round(100 * server_cpu_s / window, 1),
            "client_cpu_pct": [
                round(100 * max(0.0, float(r["cpu_window_s"])) / window, 1) for r in results
            ],
            # Everything on the machine (server, clients, PostgreSQL, Redis, kernel), % of all
            # cores.
            "machine_cpu_steal_pct": self._steal_pct,
            "machine_cpu_busy_pct": round(
                100 * (machine1[0] - machine0[0]) / max(1e-9, machine1[1] - machine0[1]), 1
            ),
            "errors": sorted({str(r["error"]) for r in results if r.get("error")}),
            "ok_total": sum(int(r["ok_total"]) for r in results),
        }
        step["other_cpu_pct"] = round(
            max(
                0.0,
                step["machine_cpu_busy_pct"] * cores
                - step["server_cpu_pct"]
                - sum(step["client_cpu_pct"]),
            ),
            1,
        )
        why: list[str] = []
        offered_in_window = plan.rate * window
        if total["answered_window"] < opts.keep_up * offered_in_window:
            why.append(
                f"answered {total['answered_window']} in the window < "
                f"{opts.keep_up:.0%} of {offered_in_window:.0f} offered"
            )
        if step["p99_ms"] > opts.p99_bound_ms:
            why.append(f"p99 {step['p99_ms']} ms > {opts.p99_bound_ms:g} ms")
        if total["skipped"]:
            why.append(f"{total['skipped']} offers skipped (no idle racer or open group)")
        if total["closed"]:
            why.append(f"{total['closed']} connections closed")
        step["kept_up"] = not why
        step["not_kept_up_because"] = why
        self.unanswered = total["outstanding"]
        return step

    async def finish(self) -> int:
        """Wait (bounded) for the attempts still unanswered, then stop the load processes; the
        ok acknowledgements of the whole run, late ones included."""
        if self.unanswered:
            now = time.monotonic_ns()
            stop = now + int(self.opts.drain_max_s * NS)
            for client in self.clients:
                await client.command(f"step 999999 {now} {now} {now} {stop} 0 {now}")
            results = await asyncio.gather(
                *(c.read_json(self.opts.drain_max_s + 30) for c in self.clients)
            )
            self.unanswered = sum(int(r["outstanding"]) for r in results)
        ok_total = unanswered = 0
        for client in self.clients:
            await client.command("quit")
            final = await client.read_json(30)
            ok_total += int(final["ok_total"])
            unanswered += int(final["outstanding"])
        self.unanswered = unanswered
        return ok_total

    async def close(self) -> None:
        if self.probe is not None:
            await self.probe.close()
        for client in self.clients:
            await client.stop()


async def _seats(world: BenchWorld) -> dict[str, int]:
    conn = await asyncpg.connect(world.dsn)
    try:
        rows = await conn.fetch(
            "SELECT g.max_members, count(s.id) AS n FROM group_buys g "
            "LEFT JOIN group_buy_seats s ON s.group_id = g.id "
            "AND s.status IN ('reserved', 'paid') GROUP BY g.id, g.max_members"
        )
        taken = await conn.fetchval("SELECT coalesce(sum(seats_taken), 0) FROM group_buy_campaigns")
        inactive = await conn.fetchval(
            "SELECT count(*) FROM group_buy_seats WHERE status NOT IN ('reserved', 'paid')"
        )
    finally:
        await conn.close()
    return {
        "total": sum(r["n"] for r in rows),
        "oversold": sum(max(0, r["n"] - r["max_members"]) for r in rows),
        "fullest": max((r["n"] for r in rows), default=0),
        "full_groups": sum(1 for r in rows if r["n"] >= r["max_members"]),
        "groups": len(rows),
        "campaign_seats_taken": int(taken),
        "inactive": int(inactive),
    }


def _step_line(s: dict[str, Any]) -> str:
    flag = "" if s["kept_up"] or s["role"] != "measured" else "  [not kept up]"
    return (
        f"groupbuy: step {s['step']} ({s['role']}) offered {s['offered_per_s']:,.0f}/s -> "
        f"answered {s['answered_per_s']:,.0f}/s, joins {s['joins_per_s']:,.0f}/s, "
        f"p50 {s['p50_ms']} ms p99 {s['p99_ms']} ms, group_full {s['group_full_share']:.0%}, "
        f"skipped {s['skipped']}, server CPU {s['server_cpu_pct']}%, clients "
        f"{s['client_cpu_pct']}%{_pause_text(s.get('pauses') or {})}{flag}"
    )


def _pause_text(p: dict[str, Any]) -> str:
    if not p:
        return ""
    gc = p["gc"]
    lag = p["loop_lag"]
    collections = "/".join(f"{gc[g]['count']}" for g in ("0", "1", "2"))
    return (
        f", gc {collections} ({sum(gc[g]['total_ms'] for g in gc):.0f} ms, worst "
        f"≤{max(gc[g]['worst_le_ms'] for g in gc):g} ms, "
        f"{sum(gc[g].get('collected', 0) for g in gc):,} freed), "
        f"loop lag > 50 ms {lag['over_50ms']}x (worst ≤{lag['worst_le_ms']:g} ms)"
    )


async def run_groupbuy(
    admin_dsn: str,
    redis_url: str,
    workdir: Path,
    opts: GroupBuyOptions,
    progress: Progress,
) -> dict[str, Any]:
    binary = build_client()
    plan = plan_steps(opts)
    groups_file = workdir / "groups.txt"
    groups_file.write_text("".join(f"{s.step} {gid}\n" for s in plan for gid in s.groups))
    progress(f"creating {opts.members} members in a fresh database ...")
    world = await create_world(admin_dsn, redis_url, opts.members, workdir)
    server: ServerProcess | None = None
    run: _Run | None = None
    began = time.monotonic()
    try:
        await _campaigns(world, opts, plan)
        server = lago_rt_process(
            "lago",
            "bench-groupbuy",
            free_port(),
            world,
            workdir / "lago-rt-groupbuy.log",
            SERVER_ENV,
        )
        await server.start()
        run = _Run(world, opts, server)
        setup = await run.connect(binary, groups_file)
        progress(
            f"groupbuy: {setup['racers_joined']} racers joined in {setup['connect_and_join_s']} s "
            f"(node quiet {setup['settle_s']} s later)"
        )
        steps: list[dict[str, Any]] = []
        for step_plan in plan:
            provision_s = await run.provision(step_plan)
            step = await run.step(step_plan, provision_s)
            steps.append(step)
            progress(_step_line(step) + f"  (groups loaded in {provision_s} s)")
            if step["role"] == "measured" and not step["kept_up"]:
                break
        ok_total = await run.finish()
        leader_seats, unanswered = run.leader_seats, run.unanswered
        seats = await _seats(world)
        rss_mb = round(proc_rss_kb(server.pid) / 1024, 1)
    finally:
        if run is not None:
            await run.close()
        if server is not None:
            await server.stop()
        await drop_world(world)
    measured = [s for s in steps if s["role"] == "measured"]
    good = [s for s in measured if s["kept_up"] and s["p99_ms"] <= TARGET_P99_MS]
    best = max(good, key=lambda s: s["joins_per_s"], default=None)
    saturation = max(measured, key=lambda s: s["joins_per_s"], default=None)
    expected = leader_seats + ok_total
    return {
        "settings": {
            "members": opts.members,
            "leaders": opts.leaders,
            "racers": opts.racers,
            "max_members": opts.max_members,
            "per_user_limit": PER_USER_LIMIT,
            "hot": opts.hot,
            "rates": list(opts.rates),
            "client_processes": opts.client_processes,
            "step_s": opts.step_s,
            "lead_in_s": opts.lead_in_s,
            "drain_s": [opts.drain_s, opts.drain_max_s],
            "warm_up": {"rate": round(plan[0].rate, 1), "seconds": plan[0].window_s},
            "kept_up_when": f"answered in the window ≥ {opts.keep_up:.0%} of offered, p99 ≤ "
            f"{opts.p99_bound_ms:g} ms, no offer skipped",
            "lago_server_env": {**SERVER_ENV, "LAGO_LOG_LEVEL": "WARNING"},
            "load_client": "lago_bench/wsclient.c --race (epoll, cc -O2)",
        },
        "setup": setup,
        "steps": steps,
        "summary": {
            "best_joins_per_s_p99_100ms": {
                "joins_per_s": best["joins_per_s"],
                "p99_ms": best["p99_ms"],
                "offered_per_s": best["offered_per_s"],
            }
            if best
            else None,
            "saturation_joins_per_s": saturation["joins_per_s"] if saturation else None,
            "saturation_at_offered_per_s": saturation["offered_per_s"] if saturation else None,
            "saturation_p99_ms": saturation["p99_ms"] if saturation else None,
            # From PostgreSQL after the run: seats above a group's maximum (must be 0), and the
            # active seats against the leaders' plus every ok acknowledged to a racer.
            "oversold": seats["oversold"],
            "seats_in_db": seats["total"],
            "seats_expected": expected,
            "leader_seats": leader_seats,
            "acknowledged_joins": ok_total,
            "unanswered_at_end": unanswered,
            "fullest_group": seats["fullest"],
            "full_groups": seats["full_groups"],
            "groups_in_db": seats["groups"],
            "campaign_seats_taken": seats["campaign_seats_taken"],
            "inactive_seats": seats["inactive"],
        },
        "server_rss_mb": rss_mb,
        "cores": os.cpu_count(),
        "wall_s": round(time.monotonic() - began, 1),
    }


# --- the `lago bench groupbuy` scenario -----------------------------------------------------------


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--members", type=int, default=3_000, help="channel members (default 3000)")
    p.add_argument(
        "--leaders",
        type=int,
        default=100,
        help="the first members lead the groups and never connect (default 100)",
    )
    p.add_argument("--max-members", type=int, default=10, help="seats per group (default 10)")
    p.add_argument(
        "--hot",
        type=int,
        default=32,
        help="racers aim at the first this many groups not seen full (default 32)",
    )
    p.add_argument(
        "--rates",
        default=DEFAULT_RATES,
        help=f"join attempts/s offered in all, one measured step each (default {DEFAULT_RATES}); "
        "stops after the first step that does not keep up",
    )
    p.add_argument(
        "--step-s", type=float, default=3.0, help="measured seconds per step (default 3)"
    )
    p.add_argument("--client-processes", type=int, default=2, help="load processes (default 2)")


def _options(args: argparse.Namespace) -> GroupBuyOptions:
    try:
        rates = tuple(float(r) for r in str(args.rates).split(",") if r.strip())
    except ValueError:
        raise ValueError(f"--rates must be comma-separated numbers, not {args.rates!r}") from None
    if not rates or len(rates) > 30 or any(not 0 < r <= 100_000 for r in rates):
        raise ValueError("--rates needs 1 to 30 rates, each above 0 and at most 100000 per second")
    if not 10 <= args.members <= 20_000:
        raise ValueError("--members must be 10 to 20000")
    if not 1 <= args.leaders <= args.members // 2:
        raise ValueError("--leaders must be at least 1 and at most half of --members")
    if not 2 <= args.max_members <= 100:
        raise ValueError("--max-members must be 2 to 100")
    if not 1 <= args.hot <= 1024:
        raise ValueError("--hot must be 1 to 1024")
    if not 0.5 <= args.step_s <= 60:
        raise ValueError("--step-s must be 0.5 to 60")
    racers = args.members - args.leaders
    if not 1 <= args.client_processes <= min(16, racers):
        raise ValueError("--client-processes must be 1 to 16 (and at most one per racer)")
    opts = GroupBuyOptions(
        members=args.members,
        leaders=args.leaders,
        max_members=args.max_members,
        hot=args.hot,
        rates=rates,
        step_s=args.step_s,
        client_processes=args.client_processes,
    )
    # Each racer may hold PER_USER_LIMIT seats of a step's campaign: a rate that could seat more
    # in a step than all racers may hold would end in skipped offers, a limit of the load.
    ceiling = racers * PER_USER_LIMIT / (opts.lead_in_s + opts.step_s)
    too_fast = [r for r in rates if r > ceiling]
    if too_fast:
        raise ValueError(
            f"--rates {','.join(f'{r:g}' for r in too_fast)}: {racers} racers may hold at most "
            f"{racers * PER_USER_LIMIT} seats a step, i.e. {ceiling:,.0f} attempts/s over "
            f"{opts.lead_in_s + opts.step_s:g} s; lower the rate, --step-s, or add --members"
        )
    return opts


async def groupbuy_main(
    args: argparse.Namespace, progress: Progress | None = None
) -> dict[str, Any]:
    from lago_bench.report import machine

    opts = _options(args)
    say: Progress = progress or (lambda line: None)
    admin_dsn, redis_url = service_urls()
    (PROJECT_ROOT / ".lago-local").mkdir(exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="bench-groupbuy-", dir=PROJECT_ROOT / ".lago-local"))
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    try:
        result = await run_groupbuy(admin_dsn, redis_url, workdir, opts, say)
    finally:
        remove_workdir(workdir)
    return {
        "benchmark": "groupbuy",
        "started_at": started_at,
        "command": " ".join(["lago", *sys.argv[1:]]),
        "machine": machine(),
        **result,
    }


def table(result: dict[str, Any]) -> str:
    """One line per step, then the summary."""
    s = result["settings"]
    lines = [
        f"one lago rt node; {s['members']} members in one channel: {s['leaders']} leaders (none "
        f"racing, one connected to probe), {s['racers']} racers in {s['client_processes']} load processes; groups of "
        f"{s['max_members']}, racers aim at the first {s['hot']} groups not seen full; "
        f"{s['step_s']:g} s measured per step",
        f"{'step':>4} {'role':<8} {'offered/s':>9} {'answered/s':>10} {'joins/s':>8} {'full':>5} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'skipped':>7} {'server':>7} "
        f"{'clients':>11} {'machine':>7} {'steal':>5}  kept up",
    ]
    for st in result["steps"]:
        clients = "/".join(f"{c:.0f}" for c in st["client_cpu_pct"]) + "%"
        kept = "-" if st["role"] != "measured" else ("yes" if st["kept_up"] else "NO")
        lines.append(
            f"{st['step']:>4} {st['role']:<8} {st['offered_per_s']:>9,.0f} "
            f"{st['answered_per_s']:>10,.0f} {st['joins_per_s']:>8,.0f} "
            f"{st['group_full_share']:>5.0%} {st['p50_ms']:>8.1f} {st['p99_ms']:>8.1f} "
            f"{st['max_ms']:>8.1f} {st['skipped']:>7} {st['server_cpu_pct']:>6.0f}% "
            f"{clients:>11} {st['machine_cpu_busy_pct']:>6.0f}% "
            f"{st.get('machine_cpu_steal_pct', 0):>4.0f}%  {kept}"
        )
        other = {k: v for k, v in st["outcomes"].items() if k not in EXPECTED_CODES}
        if other or st["errors"]:
            lines.append(f"     other outcomes {other} {'; '.join(st['errors'])[:200]}")
    summary = result["summary"]
    best = summary["best_joins_per_s_p99_100ms"]
    lines.append(
        "best with p99 ≤ 100 ms: "
        + (
            f"{best['joins_per_s']:,.0f} joins/s (p99 {best['p99_ms']} ms at "
            f"{best['offered_per_s']:,.0f} offered/s)"
            if best
            else "none (no measured step kept up with p99 ≤ 100 ms)"
        )
        + (
            f"; saturation {summary['saturation_joins_per_s']:,.0f} joins/s "
            f"(p99 {summary['saturation_p99_ms']} ms at "
            f"{summary['saturation_at_offered_per_s']:,.0f} offered/s)"
            if summary["saturation_joins_per_s"] is not None
            else ""
        )
    )
    lines.append(
        f"oversold seats {summary['oversold']}; PostgreSQL holds {summary['seats_in_db']} seats, "
        f"expected {summary['seats_expected']} ({summary['leader_seats']} leaders + "
        f"{summary['acknowledged_joins']} acknowledged)"
        + (
            f"; {summary['unanswered_at_end']} attempts unanswered"
            if summary["unanswered_at_end"]
            else ""
        )
    )
    return "\n".join(lines)


def checks(result: dict[str, Any]) -> list[Check]:
    best = result["summary"]["best_joins_per_s_p99_100ms"]
    measured = [s for s in result["steps"] if s["role"] == "measured"]
    label = (
        f"group buys: ≥ {TARGET_JOINS_PER_S:,} joins/s on one node with p99 ≤ {TARGET_P99_MS:g} ms"
    )
    out: list[Check] = []
    if best is not None:
        note = f"p99 {best['p99_ms']} ms at {best['offered_per_s']:,.0f} attempts/s offered"
        out.append(
            check(
                label,
                best["joins_per_s"],
                "joins/s",
                best["joins_per_s"] >= TARGET_JOINS_PER_S,
                note,
            )
        )
    elif measured:
        calmest = min(measured, key=lambda s: s["p99_ms"])
        note = (
            f"no step kept up with p99 ≤ {TARGET_P99_MS:g} ms (lowest p99 "
            f"{calmest['p99_ms']} ms, at {calmest['joins_per_s']:,.0f} joins/s, "
            f"{calmest['offered_per_s']:,.0f} attempts/s offered)"
        )
        out.append(check(label, 0.0, "joins/s", False, note))
    else:
        out.append(check(label, None, "joins/s", None, "no measured step ran"))
    label = "group buys: zero oversell, database = acknowledged seats"
    summary = result["summary"]
    oversold, db, want = summary["oversold"], summary["seats_in_db"], summary["seats_expected"]
    open_ = summary["unanswered_at_end"]
    note = f"{db} seats in PostgreSQL, {want} acknowledged"
    if oversold or db < want or db > want + open_:
        out.append(check(label, oversold, "seats", False, note))
    elif open_:
        # An attempt never answered may or may not have been seated: the count cannot be exact.
        out.append(check(label, oversold, "seats", None, f"{note}, {open_} unanswered"))
    else:
        out.append(check(label, oversold, "seats", True, note))
    return out


SCENARIO = Scenario(
    name="groupbuy",
    help="group-buy joins/s and join latency under contention on one real-time node",
    description="Start a real-time node on 127.0.0.1, connect N members (less the group "
    "leaders) with a compiled load client and offer group-buy join attempts at fixed rates, step "
    "by step, aimed at the few groups with seats left. Reports joins/s, attempts/s, latency "
    "percentiles and outcomes per step, and counts seats in PostgreSQL (oversell, acknowledged "
    "seats). Uses DATABASE_URL / REDIS_URL (creates and drops its own database and Redis keys).",
    configure=configure,
    run=groupbuy_main,
    table=table,
    checks=checks,
    quick=(
        *("--members", "60", "--leaders", "5", "--rates", "100", "--step-s", "1"),
        *("--hot", "4", "--client-processes", "1"),
    ),
)
