"""Idempotency keys for requests with effects (create payment, refund): one effect per key.

A caller sends ``Idempotency-Key``; the first request with a key runs and its response is kept;
a repeat with the same parameters gets the same response without running again; a repeat with
other parameters is refused (``idempotency_key_reused``).

How concurrent duplicates are kept apart: the record is inserted at the start of the request's
database transaction and filled in before it commits. A duplicate's insert waits on the primary
key until the first commits (then it reads the finished response) or rolls back (then it runs
itself). Nobody ever sees a half-done record, so there is no "stuck in progress" state to expire
after a crash. A duplicate that waits longer than ``lock_timeout_s`` gets ``request_in_progress``.
The effect's own writes go through the same connection, so they commit with the record.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import orjson

from lago_core.clock import Clock
from lago_core.errors import Conflict, InvalidInput
from lago_core.ledger.store import Conn

__all__ = ["Idempotency", "IdempotentResult", "check_key", "request_hash"]

MAX_KEY_LENGTH = 100


@dataclass(frozen=True, slots=True)
class IdempotentResult:
    status: int
    body: dict[str, Any]
    replayed: bool


def request_hash(scope: str, params: Mapping[str, Any]) -> str:
    """A digest of what was asked: the operation and its parameters, key order irrelevant."""
    canonical = orjson.dumps({"scope": scope, "params": params}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def check_key(key: str) -> None:
    """Refuse a client's Idempotency-Key that is empty, too long or not printable."""
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidInput(
            f"Idempotency-Key must be 1–{MAX_KEY_LENGTH} printable characters",
            code="invalid_idempotency_key",
        )


class Idempotency:
    def __init__(self, pool: asyncpg.Pool, clock: Clock, *, lock_timeout_s: float = 10.0) -> None:
        self._pool = pool
        self._clock = clock
        self._lock_timeout_ms = int(lock_timeout_s * 1000)

    async def run(
        self,
        caller: UUID,
        key: str,
        scope: str,
        params: Mapping[str, Any],
        action: Callable[[Conn], Awaitable[Mapping[str, Any]]],
        *,
        status: int = 201,
    ) -> IdempotentResult:
        """Run ``action`` once for (caller, key); its JSON-able result is the stored response.

        Only successful results are stored: when ``action`` raises, the transaction rolls back
        with the record, and a retry with the same key runs again (the failure may have been
        transient, and nothing was done).
        """
        check_key(key)
        digest = request_hash(scope, params)
        async with self._pool.acquire() as conn, conn.transaction():
            inserted = await self._claim(conn, caller, key, digest, self._clock.now())
            if not inserted:
                return await self._replay(conn, caller, key, digest)
            body = orjson.loads(orjson.dumps(await action(conn)))
            await conn.execute(
                """UPDATE idempotency_keys SET status = $3, response = $4
                   WHERE caller_id = $1 AND key = $2""",
                caller,
                key,
                status,
                body,
            )
            return IdempotentResult(status, body, replayed=False)

    async def _claim(self, conn: Conn, caller: UUID, key: str, digest: str, now: datetime) -> bool:
        await conn.execute(f"SET LOCAL lock_timeout = {self._lock_timeout_ms}")
        try:
            row = await conn.fetchval(
                """INSERT INTO idempotency_keys (caller_id, key, request_hash, created_at)
                   VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING 1""",
                caller,
                key,
                digest,
                now,
            )
        except asyncpg.LockNotAvailableError:
            raise Conflict(
                "a request with this Idempotency-Key is still being processed; retry later",
                code="request_in_progress",
            ) from None
        # The effect's own statements may wait on their locks as long as they normally would.
        await conn.execute("SET LOCAL lock_timeout = 0")
        return row is not None

    async def _replay(self, conn: Conn, caller: UUID, key: str, digest: str) -> IdempotentResult:
        row = await conn.fetchrow(
            """SELECT request_hash, status, response FROM idempotency_keys
               WHERE caller_id = $1 AND key = $2""",
            caller,
            key,
        )
        assert row is not None
        assert row["status"] is not None
        if row["request_hash"] != digest:
            raise InvalidInput(
                "this Idempotency-Key was used for a different request; use a new key",
                code="idempotency_key_reused",
            )
        return IdempotentResult(row["status"], row["response"], replayed=True)

    async def purge(self, before: datetime) -> int:
        """Forget keys older than ``before``: a retry after that is a new request."""
        status = await self._pool.execute(
            "DELETE FROM idempotency_keys WHERE created_at < $1", before
        )
        return int(status.split()[-1])
