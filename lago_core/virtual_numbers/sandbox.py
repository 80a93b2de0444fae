"""A local privacy-number provider that behaves like a carrier's: a pool of numbers, bindings
that expire, calls only through a live binding, and call records as signed callbacks delivered
(and retried) by the same job as the sandbox's payment webhooks."""

from __future__ import annotations

import secrets
from datetime import datetime

import asyncpg

from lago_core.clock import Clock
from lago_core.errors import NotFound
from lago_core.payments.provider import ProviderError, ProviderEvent
from lago_core.payments.sandbox import SandboxProvider
from lago_core.virtual_numbers.provider import CALL_COMPLETED, ProviderBinding

__all__ = ["SandboxNumbers"]

_BINDING = "id, number, party_a, party_b, expires_at, unbound_at"


def _binding(row: asyncpg.Record) -> ProviderBinding:
    return ProviderBinding(row["id"], row["number"], row["expires_at"])


class SandboxNumbers:
    name = "sandbox"

    def __init__(self, sandbox: SandboxProvider, clock: Clock, pool_size: int = 50) -> None:
        # The carrier's pool of numbers (号码池): +86 170 0000 0001 upwards.
        self.pool = tuple(f"+8617000{n:06d}" for n in range(1, pool_size + 1))
        self._sandbox = sandbox
        self._store = sandbox.store
        self._clock = clock

    async def bind(
        self, party_a: str, party_b: str, expires_at: datetime, idempotency_key: str
    ) -> ProviderBinding:
        now = self._clock.now()
        async with self._store.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"SELECT {_BINDING} FROM sandbox_vn_bindings WHERE idempotency_key = $1",
                idempotency_key,
            )
            if row is not None:
                return _binding(row)
            # One pool: numbers are handed out one at a time.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('sandbox-vn-pool'))")
            number = await conn.fetchval(
                """SELECT n.number FROM unnest($2::text[]) AS n (number)
                   WHERE NOT EXISTS (SELECT 1 FROM sandbox_vn_bindings b
                                     WHERE b.number = n.number AND b.unbound_at IS NULL
                                       AND b.expires_at > $1)
                   ORDER BY n.number LIMIT 1""",
                now,
                list(self.pool),
            )
            if number is None:
                raise ProviderError("pool_exhausted", "no virtual number is free")
            row = await conn.fetchrow(
                f"""INSERT INTO sandbox_vn_bindings (id, idempotency_key, number, party_a, party_b,
                        expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
                    RETURNING {_BINDING}""",
                f"vb_{secrets.token_hex(12)}",
                idempotency_key,
                number,
                party_a,
                party_b,
                expires_at,
                now,
            )
            assert row is not None
        return _binding(row)

    async def unbind(self, binding_id: str) -> None:
        async with self._store.acquire() as conn:
            await conn.execute(
                """UPDATE sandbox_vn_bindings SET unbound_at = $2
                   WHERE id = $1 AND unbound_at IS NULL""",
                binding_id,
                self._clock.now(),
            )

    def parse_callback(self, signature: str | None, body: bytes, now: datetime) -> ProviderEvent:
        return self._sandbox.parse_webhook(signature, body, now)

    # --- the sandbox's telephone network ----------------------------------------------------------

    async def call(self, number: str, caller: str, duration_s: int) -> str:
        """Someone dials ``number``: it connects only if the caller is one party of a live
        binding of the number; the call record is then sent as a signed callback. Returns the
        call id."""
        now = self._clock.now()
        async with self._store.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"""SELECT {_BINDING} FROM sandbox_vn_bindings
                    WHERE number = $1 AND unbound_at IS NULL AND expires_at > $2
                      AND $3 IN (party_a, party_b)""",
                number,
                now,
                caller,
            )
            if row is None:
                raise NotFound(
                    "this number does not connect you to anyone", code="number_not_bound"
                )
            call_id = f"call_{secrets.token_hex(12)}"
            await conn.execute(
                """INSERT INTO sandbox_vn_calls (id, binding_id, caller, duration_s, started_at)
                   VALUES ($1, $2, $3, $4, $5)""",
                call_id,
                row["id"],
                caller,
                duration_s,
                now,
            )
            event_id = await self._sandbox.emit(
                conn,
                CALL_COMPLETED,
                {
                    "object": "call_record",
                    "id": call_id,
                    "binding_id": row["id"],
                    "number": number,
                    "from_number": caller,
                    "to_number": row["party_b"] if caller == row["party_a"] else row["party_a"],
                    "duration_s": duration_s,
                    "started_at": int(now.timestamp()),
                },
                "virtual_numbers",
            )
        await self._sandbox.announce(event_id)
        return call_id
