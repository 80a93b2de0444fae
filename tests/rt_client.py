"""A socket.io test client for the channel protocol: records events, waits without sleeping."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

import socketio

_ids = itertools.count(1)


class ChannelClient:
    def __init__(self, url: str, token: str, *, origin: str | None = None) -> None:
        self.url = url
        self.token = token
        self.origin = origin
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: list[dict[str, Any]] = []
        self.refusal: Any = None
        self.disconnected = asyncio.Event()
        self._changed = asyncio.Event()
        self.sio.on("channel:event", handler=self._on_event)
        self.sio.on("connect_error", handler=self._on_refused)
        self.sio.on("disconnect", handler=self._on_disconnect)
        self.pushes: list[tuple[str, Any]] = []

    async def _on_event(self, data: Any) -> None:
        self.events.append(data)
        self._changed.set()

    async def _on_refused(self, data: Any) -> None:
        self.refusal = data

    async def _on_disconnect(self, *args: Any) -> None:
        self.disconnected.set()
        self._changed.set()

    def on_push(self, event: str, namespace: str = "/") -> None:
        async def record(data: Any) -> None:
            self.pushes.append((event, data))
            self._changed.set()

        self.sio.on(event, handler=record, namespace=namespace)

    async def connect(self, namespaces: list[str] | None = None) -> ChannelClient:
        headers = {"Origin": self.origin} if self.origin else {}
        for namespace in namespaces or []:
            self.sio.on("connect_error", handler=self._on_refused, namespace=namespace)
        try:
            await self.sio.connect(
                self.url,
                auth={"token": self.token},
                transports=["websocket"],
                headers=headers,
                namespaces=namespaces,
                wait_timeout=5,
            )
        except socketio.exceptions.ConnectionError:
            if self.sio.eio.http is not None:
                await self.sio.eio.http.close()
            raise
        return self

    async def call(self, event: str, data: Any = None, namespace: str = "/") -> dict[str, Any]:
        reply: dict[str, Any] = await self.sio.call(event, data, namespace=namespace, timeout=10)
        return reply

    async def join(self, community_id: str, since: dict[str, Any] | None = None) -> dict[str, Any]:
        payload: dict[str, Any] = {"community_id": community_id}
        if since is not None:
            payload["since"] = since
        return await self.call("channel:join", payload)

    async def send(
        self, community_id: str, text: str, client_msg_id: str | None = None
    ) -> dict[str, Any]:
        return await self.call(
            "chat:send",
            {
                "community_id": community_id,
                "text": text,
                "client_msg_id": client_msg_id or f"m{next(_ids)}",
            },
        )

    async def wait_until(self, predicate: Callable[[], bool], within: float = 5.0) -> None:
        async with asyncio.timeout(within):
            while not predicate():
                self._changed.clear()
                if predicate():
                    return
                await self._changed.wait()

    def seqs(self, type_: str | None = None) -> list[int]:
        return [e["seq"] for e in self.events if type_ is None or e["type"] == type_]

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()
        if self.sio.eio.http is not None and not self.sio.eio.http.closed:
            await self.sio.eio.http.close()


class RawMember:
    """A bare WebSocket socket.io member with a tiny receive buffer that can stop reading.

    Used to play a client that does not read its socket: the server must cut it off rather
    than buffer for it without end.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def join(cls, port: int, token: str, community_id: str) -> RawMember:
        import base64
        import os
        import socket

        import orjson

        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        reader, writer = await asyncio.open_connection(sock=sock)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        status = await reader.readuntil(b"\r\n\r\n")
        assert status.startswith(b"HTTP/1.1 101"), status
        member = cls(reader, writer)
        assert (await member.read_frame()).startswith(b"0")  # engine.io open
        member.send(b"40" + orjson.dumps({"token": token}))
        assert (await member.read_frame()).startswith(b"40")
        member.send(b'421["channel:join",' + orjson.dumps({"community_id": community_id}) + b"]")
        while not (await member.read_frame()).startswith(b"431"):
            pass
        return member

    def stop_reading(self) -> None:
        """Read nothing more from the socket: what arrives stays in the kernel's receive buffer
        (asyncio's reader would otherwise keep taking up to 128 KiB on its own)."""
        self.writer.transport.pause_reading()  # type: ignore[attr-defined]

    def resume_reading(self) -> None:
        self.writer.transport.resume_reading()  # type: ignore[attr-defined]

    def send(self, payload: bytes) -> None:
        # Client frames are masked (RFC 6455); a zero key leaves the payload as it is.
        length = len(payload)
        if length < 126:
            header = bytes([0x81, 0x80 | length])
        else:
            header = bytes([0x81, 0x80 | 126]) + length.to_bytes(2, "big")
        self.writer.write(header + b"\x00\x00\x00\x00" + payload)

    async def read_frame(self) -> bytes:
        head = await self.reader.readexactly(2)
        length = head[1] & 0x7F
        if length == 126:
            length = int.from_bytes(await self.reader.readexactly(2), "big")
        elif length == 127:
            length = int.from_bytes(await self.reader.readexactly(8), "big")
        return await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()
