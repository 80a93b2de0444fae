"""Several real-time node processes on loopback: one sequence across nodes, and failover.

Each node is a real ``lago rt`` process with a short lease (1 s) and heartbeat (0.2 s), sharing
this test's PostgreSQL database and Redis prefix.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from lago_core.settings import Settings
from lago_rt.channel.presence import presence_changes

from .conftest import CommunityWorld
from .rt_client import ChannelClient

LEASE_MS = 1_000
HEARTBEAT_MS = 200


@dataclass
class NodeProcess:
    node_id: str
    url: str
    process: asyncio.subprocess.Process
    log: Any

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
async def start_node(
    settings: Settings, tmp_path: Path
) -> AsyncIterator[Callable[[str], Awaitable[NodeProcess]]]:
    started: list[NodeProcess] = []

    async def start(node_id: str) -> NodeProcess:
        port = _free_port()
        env = {
            **os.environ,
            **settings.as_env(),
            "LAGO_NODE_ID": node_id,
            "LAGO_RT_PORT": str(port),
            "LAGO_ACTOR_LEASE_MS": str(LEASE_MS),
            "LAGO_NODE_HEARTBEAT_MS": str(HEARTBEAT_MS),
            "LAGO_LOG_LEVEL": "WARNING",
        }
        log = (tmp_path / f"{node_id}.log").open("wb")
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "lago_cli",
            "rt",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
        )
        assert process.stdout is not None
        # `lago rt` prints its address once it listens: wait for that line, not for a timer.
        async with asyncio.timeout(30):
            while True:
                line = await process.stdout.readline()
                if not line:
                    raise AssertionError(
                        f"{node_id} exited: {(tmp_path / f'{node_id}.log').read_text()}"
                    )
                if b"/socket.io/" in line:
                    break
        node = NodeProcess(node_id, f"http://127.0.0.1:{port}", process, log)
        started.append(node)
        return node

    yield start
    for node in started:
        if node.process.returncode is None:
            node.process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(10):
                    await node.process.wait()
            except TimeoutError:
                node.kill()
                await node.process.wait()
        node.log.close()


async def connect(clients: list[ChannelClient], url: str, token: str) -> ChannelClient:
    client = await ChannelClient(url, token).connect()
    clients.append(client)
    return client


async def owner_of(settings: Settings, community_id: str) -> str:
    client = aioredis.Redis.from_url(settings.redis_url)
    try:
        raw = await client.get(f"{settings.redis_prefix}{{ch:{community_id}}}:lease")
    finally:
        await client.aclose()
    assert raw is not None
    return str(raw.decode().split(":", 1)[0])


async def test_two_node_processes_share_one_sequence(
    start_node: Callable[[str], Awaitable[NodeProcess]],
    community: CommunityWorld,
    clients: list[ChannelClient],
) -> None:
    one, two = await asyncio.gather(start_node("n1"), start_node("n2"))
    alice, bob, _ = community.residents
    ca = await connect(clients, one.url, alice.access_token)
    cb = await connect(clients, two.url, bob.access_token)
    assert (await ca.join(community.id))["ok"]
    assert (await cb.join(community.id))["ok"]
    acks = await asyncio.gather(
        *(c.send(community.id, f"msg {i}") for i in range(10) for c in (ca, cb))
    )
    sent = sorted(a["seq"] for a in acks)
    for client in (ca, cb):
        await client.wait_until(lambda c=client: len(c.seqs("chat.message")) == 20)  # type: ignore[misc]
    assert ca.seqs("chat.message") == cb.seqs("chat.message") == sent


async def test_owner_killed_mid_conversation(
    start_node: Callable[[str], Awaitable[NodeProcess]],
    community: CommunityWorld,
    clients: list[ChannelClient],
    settings: Settings,
) -> None:
    nodes = dict(
        zip(("n1", "n2"), await asyncio.gather(start_node("n1"), start_node("n2")), strict=True)
    )
    alice, bob, carol = community.residents
    # Alice and Carol on n1, Bob on n2; Alice's join activates the actor on n1.
    ca = await connect(clients, nodes["n1"].url, alice.access_token)
    first = await ca.join(community.id)
    epoch = first["epoch"]
    cc = await connect(clients, nodes["n1"].url, carol.access_token)
    await cc.join(community.id)
    cb = await connect(clients, nodes["n2"].url, bob.access_token)
    await cb.join(community.id)
    owner = await owner_of(settings, community.id)
    assert owner == "n1"

    acked: dict[int, str] = {}
    for i in range(5):
        for client, who in ((ca, "alice"), (cb, "bob")):
            ack = await client.send(community.id, f"{who} {i}")
            assert ack["ok"], ack
            acked[ack["seq"]] = f"{who} {i}"
    await ca.wait_until(lambda: set(acked) <= set(ca.seqs("chat.message")))
    alice_last = ca.seqs()[-1]

    loop = asyncio.get_running_loop()
    killed_at = loop.time()
    nodes["n1"].kill()
    await nodes["n1"].process.wait()
    # Bob's next message lands on n2, which takes the channel over once n1's lease expires.
    after = await cb.send(community.id, "bob after the crash")
    took = loop.time() - killed_at
    assert after["ok"], after
    acked[after["seq"]] = "bob after the crash"
    assert took < LEASE_MS / 1000 + 1.5, f"failover took {took:.2f}s"
    assert await owner_of(settings, community.id) == "n2"
    for i in range(3):
        later = await cb.send(community.id, f"bob later {i}")
        acked[later["seq"]] = f"bob later {i}"

    # Alice reconnects to n2 and gets exactly what she missed, in order, once.
    back = await connect(clients, nodes["n2"].url, alice.access_token)
    recovered = await back.join(community.id, since={"seq": alice_last, "epoch": epoch})
    assert recovered["recovered"] is True, recovered
    seqs = [e["seq"] for e in recovered["events"]]
    assert seqs == list(range(alice_last + 1, recovered["seq"] + 1))
    missed_chat = [e["seq"] for e in recovered["events"] if e["type"] == "chat.message"]
    assert missed_chat == sorted(s for s in acked if s > alice_last)

    # No acknowledged message was lost: all are in the history.
    history = await back.call("chat:history", {"community_id": community.id, "limit": 100})
    texts = {m["seq"]: m["text"] for m in history["messages"]}
    assert set(acked) <= set(texts)
    assert {s: texts[s] for s in acked} == acked

    # Carol was on the crashed node and never came back: no ghost for long.
    def carol_left() -> bool:
        return any(str(carol.id) in presence_changes(e)[1] for e in cb.events)

    await cb.wait_until(carol_left, within=5)
