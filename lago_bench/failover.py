"""``lago bench failover``: how long a channel is unavailable after its owner node is killed.

Each repetition starts two ``lago rt`` nodes (A and B) on 127.0.0.1 with the lease settings of the
run, connects M members to each, all in one channel, and makes A the channel actor's owner (A's
members join first; the lease holder is checked in Redis). After a few messages through B have
reached everyone, A gets SIGKILL: no lease release, no goodbye, like a crashed machine. At once a
member on B sends a chat message (retrying on an error ack, same client message id so it lands
once) and the run measures, from the kill:

- ``ack_s``: until that command is acknowledged through B (B has taken the actor over);
- ``resume_s``: until *every* member on B has received an event newer than the last one before
  the kill (the channel delivers again);
- ``ghosts_cleared_s``: until B's members have seen ``presence.left`` for every member of A
  (sessions of a dead node are pruned at the new owner's ticks).

The kill lands at a random point of A's heartbeat cycle, and the lease time A had left (``PTTL``
just before the kill) is recorded with each repetition.

The lower bound is the rest of A's lease at the kill (between lease − heartbeat and the lease),
plus up to half a heartbeat of polling. Members here are python-socketio clients in this
process: the scenario measures availability, not throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
import socketio

from lago_bench.fanout import lago_rt_process, service_urls
from lago_bench.procs import PROJECT_ROOT, ServerProcess, free_port
from lago_bench.scenario import Check, Progress, Scenario, check
from lago_bench.world import BenchWorld, remove_workdir
from lago_rt.channel.presence import presence_changes

__all__ = ["SCENARIO", "failover_main"]

TARGET_S = 3.0
_ids = itertools.count(1)


class _Member:
    """One socket.io member that records the channel events it receives, with their arrival."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.token = token
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[float, dict[str, Any]]] = []
        self.changed = asyncio.Event()
        self.sio.on("channel:event", handler=self._on_event)

    async def _on_event(self, data: Any) -> None:
        if isinstance(data, dict):
            self.events.append((time.monotonic(), data))
            self.changed.set()

    async def connect(self) -> None:
        await self.sio.connect(
            self.url, auth={"token": self.token}, transports=["websocket"], wait_timeout=10
        )

    async def call(self, event: str, data: dict[str, Any], within: float) -> dict[str, Any]:
        reply: dict[str, Any] = await self.sio.call(event, data, timeout=within)
        return reply

    def last_seq(self) -> int:
        return max((int(e["seq"]) for _, e in self.events), default=0)

    async def wait_for(
        self,
        predicate: Callable[[list[tuple[float, dict[str, Any]]]], float | None],
        deadline: float,
    ) -> float | None:
        """Monotonic time at which ``predicate(events)`` first held, or None by ``deadline``."""
        while True:
            self.changed.clear()
            at = predicate(self.events)
            if at is not None:
                return at
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), remaining)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.sio.disconnect()
        # python-socketio leaves its aiohttp session open when the server vanished.
        http = getattr(self.sio.eio, "http", None)
        if http is not None:
            with contextlib.suppress(Exception):
                await http.close()


async def _lease(world: BenchWorld, community_id: str) -> tuple[str | None, int]:
    """The node holding the channel's lease, and the lease's remaining milliseconds."""
    client = aioredis.Redis.from_url(world.redis_url)
    key = f"{world.redis_prefix}{{ch:{community_id}}}:lease"
    try:
        async with client.pipeline(transaction=True) as pipe:
            raw, ttl = await pipe.get(key).pttl(key).execute()
    finally:
        await client.aclose()
    return (raw.decode().split(":", 1)[0] if raw else None), int(ttl)


async def _repetition(
    rep: int, args: argparse.Namespace, world: BenchWorld, tokens: list[str], workdir: Path
) -> dict[str, Any]:
    env = {
        "LAGO_ACTOR_LEASE_MS": str(args.lease_ms),
        "LAGO_NODE_HEARTBEAT_MS": str(args.heartbeat_ms),
        "LAGO_FORWARD_TIMEOUT_MS": str(args.forward_timeout_ms),
    }
    ids = {"A": f"bench-a{rep}", "B": f"bench-b{rep}"}
    nodes: dict[str, ServerProcess] = {
        name: lago_rt_process(
            f"node {name}", node_id, free_port(), world, workdir / f"{node_id}.log", env
        )
        for name, node_id in ids.items()
    }
    members: dict[str, list[_Member]] = {"A": [], "B": []}
    cid = world.community_id
    per_node = args.members_per_node
    try:
        await asyncio.gather(*(n.start() for n in nodes.values()))
        for index, name in enumerate(("A", "B")):
            url = f"http://127.0.0.1:{nodes[name].port}"
            group = [_Member(url, t) for t in tokens[index * per_node : (index + 1) * per_node]]
            members[name] = group
            await asyncio.gather(*(m.connect() for m in group))
            # A's first member alone first: its join activates the actor on A.
            first = await group[0].call("channel:join", {"community_id": cid}, 15)
            if not first.get("ok"):
                raise RuntimeError(f"join refused on node {name}: {first}")
            joins = await asyncio.gather(
                *(m.call("channel:join", {"community_id": cid}, 15) for m in group[1:])
            )
            refused = [j for j in joins if not j.get("ok")]
            if refused:
                raise RuntimeError(f"join refused on node {name}: {refused[0]}")
        holder, _ = await _lease(world, cid)
        if holder != ids["A"]:
            raise RuntimeError(f"the channel's owner is {holder}, expected {ids['A']}")
        everyone = members["A"] + members["B"]
        sender = members["B"][0]
        # Warm up the forwarding path and check delivery on both nodes before the kill.
        last = 0
        for i in range(3):
            warm = await sender.call(
                "chat:send",
                {"community_id": cid, "client_msg_id": f"fo-{rep}-w{i}", "text": f"before {i}"},
                15,
            )
            if not warm.get("ok"):
                raise RuntimeError(f"a message before the kill was refused: {warm}")
            last = int(warm["seq"])

        def has_last(ev: list[tuple[float, dict[str, Any]]]) -> float | None:
            return next((t for t, e in ev if int(e["seq"]) >= last), None)

        settle = time.monotonic() + 10
        for m in everyone:
            if await m.wait_for(has_last, settle) is None:
                raise RuntimeError("a message before the kill did not reach every member")
        before = max(m.last_seq() for m in members["B"])
        a_users = {str(world.user_ids[i]) for i in range(per_node)}

        # Everything above takes nearly the same time in every repetition, so without this the
        # kill would land at the same point of the owner's heartbeat (lease renewal) cycle each
        # time, and the repetitions would sample one value of the lease left instead of its range.
        await asyncio.sleep(random.uniform(0, args.heartbeat_ms / 1000))
        _, lease_left_ms = await _lease(world, cid)
        killed_at = time.monotonic()
        nodes["A"].kill()
        deadline = killed_at + args.within
        attempts = 0
        ack_at: float | None = None
        ack: dict[str, Any] = {}
        msg_id = f"fo-{rep}-after-{next(_ids)}"
        while time.monotonic() < deadline:
            attempts += 1
            with contextlib.suppress(TimeoutError, socketio.exceptions.TimeoutError):
                ack = await sender.call(
                    "chat:send",
                    {"community_id": cid, "client_msg_id": msg_id, "text": "after the kill"},
                    max(0.1, deadline - time.monotonic()),
                )
                if ack.get("ok"):
                    ack_at = time.monotonic()
                    break

        def resumed(ev: list[tuple[float, dict[str, Any]]]) -> float | None:
            # After the kill: an event newer than `before` may still arrive before it (a presence
            # announcement at the end of its window), which would read as a negative resume.
            return next((t for t, e in ev if int(e["seq"]) > before and t >= killed_at), None)

        def got_ack(ev: list[tuple[float, dict[str, Any]]]) -> float | None:
            seq = int(ack.get("seq", -1))
            return next((t for t, e in ev if int(e["seq"]) == seq), None)

        def ghosts_gone(ev: list[tuple[float, dict[str, Any]]]) -> float | None:
            left: set[str] = set()
            for t, e in ev:
                if int(e["seq"]) > before:
                    left.update(presence_changes(e)[1])
                    if a_users <= left:
                        return t
            return None

        resume = await asyncio.gather(*(m.wait_for(resumed, deadline) for m in members["B"]))
        delivered = await asyncio.gather(*(m.wait_for(got_ack, deadline) for m in members["B"]))
        ghosts = await members["B"][-1].wait_for(ghosts_gone, deadline)
        owner_after, _ = await _lease(world, cid)
        arrived = [r for r in resume if r is not None]

        def since_kill(at: float | None) -> float | None:
            return None if at is None else round(at - killed_at, 3)

        result: dict[str, Any] = {
            "repetition": rep,
            "lease_left_at_kill_s": round(lease_left_ms / 1000, 3),
            "ack_s": since_kill(ack_at),
            "send_attempts": attempts,
            "resume_s": since_kill(max(arrived)) if len(arrived) == len(resume) else None,
            "first_member_resume_s": since_kill(min(arrived, default=None)),
            "ack_delivered_to_all_on_b": all(d is not None for d in delivered),
            "ghosts_cleared_s": since_kill(ghosts),
            "owner_after": owner_after,
        }
        if ack_at is not None:
            # What failover costs beyond waiting out the dead owner's lease: noticing that it
            # expired (polling at half a heartbeat), activating the actor, running the command.
            result["ack_after_lease_expired_s"] = round(
                ack_at - killed_at - lease_left_ms / 1000, 3
            )
        if ack_at is None:
            result["error"] = f"no acknowledgement within {args.within} s: last reply {ack}"
        return result
    finally:
        for m in members["A"] + members["B"]:
            await m.close()
        for n in nodes.values():
            await n.stop()


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--repeats", type=int, default=5, help="kills to measure (default 5)")
    p.add_argument("--members-per-node", type=int, default=10, help="members on each node")
    p.add_argument(
        "--lease-ms",
        type=int,
        default=2_000,
        help="LAGO_ACTOR_LEASE_MS of both nodes (default 2000; the shipped default is 10000)",
    )
    p.add_argument(
        "--heartbeat-ms",
        type=int,
        default=500,
        help="LAGO_NODE_HEARTBEAT_MS of both nodes (default 500; shipped 2000)",
    )
    p.add_argument(
        "--forward-timeout-ms",
        type=int,
        default=5_000,
        help="LAGO_FORWARD_TIMEOUT_MS (default 5000, as shipped): a command's budget",
    )
    p.add_argument(
        "--within", type=float, default=30.0, help="seconds a repetition may wait after the kill"
    )


async def failover_main(
    args: argparse.Namespace, progress: Progress | None = None
) -> dict[str, Any]:
    from lago_bench.report import machine
    from lago_bench.world import create_world, drop_world

    if not 1 <= args.repeats <= 50:
        raise ValueError("--repeats must be 1 to 50")
    if not 1 <= args.members_per_node <= 200:
        raise ValueError("--members-per-node must be 1 to 200")
    if args.heartbeat_ms * 2 > args.lease_ms:
        raise ValueError("--heartbeat-ms must be at most half of --lease-ms (as lago rt demands)")
    if not 1 <= args.within <= 120:
        raise ValueError("--within must be 1 to 120 seconds")
    say: Progress = progress or (lambda line: None)
    admin_dsn, redis_url = service_urls()
    (PROJECT_ROOT / ".lago-local").mkdir(exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="bench-failover-", dir=PROJECT_ROOT / ".lago-local"))
    started = time.monotonic()
    result: dict[str, Any] = {
        "benchmark": "failover",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["lago", *sys.argv[1:]]),
        "machine": machine(),
        "settings": {
            "repeats": args.repeats,
            "members_per_node": args.members_per_node,
            "nodes": 2,
            "LAGO_ACTOR_LEASE_MS": args.lease_ms,
            "LAGO_NODE_HEARTBEAT_MS": args.heartbeat_ms,
            "LAGO_FORWARD_TIMEOUT_MS": args.forward_timeout_ms,
            "kill": "SIGKILL of the node owning the channel actor",
        },
        "repetitions": [],
    }
    world = await create_world(admin_dsn, redis_url, 2 * args.members_per_node, workdir)
    try:
        tokens = world.tokens_file.read_text().split()
        for rep in range(1, args.repeats + 1):
            try:
                outcome = await _repetition(rep, args, world, tokens, workdir)
            except (RuntimeError, TimeoutError, OSError, socketio.exceptions.SocketIOError) as exc:
                outcome = {"repetition": rep, "error": str(exc) or type(exc).__name__}
            result["repetitions"].append(outcome)
            say(_line(outcome))
    finally:
        await drop_world(world)
        remove_workdir(workdir)
    result["summary"] = _summary(result["repetitions"])
    result["wall_s"] = round(time.monotonic() - started, 1)
    return result


def _stats(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
    }


def _summary(reps: list[dict[str, Any]]) -> dict[str, Any]:
    good = [r for r in reps if "error" not in r]
    out: dict[str, Any] = {"repetitions": len(reps), "succeeded": len(good)}
    for key in (
        "lease_left_at_kill_s",
        "ack_s",
        "ack_after_lease_expired_s",
        "resume_s",
        "ghosts_cleared_s",
    ):
        out[key] = _stats([r[key] for r in good if r.get(key) is not None])
    return out


def _line(r: dict[str, Any]) -> str:
    if "error" in r:
        return f"failover: repetition {r['repetition']} FAILED: {r['error']}"
    return (
        f"failover: repetition {r['repetition']}: ack {r['ack_s']} s "
        f"({r['send_attempts']} attempt(s)), all members on B receive again {r['resume_s']} s, "
        f"ghosts cleared {r['ghosts_cleared_s']} s, owner now {r['owner_after']}"
    )


def table(result: dict[str, Any]) -> str:
    s = result["settings"]
    lines = [
        f"two lago rt nodes, {s['members_per_node']} members each in one channel; SIGKILL of the "
        f"owner; LAGO_ACTOR_LEASE_MS={s['LAGO_ACTOR_LEASE_MS']} "
        f"LAGO_NODE_HEARTBEAT_MS={s['LAGO_NODE_HEARTBEAT_MS']} "
        f"LAGO_FORWARD_TIMEOUT_MS={s['LAGO_FORWARD_TIMEOUT_MS']}",
        "",
        f"{'rep':>3} {'lease left':>10} {'ack s':>7} {'resume s':>9} {'ghosts s':>9} {'tries':>5}"
        "  owner after",
    ]
    for r in result["repetitions"]:
        if "error" in r:
            lines.append(f"{r['repetition']:>3} FAILED: {r['error']}")
            continue
        lines.append(
            f"{r['repetition']:>3} {_num(r['lease_left_at_kill_s']):>10} {_num(r['ack_s']):>7} "
            f"{_num(r['resume_s']):>9} "
            f"{_num(r['ghosts_cleared_s']):>9} {r['send_attempts']:>5}  {r['owner_after']}"
        )
    lines.append("")
    for key, label in (
        ("lease_left_at_kill_s", "lease the dead owner had left at the kill"),
        ("ack_s", "kill -> command acknowledged through the survivor"),
        ("ack_after_lease_expired_s", "lease expired -> acknowledged (takeover itself)"),
        ("resume_s", "kill -> every member on the survivor receives again"),
        ("ghosts_cleared_s", "kill -> the dead node's members shown as left"),
    ):
        st = result["summary"].get(key)
        if st:
            lines.append(f"{label}: median {st['median']} s, min {st['min']} s, max {st['max']} s")
        else:
            lines.append(f"{label}: not measured")
    return "\n".join(lines)


def _num(v: float | None) -> str:
    return "—" if v is None else f"{v:.3f}"


def checks(result: dict[str, Any]) -> list[Check]:
    summary = result.get("summary", {})
    label = f"failover: kill -> acknowledged ≤ {TARGET_S:g} s (max of repetitions)"
    ack = summary.get("ack_s")
    failed = summary.get("repetitions", 0) - summary.get("succeeded", 0)
    if not ack:
        return [check(label, None, "s", None, "no repetition succeeded")]
    note = f"{failed} repetition(s) failed" if failed else ""
    met = ack["max"] <= TARGET_S and not failed
    out = [check(label, ack["max"], "s", met, note)]
    resume = summary.get("resume_s")
    label = f"failover: kill -> members receive again ≤ {TARGET_S:g} s (max)"
    if resume:
        out.append(check(label, resume["max"], "s", resume["max"] <= TARGET_S and not failed))
    else:
        out.append(check(label, None, "s", None, "not measured"))
    return out


SCENARIO = Scenario(
    name="failover",
    help="time from SIGKILL of a channel's owner node until the channel works again",
    description="Start two lago rt nodes on 127.0.0.1 with members on both in one channel, "
    "SIGKILL the owner and measure until a command through the survivor is acknowledged and "
    "its members receive again; several repetitions. Uses DATABASE_URL / REDIS_URL.",
    configure=configure,
    run=failover_main,
    table=table,
    checks=checks,
    quick=(
        "--repeats",
        "1",
        "--members-per-node",
        "2",
        "--lease-ms",
        "1000",
        "--heartbeat-ms",
        "200",
    ),
)
