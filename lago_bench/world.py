"""The benchmark's own world: a fresh database with N verified members in one or more communities.

Members are inserted in bulk (one precomputed Argon2 hash for all: nobody logs in with a
password), each with a live session and an access token signed with the run's own secret. The
database and the Redis keys under the run's prefix are removed afterwards.
"""

from __future__ import annotations

import secrets
import shutil
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import redis.asyncio as aioredis
from argon2 import PasswordHasher

from lago_core.migrations import apply_migrations
from lago_core.security.tokens import TokenCodec

__all__ = ["BenchWorld", "create_world", "drop_world"]

ISSUER = "lago"
TOKEN_TTL_S = 3 * 3600


@dataclass
class BenchWorld:
    admin_dsn: str
    database: str
    dsn: str
    redis_url: str
    redis_prefix: str
    jwt_secret: str
    community_id: str  # the first community: every member's when there is one
    user_ids: list[uuid.UUID]
    tokens_file: Path
    # One community id per line, aligned with the tokens: the community each member is in.
    joins_file: Path
    community_ids: list[str]


def _with_database(dsn: str, database: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path="/" + database))


async def create_world(
    admin_dsn: str, redis_url: str, members: int, workdir: Path, *, per_community: int = 0
) -> BenchWorld:
    """A database with ``members`` verified members: all in one community, or in consecutive
    groups of ``per_community`` (one community per group)."""
    run = secrets.token_hex(5)
    database = f"lago_bench_{run}"
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()
    dsn = _with_database(admin_dsn, database)
    world = BenchWorld(
        admin_dsn=admin_dsn,
        database=database,
        dsn=dsn,
        redis_url=redis_url,
        redis_prefix=f"lago:bench:{run}:",
        jwt_secret=secrets.token_urlsafe(48),
        community_id="",
        user_ids=[],
        tokens_file=workdir / "tokens.txt",
        joins_file=workdir / "joins.txt",
        community_ids=[],
    )
    try:
        await apply_migrations(dsn)
        await _populate(world, members, per_community or members)
    except BaseException:
        await drop_world(world)
        raise
    return world


async def _populate(world: BenchWorld, members: int, per_community: int) -> None:
    now = datetime.now(UTC)
    password_hash = PasswordHasher().hash(secrets.token_urlsafe(16))
    user_ids = [uuid.uuid4() for _ in range(members)]
    session_ids = [uuid.uuid4() for _ in range(members)]
    community_ids = [uuid.uuid4() for _ in range(0, members, per_community)]
    community_of = [community_ids[i // per_community] for i in range(members)]
    conn = await asyncpg.connect(world.dsn)
    try:
        async with conn.transaction():
            await conn.copy_records_to_table(
                "users",
                columns=["id", "phone", "password_hash", "display_name", "phone_verified_at"],
                records=[
                    (uid, f"+8619{i:09d}", password_hash, f"bench-{i:05d}", now)
                    for i, uid in enumerate(user_ids)
                ],
            )
            await conn.executemany(
                """
                INSERT INTO communities (id, name, address, latitude, longitude, geohash)
                VALUES ($1, 'bench community', $2, 39.99, 116.31, 'wx4eqxyqe')
                """,
                [(cid, f"bench {cid}") for cid in community_ids],
            )
            await conn.copy_records_to_table(
                "community_members",
                columns=["community_id", "user_id", "status", "decided_at"],
                records=[
                    (cid, uid, "verified", now)
                    for cid, uid in zip(community_of, user_ids, strict=True)
                ],
            )
            await conn.copy_records_to_table(
                "sessions",
                columns=["id", "user_id", "created_at", "expires_at", "user_agent"],
                records=[
                    (sid, uid, now, now + timedelta(seconds=TOKEN_TTL_S), "lago-bench")
                    for sid, uid in zip(session_ids, user_ids, strict=True)
                ],
            )
    finally:
        await conn.close()
    codec = TokenCodec(world.jwt_secret, ISSUER, TOKEN_TTL_S)
    lines = [
        codec.issue_access(uid, sid, now)[0] for uid, sid in zip(user_ids, session_ids, strict=True)
    ]
    world.tokens_file.write_text("\n".join(lines) + "\n")
    world.tokens_file.chmod(0o600)
    world.joins_file.write_text("".join(f"{cid}\n" for cid in community_of))
    world.community_ids = [str(cid) for cid in community_ids]
    world.community_id = world.community_ids[0]
    world.user_ids = user_ids


async def drop_world(world: BenchWorld) -> None:
    """Drop the database and delete every Redis key under the run's prefix."""
    world.tokens_file.unlink(missing_ok=True)
    world.joins_file.unlink(missing_ok=True)
    admin = await asyncpg.connect(world.admin_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{world.database}" WITH (FORCE)')
    finally:
        await admin.close()
    client = aioredis.Redis.from_url(world.redis_url)
    try:
        keys = [k async for k in client.scan_iter(match=world.redis_prefix + "*", count=1000)]
        for start in range(0, len(keys), 500):
            await client.delete(*keys[start : start + 500])
    finally:
        await client.aclose()


def remove_workdir(workdir: Path) -> None:
    """Delete a run's scratch directory; a failure is reported (the run's figures stand), not
    raised and not hidden."""
    try:
        shutil.rmtree(workdir)
    except OSError as exc:
        print(f"warning: could not remove {workdir}: {exc}", file=sys.stderr)
