"""Installing the Node.js Socket.IO reference server of ``lago bench fanout``.

``lago_bench/node/`` holds ``server.js`` with a ``package.json`` and ``package-lock.json`` that pin
socket.io exactly. The benchmark installs them with the machine's own ``npm ci`` (from the npm
registry) into ``.lago-local/bench-node/``, and only when that copy is missing or was installed
from another lock file (a digest of both files is kept next to it). Without ``node`` or ``npm``,
or when the install fails, the target is skipped with the reason instead of failing the run.
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

__all__ = ["NODE_SOURCE", "NodeBaseline", "TargetSkipped", "ensure_node_baseline"]

NODE_SOURCE = Path(__file__).with_name("node")
MIN_NODE_MAJOR = 18  # socket.io 4.8 and its `ws` support Node 10+, but only 18+ is still maintained
_MANIFESTS = ("package.json", "package-lock.json")


class TargetSkipped(Exception):
    """A benchmark target cannot run on this machine; the message says why."""


@dataclass(frozen=True)
class NodeBaseline:
    node: str
    script: Path
    node_path: Path  # the node_modules directory server.js resolves socket.io from
    node_version: str
    socketio_version: str


def _digest() -> str:
    h = hashlib.sha256()
    for name in _MANIFESTS:
        h.update((NODE_SOURCE / name).read_bytes())
    return h.hexdigest()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    # Two benchmark runs at once must not run npm ci into the same directory.
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


def ensure_node_baseline(dest: Path | None = None, *, timeout_s: float = 300.0) -> NodeBaseline:
    """Install socket.io for ``server.js`` if needed; raise TargetSkipped when it cannot run."""
    dest = dest or PROJECT_ROOT / ".lago-local" / "bench-node"
    node = shutil.which("node")
    npm = shutil.which("npm")
    if node is None or npm is None:
        missing = " and ".join(n for n, p in (("node", node), ("npm", npm)) if p is None)
        raise TargetSkipped(f"{missing} not found on PATH (install Node.js {MIN_NODE_MAJOR}+)")
    try:
        version = _run([node, "--version"], NODE_SOURCE, 30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise TargetSkipped(f"`node --version` failed: {exc}") from None
    try:
        major = int(version.lstrip("v").split(".", 1)[0])
    except ValueError:
        raise TargetSkipped(f"cannot read the Node.js version {version!r}") from None
    if major < MIN_NODE_MAJOR:
        raise TargetSkipped(f"Node.js {version} is older than {MIN_NODE_MAJOR}")
    dest.mkdir(parents=True, exist_ok=True)
    stamp = dest / ".installed-from"
    package = dest / "node_modules" / "socket.io" / "package.json"
    want = _digest()
    with _locked(dest / ".lock"):
        current = stamp.read_text().strip() if stamp.exists() else ""
        if current != want or not package.exists():
            for name in _MANIFESTS:
                shutil.copyfile(NODE_SOURCE / name, dest / name)
            stamp.unlink(missing_ok=True)
            argv = [npm, "ci", "--omit=dev", "--no-audit", "--no-fund", "--ignore-scripts"]
            try:
                result = _run(argv, dest, timeout_s)
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise TargetSkipped(f"`npm ci` in {dest} failed: {exc}") from None
            if result.returncode != 0 or not package.exists():
                tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-5:])
                raise TargetSkipped(f"`npm ci` in {dest} failed (exit {result.returncode}): {tail}")
            stamp.write_text(want + "\n")
    socketio_version = str(orjson.loads(package.read_bytes()).get("version", "unknown"))
    return NodeBaseline(
        node=node,
        script=NODE_SOURCE / "server.js",
        node_path=dest / "node_modules",
        node_version=version,
        socketio_version=socketio_version,
    )
