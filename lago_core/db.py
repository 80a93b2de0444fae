"""PostgreSQL connection pools with the codecs every store expects (jsonb via orjson)."""

from __future__ import annotations

import asyncio
from collections.abc import Set
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

import asyncpg
import orjson

if TYPE_CHECKING:
    from lago_core.ledger.store import Conn

__all__ = ["connect", "create_pool", "fill_pool", "transition_row"]


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=_dumps, decoder=orjson.loads, schema="pg_catalog")
    await conn.set_type_codec("json", encoder=_dumps, decoder=orjson.loads, schema="pg_catalog")


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Return a connection to the pool as it is (asyncpg has already rolled back any transaction).

    asyncpg's default reset sends ``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL``
    on every release: one more round trip for every pooled query, which on a busy real-time node
    waits behind its event loop like any other. Our code keeps no session state on pooled
    connections — advisory locks are ``pg_advisory_xact_lock``, settings ``SET LOCAL``, no
    LISTEN, no cursors outside transactions — so there is nothing to reset. Code that needs
    session state takes its own connection (``connect``), as the migration runner does.
    """


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        reset=_keep_session,
        command_timeout=30,
    )
    assert pool is not None
    return pool


async def fill_pool(pool: asyncpg.Pool) -> None:
    """Open every connection ``pool`` may hold now, rather than one at a time under load.

    A pool grows only when a caller finds it empty, and each new connection costs a PostgreSQL
    backend start, a refused TLS offer and the codecs' set-up: tens of milliseconds on a busy
    machine, waited for by whoever asked. A real-time node's first minute is usually a storm of
    reconnecting members (it just started), whose handshakes and joins then queued behind
    the pool's growth: 2,000 members took 4.4 s to connect and join instead of 3.1 s with the
    pool full from the start (docs/benchmarks.md). Idle connections still close after asyncpg's
    inactivity limit; this is for the start.
    """
    held = await asyncio.gather(
        *(pool.acquire() for _ in range(pool.get_max_size())), return_exceptions=True
    )
    failed = None
    for conn in held:
        if isinstance(conn, BaseException):
            failed = failed or conn
        else:
            await pool.release(conn)
    if failed is not None:
        raise failed


async def connect(dsn: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(dsn, timeout=10)
    await _init_connection(conn)
    return conn


async def transition_row(
    conn: Conn | asyncpg.Pool,
    table: str,
    columns: str,
    settable: Set[str],
    row_id: UUID,
    expected: str,
    target: str,
    now: datetime,
    fields: dict[str, Any] | None = None,
) -> asyncpg.Record | None:
    """Move a state machine's row (``table`` is "name AS alias", ``columns`` what to return)
    from ``expected`` to ``target``, setting ``fields`` too; None when it is no longer in
    ``expected`` (a concurrent transition won), in which case nothing changed. Orders and swaps
    move through here."""
    fields = fields or {}
    # The names are spliced into SQL, so only the store's own list of columns passes.
    unknown = set(fields) - set(settable)
    assert not unknown, unknown
    alias = table.rsplit(" ", 1)[-1]
    assignments = "".join(f", {col} = ${i}" for i, col in enumerate(fields, start=5))
    return await conn.fetchrow(
        f"""UPDATE {table} SET status = $3, updated_at = $4{assignments}
            WHERE {alias}.id = $1 AND {alias}.status = $2 RETURNING {columns}""",
        row_id,
        expected,
        target,
        now,
        *fields.values(),
    )
