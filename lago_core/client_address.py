"""Which address a request came from, for per-client abuse budgets.

Behind a reverse proxy every TCP peer is the proxy, so budgets per peer would be one budget for
everyone. The proxy appends the address it saw to ``X-Forwarded-For``; a client can put anything
before that. So the header is read only when the peer is a configured trusted proxy
(``LAGO_TRUSTED_PROXIES``), from the right, skipping trusted hops: the first address that is not a
trusted proxy is the client. Anything a client wrote to the left of it is ignored.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Sequence

from aiohttp import web

__all__ = ["client_address", "client_address_from", "from_trusted_proxy"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

UNKNOWN = "unknown"


@functools.cache
def _networks(trusted: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in trusted)


def _address(raw: str) -> Address | None:
    text = raw.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "203.0.113.7:51234"
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    # An IPv4 peer on a dual-stack socket shows as ::ffff:a.b.c.d.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_address_from(
    peer: str | None, forwarded_for: Iterable[str], trusted: Sequence[str]
) -> str:
    """The client's address given the TCP peer, the X-Forwarded-For headers and trusted CIDRs."""
    networks = _networks(tuple(trusted))
    current = _address(peer) if peer else None
    if current is None:
        return peer or UNKNOWN
    hops = [hop for header in forwarded_for for hop in header.split(",") if hop.strip()]
    while any(current in network for network in networks) and hops:
        previous = _address(hops.pop())
        if previous is None:
            # A hop a trusted proxy would not write: stop at the last address we can vouch for.
            break
        current = previous
    return str(current)


def client_address(request: web.Request, trusted: Sequence[str]) -> str:
    return client_address_from(
        request.remote, request.headers.getall("X-Forwarded-For", ()), trusted
    )


def from_trusted_proxy(request: web.Request, trusted: Sequence[str]) -> bool:
    """Whether the TCP peer is a configured trusted proxy, whose ``X-Forwarded-*`` headers may
    be believed (the scheme and host the client used, for cookies and the Origin check)."""
    peer = _address(request.remote) if request.remote else None
    return peer is not None and any(peer in network for network in _networks(tuple(trusted)))
