"""Serving the REST app so that even requests aiohttp's HTTP parser refuses get the envelope.

Such requests never reach routing or the middlewares; aiohttp answers them in plain text.
:class:`RestRunner` has them answered with the error envelope instead, through
:class:`lago_core.adapters.aiohttp.ParseErrorRunner` (where the aiohttp internals this takes
are, and why).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aiohttp import web

from lago_core.adapters.aiohttp import ParseErrorRunner
from lago_core.metrics import HTTP_REQUESTS
from lago_rest.middleware import envelope

__all__ = ["RestRunner", "parse_error_envelope"]


def parse_error_envelope(request: web.BaseRequest, status: int) -> web.StreamResponse:
    """The envelope for a request the parser refused with ``status``; the connection closes."""
    code = "internal" if status >= 500 else "bad_request"
    if status == HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE:
        code = "headers_too_large"
    elif status == HTTPStatus.REQUEST_URI_TOO_LONG:
        code = "uri_too_long"
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "bad request"
    # aiohttp's message quotes the offending bytes; the envelope says what was wrong only.
    response = envelope(status, code, f"the request could not be parsed: {phrase.lower()}")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.force_close()
    HTTP_REQUESTS.labels("rest", request.method or "-", "unparsed", str(status)).inc()
    return response


class RestRunner(ParseErrorRunner):
    """``web.AppRunner`` whose connections answer unparseable requests with the envelope."""

    def __init__(self, app: web.Application, **kwargs: Any) -> None:
        super().__init__(app, answer=parse_error_envelope, **kwargs)
