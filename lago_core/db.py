"""PostgreSQL connection pools with the codecs every store expects (jsonb via orjson)."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson

__all__ = ["connect", "create_pool"]


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


async def connect(dsn: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(dsn, timeout=10)
    await _init_connection(conn)
    return conn
