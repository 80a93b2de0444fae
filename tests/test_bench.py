"""`lago bench fanout` at tiny scale: every message reaches every member, on both targets.

Behaviour, not speed: 20 members, one receiver process, a fixed rate for a second and a half.
"""

from __future__ import annotations

import argparse

from lago_bench.cli import add_bench_parser, fanout_main


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="lago")
    add_bench_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["bench", "fanout", *argv])


async def test_fanout_delivers_every_message_to_every_member() -> None:
    members = 20
    args = _args(
        "--members", str(members), "--client-processes", "1", "--rate", "20",
        "--duration", "1.5", "--warmup", "0.2", "--drain", "0.7", "--settle", "0.3", "--quiet",
    )  # fmt: skip
    result = await fanout_main(args)

    assert [t["name"] for t in result["targets"]] == ["lago", "python-socketio"]
    for target in result["targets"]:
        assert "error" not in target, target
        assert target["idle_connections"] == members
        [step] = target["steps"]
        assert step["sent"] >= 20
        assert step["acked_ok"] == step["sent"], step["errors"]
        assert step["delivered"] == step["sent"] * members
        assert step["all_delivered"]
        assert step["connections_closed"] == 0
        assert step["p50_ms"] > 0
    assert result["machine"]["cores"]
    assert "lago_vs_python_socketio" in result["comparison"]
