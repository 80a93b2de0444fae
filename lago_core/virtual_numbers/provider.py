"""What Lago needs from a privacy-number (虚拟号, AXB) provider; the sandbox implements it.

A binding connects two parties through a number from the provider's pool until it expires or
is unbound; either party calling the number reaches the other, and the provider reports each
call as a signed callback. Bindings are created with an idempotency key, as payments are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from lago_core.payments.provider import ProviderEvent

__all__ = ["CALL_COMPLETED", "PrivacyNumberProvider", "ProviderBinding"]

# The callback a provider sends after each call through a binding.
CALL_COMPLETED = "call.completed"


@dataclass(frozen=True, slots=True)
class ProviderBinding:
    id: str
    number: str
    expires_at: datetime


class PrivacyNumberProvider(Protocol):
    name: str

    async def bind(
        self, party_a: str, party_b: str, expires_at: datetime, idempotency_key: str
    ) -> ProviderBinding:
        """Bind a pair to a free number of the pool until ``expires_at``; once per key.
        Raises ProviderError("pool_exhausted") when no number is free."""
        ...

    async def unbind(self, binding_id: str) -> None:
        """Release the number now (idempotent)."""
        ...

    def parse_callback(self, signature: str | None, body: bytes, now: datetime) -> ProviderEvent:
        """Verify a call-record callback's signature and timestamp and parse it."""
        ...
