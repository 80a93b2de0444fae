"""What a ``lago bench`` scenario is: its options, its run, its table and its checks.

A scenario starts its own servers and world, runs bounded loads and returns one JSON-ready dict.
``checks`` turns a result into the issue's targets (``{"target", "value", "unit", "met"}``, with
``met`` None when the figure could not be measured), which ``lago bench all`` prints together.
Scenarios are listed in ``lago_bench/registry.py``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

__all__ = ["Check", "Progress", "Scenario", "check"]

Progress = Callable[[str], None]
Check = dict[str, Any]


@dataclass(frozen=True)
class Scenario:
    name: str
    help: str
    description: str
    # Adds the scenario's own options (with defaults that make a meaningful run).
    configure: Callable[[argparse.ArgumentParser], None]
    # Validates the options (ValueError with a readable message) and runs; never unbounded.
    run: Callable[[argparse.Namespace, Progress], Coroutine[Any, Any, dict[str, Any]]]
    table: Callable[[dict[str, Any]], str]
    checks: Callable[[dict[str, Any]], list[Check]]
    # Options of a tiny run that still exercises everything (``lago bench all --quick``, tests).
    quick: tuple[str, ...] = ()

    def options(self, *, quick: bool = False) -> argparse.Namespace:
        """The options of a default (or quick) run, as ``lago bench all`` uses them."""
        parser = argparse.ArgumentParser(add_help=False)
        self.configure(parser)
        return parser.parse_args(list(self.quick) if quick else [])


def check(target: str, value: float | None, unit: str, met: bool | None, note: str = "") -> Check:
    out: Check = {"target": target, "value": value, "unit": unit, "met": met}
    if note:
        out["note"] = note
    return out
