"""A real-time app served the way ``lago rt`` serves it, for tests.

aiohttp's ``TestServer`` serves an app through aiohttp's own site, which never reaches the node's
listener (lago_rt/transport/listener.py): WebSocket handshakes would be refused there. This is
the same listener on a free port of 127.0.0.1, with the parts of ``TestServer`` tests use.
"""

from __future__ import annotations

from aiohttp import web
from yarl import URL

from lago_rt.transport.listener import HEAD_TIMEOUT_S, NodeSite

__all__ = ["NodeServer"]


class NodeServer:
    def __init__(
        self, app: web.Application, *, port: int = 0, head_timeout_s: float = HEAD_TIMEOUT_S
    ) -> None:
        self.app = app
        self._head_timeout = head_timeout_s
        self.host = "127.0.0.1"
        self.port = port
        self.scheme = "http"
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        self._site: NodeSite | None = None
        self.closed = False

    async def start_server(self) -> None:
        await self._runner.setup()
        self._site = NodeSite(self._runner, self.host, self.port, head_timeout_s=self._head_timeout)
        await self._site.start()
        self.port = self._site.addresses[0][1]

    def make_url(self, path: str) -> URL:
        return URL(f"{self.scheme}://{self.host}:{self.port}") / path.lstrip("/")

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._site is not None:
            await self._site.stop()
        await self._runner.cleanup()
