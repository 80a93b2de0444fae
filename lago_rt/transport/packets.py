"""Engine.IO v4 and Socket.IO v5 packets: what goes on the wire, as text, and WebSocket frames.

Only text packets: Lago's events carry JSON, never binary attachments (a client that sends one is
told so, see ``server.py``). References: https://socket.io/docs/v4/engine-io-protocol/ and
https://socket.io/docs/v4/socket-io-protocol/.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from lago_rt.transport import json_codec

__all__ = [
    "ACK",
    "BINARY_ACK",
    "BINARY_EVENT",
    "CONNECT",
    "CONNECT_ERROR",
    "DISCONNECT",
    "EIO_CLOSE",
    "EIO_MESSAGE",
    "EIO_NOOP",
    "EIO_OPEN",
    "EIO_PING",
    "EIO_PONG",
    "EIO_UPGRADE",
    "EVENT",
    "MAX_ACK_DIGITS",
    "PacketError",
    "SioPacket",
    "event_frame",
    "parse_sio",
    "sio_packet",
    "websocket_frame",
]

# Engine.IO packet types (the first character of every message).
EIO_OPEN, EIO_CLOSE, EIO_PING, EIO_PONG, EIO_MESSAGE, EIO_UPGRADE, EIO_NOOP = "0123456"
# Socket.IO packet types (the character after Engine.IO's MESSAGE).
CONNECT, DISCONNECT, EVENT, ACK, CONNECT_ERROR, BINARY_EVENT, BINARY_ACK = range(7)
# An ack id is a non-negative integer; more digits than this is not a client of ours.
MAX_ACK_DIGITS = 15
# A namespace name longer than this is not one of ours (they are a few characters).
MAX_NAMESPACE = 64


class PacketError(ValueError):
    """A message that is not a Socket.IO packet."""


@dataclass(slots=True, frozen=True)
class SioPacket:
    """A Socket.IO packet read from the text after Engine.IO's ``4``; ``data`` is the JSON text
    (not decoded yet: the server decides whether it needs decoding)."""

    kind: int
    namespace: str
    ack_id: int | None
    data: str


def parse_sio(text: str) -> SioPacket:
    """Read ``<type>[<ns>,][<ack id>][<json>]``; raises :class:`PacketError`."""
    if not text or not "0" <= text[0] <= "6":
        raise PacketError("unknown packet type")
    kind = ord(text[0]) - 48
    i = 1
    end = len(text)
    if kind in (BINARY_EVENT, BINARY_ACK):
        return SioPacket(kind, "/", None, "")
    namespace = "/"
    if i < end and text[i] == "/":
        comma = text.find(",", i, i + MAX_NAMESPACE + 1)
        if comma < 0:
            if end - i > MAX_NAMESPACE:
                raise PacketError("namespace too long")
            return SioPacket(kind, text[i:], None, "")
        namespace = text[i:comma]
        i = comma + 1
    start = i
    while i < end and "0" <= text[i] <= "9":
        i += 1
    if i - start > MAX_ACK_DIGITS:
        raise PacketError("ack id too long")
    ack_id = int(text[start:i]) if i > start else None
    return SioPacket(kind, namespace, ack_id, text[i:])


def _prefix(kind: int, namespace: str) -> str:
    return f"4{kind}" if namespace == "/" else f"4{kind}{namespace},"


def sio_packet(kind: int, namespace: str, data: Any = None, ack_id: int | None = None) -> str:
    """The Engine.IO message carrying a Socket.IO packet (``data`` is encoded as JSON)."""
    text = _prefix(kind, namespace)
    if ack_id is not None:
        text += str(ack_id)
    if data is not None:
        text += json_codec.dumps(data)
    return text


def websocket_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """An unmasked, final server frame (RFC 6455 §5.2) carrying ``payload``."""
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, length)
    elif length < 65_536:
        header = struct.pack("!BBH", 0x80 | opcode, 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, length)
    return header + payload


def event_frame(event_name: bytes, payload_json: bytes, namespace: str = "/") -> bytes:
    """A WebSocket frame with a Socket.IO EVENT, built once and written to many sockets."""
    return websocket_frame(event_message(event_name, payload_json, namespace))


def event_message(event_name: bytes, payload_json: bytes, namespace: str = "/") -> bytes:
    """The Engine.IO message of a Socket.IO EVENT ``[name, payload]`` (no ack id)."""
    return _prefix(EVENT, namespace).encode() + b'["' + event_name + b'",' + payload_json + b"]"
