"""aiohttp's undocumented members, reached only here (aiohttp is pinned exactly).

A request line or header over aiohttp's limits (8 KiB), a malformed header, a bad method: the
HTTP parser refuses them before routing, so no middleware sees them, and aiohttp answers from
``RequestHandler.handle_error`` in plain text. aiohttp has no public hook for that answer
(aio-libs/aiohttp#3287). :class:`ParseErrorRunner` serves connections with a request handler
whose ``handle_error`` keeps aiohttp's behaviour (log, refuse when a response was already
started, close the connection) and only replaces the response with the caller's.

Why each member is needed:

- ``web.RequestHandler.handle_error(request, status, exc, message)``: what aiohttp calls with a
  request its parser refused; overridden to return our response.
- ``web.Server.__call__()``: the protocol factory that makes a ``RequestHandler`` per connection
  (no parameter for the handler class); overridden to give each handler our subclass.
- ``__class__`` assignment on the ``web.Server`` the runner made and on each ``RequestHandler``:
  neither class takes a subclass as a parameter; our subclasses add no slots or state, so the
  layout is the same. The server is reached through the runner's public ``server`` after
  ``setup()``, not through ``AppRunner._make_server``.

tests/test_private_members.py checks these members against the pinned aiohttp, and
tests/test_bad_input.py::test_parser_errors_are_enveloped exercises the whole path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

__all__ = ["ParseErrorAnswer", "ParseErrorRunner"]

# The response to a request the parser refused, given the (partial) request and the status.
ParseErrorAnswer = Callable[[web.BaseRequest, int], web.StreamResponse]


def _answering_server(answer: ParseErrorAnswer) -> type[web.Server]:
    class AnsweringRequestHandler(web.RequestHandler):
        __slots__ = ()

        def handle_error(
            self,
            request: web.BaseRequest,
            status: int = 500,
            exc: BaseException | None = None,
            message: str | None = None,
        ) -> web.StreamResponse:
            # aiohttp's own handling first: it logs, refuses when a response was already started,
            # and closes the connection; only its response is replaced.
            super().handle_error(request, status, exc, message)
            return answer(request, status)

    class AnsweringServer(web.Server):
        def __call__(self) -> web.RequestHandler:
            handler = super().__call__()
            handler.__class__ = AnsweringRequestHandler
            return handler

    return AnsweringServer


class ParseErrorRunner(web.AppRunner):
    """``web.AppRunner`` whose connections answer requests aiohttp's parser refused with
    ``answer(request, status)``."""

    def __init__(self, app: web.Application, *, answer: ParseErrorAnswer, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._server_class = _answering_server(answer)

    async def setup(self) -> None:
        await super().setup()
        server = self.server
        if server is None:
            raise RuntimeError("aiohttp's AppRunner.setup made no server")
        server.__class__ = self._server_class
