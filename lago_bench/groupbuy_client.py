"""Load client of ``lago bench groupbuy``: K socket.io members racing to join group buys.

Run as a subprocess (``python -m lago_bench.groupbuy_client``). It speaks engine.io/socket.io over
a bare aiohttp WebSocket (no python-socketio client: it would cost more CPU than the server under
test), joins the channel with every connection, prints ``{"ready": ...}``, waits for ``go`` on
stdin, then each connection tries to join a random group that it has not seen full, until it has
a seat, every group is full, or it made ``--attempts`` attempts. It prints one JSON result with
every attempt's latency (send → acknowledgement, ms) and its own CPU time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import resource
import sys
import time
from collections import Counter
from typing import Any

import aiohttp
import orjson

__all__ = ["Member", "main"]


class Member:
    """One socket.io connection: acks by id, pings answered, channel events dropped."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self._next_id = 0
        self._acks: dict[int, asyncio.Future[Any]] = {}
        self._connected: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, http: aiohttp.ClientSession, port: int, token: str) -> Member:
        ws = await http.ws_connect(
            f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket",
            autoping=False,
            max_msg_size=0,
        )
        opened = await ws.receive_str(timeout=10)
        if not opened.startswith("0"):
            raise RuntimeError(f"no engine.io open: {opened[:80]}")
        await ws.send_str("40" + orjson.dumps({"token": token}).decode())
        return cls(ws)

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
                    self._connected.set_exception(RuntimeError(data))
        for fut in [*self._acks.values(), self._connected]:
            if not fut.done():
                fut.set_exception(ConnectionError("socket closed"))

    async def connected(self) -> None:
        await asyncio.wait_for(self._connected, 10)

    async def call(self, event: str, payload: dict[str, Any], within: float = 30.0) -> Any:
        self._next_id += 1
        ack_id = self._next_id
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._acks[ack_id] = fut
        await self.ws.send_str(f"42{ack_id}" + orjson.dumps([event, payload]).decode())
        return await asyncio.wait_for(fut, within)

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(Exception):
            await self.ws.close()


async def join_members(
    http: aiohttp.ClientSession, port: int, tokens: list[str], community_id: str
) -> list[Member]:
    gate = asyncio.Semaphore(50)

    async def one(token: str) -> Member:
        async with gate:
            member = await Member.connect(http, port, token)
            await member.connected()
            for _ in range(5):
                reply = await member.call("channel:join", {"community_id": community_id})
                if reply.get("ok"):
                    return member
                # A join storm can keep the channel busy past the forwarding deadline: retry.
                if reply["error"]["code"] != "channel_unavailable":
                    break
            raise RuntimeError(f"channel:join refused: {reply}")

    return list(await asyncio.gather(*(one(t) for t in tokens)))


class Pace:
    """Attempts of the whole process at a fixed rate: each takes the next slot of a schedule."""

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate
        self._start = time.perf_counter()
        self._slots = 0

    async def turn(self) -> None:
        due = self._start + self._slots * self._interval
        self._slots += 1
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)


async def race(
    member: Member,
    community_id: str,
    groups: list[str],
    full: set[str],
    attempts: int,
    rng: random.Random,
    latencies: list[float],
    codes: Counter[str],
    pace: Pace | None = None,
) -> bool:
    for _ in range(attempts):
        open_groups = [g for g in groups if g not in full]
        if not open_groups:
            return False
        if pace is not None:
            await pace.turn()
        group_id = rng.choice(open_groups)
        started = time.perf_counter()
        reply = await member.call(
            "groupbuy:join", {"community_id": community_id, "group_id": group_id}
        )
        latencies.append((time.perf_counter() - started) * 1000)
        if reply.get("ok"):
            codes["ok"] += 1
            return True
        code = reply["error"]["code"]
        codes[code] += 1
        if code == "group_full":
            full.add(group_id)  # what this client has learnt; others learn it themselves
    return False


async def run(args: argparse.Namespace) -> None:
    tokens = args.tokens_file.read_text().split()[args.start : args.start + args.count]
    groups = args.groups.split(",")
    rng = random.Random(args.seed)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        members = await join_members(http, args.port, tokens, args.community)
        print(orjson.dumps({"ready": len(members)}).decode(), flush=True)
        line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        if line.strip() != "go":
            return
        latencies: list[float] = []
        codes: Counter[str] = Counter()
        full: set[str] = set()
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        pace = Pace(args.rate) if args.rate > 0 else None
        await asyncio.gather(
            *(
                race(m, args.community, groups, full, args.attempts, rng, latencies, codes, pace)
                for m in members
            )
        )
        elapsed = time.perf_counter() - started
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
        print(
            orjson.dumps(
                {"elapsed_s": elapsed, "cpu_s": cpu, "codes": codes, "latencies_ms": latencies}
            ).decode(),
            flush=True,
        )
        await asyncio.gather(*(m.close() for m in members))


def main() -> None:
    from pathlib import Path

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tokens-file", type=Path, required=True)
    parser.add_argument("--start", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--community", required=True)
    parser.add_argument("--groups", required=True)
    parser.add_argument("--attempts", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rate", type=float, default=0.0, help="attempts/s; 0: all at once")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
