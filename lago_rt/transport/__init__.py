"""Lago's Engine.IO v4 / Socket.IO v5 transport (see ``server.py``)."""

from lago_rt.transport.hub import Hub, Socket
from lago_rt.transport.server import (
    NO_ANSWER,
    ConnectionRefused,
    Direct,
    Pending,
    ServerOptions,
    SocketServer,
)

__all__ = [
    "NO_ANSWER",
    "ConnectionRefused",
    "Direct",
    "Hub",
    "Pending",
    "ServerOptions",
    "Socket",
    "SocketServer",
]
