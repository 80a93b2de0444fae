"""The real-time node's listener (``lago_rt/transport/listener.py``, ``websocket.py``), spoken to
byte by byte over plain TCP: what no client library would send — heads cut anywhere, broken
upgrade headers, oversized heads and frames, fragments, control frames, unmasked and reserved
bits, invalid UTF-8, a probe that fails — each answered the way HTTP or RFC 6455 says, the
connection alone affected, and every other request on the port still served by aiohttp.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import struct
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import orjson
import pytest

from lago_core.container import Core
from lago_core.settings import Settings
from lago_rt.app import RT_NODE, RtNode, create_rt_app
from lago_rt.transport.listener import accept_key, parse_head

from .conftest import CommunityWorld
from .node_server import NodeServer
from .waiting import until

MAX_MESSAGE = 4_096


@pytest.fixture
async def node(settings: Settings, core: Core, node_server: Any) -> tuple[int, RtNode]:
    small = replace(settings, max_message_bytes=MAX_MESSAGE, connect_timeout_ms=30_000)
    server: NodeServer = await node_server(create_rt_app(small, core=core))
    return server.port, server.app[RT_NODE]


def handshake(path: str = "/socket.io/?EIO=4&transport=websocket", **headers: str) -> bytes:
    base = {
        "Host": "127.0.0.1",
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
    }
    base.update({k.replace("_", "-"): v for k, v in headers.items()})
    lines = [f"GET {path} HTTP/1.1", *(f"{k}: {v}" for k, v in base.items() if v != "-")]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def frame(
    payload: bytes, opcode: int = 0x1, *, fin: bool = True, mask: bool = True, rsv: int = 0
) -> bytes:
    """A client frame (masked unless told otherwise)."""
    first = (0x80 if fin else 0) | rsv << 4 | opcode
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", first, (0x80 if mask else 0) | n)
    elif n < 65_536:
        head = struct.pack("!BBH", first, (0x80 if mask else 0) | 126, n)
    else:
        head = struct.pack("!BBQ", first, (0x80 if mask else 0) | 127, n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


class Wire:
    """One TCP connection to the node, read a frame or a response at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Wire:
        wire = cls(*await asyncio.open_connection("127.0.0.1", port))
        _OPENED.append(wire)
        return wire

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def response(self) -> tuple[int, dict[str, str], bytes]:
        """An HTTP response: status, headers (lower-case names), body (by Content-Length)."""
        async with asyncio.timeout(5):
            head = await self.reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ")[1])
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            size = int(headers.get("content-length", "0"))
            body = await self.reader.readexactly(size) if size else b""
        return status, headers, body

    async def frame(self) -> tuple[int, bytes]:
        """The next server frame: (opcode, payload)."""
        async with asyncio.timeout(5):
            first, second = await self.reader.readexactly(2)
            assert second & 0x80 == 0, "a server frame is never masked"
            n = second & 0x7F
            if n == 126:
                (n,) = struct.unpack("!H", await self.reader.readexactly(2))
            elif n == 127:
                (n,) = struct.unpack("!Q", await self.reader.readexactly(8))
            return first & 0x0F, await self.reader.readexactly(n)

    async def text(self) -> str:
        """The next text frame, pings of Engine.IO answered."""
        while True:
            opcode, payload = await self.frame()
            if opcode == 0x1 and payload == b"2":
                await self.send(frame(b"3"))
            elif opcode == 0x1:
                return payload.decode()

    async def close_code(self) -> int:
        """The code of the close frame that ends this connection (other frames skipped)."""
        while True:
            opcode, payload = await self.frame()
            if opcode == 0x8:
                (code,) = struct.unpack("!H", payload[:2])
                async with asyncio.timeout(5):
                    assert await self.reader.read() == b""  # and the server closed the socket
                return code

    async def closed(self) -> bool:
        async with asyncio.timeout(5):
            while await self.reader.read(65_536):
                pass
        return True

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


_OPENED: list[Wire] = []


@pytest.fixture(autouse=True)
async def close_wires() -> AsyncIterator[None]:
    yield
    while _OPENED:
        await _OPENED.pop().close()


async def connected(port: int, token: str) -> Wire:
    """A WebSocket that has done Engine.IO's open and Socket.IO's connect with ``token``."""
    wire = await Wire.open(port)
    await wire.send(handshake())
    status, _, _ = await wire.response()
    assert status == 101
    assert (await wire.text()).startswith('0{"sid":')
    await wire.send(frame(b"40" + orjson.dumps({"token": token})))
    assert (await wire.text()).startswith("40{")
    return wire


async def whoami(wire: Wire, ack_id: int) -> dict[str, Any]:
    await wire.send(frame(f'42{ack_id}["whoami"]'.encode()))
    reply = await wire.text()
    assert reply.startswith(f"43{ack_id}["), reply
    answer: dict[str, Any] = orjson.loads(reply[2 + len(str(ack_id)) :])[0]
    return answer


# --- the head -------------------------------------------------------------------------------------


def test_parse_head_takes_only_well_formed_upgrades() -> None:
    good = handshake()[:-4]
    parsed = parse_head(good)
    assert parsed is not None
    assert parsed.path == "/socket.io/"
    assert parsed.query == {"EIO": "4", "transport": "websocket"}
    assert parsed.headers["sec-websocket-version"] == "13"
    # RFC 6455 §4.2.2's example.
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    for broken in (
        handshake(Sec_WebSocket_Key="-"),
        handshake(Sec_WebSocket_Key="c2hvcnQ="),  # 5 bytes, not 16
        handshake(Sec_WebSocket_Key="not base64!!"),
        handshake(Sec_WebSocket_Version="8"),
        handshake(Upgrade="h2c"),
        handshake(Connection="keep-alive"),
        handshake().replace(b"GET ", b"POST "),
        handshake().replace(b"HTTP/1.1", b"HTTP/1.0"),
        handshake().replace(b"\r\nHost:", b"\r\n Host:"),  # obsolete line folding
        handshake().replace(b"Host:", b"Host :"),
    ):
        assert parse_head(broken[:-4]) is None, broken
    # Header names in any case, a list in Connection, as browsers send it.
    assert parse_head(handshake(Connection="keep-alive, Upgrade")[:-4]) is not None
    assert parse_head(good.replace(b"Upgrade: websocket", b"UPGRADE: WebSocket")) is not None


async def test_a_head_in_pieces_is_read_whole(
    node: tuple[int, RtNode], community: CommunityWorld
) -> None:
    port, _ = node
    wire = await Wire.open(port)
    for i in range(0, len(raw := handshake()), 7):
        await wire.send(raw[i : i + 7])  # a write, a segment (the client socket has no delay)
    status, headers, _ = await wire.response()
    assert status == 101
    assert headers["upgrade"] == "websocket"
    assert (await wire.text()).startswith('0{"sid":')
    # The first frame in the same packet as the head's end is read too.
    second = await Wire.open(port)
    await second.send(
        handshake() + frame(b"40" + orjson.dumps({"token": community.residents[0].access_token}))
    )
    assert (await second.response())[0] == 101
    assert (await second.text()).startswith('0{"sid":')
    assert (await second.text()).startswith("40{")
    await wire.close()
    await second.close()


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        (handshake(Sec_WebSocket_Key="-"), 400, 3),
        (handshake(Sec_WebSocket_Version="8"), 400, 3),
        (handshake(Upgrade="-"), 400, 3),
        (handshake(Origin="https://evil.example"), 400, 4),
        (handshake("/socket.io/?EIO=3&transport=websocket"), 400, 5),
        (handshake("/socket.io/?EIO=4&transport=websocket&sid=nope"), 400, 1),
    ],
)
async def test_a_websocket_handshake_the_node_will_not_take_is_refused_over_http(
    node: tuple[int, RtNode], raw: bytes, status: int, code: int
) -> None:
    port, rt = node
    before = len(rt.server.hub.connections)
    wire = await Wire.open(port)
    await wire.send(raw)
    got, _, body = await wire.response()
    assert (got, orjson.loads(body)["code"]) == (status, code)
    assert await wire.closed()  # Engine.IO's answers close their connection
    assert len(rt.server.hub.connections) == before


async def test_oversized_or_unparseable_heads_get_aiohttps_answer(node: tuple[int, RtNode]) -> None:
    port, rt = node
    huge = handshake(X_Padding="x" * 9_000)
    for raw, statuses in (
        (huge, {400, 431}),
        (b"GET /" + b"a" * 9_000 + b" HTTP/1.1\r\n\r\n", {400, 414}),
        (b"\x16\x03\x01\x02\x00garbage\r\n\r\n", {400}),
    ):
        wire = await Wire.open(port)
        await wire.send(raw)
        assert (await wire.response())[0] in statuses, raw[:40]
        await wire.close()
    assert not rt.server.hub.connections


async def test_other_requests_on_the_port_are_served_by_aiohttp_and_kept_alive(
    node: tuple[int, RtNode],
) -> None:
    port, _ = node
    wire = await Wire.open(port)
    for _ in range(2):  # twice on one connection: aiohttp keeps it alive
        await wire.send(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        status, _, body = await wire.response()
        assert status == 200
        assert orjson.loads(body)
    await wire.close()


async def test_a_connection_that_goes_away_mid_head_leaves_nothing(
    node: tuple[int, RtNode],
) -> None:
    port, rt = node
    wire = await Wire.open(port)
    await wire.send(handshake()[:40])
    await wire.close()
    other = await Wire.open(port)
    await other.send(handshake())
    assert (await other.response())[0] == 101
    await other.text()
    assert len(rt.server.hub.connections) == 1
    await other.close()
    await until(lambda: not rt.server.hub.connections, within=5)


# --- frames ---------------------------------------------------------------------------------------


async def test_fragments_and_control_frames_between_them(
    node: tuple[int, RtNode], community: CommunityWorld
) -> None:
    port, _ = node
    wire = await connected(port, community.residents[0].access_token)
    # A message in three fragments with a ping between them: the pong comes with its payload,
    # then the whole message is answered.
    await wire.send(frame(b'421["who', fin=False))
    await wire.send(frame(b"hello", opcode=0x9))
    await wire.send(frame(b"am", opcode=0x0, fin=False))
    await wire.send(frame(b'i"]', opcode=0x0))
    assert await wire.frame() == (0xA, b"hello")
    reply = await wire.text()
    assert reply.startswith("431[")
    assert orjson.loads(reply[3:])[0]["ok"] is True
    assert (await whoami(wire, 2))["ok"] is True
    # The client's close is answered with a close, and the socket is closed.
    await wire.send(frame(struct.pack("!H", 1000), opcode=0x8))
    assert await wire.close_code() == 1000


async def test_messages_cut_anywhere_or_sent_together_are_read_whole(
    node: tuple[int, RtNode], community: CommunityWorld
) -> None:
    """The shortcut for whole text frames (``WebSocketProtocol._read_whole_frames``): frames cut
    at every few bytes, several in one packet, a 16-bit length, UTF-8 of three bytes a character
    cut in the middle — each message read once, whole, in order."""
    port, _ = node
    wire = await connected(port, community.residents[0].access_token)
    names = ["闲置乐高", "乐" * 1_000, "x"]
    packets = b"".join(
        frame(f"42{i}".encode() + orjson.dumps([name])) for i, name in enumerate(names, 1)
    )
    for i in range(0, len(packets), 5):
        await wire.send(packets[i : i + 5])
    await wire.send(packets * 2)  # and all of them in one packet, twice
    for _ in range(3):
        for i, name in enumerate(names, 1):
            reply = await wire.text()
            assert reply.startswith(f"43{i}["), reply
            answer = orjson.loads(reply[2 + len(str(i)) :])[0]
            assert answer["error"]["code"] == "unknown_event"
            assert answer["error"]["details"]["event"] == name[:100]


@pytest.mark.parametrize(
    ("frames", "code"),
    [
        ([frame(b"4" * (MAX_MESSAGE + 1))], 1009),
        ([frame(b"4" * 3_000, fin=False), frame(b"2" * 3_000, opcode=0x0)], 1009),
        ([frame(b"\x00\x01", opcode=0x2)], 1003),
        ([frame(b"42", rsv=4)], 1002),
        ([frame(b"42", mask=False)], 1002),
        ([frame(b"42\xff\xfe")], 1007),
        ([frame(b"42", opcode=0x3)], 1002),
        ([frame(b"x" * 130, opcode=0x9)], 1002),  # a control frame over 125 bytes
        ([frame(b"40", opcode=0x0)], 1002),  # a continuation with nothing to continue
        # A length in 16 bits that fits in 7: RFC 6455 asks for the shortest form.
        ([b"\x81\xfe\x00\x02" + b"\x00" * 4 + b"42"], 1002),
        # A 64-bit length, over the limit: closed once the limit is passed (the rest not sent
        # here, or the close would cross it and arrive as a reset).
        ([b"\x81\xff" + struct.pack("!Q", 80_000) + b"\x00" * 4 + b"4" * 5_000], 1009),
    ],
)
async def test_frames_outside_the_rules_close_that_connection_with_the_rfcs_code(
    node: tuple[int, RtNode], community: CommunityWorld, frames: list[bytes], code: int
) -> None:
    port, rt = node
    bystander = await connected(port, community.residents[1].access_token)
    wire = await connected(port, community.residents[0].access_token)
    for data in frames:
        await wire.send(data)
    assert await wire.close_code() == code
    await until(lambda: len(rt.server.hub.connections) == 1, within=5)
    assert (await whoami(bystander, 1))["ok"] is True
    await bystander.close()


async def test_a_failed_upgrade_probe_leaves_the_session_on_long_polling(
    node: tuple[int, RtNode], community: CommunityWorld
) -> None:
    port, rt = node
    poll = await Wire.open(port)
    await poll.send(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n")
    status, _, body = await poll.response()
    assert status == 200
    sid = orjson.loads(body[1:])["sid"]
    probe = await Wire.open(port)
    await probe.send(handshake(f"/socket.io/?EIO=4&transport=websocket&sid={sid}"))
    assert (await probe.response())[0] == 101
    await probe.send(frame(b"2not-the-probe"))
    assert await probe.close_code() == 1000
    # The session is still there, on long-polling: it connects and answers.
    assert sid in rt.server.hub.connections
    token = community.residents[0].access_token
    post = await Wire.open(port)
    connect = b"40" + orjson.dumps({"token": token})
    await post.send(
        f"POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n"
        f"Content-Type: text/plain\r\nContent-Length: {len(connect)}\r\n\r\n".encode()
        + connect
    )
    assert (await post.response())[0] == 200
    get = await Wire.open(port)
    await get.send(
        f"GET /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    )
    status, _, body = await get.response()
    assert status == 200
    assert body.startswith(b"40{"), body


async def test_a_connection_that_does_not_finish_its_head_in_time_is_closed(
    settings: Settings, core: Core, node_server: Any
) -> None:
    server: NodeServer = await node_server(create_rt_app(settings, core=core), head_timeout_s=0.3)
    # Opened first, its head sent whole at once: its timer must not cut it later.
    whole = await Wire.open(server.port)
    await whole.send(handshake())
    assert (await whole.response())[0] == 101
    silent = await Wire.open(server.port)
    partial = await Wire.open(server.port)
    await partial.send(handshake()[:50])
    assert await silent.closed()
    assert await partial.closed()
    # By now whole's own timer has passed too, and its session is still there.
    assert (await whole.text()).startswith('0{"sid":')
    assert server.app[RT_NODE].server.hub.connections
