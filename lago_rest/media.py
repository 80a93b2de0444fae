"""Uploaded files, served read-only from local storage (``LAGO_STORAGE=local``).

In production a CDN or the reverse proxy serves the directory instead and must send the same
headers (docs/running.md). Each file goes out with the content type its key's extension names in
:data:`lago_core.storage.MEDIA_TYPES` — the extension was chosen from the decoded upload, never by
the client — with ``nosniff`` (set on every response) and a policy that lets nothing in a file
run as a page.
"""

from __future__ import annotations

import asyncio
import re

from aiohttp import hdrs, web

from lago_core.errors import InvalidInput, NotFound
from lago_core.settings import Settings
from lago_core.storage import LocalStorage, Storage, media_type
from lago_rest.context import services_of

__all__ = ["add_media_route", "serve_private"]

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


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_PRIVATE = {
    "Content-Security-Policy": "default-src 'none'; sandbox",
    # Served only to whoever may see it: no shared cache keeps a copy.
    "Cache-Control": "private, max-age=300",
    "Accept-Ranges": "bytes",
}


async def serve_private(
    request: web.Request, storage: Storage, key: str, content_type: str
) -> web.StreamResponse:
    """A stored object the caller was already allowed to see, with HTTP Range support so a
    ``<video>`` can seek (206 Partial Content; 416 for a range outside the object).

    Local storage streams the file (aiohttp's ``FileResponse`` answers ranges itself); another
    backend reads the object and slices it (a known cost, docs/courses.md).
    """
    headers = {hdrs.CONTENT_TYPE: content_type, **_PRIVATE}
    if isinstance(storage, LocalStorage):
        path = storage.path_for(key)
        if not await asyncio.to_thread(path.is_file):
            raise NotFound("no such stored object")
        return web.FileResponse(path, headers=headers)
    data = await storage.get(key)
    total = len(data)
    wanted = request.headers.get(hdrs.RANGE)
    match = _RANGE.match(wanted.strip()) if wanted else None
    if match is None or not (match[1] or match[2]):
        return web.Response(body=data, headers=headers)
    if match[1]:
        start = int(match[1])
        end = min(int(match[2]), total - 1) if match[2] else total - 1
    else:  # a suffix: the last N bytes
        start, end = max(total - int(match[2]), 0), total - 1
    if start >= total or start > end:
        return web.Response(status=416, headers={**headers, hdrs.CONTENT_RANGE: f"bytes */{total}"})
    return web.Response(
        status=206,
        body=data[start : end + 1],
        headers={**headers, hdrs.CONTENT_RANGE: f"bytes {start}-{end}/{total}"},
    )
