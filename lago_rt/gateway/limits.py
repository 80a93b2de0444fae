"""Per-connection rate limiting on the socket.

A token bucket in process memory, not the `limits` library the REST side uses: it guards one
socket on one node, runs on every message, and a dictionary lookup plus two float operations is
all it needs — a shared store would cost a round trip per chat message.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FLOOD_CUTOFF", "TokenBucket"]

# A connection's first this many messages refused in a row by its rate limit are answered
# `rate_limited`; the next one refused cuts the connection off, on every namespace
# (docs/protocol.md, "Limits").
FLOOD_CUTOFF = 20


@dataclass(slots=True)
class TokenBucket:
    rate: float
    burst: float
    tokens: float
    updated: float
    overdrawn: int = 0

    @classmethod
    def full(cls, rate: float, burst: float, now: float) -> TokenBucket:
        return cls(rate=rate, burst=burst, tokens=burst, updated=now)

    def take(self, now: float) -> bool:
        """Spend one token; False when the bucket is empty (and count the overdraft)."""
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            self.overdrawn = 0
            return True
        self.overdrawn += 1
        return False
