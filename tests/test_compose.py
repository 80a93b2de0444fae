"""docker-compose.yml is valid and has the production shape docs/running.md describes.

Validation uses a compose tool (`docker compose` or Debian's `docker-compose`), which checks the
file without a Docker engine; with no tool installed those tests skip and say so. The shape test
reads the YAML with PyYAML when it is installed. Nothing here imports Lago's packages.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
# Stand-ins for the secrets the file requires (`${VAR:?}`), for validation only.
SECRETS = {
    "LAGO_JWT_SECRET": "x" * 48,
    "POSTGRES_PASSWORD": "compose-test-only",
    "LAGO_BANK_KEY": "k1:" + "A" * 43 + "=",
}
APP_SERVICES = {"rest", "rt1", "rt2", "worker"}


@cache
def compose_command() -> tuple[str, ...] | None:
    """The first compose tool that runs here, or None."""
    candidates: list[tuple[str, ...]] = []
    if docker := shutil.which("docker"):
        candidates.append((docker, "compose"))
    if docker_compose := shutil.which("docker-compose"):
        candidates.append((docker_compose,))
    for command in candidates:
        try:
            probe = subprocess.run(
                [*command, "version"], capture_output=True, timeout=60, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if probe.returncode == 0:
            return command
    return None


def run_compose(
    tmp_path: Path, *args: str, drop: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    command = compose_command()
    if command is None:
        pytest.skip(
            "no compose tool here: neither `docker compose` nor `docker-compose` runs "
            "(Debian: apt-get install --no-install-recommends docker-compose; `make test` "
            "installs it by itself when CI=true)"
        )
    env = {k: v for k, v in os.environ.items() if k not in SECRETS and k not in drop}
    env.update({k: v for k, v in SECRETS.items() if k not in drop})
    # An empty env file, so a developer's own .env neither helps nor breaks the check.
    env_file = tmp_path / "empty.env"
    env_file.write_text("")
    return subprocess.run(
        [
            *command,
            "--project-directory", str(ROOT),
            "--env-file", str(env_file),
            "-f", str(COMPOSE_FILE),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=env,
        check=False,
    )  # fmt: skip


def test_compose_file_is_valid(tmp_path: Path) -> None:
    done = run_compose(tmp_path, "config", "-q")
    assert done.returncode == 0, done.stderr


def test_compose_file_requires_the_jwt_secret(tmp_path: Path) -> None:
    done = run_compose(tmp_path, "config", "-q", drop=("LAGO_JWT_SECRET",))
    assert done.returncode != 0
    assert "LAGO_JWT_SECRET" in done.stderr


def test_compose_file_shape() -> None:
    yaml = pytest.importorskip("yaml", reason="PyYAML is not installed; compose tool checks only")
    spec: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    services: dict[str, Any] = spec["services"]

    assert set(services) >= {"postgres", "redis", "migrate", "proxy", *APP_SERVICES}
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    assert services["migrate"]["command"] == ["lago", "migrate"]
    assert services["rest"]["command"] == ["lago", "rest"]
    assert services["worker"]["command"] == ["lago", "worker"]

    for name in ("rt1", "rt2"):
        assert services[name]["command"] == ["lago", "rt"]
        assert services[name]["environment"]["LAGO_RT_HOST"] == "0.0.0.0"
    node_ids = [services[name]["environment"]["LAGO_NODE_ID"] for name in ("rt1", "rt2")]
    assert len(set(node_ids)) == 2, "the two real-time nodes need distinct LAGO_NODE_ID"
    assert services["rest"]["environment"]["LAGO_REST_HOST"] == "0.0.0.0"

    for name in APP_SERVICES:
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        env = services[name]["environment"]
        assert env["LAGO_JWT_SECRET"].startswith("${LAGO_JWT_SECRET:?"), name
    for name, service in services.items():
        if name != "migrate":  # a one-shot: the others wait for it to complete instead
            assert service["healthcheck"]["test"], f"{name} has no health check"

    conf = (ROOT / "deploy" / "nginx.conf").read_text(encoding="utf-8")
    for needle in ("location /socket.io/", "location /api/", "proxy_set_header Upgrade", "ip_hash"):
        assert needle in conf, needle
    assert "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro" in services["proxy"]["volumes"]
