"""aioice's undocumented member, reached only here (aioice is pinned exactly).

Why it is needed:

- ``aioice.ice.get_host_addresses(use_ipv4, use_ipv6)``: the module function an ICE connection
  calls, by its module-global name, to list the local addresses it gathers host candidates on.
  aioice (and aiortc above it) offers no per-connection choice of addresses, and skips loopback;
  :func:`limit_host_addresses` rebinds the module attribute, so a real-time node gathers only on
  the addresses it is configured with (``LAGO_LIVE_ICE_ADDRESSES``; loopback in tests).

tests/test_private_members.py checks that aioice still looks the function up at gather time.
"""

from __future__ import annotations

import aioice.ice

__all__ = ["limit_host_addresses"]


def limit_host_addresses(addresses: tuple[str, ...]) -> None:
    """Gather ICE host candidates only on these local addresses (empty: aioice's default).

    This applies to the whole process — which is one real-time node with one configuration.
    """
    if addresses:
        chosen = list(addresses)

        def host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
            return [a for a in chosen if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]

        aioice.ice.get_host_addresses = host_addresses
