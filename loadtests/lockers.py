"""Locust users for toy lockers (docs/lockers.md): devices on ``/device`` and property staff
sending door commands to them. Imported by locustfile.py; never collected by pytest.

- ``LockerDeviceUser``: one simulated locker per user (``LAGO_LOAD_LOCKERS``: a file, default
  ``loadtests/lockers.txt``, of ``<locker id> <secret>`` lines, or the same pairs as
  ``id:secret,id:secret``). It connects, reports its slots, heartbeats, obeys ``door:open`` with
  the simulator's own device logic (a repeated request id is acknowledged without opening again)
  and times each ``heartbeat`` / ``state`` / ``door:ack`` acknowledgement.
- ``LockerStaffUser``: logs in as property staff (``LAGO_LOAD_STAFF_PHONE``) and opens a random
  slot of a random configured locker for maintenance; ``door command latency`` times
  ``POST .../maintenance-open`` → the device receiving the command (same process only).

locustfile.py imports these users only when lockers are configured (``LAGO_LOAD_LOCKERS`` or
``loadtests/lockers.txt``); register lockers with ``POST /api/v1/lockers`` as an admin first.
"""

from __future__ import annotations

import importlib.util
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

from lago_load import HERE, Config, Timer, new_client
from locust import HttpUser, between, task

CONFIG = Config.from_env()

# The simulator's device logic, loaded from its file: importing the lago_rt package would pull
# in the whole server, which the load-test environment does not install.
_SIM_PATH = HERE.parent / "lago_rt" / "devices" / "sim.py"
_spec = importlib.util.spec_from_file_location("lago_locker_sim", _SIM_PATH)
assert _spec is not None
assert _spec.loader is not None
_sim = importlib.util.module_from_spec(_spec)
sys.modules["lago_locker_sim"] = _sim
_spec.loader.exec_module(_sim)
DeviceState = _sim.DeviceState

SLOTS = [(1, "S"), (2, "S"), (3, "M"), (4, "L")]
NAMESPACE = "/device"


def _lockers() -> list[tuple[str, str]]:
    raw = os.environ.get("LAGO_LOAD_LOCKERS", "")
    if raw and ":" in raw and not Path(raw).exists():
        pairs = [item.split(":", 1) for item in raw.split(",") if item.strip()]
        return [(a.strip(), b.strip()) for a, b in pairs]
    path = Path(raw) if raw else HERE / "lockers.txt"
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [
        (parts[0], parts[1])
        for parts in (line.split() for line in lines if line.strip() and not line.startswith("#"))
        if len(parts) == 2
    ]


LOCKERS = _lockers()
_next_locker = iter(range(1 << 30))


class _Commands:
    """Matches a staff user's POST (started) with the device receiving its command, in whichever
    order the two are seen (the push may arrive before the response)."""

    def __init__(self) -> None:
        self.sent: dict[str, float] = {}
        self.received: dict[str, float] = {}

    def _fire(self, timer: Timer, millis: float) -> None:
        timer.fire("door command latency", millis)

    def posted(self, timer: Timer, request_id: str, started: float) -> None:
        at = self.received.pop(request_id, None)
        if at is None:
            _bounded(self.sent)[request_id] = started
        else:
            self._fire(timer, (at - started) * 1000)

    def delivered(self, timer: Timer, request_id: str, at: float) -> None:
        started = self.sent.pop(request_id, None)
        if started is None:
            _bounded(self.received)[request_id] = at
        else:
            self._fire(timer, (at - started) * 1000)


def _bounded(table: dict[str, float]) -> dict[str, float]:
    if len(table) > 10_000:  # commands of other processes, never matched here
        table.pop(next(iter(table)))
    return table


COMMANDS = _Commands()


class LockerDeviceUser(HttpUser):
    """A locker device: heartbeats and state reports, door commands obeyed and acknowledged."""

    fixed_count = len(LOCKERS)
    wait_time = between(5, 10)

    def on_start(self) -> None:
        self.timer = Timer(self.environment)
        self.sio: Any = None
        self.locker: tuple[str, str] | None = (
            LOCKERS[next(_next_locker) % len(LOCKERS)] if LOCKERS else None
        )
        self.state = DeviceState(SLOTS)

    def on_stop(self) -> None:
        if self.sio is not None:
            self.sio.disconnect()

    def _on_door_open(self, data: dict[str, Any]) -> None:
        COMMANDS.delivered(self.timer, str(data.get("request_id")), time.perf_counter())
        request_id, result = self.state.obey(data)
        # Acknowledge from a greenlet of its own: a handler must not block the client's reader.
        self.sio.start_background_task(self._answer, request_id, result)

    def _answer(self, request_id: str, result: str) -> None:
        payload = {"request_id": request_id, "result": result}
        self.timer.call(self.sio, "door:ack", payload, NAMESPACE, CONFIG.ack_timeout)
        self.timer.call(self.sio, "state", self.state.report(), NAMESPACE, CONFIG.ack_timeout)

    def _ready(self) -> bool:
        if self.locker is None:
            return False
        if self.sio is not None and self.sio.connected:
            return True
        sio = new_client()
        sio.on("door:open", self._on_door_open, namespace=NAMESPACE)
        start = time.perf_counter()
        error: BaseException | None = None
        try:
            sio.connect(
                CONFIG.rt_url,
                auth={"locker_id": self.locker[0], "secret": self.locker[1]},
                transports=["websocket"],
                namespaces=[NAMESPACE],
                wait_timeout=CONFIG.ack_timeout,
            )
        except Exception as exc:
            error = exc
        self.timer.fire(f"connect {NAMESPACE}", (time.perf_counter() - start) * 1000, 0, error)
        if error is not None:
            return False
        self.sio = sio
        self.timer.call(sio, "state", self.state.report(), NAMESPACE, CONFIG.ack_timeout)
        return True

    @task(5)
    def heartbeat(self) -> None:
        if self._ready():
            self.timer.call(self.sio, "heartbeat", {}, NAMESPACE, CONFIG.ack_timeout)

    @task(1)
    def report(self) -> None:
        if self._ready():
            self.timer.call(self.sio, "state", self.state.report(), NAMESPACE, CONFIG.ack_timeout)


class LockerStaffUser(HttpUser):
    """Property staff opening slots for maintenance (a door command per task)."""

    fixed_count = 1
    wait_time = between(2, 5)

    def on_start(self) -> None:
        self.token: str | None = None

    def _log_in(self) -> bool:
        if self.token is not None:
            return True
        response = self.client.post(
            "/api/v1/auth/login",
            json={"phone": os.environ["LAGO_LOAD_STAFF_PHONE"], "password": CONFIG.password},
            name="/api/v1/auth/login",
        )
        if response.status_code == 200:
            self.token = response.json()["access_token"]
        return self.token is not None

    @task
    def open_for_maintenance(self) -> None:
        if not LOCKERS or "LAGO_LOAD_STAFF_PHONE" not in os.environ or not self._log_in():
            return
        locker_id, _ = random.choice(LOCKERS)
        slot_no = random.choice(SLOTS)[0]
        started = time.perf_counter()
        with self.client.post(
            f"/api/v1/lockers/{locker_id}/slots/{slot_no}/maintenance-open",
            json={"reason": "load test"},
            headers={"Authorization": f"Bearer {self.token}"},
            name="/api/v1/lockers/[id]/slots/[no]/maintenance-open",
            catch_response=True,
        ) as response:
            if response.status_code != 201:
                response.failure(f"{response.status_code} {response.text[:200]}")
                return
            COMMANDS.posted(Timer(self.environment), response.json()["request_id"], started)
