"""Weekend events (社区活动): organising, sign-up with a waiting list, QR check-in and the links
to live streams, draws and group buys (docs/events.md)."""

from lago_core.events.service import LINK_KINDS, CheckIn, EventService, EventSpec
from lago_core.events.store import EventStore
from lago_core.events.tickets import (
    TICKET_MAX_CHARS,
    Ticket,
    new_nonce,
    sign_ticket,
    verify_ticket,
)

__all__ = [
    "LINK_KINDS",
    "TICKET_MAX_CHARS",
    "CheckIn",
    "EventService",
    "EventSpec",
    "EventStore",
    "Ticket",
    "new_nonce",
    "sign_ticket",
    "verify_ticket",
]
