"""``lago locker-sim``: run a simulated toy locker against a real-time node (docs/lockers.md).

    lago locker-sim --url http://127.0.0.1:8081 --locker-id <id> --secret <secret> --slots 1:S,2:S,3:M

It connects on ``/device``, reports its slots, heartbeats, obeys door commands (a person at the
locker puts the item in or takes it out and closes the door), and reconnects when the connection
drops. ``--drop-every`` makes it drop its connection on purpose, ``--lose-acks`` loses that many
acknowledgements (the platform resends with the same request id; the door opens once).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
from typing import Any

__all__ = ["add_locker_sim_parser", "parse_slots", "run_locker_sim"]


def parse_slots(text: str) -> list[tuple[int, str]]:
    """``"1:S,2:S,3:M"`` → ``[(1, "S"), (2, "S"), (3, "M")]``."""
    slots = []
    for part in text.split(","):
        number, _, size = part.strip().partition(":")
        if not number.isdigit() or size not in ("S", "M", "L"):
            raise argparse.ArgumentTypeError(f"bad slot {part!r}: write <number>:<S|M|L>")
        slots.append((int(number), size))
    return slots


def add_locker_sim_parser(sub: Any) -> None:
    p = sub.add_parser("locker-sim", help="run a simulated toy locker device")
    p.add_argument("--url", default=os.environ.get("LAGO_RT_URL", "http://127.0.0.1:8081"))
    p.add_argument("--locker-id", default=os.environ.get("LAGO_LOCKER_ID"), required=False)
    p.add_argument(
        "--secret",
        default=os.environ.get("LAGO_LOCKER_SECRET"),
        help="the device secret (or LAGO_LOCKER_SECRET, which keeps it out of the process list)",
    )
    p.add_argument("--slots", type=parse_slots, default=parse_slots("1:S,2:S,3:M,4:L"))
    p.add_argument("--heartbeat-s", type=float, default=30.0)
    p.add_argument("--drop-every", type=float, default=0.0, help="drop the connection every N s")
    p.add_argument("--lose-acks", type=int, default=0, help="lose this many acknowledgements")


def run_locker_sim(args: argparse.Namespace) -> int:
    if not args.locker_id or not args.secret:
        print("lago locker-sim: --locker-id and --secret (or LAGO_LOCKER_SECRET) are required")
        return 2
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(args))
    return 0


async def _run(args: argparse.Namespace) -> None:
    import socketio

    from lago_rt.devices import LockerSim

    # Ctrl-C cancels this task (asyncio.run does that); SIGTERM asks it to stop.
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)

    def told(request_id: str, slot_no: int, result: str) -> None:
        print(f"door:open {request_id} slot {slot_no}: {result}", flush=True)

    sim = LockerSim(
        args.url,
        args.locker_id,
        args.secret,
        args.slots,
        heartbeat_s=args.heartbeat_s,
        on_command=told,
    )
    sim.lose_acks = args.lose_acks
    try:
        while not stop.is_set():
            try:
                await sim.connect()
                state = await sim.report()
                print(f"connected as locker {args.locker_id}; state: {state}", flush=True)
            except socketio.exceptions.ConnectionError as exc:
                print(f"connect failed ({sim.refusal or exc}); retrying in 2 s", flush=True)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 2)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_until_disconnected(sim, stop), args.drop_every or None)
            if not stop.is_set():
                print(f"dropping the connection (opened so far: {_opens(sim)})", flush=True)
                await sim.drop()
    except asyncio.CancelledError:
        pass  # Ctrl-C: close below; asyncio.run then raises KeyboardInterrupt
    await sim.close()
    print(
        f"stopped; doors opened: {_opens(sim)}; commands received: {len(sim.received)}", flush=True
    )


async def _until_disconnected(sim: Any, stop: asyncio.Event) -> None:
    while sim.connected and not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1)


def _opens(sim: Any) -> dict[int, int]:
    return {no: slot.opens for no, slot in sim.slots.items()}
