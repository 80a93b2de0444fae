"""Apply the ordered SQL files under ``sql/`` exactly once each.

A short runner rather than a migration framework: our migrations are plain forward-only SQL files,
and what we need is small — an applied-files table with checksums (an edited, already-applied file
is refused rather than silently skipped) and a PostgreSQL advisory lock so that two processes
starting together (two RT nodes and REST in compose) never apply at once. Each file runs in its own
transaction, so a failing file leaves nothing half-applied.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from lago_core.db import connect

__all__ = ["MIGRATIONS_DIR", "Migration", "MigrationError", "apply_migrations", "load_migrations"]

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "sql"
_NAME = re.compile(r"^(\d{3,})_[a-z0-9_]+\.sql$")
# An arbitrary but fixed 64-bit key: "lago-mig" in ASCII.
_LOCK_KEY = 0x6C61676F2D6D6967


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNN_words.sql")
        found.append(Migration(int(match.group(1)), path.name, path.read_text(encoding="utf-8")))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError("two migration files share a version number")
    return found


async def apply_migrations(dsn: str, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply pending migrations; returns the names applied (empty when already up to date)."""
    migrations = load_migrations(directory)
    conn = await connect(dsn)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        try:
            return await _apply_locked(conn, migrations)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    finally:
        await conn.close()


async def _apply_locked(conn: asyncpg.Connection, migrations: list[Migration]) -> list[str]:
    await conn.execute(
        """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version    integer PRIMARY KEY,
            name       text NOT NULL,
            checksum   text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    applied = {
        r["version"]: r
        for r in await conn.fetch("SELECT version, name, checksum FROM schema_migrations")
    }
    done: list[str] = []
    for migration in migrations:
        row = applied.get(migration.version)
        if row is not None:
            if row["checksum"] != migration.checksum:
                raise MigrationError(
                    f"{migration.name} was edited after it was applied; add a new migration instead"
                )
            continue
        async with conn.transaction():
            await conn.execute(migration.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                migration.version,
                migration.name,
                migration.checksum,
            )
        done.append(migration.name)
    return done
