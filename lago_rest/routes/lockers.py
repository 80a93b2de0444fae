"""Toy lockers (玩具循环柜): registration by admins, operation by property staff, and the residents'
deposit, pickup and return flows with single-use codes (docs/lockers.md).

Handlers are thin: who may do what is decided in :class:`lago_core.lockers.LockerService`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import Field

from lago_core.security.roles import Principal
from lago_rest.api import Api
from lago_rest.context import Services
from lago_rest.schemas import Schema

api = Api()
TAGS = ("lockers",)

Size = Literal["S", "M", "L"]
Purpose = Literal["deposit", "pickup", "return", "maintenance"]


class SlotIn(Schema):
    slot_no: int = Field(strict=True, ge=1, le=999)
    size: Size


class LockerIn(Schema):
    community_id: UUID
    name: str = Field(min_length=1, max_length=60)
    location: str = Field(default="", max_length=200, description="where in the community")
    slots: list[SlotIn] = Field(min_length=1, max_length=200)


class Slot(Schema):
    slot_no: int
    size: Size
    door: Literal["open", "closed"]
    occupied: bool
    fault: str | None
    available: bool = Field(description="closed, empty, without fault and not reserved")


class Locker(Schema):
    locker_id: UUID
    community_id: UUID
    name: str
    location: str
    online: bool = Field(description="heard from within 1.5 heartbeat intervals")
    last_seen_at: datetime | None
    available: int = Field(description="number of available slots")
    slots: list[Slot]


class Registered(Schema):
    locker: Locker
    device_secret: str = Field(description="shown once; the device authenticates with it")


class Secret(Schema):
    locker_id: UUID
    device_secret: str = Field(description="the new secret; the old one no longer works")


class LockerList(Schema):
    items: list[Locker]


class CommunityQuery(Schema):
    community_id: UUID


class DepositIn(Schema):
    listing_id: UUID
    size: Size = Field(default="S", description="the smallest slot size the item fits")


class PickupIn(Schema):
    order_id: UUID


class ReturnIn(Schema):
    order_id: UUID
    size: Size = "S"


class Code(Schema):
    parcel_id: UUID
    locker_id: UUID
    slot_no: int
    purpose: Literal["deposit", "pickup", "return"]
    code: str = Field(description="6 digits, single use; enter it at the locker")
    expires_at: datetime


class OpenIn(Schema):
    code: str = Field(pattern=r"^\d{6}$")


class MaintenanceIn(Schema):
    reason: str = Field(min_length=1, max_length=200)


class DoorCommand(Schema):
    request_id: UUID
    locker_id: UUID
    slot_no: int
    purpose: Purpose
    status: Literal["pending", "acked", "failed", "timed_out", "reconciled"]
    attempts: int
    actor_id: UUID | None
    reason: str | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None


class CommandList(Schema):
    items: list[DoorCommand]


class LockerEvent(Schema):
    id: int
    at: datetime
    type: str
    slot_no: int | None
    actor_kind: Literal["user", "device", "system"]
    actor_id: UUID | None
    request_id: UUID | None
    parcel_id: UUID | None
    data: dict[str, Any]


class EventQuery(Schema):
    after_id: int = Field(default=0, ge=0)
    limit: int = Field(default=100, ge=1, le=500)


class EventPage(Schema):
    items: list[LockerEvent]
    next_after_id: int | None = Field(description="pass as after_id for the next page")


def _command(row: Any) -> DoorCommand:
    return DoorCommand.model_validate({k: row[k] for k in DoorCommand.model_fields})


@api.post("/lockers", status=201, tags=TAGS)
async def register_locker(body: LockerIn, user: Principal, svc: Services) -> Registered:
    """Register a locker and its slots in a community (platform admins)."""
    row, secret = await svc.lockers.register(
        user,
        body.community_id,
        body.name,
        body.location,
        [(s.slot_no, s.size) for s in body.slots],
    )
    view = await svc.lockers.view(row["id"], row)
    return Registered(locker=Locker.model_validate(view), device_secret=secret)


@api.post("/lockers/{locker_id}/rotate-secret", tags=TAGS)
async def rotate_secret(locker_id: UUID, user: Principal, svc: Services) -> Secret:
    """Issue a new device secret (platform admins); connected devices using the old one are cut
    off at their next heartbeat."""
    return Secret(
        locker_id=locker_id, device_secret=await svc.lockers.rotate_secret(user, locker_id)
    )


@api.get("/lockers", tags=TAGS)
async def list_lockers(query: CommunityQuery, user: Principal, svc: Services) -> LockerList:
    """A community's lockers with slot availability (its residents, property staff, admins)."""
    views = await svc.lockers.of_community(user, query.community_id)
    return LockerList(items=[Locker.model_validate(v) for v in views])


@api.get("/lockers/{locker_id}", tags=TAGS)
async def get_locker(locker_id: UUID, user: Principal, svc: Services) -> Locker:
    return Locker.model_validate(await svc.lockers.get(user, locker_id))


@api.get("/lockers/{locker_id}/events", tags=TAGS)
async def locker_events(
    locker_id: UUID, query: EventQuery, user: Principal, svc: Services
) -> EventPage:
    """The locker's log, oldest first (property staff of its community, admins)."""
    rows = await svc.lockers.events(user, locker_id, query.after_id, query.limit)
    items = [LockerEvent.model_validate(dict(r)) for r in rows]
    more = len(items) == query.limit
    return EventPage(items=items, next_after_id=items[-1].id if more else None)


@api.get("/lockers/{locker_id}/commands", tags=TAGS)
async def locker_commands(locker_id: UUID, user: Principal, svc: Services) -> CommandList:
    """The latest 100 door commands (property staff of its community, admins)."""
    return CommandList(
        items=[_command(r) for r in await svc.lockers.commands(user, locker_id, 100)]
    )


@api.post("/lockers/{locker_id}/slots/{slot_no}/maintenance-open", status=201, tags=TAGS)
async def maintenance_open(
    locker_id: UUID, slot_no: int, body: MaintenanceIn, user: Principal, svc: Services
) -> DoorCommand:
    """Open a slot for maintenance, recorded with who and why (property staff, admins)."""
    return _command(await svc.lockers.open_for_maintenance(user, locker_id, slot_no, body.reason))


@api.post("/lockers/{locker_id}/deposits", status=201, tags=TAGS)
async def start_deposit(locker_id: UUID, body: DepositIn, user: Principal, svc: Services) -> Code:
    """Reserve a slot for a consignment or rental item and get the deposit code (its seller)."""
    issued = await svc.lockers.start_deposit(user, locker_id, body.listing_id, body.size)
    return Code.model_validate(issued, from_attributes=True)


@api.post("/lockers/pickups", status=201, tags=TAGS)
async def issue_pickup(body: PickupIn, user: Principal, svc: Services) -> Code:
    """The pickup code for a paid order whose item waits in a locker (its buyer)."""
    issued = await svc.lockers.issue_pickup(user, body.order_id)
    return Code.model_validate(issued, from_attributes=True)


@api.post("/lockers/{locker_id}/returns", status=201, tags=TAGS)
async def start_return(locker_id: UUID, body: ReturnIn, user: Principal, svc: Services) -> Code:
    """Reserve a slot to return a rented item into and get the return code (its renter)."""
    issued = await svc.lockers.start_return(user, locker_id, body.order_id, body.size)
    return Code.model_validate(issued, from_attributes=True)


@api.post("/lockers/{locker_id}/open", status=201, tags=TAGS)
async def open_with_code(
    locker_id: UUID, body: OpenIn, user: Principal, svc: Services
) -> DoorCommand:
    """At the locker (scan its QR code, enter the code): the slot's door is commanded open.
    Refused: ``invalid_code``, ``code_used``, ``code_expired``, ``locker_offline``."""
    return _command(await svc.lockers.open_with_code(user, locker_id, body.code))
