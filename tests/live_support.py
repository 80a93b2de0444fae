"""aiortc peers for the live-stream and live-class tests: a publisher of synthetic audio and
video, viewers that count the frames they decode, and the fixtures both test files use (an rt
node built on the importing module's ``live_settings``, and peers closed after the test).
Everything on loopback, no STUN (see FIELD-NOTES)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, VideoStreamTrack

from lago_core.container import Core
from lago_core.settings import Settings
from lago_rt.app import RT_NODE, RtNode, create_rt_app

from .node_server import NodeServer
from .rt_client import ChannelClient

LOOPBACK = RTCConfiguration(iceServers=[])


class Publisher:
    """A host's browser: offers synthetic video (640×480) and audio over the socket."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection(LOOPBACK)
        self.pc.addTrack(VideoStreamTrack())
        self.pc.addTrack(AudioStreamTrack())

    async def offer(self) -> dict[str, str]:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return {"type": "offer", "sdp": self.pc.localDescription.sdp}

    async def publish(self, client: ChannelClient, community_id: str, session_id: str) -> Any:
        reply = await client.call(
            "live:publish",
            {"community_id": community_id, "session_id": session_id, **await self.offer()},
        )
        if reply["ok"]:
            await self.pc.setRemoteDescription(RTCSessionDescription(reply["sdp"], reply["type"]))
        return reply

    async def close(self) -> None:
        await self.pc.close()


class Viewer:
    """A viewer's browser: answers the server's offer and decodes what arrives."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection(LOOPBACK)
        self.frames: dict[str, int] = {"audio": 0, "video": 0}
        self.sizes: set[tuple[int, int]] = set()
        self.changed = asyncio.Event()
        self._pulls: list[asyncio.Task[None]] = []
        self.pc.on("track", self._on_track)

    def _on_track(self, track: Any) -> None:
        self._pulls.append(asyncio.ensure_future(self._pull(track)))

    async def _pull(self, track: Any) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                self.frames[track.kind] += 1
                if track.kind == "video":
                    self.sizes.add((frame.width, frame.height))
                self.changed.set()

    async def watch(self, client: ChannelClient, community_id: str, session_id: str) -> Any:
        reply = await client.call(
            "live:watch", {"community_id": community_id, "session_id": session_id}
        )
        if not reply["ok"]:
            return reply
        await self.pc.setRemoteDescription(RTCSessionDescription(reply["sdp"], reply["type"]))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        answer = await client.call(
            "live:answer",
            {
                "community_id": community_id,
                "session_id": session_id,
                "type": "answer",
                "sdp": self.pc.localDescription.sdp,
            },
        )
        assert answer["ok"], answer
        return reply

    async def wait_for(self, video: int, audio: int, within: float = 15.0) -> None:
        async with asyncio.timeout(within):
            while self.frames["video"] < video or self.frames["audio"] < audio:
                self.changed.clear()
                await self.changed.wait()

    async def close(self) -> None:
        await self.pc.close()
        for task in self._pulls:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


@pytest.fixture
async def node(live_settings: Settings, core: Core, node_server: Any) -> tuple[str, RtNode]:
    server: NodeServer = await node_server(create_rt_app(live_settings, core=core))
    return f"http://127.0.0.1:{server.port}", server.app[RT_NODE]


@pytest.fixture
async def peers() -> AsyncIterator[list[Publisher | Viewer]]:
    made: list[Publisher | Viewer] = []
    yield made
    for peer in made:
        with contextlib.suppress(Exception):
            await peer.close()
