"""Serving the REST app so that even requests aiohttp's HTTP parser refuses get the envelope.

A request line or header over aiohttp's limits (8 KiB), a malformed header, a bad method: the
parser refuses them before routing, so no middleware sees them, and aiohttp answers from
``RequestHandler.handle_error`` in plain text. aiohttp has no public hook for that answer
(aio-libs/aiohttp#3287), so :class:`RestRunner` serves connections with a request handler whose
``handle_error`` keeps aiohttp's behaviour (log, refuse when a response was already started,
close the connection) and only replaces the body with the error envelope. The members this
relies on — ``AppRunner._make_server`` and the fact that ``web.Server`` and
``web.RequestHandler`` take a subclass of the same layout — are exercised by
``tests/test_bad_input.py::test_parser_errors_are_enveloped`` against the pinned aiohttp.
"""

from __future__ import annotations

from http import HTTPStatus

from aiohttp import web

from lago_core.metrics import HTTP_REQUESTS
from lago_rest.middleware import envelope

__all__ = ["RestRunner"]


class _EnvelopeRequestHandler(web.RequestHandler):
    __slots__ = ()

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        # aiohttp's own answer first: it logs, refuses when a response was already started, and
        # closes the connection; only its body is replaced.
        super().handle_error(request, status, exc, message)
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


class _EnvelopeServer(web.Server):
    def __call__(self) -> web.RequestHandler:
        handler = super().__call__()
        # Same layout (no new slots): only handle_error differs.
        handler.__class__ = _EnvelopeRequestHandler
        return handler


class RestRunner(web.AppRunner):
    """``web.AppRunner`` whose connections answer unparseable requests with the envelope."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _EnvelopeServer
        return server
