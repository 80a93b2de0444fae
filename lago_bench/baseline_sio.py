"""Baseline for ``lago bench fanout``: a plain python-socketio room broadcast on aiohttp.

Run as its own process: ``python baseline_sio.py --port P``. Every client that sends
``channel:join`` enters the room ``all``; a ``send`` event from the sender is broadcast to the room
with ``sio.emit`` as a ``channel:event`` shaped like Lago's chat event, so the load client measures
both servers the same way. No authentication, no persistence: the baseline is the broadcast alone.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from datetime import UTC, datetime
from typing import Any

import socketio
import uvloop
from aiohttp import web

ROOM = "all"


def create_app() -> web.Application:
    sio = socketio.AsyncServer(async_mode="aiohttp", transports=["websocket"])
    app = web.Application()
    sio.attach(app)
    seq = 0

    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        return None

    async def join(sid: str, data: Any = None) -> dict[str, Any]:
        await sio.enter_room(sid, ROOM)
        return {"ok": True}

    async def send(sid: str, data: Any = None) -> dict[str, Any]:
        nonlocal seq
        if not isinstance(data, dict):
            return {"ok": False}
        seq += 1
        event = {
            "community_id": data.get("community_id"),
            "seq": seq,
            "type": "chat.message",
            "data": {
                "user_id": sid,
                "name": "bench-00000",
                "client_msg_id": data.get("client_msg_id"),
                "text": data.get("text"),
            },
            "at": datetime.now(UTC).isoformat(),
        }
        await sio.emit("channel:event", event, room=ROOM)
        return {"ok": True, "seq": seq}

    sio.on("connect", handler=connect)
    sio.on("channel:join", handler=join)
    sio.on("send", handler=send)

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app.router.add_get("/healthz", healthz)
    return app


async def serve(host: str, port: int) -> None:
    runner = web.AppRunner(create_app(), access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, host, port, shutdown_timeout=2).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"baseline python-socketio on http://{host}:{port}", flush=True)
    await stop.wait()
    await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvloop.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
