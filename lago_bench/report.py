"""The machine a benchmark ran on, and the result as a table."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["checks_table", "machine", "machine_line", "table"]

PACKAGES = (
    "lago",
    "aiohttp",
    "python-socketio",
    "python-engineio",
    "uvloop",
    "orjson",
    "redis",
    "asyncpg",
    "pydantic",
)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _cc_version() -> str:
    try:
        out = subprocess.run(
            ["cc", "--version"], capture_output=True, text=True, timeout=10, check=False
        )
        return out.stdout.splitlines()[0] if out.stdout else "unknown"
    except OSError:
        return "unknown"


def machine() -> dict[str, Any]:
    versions: dict[str, str] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "packages": versions,
        "cc": _cc_version(),
        "load_average_at_start": Path("/proc/loadavg").read_text().split()[:3],
        "python_loop_10m_s": _python_loop_s(),
    }


def _python_loop_s() -> float:
    """Seconds a pure-Python loop of ten million additions takes now: a yardstick for the
    machine's speed at the time of the run (on the shared 2-core VM it moved between 1.3 and
    2.7 s within an hour, and every figure with it)."""
    started = time.perf_counter()
    total = 0
    for i in range(10_000_000):
        total += i
    return round(time.perf_counter() - started, 3)


def _fmt(n: float) -> str:
    return f"{n:,.0f}"


def machine_line(m: dict[str, Any]) -> str:
    return (
        f"machine: {m['cpu_model']}, {m['cores']} cores, Python {m['python']}, "
        f"aiohttp {m['packages']['aiohttp']}, python-socketio {m['packages']['python-socketio']}, "
        f"load average at start {' '.join(m['load_average_at_start'])}, "
        f"10M-addition Python loop {m.get('python_loop_10m_s', '?')} s"
    )


def checks_table(checks: list[dict[str, Any]]) -> str:
    """The issue's targets: value, and met / NOT met / not measured (with why)."""
    lines = []
    for c in checks:
        value = "—" if c["value"] is None else f"{c['value']:,.2f}".rstrip("0").rstrip(".")
        verdict = {True: "met", False: "NOT met", None: "not measured"}[c["met"]]
        where = f"[{c['scenario']}] " if "scenario" in c else ""
        note = f" ({c['note']})" if c.get("note") else ""
        lines.append(f"{where}{c['target']}: {value} {c['unit']} -> {verdict}{note}")
    return "\n".join(lines)


def table(result: dict[str, Any]) -> str:
    """A plain-text report: one row per step, then the summary per target."""
    lines: list[str] = []
    s = result["settings"]
    if "machine" in result:  # `lago bench all` prints it once, at the top
        lines.append(machine_line(result["machine"]))
    lines.append(
        f"channel of {s['members']} members on one node process; load: {s['client_processes']} "
        f"receiver processes + 1 sender (compiled epoll client); mode {s['mode']}"
    )
    header = (
        f"{'target':<16} {'step':>4} {'msgs/s':>8} {'offered/s':>10} {'deliveries/s':>13} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'srv CPU':>8} {'client CPU %':<14} "
        f"{'other':>7} {'all recv'}"
    )
    lines.append("")
    lines.append(header)
    lines.append("-" * len(header))
    for t in result["targets"]:
        for st in t.get("steps", []):
            role = " (half)" if st.get("role") else ""
            clients = "/".join(f"{c:.0f}" for c in st["client_cpu_pct"])
            lines.append(
                f"{t['name']:<16} {st['step']:>4} {st['rate_msgs_per_s']:>8.1f} "
                f"{_fmt(st['offered_deliveries_per_s']):>10} {_fmt(st['deliveries_per_s']):>13} "
                f"{st['p50_ms']:>8.2f} {st['p99_ms']:>8.2f} {st['max_ms']:>8.1f} "
                f"{st['server_cpu_pct']:>7.0f}% {clients:<14} {st['other_cpu_pct']:>6.0f}% "
                f"{'yes' if st['all_delivered'] else 'NO'}{role}"
            )
    lines.append("")
    for t in result["targets"]:
        if "error" in t:
            lines.append(f"{t['name']}: FAILED: {t['error']}")
            continue
        if "skipped" in t:
            lines.append(f"{t['name']}: skipped: {t['skipped']}")
            continue
        parts = [
            f"{t['name']}: {t['idle_connections']} idle connections, "
            f"{t['server_rss_per_connection_kb']} KB RSS per connection"
        ]
        sat = t.get("saturation")
        if sat:
            parts.append(
                f"saturation {_fmt(sat['deliveries_per_s'])} deliveries/s "
                f"(p99 {sat['p99_ms']} ms{'' if sat['reached'] else ', not reached: raise --max-steps'})"
            )
        half = t.get("half_saturation")
        if half:
            parts.append(
                f"at half: {_fmt(half['deliveries_per_s'])}/s p50 {half['p50_ms']} ms "
                f"p99 {half['p99_ms']} ms"
            )
        if t.get("server_versions"):
            parts.append(", ".join(f"{k} {v}" for k, v in t["server_versions"].items()))
        lines.append("; ".join(parts))
    busiest = max(
        (st["other_cpu_pct"] for t in result["targets"] for st in t.get("steps", [])), default=0
    )
    if busiest > 25:
        lines.append(
            f"WARNING: other processes used up to {busiest:.0f}% of a core during a step "
            "(column 'other': Redis, kernel, anything else running); the machine was not "
            "quiet and these figures understate the servers."
        )
    lines.append(
        "CPU columns: % of one core over each step's measured window; client CPU is per load "
        "process (receivers..., sender)."
    )
    for key, value in result.get("comparison", {}).items():
        lines.append(f"{key}: {value}")
    return "\n".join(lines)
