"""Uploaded files, served read-only from local storage (``LAGO_STORAGE=local``).

In production a CDN or the reverse proxy serves the directory instead and must send the same
headers (docs/running.md). Each file goes out with the content type its key's extension names in
:data:`lago_core.storage.MEDIA_TYPES` — the extension was chosen from the decoded upload, never by
the client — with ``nosniff`` (set on every response) and a policy that lets nothing in a file
run as a page.
"""

from __future__ import annotations

import asyncio

from aiohttp import hdrs, web

from lago_core.errors import InvalidInput, NotFound
from lago_core.settings import Settings
from lago_core.storage import LocalStorage, media_type
from lago_rest.context import services_of

__all__ = ["add_media_route"]

_HEADERS = {
    # A file opened directly (a PDF, an image) is a document with no script and no origin.
    "Content-Security-Policy": "default-src 'none'; sandbox",
    # Keys are random and objects immutable: a new upload gets a new key.
    "Cache-Control": "public, max-age=31536000, immutable",
}


def add_media_route(app: web.Application, settings: Settings) -> None:
    settings.storage_dir.mkdir(parents=True, exist_ok=True)

    async def media(request: web.Request) -> web.StreamResponse:
        storage = services_of(request).storage
        if not isinstance(storage, LocalStorage):
            raise NotFound("no such stored object")
        key = request.match_info["key"]
        try:
            path = storage.path_for(key)
        except InvalidInput:
            raise NotFound("no such stored object") from None
        content_type = media_type(key)
        if not await asyncio.to_thread(path.is_file):
            raise NotFound("no such stored object")
        return web.FileResponse(path, headers={hdrs.CONTENT_TYPE: content_type, **_HEADERS})

    app.router.add_get(settings.media_base_url.rstrip("/") + "/{key:.+}", media)
