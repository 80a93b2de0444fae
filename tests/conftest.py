"""Test fixtures: a real PostgreSQL database and a Redis key space of its own for each run.

The session creates a fresh database from the admin DSN (``DATABASE_URL``, as the make targets
export it) and migrates it; each test starts from empty tables and its own Redis key prefix, so
tests never see each other's data and parallel runs never see each other at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from lago_core.clock import ManualClock
from lago_core.container import Core, build_core
from lago_core.migrations import apply_migrations
from lago_core.security.roles import PlatformRole
from lago_core.settings import Settings
from lago_rest.app import create_app

from .node_server import NodeServer
from .rt_client import ChannelClient

ADMIN_DSN = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
RUN_ID = uuid.uuid4().hex[:10]
_test_numbers = itertools.count()


def _with_database(dsn: str, database: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + database))


@pytest.fixture(scope="session")
async def database_dsn() -> AsyncIterator[str]:
    name = f"lago_test_{RUN_ID}"
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    dsn = _with_database(ADMIN_DSN, name)
    await apply_migrations(dsn)
    yield dsn
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
async def run_redis() -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(REDIS_URL)
    yield client
    keys = [k async for k in client.scan_iter(match=f"lago:test:{RUN_ID}:*", count=1000)]
    for start in range(0, len(keys), 500):
        await client.delete(*keys[start : start + 500])
    await client.aclose()


@pytest.fixture
async def clean_db(database_dsn: str) -> str:
    conn = await asyncpg.connect(database_dsn)
    try:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'"
        )
        # Only the tables the last test wrote to: TRUNCATE costs a new file per table whether
        # it held rows or not (0.6 s for all 90-odd tables, most of them empty, before every
        # test), while asking each whether it holds a row is one cheap round trip. CASCADE still
        # takes any table that refers to a truncated one.
        probe = " UNION ALL ".join(
            f"""SELECT '{t["tablename"]}' WHERE EXISTS (SELECT 1 FROM "{t["tablename"]}")"""
            for t in tables
        )
        used = [row[0] for row in await conn.fetch(probe)] if tables else []
        if used:
            names = ", ".join(f'"{name}"' for name in used)
            await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()
    return database_dsn


@pytest.fixture
def clock() -> ManualClock:
    from datetime import UTC, datetime

    return ManualClock(datetime.now(UTC).replace(microsecond=0))


# For tests marked `many_writes`: they write or pay as one account far faster than a person
# does (dozens of hypothesis examples within a minute, a fuzzer), which the budgets of
# docs/running.md "Abuse limits" would refuse. Everything else runs with the defaults.
MANY_WRITES_BUDGETS = {
    "limit_writes_per_account": "100000/minute",
    "limit_writes_per_address": "100000/minute",
    "limit_payments_per_payer": "100000/minute",
    "limit_payments_per_payer_daily": "100000/day",
}


@pytest.fixture
def settings(request: pytest.FixtureRequest, clean_db: str, tmp_path: Any) -> Settings:
    budgets = MANY_WRITES_BUDGETS if request.node.get_closest_marker("many_writes") else {}
    return Settings.from_env(
        environ={},
        **budgets,
        env="test",
        database_url=clean_db,
        redis_url=REDIS_URL,
        redis_prefix=f"lago:test:{RUN_ID}:{next(_test_numbers)}:",
        jwt_secret="test-secret-0123456789abcdef-0123456789",
        storage_dir=tmp_path / "media",
        db_pool_min=1,
        db_pool_max=5,
    )


@pytest.fixture
async def core(
    settings: Settings, clock: ManualClock, run_redis: aioredis.Redis
) -> AsyncIterator[Core]:
    core = await build_core(settings, clock=clock)
    yield core
    await core.close()


@pytest.fixture
async def client(
    core: Core, settings: Settings, aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]]
) -> TestClient[Any, Any]:
    return await aiohttp_client(create_app(settings, core=core))


@pytest.fixture(autouse=True)
async def fail_on_loop_errors() -> AsyncIterator[None]:
    """A test fails when the event loop saw an exception nobody handled."""
    loop = asyncio.get_running_loop()
    seen: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: seen.append(context))
    yield
    loop.set_exception_handler(previous)
    if seen:
        pytest.fail(f"unhandled exceptions in the event loop: {seen!r}")


@dataclass
class Account:
    id: uuid.UUID
    phone: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


_phones = itertools.count(10_000_000)


@pytest.fixture
def make_account(core: Core) -> Callable[..., Awaitable[Account]]:
    """Create a user directly and log them in; ``role`` grants a platform role."""

    async def make(name: str = "用户", role: PlatformRole | None = None) -> Account:
        phone = f"+86139{next(_phones):08d}"
        password = "correct horse battery"
        view = await core.identity.create_user(phone, password, name, role)
        pair = await core.identity.log_in(phone, password, "pytest")
        return Account(view.id, phone, password, pair.access_token, pair.refresh_token)

    return make


@dataclass
class CommunityWorld:
    id: str
    admin: Account
    staff: Account
    residents: list[Account]
    outsider: Account


@pytest.fixture
async def community(core: Core, make_account: Callable[..., Awaitable[Account]]) -> CommunityWorld:
    """A community with a property company, one staff member and three verified residents."""
    from decimal import Decimal

    from lago_core.security.roles import MemberStatus, Principal

    def principal(account: Account, role: PlatformRole | None = None) -> Principal:
        return Principal(user_id=account.id, session_id=uuid.uuid4(), platform_role=role)

    admin = await make_account("管理员", PlatformRole.ADMIN)
    staff = await make_account("物业小李")
    as_admin = principal(admin, PlatformRole.ADMIN)
    company = await core.communities.create_company(as_admin, f"物业{uuid.uuid4().hex[:6]}")
    await core.communities.add_company_staff(as_admin, company["id"], staff.id)
    row = await core.communities.create(
        as_admin,
        "翠湖花园",
        f"翠湖路{uuid.uuid4().hex[:6]}",
        Decimal("39.99"),
        Decimal("116.31"),
        company["id"],
    )
    residents = []
    for name in ("王阿姨", "张先生", "刘女士"):
        resident = await make_account(name)
        await core.communities.request_to_join(principal(resident), row["id"], None, None)
        await core.communities.decide(
            principal(staff), row["id"], resident.id, MemberStatus.VERIFIED, None
        )
        residents.append(resident)
    outsider = await make_account("路人")
    return CommunityWorld(str(row["id"]), admin, staff, residents, outsider)


@pytest.fixture
async def clients() -> AsyncIterator[list[ChannelClient]]:
    """Socket.io clients a test opens; all closed afterwards."""
    made: list[ChannelClient] = []
    yield made
    for client in made:
        with contextlib.suppress(Exception):
            await client.close()


def valid_credit_code() -> str:
    """A fresh valid 统一社会信用代码: enterprise (91), Beijing Haidian (110108), random body."""
    import secrets

    from lago_core.merchants.rules import CREDIT_CODE_CHARSET, credit_code_check_char

    body = "91110108" + "".join(secrets.choice(CREDIT_CODE_CHARSET) for _ in range(9))
    return body + credit_code_check_char(body)


# A minimal PDF: what a scanned business licence (营业执照) upload looks like to the checks.
LICENCE_PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def company_registration(code: str | None = None) -> dict[str, str]:
    return {
        "legal_name": "成都小明玩具有限公司",
        "credit_code": code or valid_credit_code(),
        "legal_representative": "王小明",
        "contact_phone": "138 0013 8000",
        "address": "成都市武侯区玉林路 8 号",
        "business_scope": "玩具、游戏机销售与租赁",
    }


@pytest.fixture
def approve_merchant(
    core: Core, make_account: Callable[..., Awaitable[Account]]
) -> Callable[[Account, Any], Awaitable[None]]:
    """Register, submit and approve a merchant, as its owner and a platform admin would."""
    from lago_core.merchants.rules import DocumentKind
    from lago_core.security.roles import Principal

    async def approve(owner: Account, merchant_id: Any) -> None:
        admin = await make_account("审核员", PlatformRole.ADMIN)
        as_owner = Principal(owner.id, uuid.uuid4())
        mid = uuid.UUID(str(merchant_id))
        await core.merchants.update_registration(as_owner, mid, company_registration())
        await core.merchants.add_document(
            as_owner, mid, DocumentKind.BUSINESS_LICENCE, LICENCE_PDF, "application/pdf"
        )
        await core.merchants.submit(as_owner, mid)
        await core.merchants.approve(Principal(admin.id, uuid.uuid4(), PlatformRole.ADMIN), mid)

    return approve


@pytest.fixture
async def node_server() -> AsyncIterator[Callable[..., Awaitable[NodeServer]]]:
    """``node_server(create_rt_app(...), port=0, head_timeout_s=...)``: a real-time app behind the node's own listener
    (as ``lago rt`` serves it), closed after the test — aiohttp's ``aiohttp_server`` would bypass
    the listener and refuse every WebSocket."""
    servers: list[NodeServer] = []

    async def serve(app: Any, **options: Any) -> NodeServer:
        server = NodeServer(app, **options)
        servers.append(server)
        await server.start_server()
        return server

    yield serve
    for server in reversed(servers):
        await server.close()
