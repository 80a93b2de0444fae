"""``lago bench live``: how many viewers one node relays a stream to at the source frame rate.

Three kinds of process on loopback, so that the relay's CPU is measured alone:

- **relay** (``python -m lago_bench.live relay``): the ``AiortcBackend`` of a real-time node behind
  a tiny HTTP shim for its signalling (publish, watch, answer). The socket.io gateway and sign-in
  are left out on purpose: they cost once per viewer at join, the media costs every frame.
- **publisher**: an aiortc peer sending synthetic VP8 video at a chosen size and frame rate: a
  sliding pattern (every frame carries changes), encoded once into a two-second loop that starts
  with a keyframe, then sent as packets — so the publisher is cheap and not the first process to
  fall behind on a shared machine.
- **viewers** (several processes): aiortc peers that count the encoded video frames they receive
  without decoding them (the same tap as the relay), so that a viewer costs its process little.

The run adds viewers step by step. Each step measures, over a window, the relay process's CPU
(from /proc), the source frame rate (frames the relay received from the publisher), the frames the
relay sent each viewer, and the frames each viewer process received. A viewer is served "at the
source rate" when the relay sent it ≥ 90% of the source's frames; a step passes when ≥ 95% of
viewers are, and the publisher itself held ≥ 90% of its configured rate (else the machine is too
busy to tell). Received rates are reported beside it: on a machine shared with the viewers, a
starved viewer process receives less without the relay being at fault. CPU per viewer is the
relay's CPU above its zero-viewer baseline, divided by the viewers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from importlib import metadata
from typing import Any

import aiohttp
import orjson

from lago_bench.scenario import Check, Scenario, check

__all__ = ["SCENARIO", "LiveOptions", "configure", "live_main", "live_table"]

SESSION = "bench"


@dataclass(frozen=True)
class LiveOptions:
    width: int
    height: int
    fps: int
    step: int
    max_viewers: int
    per_process: int
    duration_s: float
    settle_s: float


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--width", type=int, default=320)
    p.add_argument("--height", type=int, default=240)
    p.add_argument("--fps", type=int, default=15, help="source frame rate (default 15)")
    p.add_argument("--step", type=int, default=20, help="viewers added per step (default 20)")
    p.add_argument("--max-viewers", type=int, default=200)
    p.add_argument("--per-process", type=int, default=20, help="viewers per viewer process")
    p.add_argument("--duration", type=float, default=5.0, help="seconds measured per step")
    p.add_argument("--settle", type=float, default=3.0, help="seconds after adding viewers")
    p.add_argument(
        "--relay",
        choices=("encoded", "reencode"),
        default="encoded",
        help="encoded: Lago's backend (default); reencode: aiortc's MediaRelay, for comparison",
    )


# --- the three processes ---------------------------------------------------------------------------


def _loopback() -> Any:
    from aiortc import RTCConfiguration

    from lago_core.adapters.aioice import limit_host_addresses

    limit_host_addresses(("127.0.0.1",))
    return RTCConfiguration(iceServers=[])


class _ReencodingRelay:
    """aiortc's documented relay, for comparison only: the publisher's video is decoded once
    (``MediaRelay``) and encoded again by each viewer's sender. Same calls as the backend's."""

    def __init__(self, config: Any) -> None:
        from aiortc.contrib.media import MediaRelay

        self._config = config
        self._relay = MediaRelay()
        self._source: Any = None
        self._pcs: dict[str, Any] = {}
        self._sent: dict[str, int] = {}
        self._frames = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self.on_peer_gone: Any = None

    def _counting(self, inner: Any, count: Any) -> Any:
        from aiortc import MediaStreamTrack

        class Counting(MediaStreamTrack):
            kind = "video"

            async def recv(self) -> Any:
                frame = await inner.recv()
                count()
                return frame

        return Counting()

    async def _drain(self, track: Any) -> None:
        from aiortc.mediastreams import MediaStreamError

        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()
                self._frames += 1

    async def publish(self, session_id: str, peer_id: str, offer: Any, *, restart: bool) -> Any:
        from aiortc import RTCPeerConnection, RTCSessionDescription

        from lago_rt.media.base import Sdp

        pc = RTCPeerConnection(self._config)
        self._pcs[peer_id] = pc

        @pc.on("track")
        def on_track(track: Any) -> None:
            if track.kind == "video":
                self._source = track
                # Decode even with no viewer, to count the source's frames.
                task = asyncio.ensure_future(self._drain(self._relay.subscribe(track)))
                self._tasks.add(task)

        await pc.setRemoteDescription(RTCSessionDescription(offer.sdp, "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        return Sdp(pc.localDescription.sdp, "answer")

    async def watch(self, session_id: str, peer_id: str, *, restart: bool) -> Any:
        from aiortc import RTCPeerConnection

        from lago_rt.media.base import Sdp

        pc = RTCPeerConnection(self._config)
        self._pcs[peer_id] = pc
        self._sent[peer_id] = 0

        def count() -> None:
            self._sent[peer_id] += 1

        pc.addTrack(self._counting(self._relay.subscribe(self._source), count))
        await pc.setLocalDescription(await pc.createOffer())
        return Sdp(pc.localDescription.sdp, "offer")

    async def accept(self, peer_id: str, answer: Any) -> None:
        from aiortc import RTCSessionDescription

        await self._pcs[peer_id].setRemoteDescription(RTCSessionDescription(answer.sdp, "answer"))

    def viewer_count(self) -> int:
        return len(self._sent)

    def frames_relayed(self, session_id: str) -> dict[str, int]:
        return {"video": self._frames}

    def frames_sent(self, session_id: str) -> dict[str, int]:
        return dict(self._sent)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for pc in self._pcs.values():
            await pc.close()


async def _relay(port: int, mode: str) -> None:
    from aiohttp import web

    from lago_rt.media.aiortc_backend import AiortcBackend
    from lago_rt.media.base import Sdp

    backend: Any = (
        AiortcBackend(_loopback()) if mode == "encoded" else _ReencodingRelay(_loopback())
    )

    async def publish(request: web.Request) -> web.Response:
        body = await request.json()
        answer = await backend.publish(
            SESSION, "publisher", Sdp(body["sdp"], "offer"), restart=False
        )
        return web.json_response({"sdp": answer.sdp, "type": answer.type})

    async def watch(request: web.Request) -> web.Response:
        body = await request.json()
        offer = await backend.watch(SESSION, body["peer"], restart=False)
        return web.json_response({"sdp": offer.sdp, "type": offer.type})

    async def answer(request: web.Request) -> web.Response:
        body = await request.json()
        await backend.accept(body["peer"], Sdp(body["sdp"], "answer"))
        return web.json_response({"ok": True})

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "t": time.monotonic(),
                "viewers": backend.viewer_count(),
                "frames": backend.frames_relayed(SESSION),
                "sent": backend.frames_sent(SESSION),
            }
        )

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/publish", publish)
    app.router.add_post("/watch", watch)
    app.router.add_post("/answer", answer)
    app.router.add_get("/stats", stats)
    app.router.add_get("/healthz", health)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        await asyncio.Event().wait()
    finally:
        await backend.close()
        await runner.cleanup()


def _encoded_loop(width: int, height: int, fps: int, seconds: int = 2) -> list[bytes]:
    """``seconds`` of VP8 video, encoded once: a pattern that slides every frame (so each frame
    carries real changes), the first frame a keyframe, the rest inter frames."""
    import av

    codec = av.CodecContext.create("libvpx", "w")
    codec.width = width
    codec.height = height
    codec.pix_fmt = "yuv420p"
    codec.time_base = Fraction(1, fps)
    codec.framerate = Fraction(fps, 1)
    codec.bit_rate = 500_000
    codec.gop_size = fps * seconds
    codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    patterns: list[bytes] = []
    out: list[bytes] = []
    for n in range(fps * seconds):
        frame = av.VideoFrame(width, height, "yuv420p")
        if not patterns:
            patterns = [
                bytes((x * 3 + x // 97) % 256 for x in range(2 * p.buffer_size))
                for p in frame.planes
            ]
        for i, plane in enumerate(frame.planes):
            size = plane.buffer_size
            at = (n * 5 * (i + 1)) % size
            plane.update(patterns[i][at : at + size])
        frame.pts = n
        out.extend(bytes(packet) for packet in codec.encode(frame))
    out.extend(bytes(packet) for packet in codec.encode(None))
    return out


async def _publisher(url: str, width: int, height: int, fps: int) -> None:
    """Sends a pre-encoded loop (a keyframe every two seconds) as packets: the publisher then
    costs almost nothing, so on a shared machine it is not the one that falls behind."""
    import av
    from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription

    loop = _encoded_loop(width, height, fps)

    class Synthetic(MediaStreamTrack):
        kind = "video"

        def __init__(self) -> None:
            super().__init__()
            self._n = 0
            self._start = time.monotonic()

        async def recv(self) -> Any:
            due = self._start + self._n / fps
            now = time.monotonic()
            if now > due + 1 / fps:
                # Starved by a busy machine: skip ahead rather than burst frames to catch up.
                self._start = now - self._n / fps
                due = now
            await asyncio.sleep(max(0.0, due - now))
            packet = av.Packet(loop[self._n % len(loop)])
            packet.pts = self._n * (90_000 // fps)
            packet.time_base = Fraction(1, 90_000)
            self._n += 1
            return packet

    pc = RTCPeerConnection(_loopback())
    pc.addTrack(Synthetic())
    await pc.setLocalDescription(await pc.createOffer())
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{url}/publish", json={"sdp": pc.localDescription.sdp}) as r,
    ):
        answer = await r.json()
    await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
    try:
        await asyncio.Event().wait()
    finally:
        await pc.close()


class _Counter:
    def __init__(self) -> None:
        self.frames = 0

    def push(self, codec: Any, frame: Any) -> None:
        self.frames += 1


async def _viewers(url: str, count: int, label: str) -> None:
    from aiortc import RTCPeerConnection, RTCSessionDescription

    from lago_rt.media.aiortc_backend import EncodedTap

    config = _loopback()
    pcs: list[Any] = []
    counters: list[_Counter] = []
    async with aiohttp.ClientSession() as http:
        for i in range(count):
            peer = f"{label}-{i}"
            async with http.post(f"{url}/watch", json={"peer": peer}) as r:
                offer = await r.json()
            pc = RTCPeerConnection(config)
            await pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], offer["type"]))
            counter = _Counter()
            for transceiver in pc.getTransceivers():
                if transceiver.kind == "video":
                    EncodedTap.install(transceiver.receiver, counter)
            await pc.setLocalDescription(await pc.createAnswer())
            async with http.post(
                f"{url}/answer", json={"peer": peer, "sdp": pc.localDescription.sdp}
            ) as r:
                await r.read()
            pcs.append(pc)
            counters.append(counter)
    try:
        while True:
            line = {"t": time.monotonic(), "frames": [c.frames for c in counters]}
            sys.stdout.write(orjson.dumps(line).decode() + "\n")
            sys.stdout.flush()
            await asyncio.sleep(0.5)
    finally:
        for pc in pcs:
            await pc.close()


# --- the driver ------------------------------------------------------------------------------------


class _ViewerProcess:
    def __init__(self, url: str, count: int, label: str) -> None:
        self.url = url
        self.count = count
        self.label = label
        self.proc: asyncio.subprocess.Process | None = None
        self.latest: dict[str, Any] | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "lago_bench.live",
            "viewers",
            self.url,
            str(self.count),
            self.label,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        assert self.proc is not None
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            self.latest = orjson.loads(line)

    def _all_receiving(self) -> bool:
        return self.latest is not None and all(n > 0 for n in self.latest["frames"])

    async def ready(self, within: float) -> None:
        """Until every viewer of the process has its first frame (ICE and DTLS are done), or
        ``within`` seconds; a viewer still without frames then counts as not keeping up."""
        for _ in range(int(within * 10)):
            if self.proc is not None and self.proc.returncode is not None:
                raise RuntimeError(f"viewer process {self.label} exited")
            if self._all_receiving():
                return
            await asyncio.sleep(0.1)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), timeout=10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader


async def _stats(http: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with http.get(f"{url}/stats") as r:
        result: dict[str, Any] = await r.json()
        return result


def _median(values: list[float]) -> float | None:
    return round(sorted(values)[len(values) // 2], 2) if values else None


async def _measure(
    http: aiohttp.ClientSession,
    url: str,
    relay_pid: int,
    viewers: list[_ViewerProcess],
    duration: float,
) -> dict[str, Any]:
    """One window: the relay's CPU and, per viewer, the frames the relay sent (its own work, the
    figure that counts) and the frames the viewer process received (delivery, which a starved
    viewer process can lower without the relay being at fault)."""
    from lago_bench.procs import proc_cpu_s

    s0 = await _stats(http, url)
    c0 = proc_cpu_s(relay_pid)
    v0 = [v.latest for v in viewers]
    vc0 = sum(proc_cpu_s(v.pid) for v in viewers)
    await asyncio.sleep(duration)
    s1 = await _stats(http, url)
    c1 = proc_cpu_s(relay_pid)
    v1 = [v.latest for v in viewers]
    vc1 = sum(proc_cpu_s(v.pid) for v in viewers)
    wall = s1["t"] - s0["t"]
    source_fps = (s1["frames"].get("video", 0) - s0["frames"].get("video", 0)) / wall
    sent = [
        (n - s0["sent"].get(peer, 0)) / wall for peer, n in s1["sent"].items() if peer in s0["sent"]
    ]
    received: list[float] = []
    for a, b in zip(v0, v1, strict=True):
        assert a is not None
        assert b is not None
        span = b["t"] - a["t"]
        if span <= 0:
            received.extend(0.0 for _ in b["frames"])  # the process did not report in the window
            continue
        received.extend((y - x) / span for x, y in zip(a["frames"], b["frames"], strict=True))
    return {
        "viewers": len(sent),
        # Viewers the relay has sent any frame at all (ICE and DTLS done).
        "connected": sum(1 for n in s1["sent"].values() if n > 0),
        "source_fps": round(source_fps, 2),
        "relay_cpu_cores": round((c1 - c0) / wall, 3),
        "viewer_processes_cpu_cores": round((vc1 - vc0) / wall, 3),
        "keeping_up": sum(1 for r in sent if r >= 0.9 * source_fps),
        "min_sent_fps": round(min(sent), 2) if sent else None,
        "median_sent_fps": _median(sent),
        "received_keeping_up": sum(1 for r in received if r >= 0.9 * source_fps),
        "min_received_fps": round(min(received), 2) if received else None,
        "median_received_fps": _median(received),
    }


async def live_main(
    args: argparse.Namespace, report: Callable[[str], None] | None = None
) -> dict[str, Any]:
    from lago_bench.procs import PROJECT_ROOT, ServerProcess, free_port, machine_cpu
    from lago_bench.report import machine

    opts = LiveOptions(
        width=args.width,
        height=args.height,
        fps=args.fps,
        step=args.step,
        max_viewers=args.max_viewers,
        per_process=args.per_process,
        duration_s=args.duration,
        settle_s=args.settle,
    )
    if not (16 <= opts.width <= 1920 and 16 <= opts.height <= 1080 and 1 <= opts.fps <= 60):
        raise ValueError("--width 16–1920, --height 16–1080, --fps 1–60")
    if not (1 <= opts.step <= opts.max_viewers <= 2_000 and 1 <= opts.per_process <= 200):
        raise ValueError("--step ≥ 1, --max-viewers ≤ 2000, --per-process 1–200")

    def progress(line: str) -> None:
        if report is not None:
            report(line)
        elif not getattr(args, "quiet", True):
            print(line, file=sys.stderr, flush=True)

    (PROJECT_ROOT / ".lago-local").mkdir(exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    relay = ServerProcess(
        "relay",
        [sys.executable, "-m", "lago_bench.live", "relay", str(port), args.relay],
        env,
        port,
        PROJECT_ROOT / ".lago-local" / "bench-live-relay.log",
    )
    result: dict[str, Any] = {
        "benchmark": "live",
        "command": " ".join(["lago", *sys.argv[1:]]),
        "machine": machine(),
        "settings": {
            "video": f"VP8 {opts.width}x{opts.height} @ {opts.fps} fps (synthetic, moving)",
            "relay": (
                "lago_rt.media.AiortcBackend (encoded frames, no re-encoding)"
                if args.relay == "encoded"
                else "aiortc MediaRelay (decode once, encode per viewer) — for comparison"
            ),
            "aiortc": metadata.version("aiortc"),
            "av": metadata.version("av"),
            "step": opts.step,
            "per_process": opts.per_process,
            "duration_s": opts.duration_s,
            "settle_s": opts.settle_s,
            "keeps_up_when": "frames the relay sent the viewer ≥ 90% of source fps "
            "(received frames reported beside it)",
            "step_passes_when": "≥ 95% of viewers keep up and the source holds ≥ 90% of its fps",
        },
        "steps": [],
    }
    viewers: list[_ViewerProcess] = []
    publisher: asyncio.subprocess.Process | None = None
    busy0, total0 = machine_cpu()
    try:
        await relay.start()
        publisher = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "lago_bench.live",
            "publish",
            url,
            str(opts.width),
            str(opts.height),
            str(opts.fps),
            stdin=subprocess.DEVNULL,
        )
        async with aiohttp.ClientSession() as http:
            for _ in range(150):
                if (await _stats(http, url))["frames"].get("video"):
                    break
                await asyncio.sleep(0.2)
            else:
                raise RuntimeError("the publisher's video never reached the relay")
            await asyncio.sleep(opts.settle_s)
            baseline = await _measure(http, url, relay.pid, [], opts.duration_s)
            result["baseline"] = baseline
            progress(
                f"0 viewers: source {baseline['source_fps']} fps, "
                f"relay {baseline['relay_cpu_cores']:.2f} cores"
            )
            target = 0
            while target < opts.max_viewers:
                target = min(opts.max_viewers, target + opts.step)
                have = sum(v.count for v in viewers)
                while have < target:
                    n = min(opts.per_process, target - have)
                    proc = _ViewerProcess(url, n, f"v{len(viewers)}")
                    await proc.start()
                    viewers.append(proc)
                    have += n
                for proc in viewers:
                    await proc.ready(within=60)
                await asyncio.sleep(opts.settle_s)
                step = await _measure(http, url, relay.pid, viewers, opts.duration_s)
                extra = step["relay_cpu_cores"] - baseline["relay_cpu_cores"]
                step["relay_cpu_per_viewer_pct"] = round(100 * extra / step["viewers"], 3)
                step["source_ok"] = step["source_fps"] >= 0.9 * opts.fps
                step["passed"] = step["source_ok"] and step["keeping_up"] >= math.ceil(
                    0.95 * step["viewers"]
                )
                result["steps"].append(step)
                progress(
                    f"{step['viewers']} viewers ({step['connected']} connected): "
                    f"source {step['source_fps']} fps, "
                    f"{step['keeping_up']} sent at rate (min {step['min_sent_fps']} fps), "
                    f"{step['received_keeping_up']} received at rate "
                    f"(min {step['min_received_fps']} fps), "
                    f"relay {step['relay_cpu_cores']:.2f} cores, "
                    f"viewer processes {step['viewer_processes_cpu_cores']:.2f} cores"
                )
                if not step["passed"]:
                    break
    finally:
        for proc in viewers:
            await proc.stop()
        if publisher is not None and publisher.returncode is None:
            publisher.terminate()
            await publisher.wait()
        await relay.stop()
    busy1, total1 = machine_cpu()
    result["machine_busy_pct"] = round(100 * (busy1 - busy0) / max(total1 - total0, 1e-9), 1)
    passed = [s for s in result["steps"] if s["passed"]]
    best = passed[-1] if passed else None
    result["summary"] = {
        "viewers_at_source_rate": best["viewers"] if best else 0,
        "relay_cpu_per_viewer_pct": best["relay_cpu_per_viewer_pct"] if best else None,
        "viewers_per_core": (
            round(100 / best["relay_cpu_per_viewer_pct"])
            if best and best["relay_cpu_per_viewer_pct"] > 0
            else None
        ),
        "stopped_by": _stopped_by(result["steps"]),
    }
    return result


def _stopped_by(steps: list[dict[str, Any]]) -> str:
    if not steps:
        return "no_steps"
    last = steps[-1]
    if last["passed"]:
        return "max_viewers"
    if not last["source_ok"]:
        # Frames reaching the relay fell below the configured rate: the publisher was starved
        # (or, with --relay reencode, the relay's own decoding fell behind).
        return "source_starved"
    if last["connected"] < last["viewers"]:
        return "viewers_not_connected"  # their processes did not finish ICE/DTLS in time
    return "falling_behind"


def live_table(result: dict[str, Any]) -> str:
    lines = [
        f"lago bench live — {result['settings']['video']}; relay: {result['settings']['relay']}",
        f"machine busy during run {result.get('machine_busy_pct')}%",
        "",
        f"{'viewers':>8} {'source fps':>10} {'sent ok':>8} {'min sent':>8} "
        f"{'recv ok':>8} {'min recv':>8} "
        f"{'relay cores':>11} {'cpu/viewer %':>12} {'viewer procs':>12}",
    ]
    base = result.get("baseline")
    if base:
        lines.append(
            f"{0:>8} {base['source_fps']:>10} {'-':>8} {'-':>8} {'-':>8} {'-':>8} "
            f"{base['relay_cpu_cores']:>11.2f} {'-':>12} {'-':>12}"
        )
    for s in result["steps"]:
        lines.append(
            f"{s['viewers']:>8} {s['source_fps']:>10} {s['keeping_up']:>8} "
            f"{s['min_sent_fps']!s:>8} {s['received_keeping_up']:>8} "
            f"{s['min_received_fps']!s:>8} {s['relay_cpu_cores']:>11.2f} "
            f"{s['relay_cpu_per_viewer_pct']:>12} {s['viewer_processes_cpu_cores']:>12.2f}"
        )
    summary = result["summary"]
    lines += [
        "",
        f"viewers at the source frame rate: {summary['viewers_at_source_rate']} "
        f"(stopped by {summary['stopped_by']}); relay CPU per viewer: "
        f"{summary['relay_cpu_per_viewer_pct']}% of a core ≈ {summary['viewers_per_core']} "
        "viewers per core",
    ]
    return "\n".join(lines)


def _main(argv: list[str]) -> None:
    role = argv[0]
    if role == "relay":
        asyncio.run(_relay(int(argv[1]), argv[2]))
    elif role == "publish":
        asyncio.run(_publisher(argv[1], int(argv[2]), int(argv[3]), int(argv[4])))
    elif role == "viewers":
        asyncio.run(_viewers(argv[1], int(argv[2]), argv[3]))
    else:
        raise SystemExit(f"unknown role {role!r}")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        _main(sys.argv[1:])


TARGET_VIEWERS_PER_CORE = 50


def checks(result: dict[str, Any]) -> list[Check]:
    summary = result.get("summary", {})
    per_core = summary.get("viewers_per_core")
    label = f"live: ≥ {TARGET_VIEWERS_PER_CORE} viewers per core at the source frame rate"
    if per_core is None:
        return [check(label, None, "viewers/core", None, "no step kept up")]
    note = (
        f"{summary['viewers_at_source_rate']} viewers served at the source rate "
        f"(stopped by {summary['stopped_by']}); per core from the relay's CPU per viewer"
    )
    return [check(label, per_core, "viewers/core", per_core >= TARGET_VIEWERS_PER_CORE, note)]


SCENARIO = Scenario(
    name="live",
    help="viewers one node relays a synthetic video to at the source frame rate",
    description="Start a relay (the aiortc media backend), a publisher of synthetic VP8 video and "
    "viewer processes on 127.0.0.1; add viewers until they no longer keep up. Needs no database "
    "or Redis.",
    configure=configure,
    run=live_main,
    table=live_table,
    checks=checks,
    quick=(
        "--width",
        "160",
        "--height",
        "120",
        "--step",
        "2",
        "--max-viewers",
        "2",
        "--per-process",
        "2",
        "--duration",
        "1.5",
        "--settle",
        "0.5",
    ),
)
