"""The web app (``web/``, built to ``web/dist``) served by the REST process at ``/``.

Hashed files under ``/assets/`` are cached for a year (their names change with their content);
every other path that is not the API answers ``index.html``, so the app's own router handles deep
links (``/listings/…``, ``/merchant/orders``). Where the build left a ``.gz`` beside a file,
aiohttp's FileResponse sends it to clients that accept gzip.

Every HTML answer carries the Content-Security-Policy: scripts and styles only from this origin
(the build has no inline script), connections to this origin and the real-time node, images from
this origin, ``data:``/``blob:`` (previews) and the media store, no framing, no plugins.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from lago_core.http import json_response
from lago_core.logging import get_logger
from lago_core.settings import Settings

__all__ = ["WEB_SETTINGS", "add_web_routes", "public_rt_url"]

# The app's own settings (a test or a deployment may serve the app with other public addresses
# than the shared Core was built with).
WEB_SETTINGS: web.AppKey[Settings] = web.AppKey("web_settings", Settings)

log = get_logger(__name__)

IMMUTABLE = "public, max-age=31536000, immutable"
# Paths the app never owns: there a miss stays the API's 404 (or 405), never the app's page.
_APP_PATHS = r"/{tail:(?!api/|media/|socket\.io/).*}"


def public_rt_url(settings: Settings, request: web.Request) -> str:
    """The real-time node's base URL as this browser reaches it."""
    if settings.public_rt_url:
        return settings.public_rt_url.rstrip("/")
    host = request.url.host or "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"{request.scheme}://{host}:{settings.rt_port}"


def content_security_policy(settings: Settings, request: web.Request) -> str:
    rt = urlsplit(public_rt_url(settings, request))
    ws_scheme = "wss" if rt.scheme == "https" else "ws"
    rt_sources = f"{rt.scheme}://{rt.netloc} {ws_scheme}://{rt.netloc}"
    media = settings.media_base_url
    media_source = "" if media.startswith("/") else " " + _origin(media)
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src 'self' data: blob:{media_source}",
            f"media-src 'self' blob:{media_source}",
            f"connect-src 'self' {rt_sources}",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def add_web_routes(app: web.Application, settings: Settings) -> None:
    """Register the app's routes; call last, after the API, since the fallback takes every path."""
    app[WEB_SETTINGS] = settings
    dist = settings.web_dist.resolve()
    index = dist / "index.html"
    assets = dist / "assets"

    async def asset(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        path = (assets / name).resolve()
        if path.parent != assets.resolve() or not path.is_file():
            raise web.HTTPNotFound()
        response = web.FileResponse(path)
        response.headers["Cache-Control"] = IMMUTABLE
        return response

    async def page(request: web.Request) -> web.StreamResponse:
        static = _static_file(dist, request.path)
        if static is not None:
            return web.FileResponse(static)
        if not index.is_file():
            return json_response(
                {
                    "error": {
                        "code": "web_not_built",
                        "message": "the web app is not built: run `make web` (make run does)",
                        "details": {"web_dist": str(dist)},
                    }
                },
                503,
            )
        response = web.FileResponse(index)
        response.headers["Cache-Control"] = "no-cache"
        response.headers["Content-Security-Policy"] = content_security_policy(settings, request)
        response.headers["Referrer-Policy"] = "same-origin"
        return response

    app.router.add_get("/assets/{name}", asset)
    app.router.add_get(_APP_PATHS, page)
    if not index.is_file():
        log.warning("web.not_built", web_dist=str(dist))


def _static_file(dist: Path, path: str) -> Path | None:
    """A top-level file of the build (favicon.ico, robots.txt), never outside it, never index."""
    name = path.lstrip("/")
    if not name or "/" in name or name == "index.html" or name.startswith("."):
        return None
    candidate = (dist / name).resolve()
    return candidate if candidate.parent == dist and candidate.is_file() else None
