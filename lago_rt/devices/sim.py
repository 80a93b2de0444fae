"""A toy locker simulator that behaves like a real device on ``/device`` (docs/lockers.md).

It connects with its locker id and secret, heartbeats, reports the state of its slots, obeys
``door:open`` commands and acknowledges them with ``door:ack``. Like a real device it remembers
the request ids it has handled: a repeated id is acknowledged again without opening the door a
second time. It can lose acknowledgements, go silent, refuse to open a faulty slot and drop its
connection, which is what the tests, ``lago locker-sim`` and the Locust device users need.

Only python-socketio is used (no Lago imports), so the load tests can run it anywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import socketio

__all__ = ["DeviceState", "LockerSim", "SimSlot"]

NAMESPACE = "/device"
# Request ids remembered for de-duplication (a real device keeps them in flash).
REMEMBERED = 1_000


@dataclass
class SimSlot:
    slot_no: int
    size: str
    door: str = "closed"
    occupied: bool = False
    fault: str | None = None
    last_request_id: str | None = None
    # How often the door physically opened: what "never double-open" is checked against.
    opens: int = 0

    def report(self) -> dict[str, Any]:
        return {
            "slot_no": self.slot_no,
            "door": self.door,
            "occupied": self.occupied,
            "fault": self.fault,
            "last_request_id": self.last_request_id,
        }


class DeviceState:
    """What a locker device knows, apart from its connection: its slots and the request ids it has
    handled. Shared by :class:`LockerSim` (asyncio) and the Locust device user (gevent)."""

    def __init__(self, slots: list[tuple[int, str]], *, auto_close: bool = True) -> None:
        self.slots = {no: SimSlot(no, size) for no, size in slots}
        self.auto_close = auto_close
        self.handled: OrderedDict[str, str] = OrderedDict()
        self.received: list[str] = []

    def obey(self, data: Any) -> tuple[str, str]:
        """A ``door:open`` command: (request id, "opened" or "failed"). A repeated request id is
        answered as before without touching the door."""
        request_id = str(data.get("request_id"))
        self.received.append(request_id)
        result = self.handled.get(request_id)
        if result is None:
            result = self._open(request_id, int(data.get("slot_no", 0)), str(data.get("purpose")))
            self.handled[request_id] = result
            while len(self.handled) > REMEMBERED:
                self.handled.popitem(last=False)
        return request_id, result

    def _open(self, request_id: str, slot_no: int, purpose: str) -> str:
        slot = self.slots.get(slot_no)
        if slot is None or slot.fault is not None:
            return "failed"
        slot.door = "open"
        slot.opens += 1
        slot.last_request_id = request_id
        if self.auto_close:
            if purpose in ("deposit", "return"):
                slot.occupied = True
            elif purpose == "pickup":
                slot.occupied = False
            slot.door = "closed"
        return "opened"

    def report(self) -> dict[str, Any]:
        """The ``state`` payload."""
        return {"slots": [s.report() for s in sorted(self.slots.values(), key=_no)]}


class LockerSim:
    """One simulated locker. ``auto_close`` plays the person at the locker: after a door opens
    they put the item in (deposit, return) or take it out (pickup) and close the door, and the
    device reports its state."""

    def __init__(
        self,
        url: str,
        locker_id: str,
        secret: str,
        slots: list[tuple[int, str]],
        *,
        heartbeat_s: float | None = None,
        auto_close: bool = True,
        on_command: Callable[[str, int, str], None] | None = None,
    ) -> None:
        self.url = url
        self.locker_id = locker_id
        self.secret = secret
        self.state = DeviceState(slots, auto_close=auto_close)
        self.slots = self.state.slots
        self.heartbeat_s = heartbeat_s
        # Told (request id, slot, result) after each command is answered: `lago locker-sim` prints.
        self.on_command = on_command
        # Acknowledgements to lose (the door opens, the ack never reaches the platform).
        self.lose_acks = 0
        # While silent the device sends nothing (no heartbeats, reports or acks).
        self.silent = False
        self.received = self.state.received
        self.acks: list[dict[str, Any]] = []
        self.refusal: Any = None
        self.sio: socketio.AsyncClient | None = None
        self._beat: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()

    # --- connection ----------------------------------------------------------------------------------

    async def connect(self) -> LockerSim:
        """Connect (again): a new socket.io client each time, as a rebooted device would."""
        await self._stop_beat()
        await self._close_http()
        sio = socketio.AsyncClient(reconnection=False)
        sio.on("door:open", handler=self._on_door_open, namespace=NAMESPACE)
        sio.on("connect_error", handler=self._on_refused, namespace=NAMESPACE)
        sio.on("disconnect", handler=self._on_disconnect, namespace=NAMESPACE)
        self.sio = sio
        try:
            await sio.connect(
                self.url,
                auth={"locker_id": self.locker_id, "secret": self.secret},
                transports=["websocket"],
                namespaces=[NAMESPACE],
                wait_timeout=5,
            )
        except socketio.exceptions.ConnectionError:
            if sio.eio.http is not None:
                await sio.eio.http.close()
            raise
        if self.heartbeat_s is not None:
            self._beat = asyncio.create_task(self._heartbeats(self.heartbeat_s))
        return self

    @property
    def connected(self) -> bool:
        return self.sio is not None and self.sio.connected

    async def drop(self) -> None:
        """Lose the connection abruptly, as a device whose network goes away."""
        await self._stop_beat()
        if self.sio is not None:
            with contextlib.suppress(Exception):
                await self.sio.eio.disconnect(abort=True)
            await self._close_http()

    async def close(self) -> None:
        await self._stop_beat()
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.sio is not None:
            if self.sio.connected:
                with contextlib.suppress(Exception):
                    await self.sio.disconnect()
            await self._close_http()

    async def _close_http(self) -> None:
        if self.sio is not None and self.sio.eio.http is not None and not self.sio.eio.http.closed:
            await self.sio.eio.http.close()

    async def _stop_beat(self) -> None:
        if self._beat is not None:
            self._beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beat
            self._beat = None

    async def _heartbeats(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            if not self.silent:
                with contextlib.suppress(Exception):
                    await self.heartbeat()

    async def _on_refused(self, data: Any = None) -> None:
        self.refusal = data

    async def _on_disconnect(self, *args: Any) -> None:
        self._changed.set()

    # --- what a device sends -------------------------------------------------------------------------

    async def _call(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        assert self.sio is not None, "connect first"
        reply: dict[str, Any] = await self.sio.call(event, data, namespace=NAMESPACE, timeout=10)
        return reply

    async def heartbeat(self) -> dict[str, Any]:
        return await self._call("heartbeat", {})

    async def report(self) -> dict[str, Any]:
        return await self._call("state", self.state.report())

    async def ack(self, request_id: str, result: str, error: str | None = None) -> dict[str, Any]:
        reply = await self._call(
            "door:ack", {"request_id": request_id, "result": result, "error": error}
        )
        self.acks.append(reply)
        self._changed.set()
        return reply

    # --- what a device does --------------------------------------------------------------------------

    async def _on_door_open(self, data: Any) -> None:
        if self.silent:
            self.state.received.append(str(data.get("request_id")))
            self._changed.set()
            return
        request_id, result = self.state.obey(data)
        self._changed.set()
        # A connection lost mid-answer is not an error for a device: the platform resends the
        # command (same request id) and the next report after reconnecting tells it the rest.
        with contextlib.suppress(socketio.exceptions.SocketIOError):
            if self.lose_acks > 0:
                self.lose_acks -= 1
            else:
                await self.ack(request_id, result, None if result == "opened" else "door jammed")
            if self.state.auto_close and result == "opened":
                await self.report()
        if self.on_command is not None:
            self.on_command(request_id, int(data.get("slot_no", 0)), result)
        self._changed.set()

    async def wait_until(self, predicate: Callable[[], bool], within: float = 5.0) -> None:
        async with asyncio.timeout(within):
            while not predicate():
                self._changed.clear()
                if predicate():
                    return
                await self._changed.wait()


def _no(slot: SimSlot) -> int:
    return slot.slot_no
