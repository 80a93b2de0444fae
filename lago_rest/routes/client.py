"""What a browser client needs to know before it connects: where the real-time node is."""

from __future__ import annotations

from aiohttp import web

from lago_rest.api import Api
from lago_rest.schemas import Schema
from lago_rest.web import WEB_SETTINGS, public_rt_url

api = Api()
TAGS = ("client",)


class ClientConfig(Schema):
    rt_url: str


@api.get("/client-config", tags=TAGS)
async def client_config(request: web.Request) -> ClientConfig:
    """The real-time node's base URL for socket.io clients (``LAGO_PUBLIC_RT_URL``, or this
    host on ``LAGO_RT_PORT``). No session needed."""
    return ClientConfig(rt_url=public_rt_url(request.app[WEB_SETTINGS], request))
