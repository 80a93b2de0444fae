"""The ``/device`` namespace: toy locker devices (docs/lockers.md, docs/protocol.md).

A device authenticates with its locker id and secret (not a user token), joins the room
``locker:<id>`` — where REST and workers push door commands through socket.io's Redis manager —
and sends heartbeats, state reports and command acknowledgements. Every one of them is checked
against the locker the connection authenticated as: a device cannot speak for another locker.
After each, the locker's view goes to its community's channel actor (``lockers.report``), so
residents see availability and online/offline live.

Each node resends the pending commands of the lockers connected to it (same request id) every
``LAGO_LOCKER_COMMAND_RETRY_MS`` and times out commands older than
``LAGO_LOCKER_COMMAND_TIMEOUT_MS`` (any node may: the update is guarded by status).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar
from uuid import UUID

from pydantic import Field

from lago_core.container import Core
from lago_core.errors import Forbidden, LagoError, RateLimited, Unauthenticated
from lago_core.lockers import DOOR_OPEN_EVENT, LockerService, SlotReport
from lago_core.logging import get_logger
from lago_core.push import locker_room
from lago_core.settings import Settings
from lago_rt.gateway.limits import FLOOD_CUTOFF, TokenBucket
from lago_rt.gateway.payloads import parse_payload
from lago_rt.gateway.schemas import Payload
from lago_rt.metrics import CONNECTIONS, FLOOD_CUTS, count_refusal
from lago_rt.runtime import ActorHost, Command
from lago_rt.transport import NO_ANSWER, ConnectionRefused, SocketServer

__all__ = ["NAMESPACE", "DeviceGateway"]

log = get_logger(__name__)

NAMESPACE = "/device"
M = TypeVar("M", bound=Payload)
Ack = dict[str, Any]


_In = Payload


class HeartbeatIn(_In):
    locker_id: UUID | None = None


class SlotIn(_In):
    slot_no: int = Field(ge=1, le=999)
    door: Literal["open", "closed"]
    occupied: bool
    fault: str | None = Field(default=None, min_length=1, max_length=64)
    last_request_id: UUID | None = None


class StateIn(_In):
    locker_id: UUID | None = None
    slots: list[SlotIn] = Field(max_length=999)


class AckIn(_In):
    locker_id: UUID | None = None
    request_id: UUID
    result: Literal["opened", "failed"]
    error: str | None = Field(default=None, max_length=200)


# What was accepted before the cut is answered within a command's deadline; not longer than this.


@dataclass
class _Device:
    locker_id: UUID
    community_id: UUID
    secret_hash: bytes
    # The same per-connection limits as residents' sockets: a device sends a few events a
    # minute, so only a broken or stolen one reaches them.
    bucket: TokenBucket
    # Accepted events still being handled, and whether the connection is being cut off.
    flooded: bool = False


def _error(exc: LagoError) -> Ack:
    count_refusal(exc.code)
    return {"ok": False, "error": exc.to_dict()}


class DeviceGateway:
    def __init__(
        self, server: SocketServer, core: Core, host: ActorHost, settings: Settings
    ) -> None:
        self._server = server
        self._core = core
        self._host = host
        self._settings = settings
        self._devices: dict[str, _Device] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loop: asyncio.Task[None] | None = None
        handlers: dict[str, Callable[..., Awaitable[Any]]] = {
            "connect": self.connect,
            "disconnect": self.disconnect,
            "heartbeat": self._guarded(HeartbeatIn, self.heartbeat),
            "state": self._guarded(StateIn, self.state),
            "door:ack": self._guarded(AckIn, self.door_ack),
        }
        for name, handler in handlers.items():
            server.on(name, handler, NAMESPACE)

    @property
    def _lockers(self) -> LockerService:
        return self._core.lockers

    # --- lifecycle -----------------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.create_task(self._run())

    async def close(self) -> None:
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, timeout=2)

    async def _run(self) -> None:
        interval = self._settings.locker_command_retry_ms / 2000
        while True:
            await asyncio.sleep(interval)
            try:
                await self.tick()
            except Exception:
                log.exception("device.tick_failed")

    async def tick(self) -> None:
        """Time out old commands; resend pending ones to this node's devices (same request id)."""
        await self._lockers.time_out_commands()
        local = sorted({d.locker_id for d in self._devices.values()})
        for command in await self._lockers.resendable(local):
            for sid in [s for s, d in self._devices.items() if d.locker_id == command["locker_id"]]:
                await self._emit_command(command, sid)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- connection ----------------------------------------------------------------------------------

    async def connect(self, sid: str, auth: Any) -> None:
        locker_id = auth.get("locker_id") if isinstance(auth, dict) else None
        secret = auth.get("secret") if isinstance(auth, dict) else None
        if not isinstance(locker_id, str) or not isinstance(secret, str) or not secret:
            count_refusal("unauthenticated")
            raise ConnectionRefused("send auth={locker_id, secret}", {"code": "unauthenticated"})
        try:
            row = await self._lockers.authenticate_device(locker_id, secret)
        except LagoError as exc:
            count_refusal(exc.code)
            raise ConnectionRefused(exc.message, {"code": exc.code}) from None
        bucket = TokenBucket.full(
            self._settings.client_msgs_per_s,
            self._settings.client_msg_burst,
            self._core.clock.monotonic(),
        )
        device = _Device(row["id"], row["community_id"], bytes(row["secret_hash"]), bucket)
        self._devices[sid] = device
        self._server.enter_room(sid, locker_room(device.locker_id), NAMESPACE)
        CONNECTIONS.labels(NAMESPACE).inc()
        # After the handshake completes: a connect is a sign of life, and what was not
        # acknowledged while the device was away is sent again with its request id.
        self._spawn(self._connected(sid, device))

    async def _connected(self, sid: str, device: _Device) -> None:
        try:
            for command in await self._lockers.pending(device.locker_id):
                await self._emit_command(command, sid)
            await self._alive(sid, device)
        except Exception:
            log.exception("device.connect_followup_failed", locker_id=str(device.locker_id))

    async def disconnect(self, sid: str, reason: Any = None) -> None:
        if self._devices.pop(sid, None) is not None:
            CONNECTIONS.labels(NAMESPACE).dec()

    # --- plumbing ------------------------------------------------------------------------------------

    def _guarded(
        self, model: type[M], handler: Callable[[str, _Device, M], Awaitable[Ack]]
    ) -> Callable[[str, Any], Awaitable[Ack]]:
        async def run(sid: str, data: Any = None) -> Ack:
            device = self._devices.get(sid)
            if device is None:
                return _error(Unauthenticated("not connected"))
            if device.flooded:
                return NO_ANSWER
            if not device.bucket.take(self._core.clock.monotonic()):
                if device.bucket.overdrawn > FLOOD_CUTOFF:
                    device.flooded = True
                    FLOOD_CUTS.inc()
                    log.warning("device.flood_disconnected", locker_id=str(device.locker_id))
                    # Closed once every answer it is owed is written (SocketServer).
                    self._server.close_after_acks(sid)
                    return NO_ANSWER
                return _error(RateLimited("slow down: too many messages"))
            try:
                if data is None:
                    data = {}
                payload = parse_payload(model, data)
                claimed = getattr(payload, "locker_id", None)
                if claimed is not None and claimed != device.locker_id:
                    log.warning("device.wrong_locker", sid=sid, locker_id=str(device.locker_id))
                    raise Forbidden(
                        "this connection speaks for another locker", code="wrong_locker"
                    )
                return await handler(sid, device, payload)
            except LagoError as exc:
                return _error(exc)
            except Exception:
                log.exception("device.handler_failed", sid=sid)
                return _error(LagoError("internal error", code="internal"))

        return run

    async def _alive(self, sid: str, device: _Device) -> bool:
        """Record a sign of life and tell the channel; False when the secret was rotated."""
        _, secret_hash = await self._lockers.seen(device.locker_id)
        if secret_hash != device.secret_hash:
            log.info("device.credentials_rotated", locker_id=str(device.locker_id))
            self._spawn(self._server.disconnect(sid, NAMESPACE))
            return False
        await self._publish(device)
        return True

    async def _publish(self, device: _Device) -> None:
        """The locker's view to its channel; a channel that is briefly unavailable is not the
        device's problem (the next heartbeat reports again)."""
        try:
            view = await self._lockers.view(device.locker_id)
            await self._host.call(
                str(device.community_id),
                Command("lockers.report", {"locker_id": str(device.locker_id), "view": view}),
            )
        except Exception:
            log.warning("device.publish_failed", locker_id=str(device.locker_id), exc_info=True)

    async def _emit_command(self, command: Any, sid: str) -> None:
        payload = LockerService.command_payload(command)
        self._server.emit(DOOR_OPEN_EVENT, payload, to=sid, namespace=NAMESPACE)

    # --- events --------------------------------------------------------------------------------------

    async def heartbeat(self, sid: str, device: _Device, body: HeartbeatIn) -> Ack:
        if not await self._alive(sid, device):
            return _error(Unauthenticated("credentials rotated", code="invalid_device_credentials"))
        return {
            "ok": True,
            "interval_ms": self._settings.locker_heartbeat_ms,
            "server_time": self._core.clock.now().isoformat(),
        }

    async def state(self, sid: str, device: _Device, body: StateIn) -> Ack:
        reconciled = await self._lockers.report_state(
            device.locker_id,
            [
                SlotReport(s.slot_no, s.door, s.occupied, s.fault, s.last_request_id)
                for s in body.slots
            ],
        )
        await self._alive(sid, device)
        return {"ok": True, "reconciled": [str(r) for r in reconciled]}

    async def door_ack(self, sid: str, device: _Device, body: AckIn) -> Ack:
        result = await self._lockers.acknowledge(
            device.locker_id, body.request_id, body.result == "opened", body.error
        )
        await self._alive(sid, device)
        return {"ok": True, "request_id": str(body.request_id), **result}
