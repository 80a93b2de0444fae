"""Probes, metrics, the OpenAPI document, settings validation and migrations."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from lago_core.migrations import MigrationError, apply_migrations, load_migrations
from lago_core.settings import Settings, SettingsError

Client = TestClient[Any, Any]


async def test_health_ready_metrics(client: Client) -> None:
    assert (await client.get("/healthz")).status == 200
    ready = await client.get("/readyz")
    assert ready.status == 200
    assert (await ready.json())["checks"] == {"postgres": "ok", "redis": "ok"}
    metrics = await (await client.get("/metrics")).text()
    assert "lago_http_requests_total" in metrics


async def test_openapi_matches_routes(client: Client) -> None:
    doc = await (await client.get("/api/v1/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    signup = doc["paths"]["/api/v1/auth/signup"]["post"]
    schema_ref = signup["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    name = schema_ref.rsplit("/", 1)[1]
    assert set(doc["components"]["schemas"][name]["required"]) == {
        "phone",
        "code",
        "password",
        "display_name",
    }
    assert doc["components"]["schemas"][name]["additionalProperties"] is False
    # Every registered route is documented.
    registered = {
        (r.method.lower(), r.resource.canonical)
        for r in client.app.router.routes()
        if r.resource is not None
        and r.resource.canonical.startswith("/api/v1/")
        and r.method != "HEAD"
    }
    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    assert registered - {("get", "/api/v1/openapi.json")} == documented


def test_a_route_served_by_two_groups_is_refused() -> None:
    from lago_rest.api import Api

    first, second, whole = Api(), Api(), Api()

    @first.get("/things/{thing_id}")
    async def one(thing_id: str) -> None: ...

    @second.get("/things/{thing_id}")
    async def other(thing_id: str) -> None: ...

    whole.include(first)
    with pytest.raises(ValueError, match=r"GET /api/v1/things/\{thing_id\} is served by both"):
        whole.include(second)


def test_settings_name_the_bad_variable() -> None:
    with pytest.raises(SettingsError) as err:
        Settings.from_env({"LAGO_REST_PORT": "eighty"})
    assert err.value.variable == "LAGO_REST_PORT"
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        Settings.from_env({"DATABASE_URL": "mysql://x"})
    with pytest.raises(SettingsError, match="LAGO_JWT_SECRET"):
        Settings.from_env({"LAGO_ENV": "prod"})
    with pytest.raises(SettingsError, match="LAGO_S3_ENDPOINT"):
        Settings.from_env({"LAGO_STORAGE": "s3"})


def test_cli_stops_on_bad_configuration() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "lago_cli", "migrate"],
        env={"LAGO_DB_POOL_MAX": "0", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "LAGO_DB_POOL_MAX" in result.stderr


async def test_migrations_are_idempotent_and_guarded(database_dsn: str, tmp_path: Any) -> None:
    assert await apply_migrations(database_dsn) == []
    versions = [m.version for m in load_migrations()]
    assert versions == sorted(versions)
    # An applied file that was edited afterwards is refused, not silently skipped.
    (tmp_path / "001_identity.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="edited"):
        await apply_migrations(database_dsn, tmp_path)


async def test_concurrent_migrations_apply_once(database_dsn: str, tmp_path: Any) -> None:
    import asyncio

    for m in load_migrations():
        (tmp_path / m.name).write_text(m.sql)
    (tmp_path / "900_probe.sql").write_text("CREATE TABLE migration_probe (id int);")
    try:
        results = await asyncio.gather(
            *(apply_migrations(database_dsn, tmp_path) for _ in range(3))
        )
        assert sorted(len(r) for r in results) == [0, 0, 1]
    finally:
        conn = await asyncpg.connect(database_dsn)
        await conn.execute(
            "DROP TABLE IF EXISTS migration_probe; DELETE FROM schema_migrations WHERE version = 900"
        )
        await conn.close()
