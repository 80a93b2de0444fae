"""`lago bench` at tiny scale: behaviour, not speed.

Fan-out: every message reaches every member on every target (20 members, one receiver process,
a fixed rate for a second and a half). The Node.js reference runs when the machine has node and
npm and can install socket.io; otherwise it must be reported as skipped with the reason. Idle
connections (40 members in two channels) and failover (one SIGKILL of a channel's owner) through
``lago bench all --quick`` and its combined report.
"""

from __future__ import annotations

import argparse
import shutil

from lago_bench.cli import add_bench_parser, failed, render, run_all
from lago_bench.fanout import fanout_main
from lago_bench.registry import SCENARIOS


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="lago")
    add_bench_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["bench", *argv])


async def test_fanout_delivers_every_message_to_every_member() -> None:
    members = 20
    args = _args("fanout", *SCENARIOS["fanout"].quick, "--quiet")
    result = await fanout_main(args)

    names = [t["name"] for t in result["targets"]]
    assert names == ["lago", "python-socketio", "node-socketio"]
    has_node = shutil.which("node") is not None and shutil.which("npm") is not None
    for target in result["targets"]:
        if target["name"] == "node-socketio" and "skipped" in target:
            # Only a machine without Node.js, or without access to the npm registry, skips it.
            assert not has_node or "npm ci" in target["skipped"], target
            continue
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
    node = result["targets"][2]
    if "skipped" not in node:
        assert "lago_vs_node_socketio" in result["comparison"]
        assert node["server_versions"]["socket.io"] == "4.8.1"
    targets = {c["target"]: c for c in SCENARIOS["fanout"].checks(result)}
    # A fixed-rate run measures no saturation, so no p99-at-half verdict.
    assert targets["fan-out: p99 ≤ 50 ms at half of saturation"]["met"] is None


async def test_bench_all_quick_measures_idle_connections_and_failover() -> None:
    # Fan-out has its own test above; the other scenarios run through the same `all` path.
    args = _args("all", "--quick", "--only", "idle,failover", "--quiet")
    result = await run_all(args, print)
    assert not failed(result), result
    assert "== targets" in render(result)
    assert result["benchmark"] == "all"
    assert list(result["scenarios"]) == ["idle", "failover"]

    idle = {t["name"]: t for t in result["scenarios"]["idle"]["targets"]}
    for name in ("lago", "python-socketio"):
        assert idle[name]["connections_held"] == 40
        assert idle[name]["channels"] == 2
        assert idle[name]["server_rss_after_kb"] > 0
    assert "server_rss_per_connection_kb" in idle["lago"]
    assert "connections_held" in idle["node-socketio"] or "skipped" in idle["node-socketio"]

    failover = result["scenarios"]["failover"]
    [rep] = failover["repetitions"]
    assert "error" not in rep, rep
    # The survivor took the channel over, acknowledged the command sent after the kill, and
    # delivered it to all of its members; the dead node's members were shown as left.
    assert rep["owner_after"] == "bench-b1"
    assert rep["ack_s"] is not None
    assert rep["ack_delivered_to_all_on_b"]
    assert rep["resume_s"] is not None
    assert rep["ghosts_cleared_s"] is not None
    # The lease (1 s in the quick run) bounds failover from below: a smaller figure would mean
    # the survivor took the actor while the dead owner's lease was still valid.
    assert rep["ack_s"] >= 0.5
    # idle: the absolute memory target, then memory and connect + join against Node.js.
    assert [c["scenario"] for c in result["checks"]] == ["idle"] * 3 + ["failover"] * 2
    assert all(c["met"] is not None for c in result["checks"])


def test_every_scenario_parses_its_default_and_quick_options() -> None:
    for scenario in SCENARIOS.values():
        assert scenario.options() is not None
        assert scenario.options(quick=True) is not None


async def test_groupbuy_quick_seats_exactly_what_it_acknowledges() -> None:
    # 55 racers, a warm-up step then one step of 100 attempts/s for 1 s (0.5 s lead-in), aimed
    # at the first 4 groups with seats left.
    args = _args("groupbuy", *SCENARIOS["groupbuy"].quick, "--quiet")
    result = await SCENARIOS["groupbuy"].run(args, None)
    summary = result["summary"]
    assert [s["role"] for s in result["steps"]] == ["warm-up", "measured"]
    for step in result["steps"]:
        assert step["sent"] > 0
        assert step["outstanding_at_stop"] == 0
        assert sum(step["outcomes"].values()) == step["answered"] == step["sent"]
        assert set(step["outcomes"]) <= {"ok", "already", "group_full", "limit_reached"}, step
        assert step["errors"] == []
    [measured] = [s for s in result["steps"] if s["role"] == "measured"]
    assert measured["kept_up"], measured["not_kept_up_because"]
    assert measured["joins_per_s"] > 0
    assert measured["p99_ms"] > 0
    assert measured["skipped"] == 0
    # --hot 4: the racers aim at four groups at a time, so groups fill. (Whether an attempt is
    # also answered `group_full` depends on one arriving while its group fills: at 100/s with
    # answers in a few ms, often none does.)
    assert summary["fullest_group"] == result["settings"]["max_members"]
    assert summary["saturation_joins_per_s"] == measured["joins_per_s"]
    assert summary["acknowledged_joins"] == sum(s["joins"] for s in result["steps"])
    assert summary["oversold"] == 0
    assert summary["fullest_group"] <= result["settings"]["max_members"]
    assert summary["seats_in_db"] == summary["seats_expected"]
    assert summary["campaign_seats_taken"] == summary["seats_in_db"]
    _, exact = SCENARIOS["groupbuy"].checks(result)
    assert exact["met"] is True
    # Where the node's time went, read from its /metrics around the window: every join it
    # acknowledged in the window went through the inbound path, and the actor served batches.
    pauses = measured["pauses"]
    inbound = pauses["inbound"]["groupbuy:join"]
    assert inbound["count"] >= measured["answered_per_s"] * measured["window_s"] * 0.5
    assert pauses["actor"]["ch:groupbuy.join"]["count"] > 0
    assert pauses["loop_lag"]["count"] > 0
    assert set(pauses["gc"]) == {"0", "1", "2"}
