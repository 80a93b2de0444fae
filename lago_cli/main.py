"""Entry point of the ``lago`` console script."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from typing import Any

import uvloop
from aiohttp import web

from lago_bench.cli import add_bench_parser
from lago_cli.locker_sim import add_locker_sim_parser, run_locker_sim
from lago_core.logging import configure_logging, get_logger
from lago_core.migrations import MigrationError, apply_migrations
from lago_core.settings import Settings, SettingsError

log = get_logger("lago")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lago", description="Lago (来购) backend processes")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply pending SQL migrations (idempotent)")
    for name, helptext in (("rest", "serve the REST API"), ("rt", "serve a real-time node")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--host", help="override LAGO_REST_HOST / LAGO_RT_HOST")
        p.add_argument("--port", type=int, help="override LAGO_REST_PORT / LAGO_RT_PORT")
        if name == "rt":
            p.add_argument("--node-id", help="override LAGO_NODE_ID")
    w = sub.add_parser("worker", help="run an arq worker")
    w.add_argument("--burst", action="store_true", help="run queued jobs, then exit")
    w.add_argument(
        "--check", action="store_true", help="exit 0 if a worker reported healthy recently"
    )
    d = sub.add_parser("dev", help="migrate, then run REST, a real-time node and a worker together")
    d.add_argument("--no-migrate", action="store_true")
    sub.add_parser("seed-demo", help="create a demo community with residents and listings")
    sub.add_parser(
        "rotate-bank-keys",
        help="re-encrypt merchants' bank accounts under the first key of LAGO_BANK_KEY",
    )
    e = sub.add_parser(
        "ai-eval", help="intent, slot and search accuracy on the labelled sets (docs/ai.md)"
    )
    e.add_argument("--file", help="JSON lines of labelled queries (default: every labelled set)")
    e.add_argument("--misses", action="store_true", help="also print each query parsed wrongly")
    e.add_argument(
        "--conversations",
        nargs="?",
        const="",
        metavar="FILE",
        help="score only the customer-service agent, on FILE "
        "(default: tests/ai_conversations.jsonl; needs CREATEDB: runs in a scratch database)",
    )
    e.add_argument(
        "--only", help="comma-separated parts (intent, search, conversations; default all)"
    )
    sub.add_parser(
        "ai-backfill", help="embed every listing whose search embedding is missing or outdated"
    )
    add_bench_parser(sub)
    add_locker_sim_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.command == "bench":
        # Benchmarks start their own servers with their own settings (see lago_bench).
        from lago_bench.cli import run_bench

        raise SystemExit(run_bench(args))
    if args.command == "locker-sim":
        # A device, not a server: it needs only the node's URL and its own credentials.
        raise SystemExit(run_locker_sim(args))
    try:
        settings = Settings.from_env()
        overrides: dict[str, Any] = {}
        if args.command == "rest":
            overrides = {"rest_host": args.host, "rest_port": args.port}
        elif args.command == "rt":
            overrides = {"rt_host": args.host, "rt_port": args.port, "node_id": args.node_id}
        settings = replace(settings, **{k: v for k, v in overrides.items() if v is not None})
        settings.validate()
    except SettingsError as exc:
        print(f"lago: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    configure_logging(settings.log_level, settings.log_format)
    commands: dict[str, Callable[[], Coroutine[Any, Any, None]]] = {
        "migrate": lambda: migrate(settings),
        "rest": lambda: serve(settings, rest=True),
        "rt": lambda: serve(settings, rt=True),
        "worker": lambda: (
            check_worker(settings) if args.check else work(settings, burst=args.burst)
        ),
        "dev": lambda: dev(settings, migrate_first=not args.no_migrate),
        "seed-demo": lambda: seed_demo(settings),
        "rotate-bank-keys": lambda: rotate_bank_keys(settings),
        "ai-eval": lambda: ai_eval(settings, args.file, args.misses, args.only),
        "ai-backfill": lambda: ai_backfill(settings),
    }
    if args.command == "ai-eval" and args.conversations is not None:
        commands["ai-eval"] = lambda: ai_eval_conversations(
            settings, args.conversations, args.misses
        )
    try:
        uvloop.run(commands[args.command]())
    except MigrationError as exc:
        print(f"lago: migration failed: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        pass


async def migrate(settings: Settings) -> None:
    applied = await apply_migrations(settings.database_url)
    if applied:
        print(f"applied {len(applied)} migration(s): {', '.join(applied)}")
    else:
        print("database is up to date")


async def rotate_bank_keys(settings: Settings) -> None:
    """Step two of a key rotation (docs/money.md): the new key is first in LAGO_BANK_KEY, the
    old one still listed; afterwards the old one may be dropped."""
    from lago_core.container import build_core

    core = await build_core(settings)
    try:
        done = await core.moneyout.rotate_bank_keys()
        print(f"re-encrypted {done} bank account(s) under key {core.moneyout.cipher.current!r}")
    finally:
        await core.close()


async def _until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def _start_site(
    app: web.Application, host: str, port: int, runner_class: type[web.AppRunner] = web.AppRunner
) -> tuple[web.AppRunner, str]:
    runner = runner_class(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, shutdown_timeout=5)
    await site.start()
    bound = runner.addresses[0]
    return runner, f"http://{bound[0]}:{bound[1]}"


async def serve(
    settings: Settings, *, rest: bool = False, rt: bool = False, worker: bool = False
) -> None:
    """Run the chosen components in this process until SIGINT/SIGTERM."""
    from lago_core.container import build_core

    if not settings.jwt_secret:
        print(
            "lago: LAGO_JWT_SECRET is not set; using a random one for this process only "
            "(tokens will not work across processes)",
            file=sys.stderr,
        )
    core = await build_core(settings)
    settings = core.settings  # carries the generated secret, if any
    runners: list[web.AppRunner] = []
    # Stopped first: no connection is taken while the runners close theirs.
    listeners: list[Callable[[], Awaitable[object]]] = []
    cleanups: list[Callable[[], Awaitable[object]]] = []
    try:
        if rest:
            from lago_rest.app import create_app
            from lago_rest.server import RestRunner

            runner, url = await _start_site(
                create_app(settings, core=core),
                settings.rest_host,
                settings.rest_port,
                RestRunner,
            )
            runners.append(runner)
            print(f"REST API      {url}/api/v1   (OpenAPI: {url}/api/v1/openapi.json)", flush=True)
        if rt:
            from lago_rt.app import create_rt_app
            from lago_rt.transport.listener import NodeSite

            rt_runner = web.AppRunner(
                create_rt_app(settings, core=core), access_log=None, handle_signals=False
            )
            await rt_runner.setup()
            # Not aiohttp's TCPSite: the node's listener takes Engine.IO WebSockets itself.
            site = NodeSite(rt_runner, settings.rt_host, settings.rt_port)
            await site.start()
            runners.append(rt_runner)
            listeners.append(site.stop)
            url = site.url
            print(f"real-time     {url}/socket.io/   (node {settings.node_id})", flush=True)
            # A node holds thousands of long-lived objects per connection; the collector's
            # default thresholds walk them all every few hundred milliseconds under load, which
            # showed as 0.3–0.7 s pauses in join latency (docs/benchmarks.md, group buys).
            # Objects alive at start-up are frozen out of collection; collections run less often.
            gc.freeze()
            gc.set_threshold(50_000, 50, 1_000)
        if worker:
            from workers import create_worker

            arq_worker = create_worker(settings, core=core, handle_signals=False)
            task = asyncio.create_task(arq_worker.async_run())
            cleanups.append(arq_worker.close)
            cleanups.append(lambda: _cancel(task))
            print(f"worker        queue {arq_worker.queue_name}", flush=True)
        await _until_stopped()
    finally:
        for stop_listening in listeners:
            await stop_listening()
        for runner in reversed(runners):
            await runner.cleanup()
        for cleanup in cleanups:
            await cleanup()
        await core.close()


async def _cancel(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


async def work(settings: Settings, *, burst: bool) -> None:
    from workers import create_worker

    worker = create_worker(settings, burst=burst)
    try:
        await worker.async_run()
    except asyncio.CancelledError:
        # arq stops on SIGINT/SIGTERM by cancelling its main task (as arq's own run() does,
        # a normal shutdown, not an error); a cancellation of this coroutine still propagates.
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
    finally:
        await worker.close()


async def check_worker(settings: Settings) -> None:
    """For container health checks: arq's own check of the worker's health-check key."""
    from arq.connections import RedisSettings
    from arq.worker import async_check_health

    from workers.worker import queue_name

    status = await async_check_health(
        RedisSettings.from_dsn(settings.jobs_url),
        health_check_key=settings.key("arq", "health-check"),
        queue_name=queue_name(settings),
    )
    if status != 0:
        raise SystemExit(status)


async def dev(settings: Settings, *, migrate_first: bool) -> None:
    if migrate_first:
        await migrate(settings)
    await serve(settings, rest=True, rt=True, worker=True)


async def seed_demo(settings: Settings) -> None:
    from lago_cli.demo import seed

    await seed(settings)


async def ai_eval(
    settings: Settings, path: str | None, misses: bool, only: str | None = None
) -> None:
    """Print the configured engine's figures: each part of lago_cli/ai_eval.py in turn."""
    from pathlib import Path

    from lago_cli.ai_eval import PARTS
    from lago_core.ai import create_engine

    names = [n.strip() for n in only.split(",")] if only else list(PARTS)
    unknown = [n for n in names if n not in PARTS]
    if unknown:
        raise SystemExit(f"lago ai-eval: unknown part(s) {unknown}; choose from {list(PARTS)}")
    engine = create_engine(settings)
    try:
        for name in names:
            await PARTS[name](settings, engine, [Path(path)] if path else [], misses)
    finally:
        await engine.close()


async def ai_eval_conversations(settings: Settings, path: str, misses: bool) -> None:
    """Only the agent's part, on one scripted set (the default set when none is named)."""
    from pathlib import Path

    from lago_cli.ai_eval import CONVERSATION_SETS, score_conversation_sets

    await score_conversation_sets(settings, [Path(path) if path else CONVERSATION_SETS[0]], misses)


async def ai_backfill(settings: Settings) -> None:
    """Embed every active listing whose embedding is missing or outdated (search by meaning)."""
    from lago_core.container import build_core

    core = await build_core(settings)
    try:
        made = await core.ai.search.embeddings.backfill()
    finally:
        await core.close()
    print(f"embedded {made} listings with {core.ai.search.embeddings.embedder.model}")
