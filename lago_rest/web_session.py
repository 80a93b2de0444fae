"""Browser sessions: the tokens in HttpOnly cookies, and the Origin check that keeps other sites
from using them (docs/architecture.md, "Browser sessions").

A page's scripts never see a token: log-in, sign-up and refresh with ``X-Lago-Session: cookie``
set the access token in ``lago_access`` (``Path=/``) and the refresh token in ``lago_refresh``
(``Path=/api/v1/auth``), both ``HttpOnly; SameSite=Strict``, ``Secure`` over HTTPS. A request
without ``Authorization`` is authenticated by the access cookie; one that changes something
(POST, PUT, PATCH, DELETE) must then come from a page of this API's own origin or of
``LAGO_ALLOWED_ORIGINS``, as its ``Origin`` (or ``Referer``) says — a browser always sends one
with such a request and a page cannot forge it.

A cookie that fails (expired, session ended, wrong origin) does not fail the request by itself:
the browser sends it everywhere, also to log-in. The request goes on without a caller, and an
endpoint that needs one answers with that failure (:func:`cookie_refusal`) instead of a plain
"sign in first". A refused access cookie is cleared in the same answer.

Handlers and the authentication queue cookie changes on the request; ``error_middleware`` writes
them into whichever answer leaves, success or error (:func:`write_session_cookies`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from aiohttp import web

from lago_core.client_address import from_trusted_proxy
from lago_core.errors import Forbidden, LagoError, Unauthenticated
from lago_core.identity import TokenPair
from lago_core.security.cookies import ACCESS_COOKIE, REFRESH_COOKIE, REFRESH_COOKIE_PATH
from lago_core.security.roles import Principal
from lago_core.settings import Settings
from lago_rest.context import services_of

__all__ = [
    "SAFE_METHODS",
    "access_cookie",
    "authenticate_cookie",
    "check_origin",
    "cookie_refusal",
    "end_session",
    "is_https",
    "open_session",
    "refresh_cookie",
    "request_origin",
    "write_session_cookies",
]

# Every other method changes something and needs the Origin check with a cookie.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Longer than any token we issue (a JWT of ours is about 300 characters); anything longer is
# not ours and is not looked at.
_MAX_COOKIE = 2_048
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class _Write:
    value: str | None  # None: clear the cookie
    path: str
    max_age: int = 0


_WRITES: web.RequestKey[dict[str, _Write]] = web.RequestKey("session_cookie_writes", dict)
_REFUSAL: web.RequestKey[LagoError] = web.RequestKey("session_cookie_refusal", LagoError)


# --- reading ------------------------------------------------------------------------------------


def _cookie(request: web.Request, name: str) -> str | None:
    value = request.cookies.get(name)
    return value if value and len(value) <= _MAX_COOKIE else None


def access_cookie(request: web.Request) -> str | None:
    return _cookie(request, ACCESS_COOKIE)


def refresh_cookie(request: web.Request) -> str | None:
    return _cookie(request, REFRESH_COOKIE)


def is_https(request: web.Request, trusted: tuple[str, ...]) -> bool:
    """Whether the client reached us over HTTPS: directly, or (a trusted proxy says so) through
    a proxy that terminates TLS."""
    if request.secure:
        return True
    if not from_trusted_proxy(request, trusted):
        return False
    proto = request.headers.get("X-Forwarded-Proto", "")
    return proto.split(",", 1)[0].strip().lower() == "https"


def _canonical(origin: str) -> str | None:
    """``scheme://host[:port]`` in lower case without a default port, or None if not one."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def request_origin(request: web.Request, trusted: tuple[str, ...]) -> str | None:
    """The origin the client addressed: this API's own, for pages it serves itself."""
    host = request.host
    if from_trusted_proxy(request, trusted):
        forwarded = request.headers.get("X-Forwarded-Host")
        if forwarded:
            host = forwarded.split(",", 1)[0].strip()
    scheme = "https" if is_https(request, trusted) else "http"
    return _canonical(f"{scheme}://{host}")


def check_origin(request: web.Request, settings: Settings) -> None:
    """Refuse a request whose page is neither of this API's origin nor an allowed one.

    Used where a cookie carries (or is about to carry) the session. ``Origin`` is what browsers
    send with every POST, PUT, PATCH and DELETE; ``Referer`` stands in when a proxy removed it.
    A request naming neither is refused too: a browser request always names one, and a client
    outside a browser has no reason to use cookies. ``*`` in ``LAGO_ALLOWED_ORIGINS`` (a socket
    convenience in development) allows no origin here.
    """
    claimed = request.headers.get("Origin")
    if claimed is None:
        claimed = request.headers.get("Referer")
    origin = _canonical(claimed) if claimed else None
    if origin is not None:
        trusted = settings.trusted_proxies
        if origin == request_origin(request, trusted):
            return
        if origin in {_canonical(o) for o in settings.browser_origins if o != "*"}:
            return
    raise Forbidden(
        "a request with the session cookie must come from a page of this site: its Origin is "
        "missing or not allowed",
        code="csrf_origin",
    )


# --- authenticating -----------------------------------------------------------------------------


async def authenticate_cookie(request: web.Request, token: str) -> Principal | None:
    """The caller the access cookie names, or None with the reason kept for the endpoint."""
    svc = services_of(request)
    try:
        if request.method not in SAFE_METHODS:
            check_origin(request, svc.settings)
        return await svc.identity.authenticate(token)
    except Unauthenticated as exc:
        # This cookie will never work again (expired, forged, its session ended): drop it.
        _queue(request, ACCESS_COOKIE, _Write(None, "/"))
        request[_REFUSAL] = exc
    except Forbidden as exc:
        request[_REFUSAL] = exc
    return None


def cookie_refusal(request: web.Request) -> LagoError | None:
    """Why the access cookie sent with this request did not authenticate it, if it did not."""
    return request.get(_REFUSAL)


# --- writing ------------------------------------------------------------------------------------


def _queue(request: web.Request, name: str, write: _Write) -> None:
    writes = request.get(_WRITES)
    if writes is None:
        writes = request[_WRITES] = {}
    writes[name] = write


def _max_age(expires: datetime, now: datetime) -> int:
    return max(0, int((expires - now).total_seconds()))


def open_session(request: web.Request, pair: TokenPair, now: datetime) -> None:
    """Set the session's cookies in the answer; each lives as long as its token."""
    access = _Write(pair.access_token, "/", _max_age(pair.access_expires_at, now))
    refresh = _Write(
        pair.refresh_token, REFRESH_COOKIE_PATH, _max_age(pair.refresh_expires_at, now)
    )
    _queue(request, ACCESS_COOKIE, access)
    _queue(request, REFRESH_COOKIE, refresh)


def end_session(request: web.Request) -> None:
    """Clear both cookies in the answer."""
    _queue(request, ACCESS_COOKIE, _Write(None, "/"))
    _queue(request, REFRESH_COOKIE, _Write(None, REFRESH_COOKIE_PATH))


def write_session_cookies(request: web.Request, response: web.StreamResponse) -> None:
    """Write the cookie changes queued for this request into its answer."""
    writes = request.get(_WRITES)
    if not writes or response.prepared:
        return
    secure = is_https(request, services_of(request).settings.trusted_proxies)
    for name, write in writes.items():
        if write.value is None:
            response.del_cookie(
                name, path=write.path, secure=secure, httponly=True, samesite="Strict"
            )
        else:
            response.set_cookie(
                name,
                write.value,
                max_age=write.max_age,
                path=write.path,
                secure=secure,
                httponly=True,
                samesite="Strict",
            )
