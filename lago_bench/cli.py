"""``lago bench``: one subcommand per scenario (see ``registry.py``), and ``all`` for every one.

Each run prints a table (stdout, or stderr with ``--json -``) and can write its result as JSON.
``lago bench all`` runs every scenario with its default options, one after the other, and adds a
summary of the issue's targets with whether each was met.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

__all__ = ["add_bench_parser", "main", "run_all", "run_bench"]


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json", dest="json_path", help="write the result as JSON here ('-' = stdout)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def add_bench_parser(sub: Any) -> None:
    """Add ``bench`` (with its scenarios and ``all``) to the ``lago`` command's subparsers."""
    from lago_bench.registry import SCENARIOS

    bench = sub.add_parser("bench", help="run a benchmark against servers it starts on loopback")
    scenarios = bench.add_subparsers(dest="scenario", required=True)
    for scenario in SCENARIOS.values():
        p = scenarios.add_parser(
            scenario.name, help=scenario.help, description=scenario.description
        )
        scenario.configure(p)
        _common(p)
    every = scenarios.add_parser(
        "all",
        help="every scenario with its default options: one table, one JSON, the targets met",
        description="Runs " + ", ".join(SCENARIOS) + " one after the other with their defaults "
        "(see docs/benchmarks.md) and reports the issue's targets.",
    )
    every.add_argument(
        "--only", help=f"comma-separated subset of: {', '.join(SCENARIOS)} (default all)"
    )
    every.add_argument(
        "--quick",
        action="store_true",
        help="tiny runs that check the machinery, not the figures (seconds, not minutes)",
    )
    _common(every)


def run_bench(args: argparse.Namespace) -> int:
    from lago_bench.registry import SCENARIOS

    def progress(line: str) -> None:
        if not args.quiet:
            print(line, file=sys.stderr, flush=True)

    try:
        import uvloop

        if args.scenario == "all":
            result = uvloop.run(run_all(args, progress))
        else:
            scenario = SCENARIOS[args.scenario]
            result = uvloop.run(scenario.run(args, progress))
            result["checks"] = scenario.checks(result)
    except (RuntimeError, ValueError) as exc:
        print(f"lago bench: {exc}", file=sys.stderr)
        return 1
    text = render(result)
    # With --json - stdout carries the JSON alone; the table goes to stderr.
    print(text, file=sys.stderr if args.json_path == "-" else sys.stdout, flush=True)
    if args.json_path:
        data = orjson.dumps(result, option=orjson.OPT_INDENT_2)
        if args.json_path == "-":
            sys.stdout.write(data.decode() + "\n")
        else:
            Path(args.json_path).write_bytes(data + b"\n")
    return 1 if failed(result) else 0


def failed(result: dict[str, Any]) -> bool:
    if result.get("benchmark") == "all":
        return any(failed(r) for r in result["scenarios"].values())
    return "error" in result or any("error" in t for t in result.get("targets", []))


async def run_all(args: argparse.Namespace, progress: Any) -> dict[str, Any]:
    from lago_bench.registry import SCENARIOS
    from lago_bench.report import machine

    names = list(SCENARIOS)
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in names if n not in SCENARIOS]
        if unknown or not names:
            raise ValueError(f"unknown scenario(s) {unknown}; choose from {', '.join(SCENARIOS)}")
    started = time.monotonic()
    result: dict[str, Any] = {
        "benchmark": "all",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["lago", *sys.argv[1:]]),
        "machine": machine(),
        "quick": args.quick,
        "scenarios": {},
        "checks": [],
    }
    for name in names:
        scenario = SCENARIOS[name]
        progress(f"== {name}")
        options = scenario.options(quick=args.quick)
        options.quiet = args.quiet
        try:
            outcome = await scenario.run(options, progress)
        except (RuntimeError, ValueError, TimeoutError) as exc:
            # One broken scenario must not hide the others' figures.
            outcome = {"benchmark": name, "error": str(exc) or type(exc).__name__}
            progress(f"{name}: FAILED: {outcome['error']}")
            result["scenarios"][name] = outcome
            continue
        outcome.pop("machine", None)  # once, at the top
        outcome["checks"] = scenario.checks(outcome)
        result["scenarios"][name] = outcome
        result["checks"].extend({"scenario": name, **c} for c in outcome["checks"])
    result["wall_s"] = round(time.monotonic() - started, 1)
    return result


def render(result: dict[str, Any]) -> str:
    """The table of one scenario, or of every scenario then the targets, as plain text."""
    from lago_bench.registry import SCENARIOS
    from lago_bench.report import checks_table, machine_line

    if result.get("benchmark") != "all":
        scenario = SCENARIOS[result["benchmark"]]
        return scenario.table(result) + "\n\n" + checks_table(result["checks"])
    parts = [machine_line(result["machine"])]
    for name, outcome in result["scenarios"].items():
        parts.append(f"\n== {name}")
        if "error" in outcome:
            parts.append(f"FAILED: {outcome['error']}")
            continue
        parts.append(SCENARIOS[name].table(outcome))
    parts.append("\n== targets")
    parts.append(checks_table(result["checks"]))
    parts.append(f"wall time {result['wall_s']} s")
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lago")
    add_bench_parser(parser.add_subparsers(dest="command", required=True))
    return run_bench(parser.parse_args(argv))
