"""Toy circulation lockers (玩具循环柜): lockers, slots, codes, door commands and their log."""

from lago_core.lockers.service import (
    DOOR_OPEN_EVENT,
    Issued,
    LockerService,
    SlotReport,
    is_online,
)
from lago_core.lockers.store import LockerStore

__all__ = ["DOOR_OPEN_EVENT", "Issued", "LockerService", "LockerStore", "SlotReport", "is_online"]
