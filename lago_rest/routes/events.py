"""Weekend events (社区活动) over REST (docs/events.md). Who may do what is decided in
:class:`~lago_core.events.EventService`."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field

from lago_core.errors import InvalidInput
from lago_core.events import TICKET_MAX_CHARS, EventSpec
from lago_core.security.roles import Principal
from lago_rest.api import Api
from lago_rest.context import Services
from lago_rest.schemas import Schema

api = Api()
TAGS = ("events",)

EventStatus = Literal["draft", "published", "cancelled", "finished"]
RegistrationStatus = Literal["confirmed", "waitlisted", "cancelled"]
LinkKind = Literal["live", "draw", "group_buy"]


class EventIn(Schema):
    title: str = Field(min_length=1, max_length=100, description="e.g. 玩具回收节")
    place: str = Field(min_length=1, max_length=200)
    programme: str = Field(default="", max_length=4000, description="the programme, free text")
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    capacity: int = Field(strict=True, ge=1, le=10_000, description="seats, one per resident")
    signup_opens_at: AwareDatetime | None = Field(default=None, description="default: now")
    signup_closes_at: AwareDatetime | None = Field(default=None, description="default: start")
    publish: bool = Field(default=False, description="true: published at once; else a draft")


class EventPatch(Schema):
    title: str | None = Field(default=None, min_length=1, max_length=100)
    place: str | None = Field(default=None, min_length=1, max_length=200)
    programme: str | None = Field(default=None, max_length=4000)
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    capacity: int | None = Field(default=None, strict=True, ge=1, le=10_000)
    signup_opens_at: AwareDatetime | None = None
    signup_closes_at: AwareDatetime | None = None


class CancelIn(Schema):
    reason: str = Field(default="", max_length=500, description="told to everyone signed up")


class SignUpIn(Schema):
    use_privilege: bool = Field(
        default=False,
        description="when the event is full, spend a points privilege to wait ahead of others",
    )


class CheckInIn(Schema):
    token: str = Field(
        min_length=1, max_length=TICKET_MAX_CHARS, description="the text of the QR code"
    )


class LinkIn(Schema):
    kind: LinkKind
    target_id: UUID = Field(description="a live announcement, a draw or a group buy")


class Event(Schema):
    id: UUID
    community_id: UUID
    created_by: UUID
    title: str
    place: str
    programme: str
    starts_at: datetime
    ends_at: datetime
    signup_opens_at: datetime
    signup_closes_at: datetime
    capacity: int
    confirmed_count: int
    seats_left: int
    waitlist_count: int
    checked_in_count: int
    status: EventStatus
    cancel_reason: str | None
    created_at: datetime
    updated_at: datetime


class EventListItem(Event):
    my_status: RegistrationStatus | None = Field(description="the caller's registration")


class EventList(Schema):
    items: list[EventListItem]


class Registration(Schema):
    id: UUID
    event_id: UUID
    user_id: UUID
    display_name: str
    status: RegistrationStatus
    priority: bool = Field(description="signed up with a points privilege")
    waitlist_position: int | None = Field(description="1 = next to get a seat")
    created_at: datetime
    confirmed_at: datetime | None
    cancelled_at: datetime | None
    checked_in_at: datetime | None
    checked_in_by: UUID | None


class MyRegistration(Registration):
    ticket: str | None = Field(description="confirmed: the QR code's text, shown at the door")


class Registrations(Schema):
    items: list[Registration]


class Link(Schema):
    kind: LinkKind
    target_id: UUID
    title: str | None = Field(description="the stream's title, the prize, the campaign")
    at: datetime | None = Field(description="start, draw time or expiry")
    status: str | None
    created_at: datetime


class EventDetail(Schema):
    event: Event
    may_organise: bool
    my_registration: MyRegistration | None
    privileges: int = Field(description="unused points privileges the caller holds")
    links: list[Link]


class CheckInResult(Schema):
    registration: Registration
    points: int = Field(description="activity points credited for attending (0: none new)")


def _event(row: Any) -> Event:
    data = {k: row[k] for k in Event.model_fields if k != "seats_left"}
    return Event(**data, seats_left=row["capacity"] - row["confirmed_count"])


def _registration(row: Any) -> Registration:
    return Registration.model_validate({k: row[k] for k in Registration.model_fields})


def _spec_changes(body: EventPatch) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    nulls = sorted(k for k, v in changes.items() if v is None)
    if nulls:
        raise InvalidInput(f"{', '.join(nulls)} cannot be null", code="invalid_input")
    return changes


@api.post("/communities/{community_id}/events", status=201, tags=TAGS)
async def create_event(community_id: UUID, body: EventIn, user: Principal, svc: Services) -> Event:
    """A new event (a draft unless ``publish``). The community's property staff and platform
    staff; 422 ``invalid_times`` / ``invalid_capacity``."""
    spec = EventSpec(
        title=body.title,
        place=body.place,
        programme=body.programme,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        capacity=body.capacity,
        signup_opens_at=body.signup_opens_at,
        signup_closes_at=body.signup_closes_at,
    )
    return _event(await svc.events.create(user, community_id, spec, publish=body.publish))


@api.get("/communities/{community_id}/events", tags=TAGS)
async def community_events(community_id: UUID, user: Principal, svc: Services) -> EventList:
    """The community's latest 100 events, latest start first, with the caller's status in each.
    Verified residents (drafts: organisers only)."""
    rows = await svc.events.of_community(user, community_id)
    return EventList(
        items=[EventListItem(**_event(r).model_dump(), my_status=r["my_status"]) for r in rows]
    )


@api.get("/events/{event_id}", tags=TAGS)
async def get_event(event_id: UUID, user: Principal, svc: Services) -> EventDetail:
    """An event with the caller's registration (its waiting-list position, or the QR ticket of
    a seat) and what it links to."""
    row, organiser = await svc.events.get(user, event_id)
    mine = await svc.events.mine(user, event_id)
    return EventDetail(
        event=_event(row),
        may_organise=organiser,
        my_registration=(
            MyRegistration(**_registration(mine).model_dump(), ticket=svc.events.ticket(mine))
            if mine is not None
            else None
        ),
        privileges=await svc.events.privileges(user),
        links=[Link.model_validate(dict(r)) for r in await svc.events.links(event_id)],
    )


@api.patch("/events/{event_id}", tags=TAGS)
async def update_event(event_id: UUID, body: EventPatch, user: Principal, svc: Services) -> Event:
    """Change a draft or published event (organisers). More seats go to the waiting list at
    once; 409 ``capacity_below_confirmed`` for fewer than are taken."""
    return _event(await svc.events.update(user, event_id, _spec_changes(body)))


@api.post("/events/{event_id}/publish", tags=TAGS)
async def publish_event(event_id: UUID, user: Principal, svc: Services) -> Event:
    """Open a draft for sign-up (organisers)."""
    return _event(await svc.events.publish(user, event_id))


@api.post("/events/{event_id}/cancel", tags=TAGS)
async def cancel_event(event_id: UUID, body: CancelIn, user: Principal, svc: Services) -> Event:
    """Call the event off; everyone signed up or waiting is notified (organisers)."""
    return _event(await svc.events.cancel(user, event_id, body.reason))


@api.post("/events/{event_id}/finish", tags=TAGS)
async def finish_event(event_id: UUID, user: Principal, svc: Services) -> Event:
    """Mark a started event finished (organisers)."""
    return _event(await svc.events.finish(user, event_id))


@api.post("/events/{event_id}/registrations", tags=TAGS)
async def sign_up(event_id: UUID, body: SignUpIn, user: Principal, svc: Services) -> MyRegistration:
    """Sign up (verified residents): a seat while one is free, else the waiting list. Signing up
    twice answers with the same registration. 409 ``event_not_open``, ``sign_up_not_open``,
    ``sign_up_closed``, ``no_privilege``."""
    row = await svc.events.sign_up(user, event_id, use_privilege=body.use_privilege)
    return MyRegistration(**_registration(row).model_dump(), ticket=svc.events.ticket(row))


@api.post("/events/{event_id}/registrations/me/cancel", tags=TAGS)
async def cancel_registration(event_id: UUID, user: Principal, svc: Services) -> Registration:
    """Give up my seat (the first waiting resident gets it and is notified) or my place in the
    queue."""
    return _registration(await svc.events.cancel_mine(user, event_id))


@api.get("/events/{event_id}/registrations", tags=TAGS)
async def registrations(event_id: UUID, user: Principal, svc: Services) -> Registrations:
    """Everyone signed up: seats, then the queue in order, then cancelled (organisers)."""
    rows = await svc.events.registrations(user, event_id)
    return Registrations(items=[_registration(r) for r in rows])


@api.post("/events/{event_id}/check-ins", tags=TAGS)
async def check_in(
    event_id: UUID, body: CheckInIn, user: Principal, svc: Services
) -> CheckInResult:
    """Check in the resident whose QR code was scanned (organisers): 422 ``invalid_ticket``
    (forged or garbled), 422 ``wrong_event``, 409 ``already_checked_in`` (details: who and
    when), 409 ``ticket_revoked``, 409 ``check_in_closed``. Credits activity points once."""
    done = await svc.events.check_in(user, event_id, body.token)
    return CheckInResult(registration=_registration(done.registration), points=done.points)


@api.post("/events/{event_id}/links", status=204, tags=TAGS)
async def add_link(event_id: UUID, body: LinkIn, user: Principal, svc: Services) -> None:
    """Attach a live stream (announcement), a draw or a group buy of the same community
    (organisers); 404 ``link_target_not_found`` otherwise."""
    await svc.events.link(user, event_id, body.kind, body.target_id)


@api.delete("/events/{event_id}/links/{kind}/{target_id}", status=204, tags=TAGS)
async def remove_link(
    event_id: UUID, kind: LinkKind, target_id: UUID, user: Principal, svc: Services
) -> None:
    """Detach a linked item (organisers)."""
    await svc.events.unlink(user, event_id, kind, target_id)
