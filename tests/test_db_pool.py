"""The real-time node's pool is opened whole at start (lago_core.db.fill_pool)."""

from __future__ import annotations

import asyncpg

from lago_core.db import fill_pool
from lago_core.settings import Settings


async def test_fill_pool_opens_every_connection_and_leaves_them_idle(settings: Settings) -> None:
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=4)
    try:
        assert pool.get_size() == 1
        await fill_pool(pool)
        assert pool.get_size() == 4
        assert pool.get_idle_size() == 4
    finally:
        await pool.close()
