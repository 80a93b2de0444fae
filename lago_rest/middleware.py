"""Request id, authentication, the error envelope and metrics: the layers around every handler."""

from __future__ import annotations

import re
import time
import uuid

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from lago_core.errors import LagoError, PayloadTooLarge, Unauthenticated
from lago_core.http import json_response
from lago_core.logging import get_logger
from lago_core.metrics import HTTP_LATENCY, HTTP_REQUESTS
from lago_core.security.roles import Principal
from lago_rest.context import PRINCIPAL, services_of
from lago_rest.web_session import access_cookie, authenticate_cookie, write_session_cookies

__all__ = [
    "auth_middleware",
    "envelope",
    "error_middleware",
    "request_id_middleware",
    "security_headers",
]

log = get_logger("lago_rest.http")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


# Describe aiohttp's plain-text body, not the envelope that replaces it.
_BODY_HEADERS = frozenset({"content-type", "content-length", "content-encoding"})


def envelope(status: int, code: str, message: str, details: object = None) -> web.Response:
    """The error envelope as a response: the one shape every REST error has."""
    return json_response({"error": {"code": code, "message": message, "details": details}}, status)


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """On every response (``on_response_prepare``): the declared content type is the only one a
    browser may use, so an upload can never be sniffed into HTML or script."""
    response.headers["X-Content-Type-Options"] = "nosniff"


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Accept a sane X-Request-ID or make one; bind it to every log line of this request."""
    incoming = request.headers.get("X-Request-ID", "")
    request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
    structlog.contextvars.bind_contextvars(request_id=request_id)
    started = time.perf_counter()
    route = (
        request.match_info.route.resource.canonical
        if request.match_info.route.resource
        else "unmatched"
    )
    status = 500
    try:
        response = await handler(request)
        status = response.status
        response.headers["X-Request-ID"] = request_id
        return response
    finally:
        elapsed = time.perf_counter() - started
        HTTP_REQUESTS.labels("rest", request.method, route, str(status)).inc()
        HTTP_LATENCY.labels("rest", route).observe(elapsed)
        log.info(
            "http.request",
            method=request.method,
            route=route,
            status=status,
            ms=round(elapsed * 1000, 2),
        )
        structlog.contextvars.unbind_contextvars("request_id")


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure leaves as ``{"error": {"code", "message", "details"}}`` with the right status;
    the session cookies set or cleared while answering leave with the answer, whichever it is."""
    response = await _answer(request, handler)
    write_session_cookies(request, response)
    return response


async def _answer(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except LagoError as exc:
        response = envelope(exc.status, exc.code, exc.message, exc.details)
        if exc.status == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        return response
    except web.HTTPRequestEntityTooLarge:
        err = PayloadTooLarge("the body is larger than this endpoint accepts")
        limit = services_of(request).settings.max_upload_bytes
        return envelope(413, err.code, err.message, {"max_bytes": limit})
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, "http_error")
        response = envelope(exc.status, code, exc.reason)
        # Headers the status is defined with travel with it: Allow on a 405 (RFC 9110 §15.5.6).
        for name, value in exc.headers.items():
            if name.lower() not in _BODY_HEADERS:
                response.headers.add(name, value)
        return response
    except Exception:
        log.exception("http.unhandled")
        return envelope(500, "internal", "internal error; quote the X-Request-ID when reporting")


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Authenticate a Bearer token when one is sent, otherwise the browser's session cookie
    (lago_rest/web_session.py); endpoints decide whether a caller is required."""
    header = request.headers.get("Authorization")
    principal: Principal | None = None
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("use Authorization: Bearer <access token>", code="invalid_token")
        principal = await services_of(request).identity.authenticate(token.strip())
    else:
        cookie = access_cookie(request)
        if cookie is not None:
            principal = await authenticate_cookie(request, cookie)
    if principal is None:
        return await handler(request)
    request[PRINCIPAL] = principal
    structlog.contextvars.bind_contextvars(user_id=str(principal.user_id))
    try:
        return await handler(request)
    finally:
        structlog.contextvars.unbind_contextvars("user_id")
