"""Toy lockers: who may do what, the deposit / pickup / return flows, and door commands.

PostgreSQL is the source of truth: a door command is stored before it is sent, its effect (an
item deposited, picked up, returned) is applied in the transaction that records the door
opening — from the device's acknowledgement or, when that was lost, from a later state report —
and each transition is ``UPDATE ... WHERE status = <expected>``, so a repeated acknowledgement
or report never applies an effect twice. Order moves and the deposit release go through
:class:`OrderService` after that transaction commits. docs/lockers.md has the flows.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from lago_core.clock import Clock
from lago_core.communities import CommunityService
from lago_core.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from lago_core.ledger.store import Conn
from lago_core.listings import ListingService
from lago_core.lockers.store import LockerStore
from lago_core.logging import get_logger
from lago_core.orders import Action, Mode, OrderService, Status
from lago_core.push import Pusher
from lago_core.push_events import DOOR_OPEN
from lago_core.ratelimit import RateLimiter
from lago_core.security.roles import Principal
from lago_core.settings import Settings

__all__ = ["DOOR_OPEN_EVENT", "Issued", "LockerService", "SlotReport", "is_online"]

log = get_logger(__name__)

# The event a device receives for each door command (docs/lockers.md), under the name
# lago_rt/gateway/device.py imports from here.
DOOR_OPEN_EVENT = DOOR_OPEN
# Sizes that fit an item of each size, smallest first.
_FITS = {"S": ["S", "M", "L"], "M": ["M", "L"], "L": ["L"]}
# The parcel status a code of each purpose opens from, and the status the opened door leads to.
_CODE_FROM = {
    "deposit": "awaiting_deposit",
    "pickup": "awaiting_pickup",
    "return": "awaiting_return",
}
_OPENED_TO = {"deposit": "stored", "pickup": "out", "return": "stored"}
_OPENED_EVENT = {
    "deposit": "deposited",
    "pickup": "picked_up",
    "return": "returned",
    "maintenance": "maintenance_opened",
}
# Attempts at a code per user and minute: six digits are guessable without a bound.
CODE_ATTEMPTS = "10/minute"
CODE_DRAWS = 5


def is_online(last_seen_at: datetime | None, now: datetime, heartbeat_ms: int) -> bool:
    """Online while the last heartbeat or report is within 1.5 heartbeat intervals."""
    if last_seen_at is None:
        return False
    return now - last_seen_at <= timedelta(milliseconds=heartbeat_ms * 1.5)


@dataclass(frozen=True, slots=True)
class Issued:
    """A code handed to a user: shown once, stored only as an HMAC."""

    parcel_id: UUID
    locker_id: UUID
    slot_no: int
    purpose: str
    code: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class SlotReport:
    slot_no: int
    door: str
    occupied: bool
    fault: str | None
    last_request_id: UUID | None


class LockerService:
    def __init__(
        self,
        store: LockerStore,
        communities: CommunityService,
        listings: ListingService,
        orders: OrderService,
        pusher: Pusher | None,
        limiter: RateLimiter,
        settings: Settings,
        clock: Clock,
    ) -> None:
        self.store = store
        self._communities = communities
        self._listings = listings
        self._orders = orders
        self._pusher = pusher
        self._limiter = limiter
        self._settings = settings
        self._clock = clock
        # A separate key from the JWT one (HMAC of a label), as for the webhook key.
        self._code_key = hmac.new(
            settings.signing_secret.encode(), b"lago-locker-codes", "sha256"
        ).digest()

    # --- permissions -----------------------------------------------------------------------------

    async def _locker(self, locker_id: UUID) -> asyncpg.Record:
        row = await self.store.locker(self.store.pool, locker_id)
        if row is None:
            raise NotFound("locker not found", code="locker_not_found")
        return row

    async def _staff_locker(self, actor: Principal, locker_id: UUID) -> asyncpg.Record:
        """The locker, for its community's property staff and admins; others: 403/404."""
        row = await self._locker(locker_id)
        await self._communities.require_staff_or_admin(actor, row["community_id"])
        return row

    async def _member_locker(self, actor: Principal, locker_id: UUID) -> asyncpg.Record:
        """The locker, for verified residents, property staff and admins of its community."""
        row = await self._locker(locker_id)
        await self._require_member(actor, row["community_id"])
        return row

    async def _require_member(self, actor: Principal, community_id: UUID) -> None:
        if actor.is_admin or await self._communities.is_verified_member(
            actor.user_id, community_id
        ):
            return
        if await self._communities.is_staff(actor, community_id):
            return
        raise Forbidden("only this community's residents and staff use its lockers")

    # --- registration (platform admins) ----------------------------------------------------------

    async def register(
        self,
        actor: Principal,
        community_id: UUID,
        name: str,
        location: str,
        slots: list[tuple[int, str]],
    ) -> tuple[asyncpg.Record, str]:
        """A locker with its slots, and its device secret (returned this once)."""
        if not actor.is_admin:
            raise Forbidden("only platform admins register lockers")
        await self._communities.get(community_id)
        numbers = [no for no, _ in slots]
        if len(set(numbers)) != len(numbers):
            raise InvalidInput("slot numbers must be unique", code="duplicate_slot")
        secret = secrets.token_urlsafe(32)
        now = self._clock.now()
        async with self.store.pool.acquire() as conn, conn.transaction():
            row = await self.store.insert_locker(
                conn, community_id, name, location, _digest(secret), actor.user_id, now, slots
            )
            await self.store.log(
                conn,
                row["id"],
                "registered",
                now,
                actor_kind="user",
                actor_id=actor.user_id,
                data={"slots": len(slots)},
            )
        return row, secret

    async def rotate_secret(self, actor: Principal, locker_id: UUID) -> str:
        """A new device secret; the old one stops working at once (live connections are cut off
        at their next heartbeat)."""
        if not actor.is_admin:
            raise Forbidden("only platform admins rotate device credentials")
        await self._locker(locker_id)
        secret = secrets.token_urlsafe(32)
        now = self._clock.now()
        await self.store.set_secret(locker_id, _digest(secret), now)
        await self.store.log(
            self.store.pool,
            locker_id,
            "credentials_rotated",
            now,
            actor_kind="user",
            actor_id=actor.user_id,
        )
        return secret

    # --- reading ---------------------------------------------------------------------------------

    async def view(self, locker_id: UUID, row: asyncpg.Record | None = None) -> dict[str, Any]:
        """What residents see of a locker: its slots' availability and whether it is online."""
        row = row or await self._locker(locker_id)
        slots = await self.store.slots(self.store.pool, locker_id)
        shown = [
            {
                "slot_no": s["slot_no"],
                "size": s["size"],
                "door": s["door"],
                "occupied": s["occupied"],
                "fault": s["fault"],
                "available": s["door"] == "closed"
                and not s["occupied"]
                and s["fault"] is None
                and not s["reserved"],
            }
            for s in slots
        ]
        return {
            "locker_id": str(row["id"]),
            "community_id": str(row["community_id"]),
            "name": row["name"],
            "location": row["location"],
            "online": self.online(row["last_seen_at"]),
            "last_seen_at": row["last_seen_at"].isoformat() if row["last_seen_at"] else None,
            "available": sum(1 for s in shown if s["available"]),
            "slots": shown,
        }

    def online(self, last_seen_at: datetime | None) -> bool:
        return is_online(last_seen_at, self._clock.now(), self._settings.locker_heartbeat_ms)

    async def get(self, actor: Principal, locker_id: UUID) -> dict[str, Any]:
        row = await self._member_locker(actor, locker_id)
        return await self.view(locker_id, row)

    async def of_community(self, actor: Principal, community_id: UUID) -> list[dict[str, Any]]:
        await self._communities.get(community_id)
        await self._require_member(actor, community_id)
        return [await self.view(r["id"], r) for r in await self.store.of_community(community_id)]

    async def events(
        self, actor: Principal, locker_id: UUID, after_id: int, limit: int
    ) -> list[asyncpg.Record]:
        await self._staff_locker(actor, locker_id)
        return await self.store.events(locker_id, after_id, limit)

    async def commands(self, actor: Principal, locker_id: UUID, limit: int) -> list[asyncpg.Record]:
        await self._staff_locker(actor, locker_id)
        return await self.store.commands_of(locker_id, limit)

    # --- codes -----------------------------------------------------------------------------------

    def _hash_code(self, locker_id: UUID, code: str) -> bytes:
        return hmac.new(self._code_key, f"{locker_id}:{code}".encode(), "sha256").digest()

    async def _issue_code(
        self, conn: Conn, parcel: asyncpg.Record, purpose: str, user_id: UUID
    ) -> Issued:
        now = self._clock.now()
        await self.store.void_codes(conn, parcel["id"], now)
        expires = now + timedelta(seconds=self._settings.locker_code_ttl_s)
        for _ in range(CODE_DRAWS):
            code = f"{secrets.randbelow(1_000_000):06d}"
            try:
                async with conn.transaction():  # a savepoint: a clash leaves the rest intact
                    await self.store.insert_code(
                        conn,
                        parcel["id"],
                        parcel["locker_id"],
                        purpose,
                        user_id,
                        self._hash_code(parcel["locker_id"], code),
                        expires,
                        now,
                    )
            except asyncpg.UniqueViolationError:
                continue  # another live code of this locker has the same digits
            await self.store.log(
                conn,
                parcel["locker_id"],
                "code_issued",
                now,
                actor_kind="user",
                actor_id=user_id,
                slot_no=parcel["slot_no"],
                parcel_id=parcel["id"],
                data={"purpose": purpose, "expires_at": expires.isoformat()},
            )
            return Issued(
                parcel["id"], parcel["locker_id"], parcel["slot_no"], purpose, code, expires
            )
        raise Conflict("could not draw a free code; try again", code="code_busy")

    # --- flows -----------------------------------------------------------------------------------

    async def start_deposit(
        self, actor: Principal, locker_id: UUID, listing_id: UUID, size: str
    ) -> Issued:
        """A seller reserves a slot for a consignment or rental item and gets a deposit code."""
        locker = await self._member_locker(actor, locker_id)
        listing = await self._listings.get(actor, listing_id)
        if not await self._listings.can_manage(actor, listing):
            raise Forbidden("only the listing's seller deposits it")
        if listing["kind"] not in ("consignment", "rent"):
            raise InvalidInput(
                "lockers take consignment and rental items", code="kind_not_for_lockers"
            )
        if listing["status"] != "active":
            raise Conflict(f"the listing is {listing['status']}", code="listing_not_active")
        now = self._clock.now()
        async with self.store.pool.acquire() as conn, conn.transaction():
            slot_no = await self.store.free_slot(conn, locker_id, _FITS[size])
            if slot_no is None:
                raise Conflict("no free slot of that size", code="no_free_slot")
            try:
                async with conn.transaction():
                    parcel = await self.store.insert_parcel(
                        conn, locker_id, slot_no, listing_id, actor.user_id, now
                    )
            except asyncpg.UniqueViolationError as exc:
                if exc.constraint_name == "locker_parcels_one_per_listing":
                    raise Conflict(
                        "this item is already at a locker", code="listing_in_locker"
                    ) from None
                raise Conflict("the slot was just taken; try again", code="no_free_slot") from None
            await self.store.log(
                conn,
                locker["id"],
                "deposit_reserved",
                now,
                actor_kind="user",
                actor_id=actor.user_id,
                slot_no=slot_no,
                parcel_id=parcel["id"],
                data={"listing_id": str(listing_id)},
            )
            return await self._issue_code(conn, parcel, "deposit", actor.user_id)

    async def issue_pickup(self, actor: Principal, order_id: UUID) -> Issued:
        """The buyer of a paid order whose item waits in a locker gets a pickup code."""
        order = await self._orders.get(actor, order_id)
        if order["buyer_id"] != actor.user_id:
            raise Forbidden("only the buyer picks the item up")
        if order["status"] not in (Status.PAID, Status.CONFIRMED):
            raise Conflict("pay the order first", code="order_not_paid")
        async with self.store.pool.acquire() as conn, conn.transaction():
            parcel = await self.store.parcel_of_listing(conn, order["listing_id"])
            if parcel is None or parcel["status"] not in ("stored", "awaiting_pickup"):
                raise NotFound("the item is not in a locker", code="not_in_locker")
            if parcel["status"] == "awaiting_pickup" and parcel["order_id"] != order_id:
                raise Conflict("the item is reserved for another order", code="parcel_reserved")
            moved = await self.store.move_parcel(
                conn,
                parcel["id"],
                ("stored", "awaiting_pickup"),
                "awaiting_pickup",
                self._clock.now(),
                order_id=order_id,
            )
            assert moved is not None  # the row is locked FOR UPDATE above
            return await self._issue_code(conn, moved, "pickup", actor.user_id)

    async def start_return(
        self, actor: Principal, locker_id: UUID, order_id: UUID, size: str
    ) -> Issued:
        """The renter reserves a slot to return a rented item into and gets a return code."""
        await self._member_locker(actor, locker_id)
        order = await self._orders.get(actor, order_id)
        if order["buyer_id"] != actor.user_id:
            raise Forbidden("only the renter returns the item")
        if order["mode"] != Mode.RENTAL or order["status"] != Status.PICKED_UP:
            raise Conflict("only a running rental is returned", code="rental_not_running")
        async with self.store.pool.acquire() as conn, conn.transaction():
            parcel = await self.store.parcel_of_listing(conn, order["listing_id"])
            if parcel is None or parcel["order_id"] != order_id:
                raise NotFound("this rental did not start at a locker", code="not_in_locker")
            if parcel["status"] == "awaiting_return" and parcel["locker_id"] == locker_id:
                return await self._issue_code(conn, parcel, "return", actor.user_id)
            if parcel["status"] not in ("out", "awaiting_return"):
                raise Conflict("the item is not out on rent", code="rental_not_running")
            slot_no = await self.store.free_slot(conn, locker_id, _FITS[size])
            if slot_no is None:
                raise Conflict("no free slot of that size", code="no_free_slot")
            try:
                async with conn.transaction():
                    moved = await self.store.move_parcel(
                        conn,
                        parcel["id"],
                        ("out", "awaiting_return"),
                        "awaiting_return",
                        self._clock.now(),
                        locker_id=locker_id,
                        slot_no=slot_no,
                    )
            except asyncpg.UniqueViolationError:
                raise Conflict("the slot was just taken; try again", code="no_free_slot") from None
            assert moved is not None
            return await self._issue_code(conn, moved, "return", actor.user_id)

    async def open_with_code(self, actor: Principal, locker_id: UUID, code: str) -> asyncpg.Record:
        """At the locker: a valid code opens its slot (a door command is sent to the device)."""
        locker = await self._locker(locker_id)
        await self._limiter.hit_or_raise(CODE_ATTEMPTS, "locker-code", str(actor.user_id))
        self._require_online(locker)
        now = self._clock.now()
        found = await self.store.code(locker_id, self._hash_code(locker_id, code))
        if found is None or found["user_id"] != actor.user_id:
            raise InvalidInput("that code is not valid at this locker", code="invalid_code")
        if found["used_at"] is not None:
            raise Conflict("that code was already used", code="code_used")
        if found["expires_at"] <= now:
            raise Conflict("that code has expired", code="code_expired")
        async with self.store.pool.acquire() as conn, conn.transaction():
            if not await self.store.use_code(conn, found["id"], now):
                raise Conflict("that code was already used", code="code_used")
            parcel = await self.store.parcel(conn, found["parcel_id"])
            assert parcel is not None
            if parcel["status"] != _CODE_FROM[found["purpose"]] or parcel["locker_id"] != locker_id:
                raise Conflict("that code was already used", code="code_used")
            command = await self.store.insert_command(
                conn,
                uuid4(),
                locker_id,
                parcel["slot_no"],
                found["purpose"],
                parcel["id"],
                found["id"],
                actor.user_id,
                None,
                now,
            )
            await self.store.log(
                conn,
                locker_id,
                "code_used",
                now,
                actor_kind="user",
                actor_id=actor.user_id,
                slot_no=parcel["slot_no"],
                request_id=command["request_id"],
                parcel_id=parcel["id"],
                data={"purpose": found["purpose"]},
            )
        await self.send(command)
        return command

    async def open_for_maintenance(
        self, actor: Principal, locker_id: UUID, slot_no: int, reason: str
    ) -> asyncpg.Record:
        """Property staff (or an admin) open a slot, recorded with who and why."""
        locker = await self._staff_locker(actor, locker_id)
        self._require_online(locker)
        if slot_no not in {
            s["slot_no"] for s in await self.store.slots(self.store.pool, locker_id)
        }:
            raise NotFound("no such slot", code="slot_not_found")
        now = self._clock.now()
        async with self.store.pool.acquire() as conn, conn.transaction():
            command = await self.store.insert_command(
                conn,
                uuid4(),
                locker_id,
                slot_no,
                "maintenance",
                None,
                None,
                actor.user_id,
                reason,
                now,
            )
            await self.store.log(
                conn,
                locker_id,
                "maintenance_requested",
                now,
                actor_kind="user",
                actor_id=actor.user_id,
                slot_no=slot_no,
                request_id=command["request_id"],
                data={"reason": reason},
            )
        await self.send(command)
        return command

    def _require_online(self, locker: asyncpg.Record) -> None:
        if not self.online(locker["last_seen_at"]):
            raise Conflict(
                "the locker is offline; try again when it is back",
                code="locker_offline",
                details={
                    "last_seen_at": locker["last_seen_at"].isoformat()
                    if locker["last_seen_at"]
                    else None
                },
            )

    # --- door commands ---------------------------------------------------------------------------

    @staticmethod
    def command_payload(command: asyncpg.Record) -> dict[str, Any]:
        return {
            "request_id": str(command["request_id"]),
            "slot_no": command["slot_no"],
            "purpose": command["purpose"],
        }

    async def send(self, command: asyncpg.Record) -> None:
        """Deliver a stored command (at most once; the device's node resends until acked)."""
        await self.store.mark_sent(command["request_id"], self._clock.now())
        if self._pusher is None:
            return
        try:
            await self._pusher.to_device(
                command["locker_id"], DOOR_OPEN_EVENT, self.command_payload(command)
            )
        except Exception:
            log.warning("lockers.send_failed", request_id=str(command["request_id"]), exc_info=True)

    async def resendable(self, locker_ids: list[UUID]) -> list[asyncpg.Record]:
        """Pending commands of these lockers due for a resend; each is marked sent again."""
        if not locker_ids:
            return []
        now = self._clock.now()
        due = now - timedelta(milliseconds=self._settings.locker_command_retry_ms)
        rows = await self.store.resendable(locker_ids, due)
        for row in rows:
            await self.store.mark_sent(row["request_id"], now)
        return rows

    async def pending(self, locker_id: UUID) -> list[asyncpg.Record]:
        """Every pending command of a locker (resent when its device connects)."""
        rows = await self.store.resendable([locker_id], self._clock.now())
        for row in rows:
            await self.store.mark_sent(row["request_id"], self._clock.now())
        return rows

    async def time_out_commands(self) -> list[asyncpg.Record]:
        """Commands unacknowledged for LAGO_LOCKER_COMMAND_TIMEOUT_MS: timed out until a state
        report shows what happened. Safe to run on every node at once."""
        now = self._clock.now()
        cutoff = now - timedelta(milliseconds=self._settings.locker_command_timeout_ms)
        rows = await self.store.time_out(cutoff, now)
        for row in rows:
            await self.store.log(
                self.store.pool,
                row["locker_id"],
                "command_timed_out",
                now,
                slot_no=row["slot_no"],
                request_id=row["request_id"],
                parcel_id=row["parcel_id"],
                data={"attempts": row["attempts"]},
            )
            if row["code_id"] is not None:
                # The user may try again; if the door did open, the report reconciles it and
                # the parcel has moved on, so the code then opens nothing.
                async with self.store.pool.acquire() as conn:
                    await self.store.reopen_code(conn, row["code_id"])
        return rows

    # --- the device side -------------------------------------------------------------------------

    async def authenticate_device(self, locker_id: str, secret: str) -> asyncpg.Record:
        try:
            key = UUID(locker_id)
        except (ValueError, TypeError):
            key = None
        row = await self.store.locker_secret(key) if key is not None else None
        # Compare even when the locker is unknown, so timing does not tell which ids exist.
        expected = row["secret_hash"] if row is not None else b"\0" * 32
        if not hmac.compare_digest(_digest(secret), expected) or row is None:
            raise Unauthenticated(
                "unknown locker or wrong secret", code="invalid_device_credentials"
            )
        return row

    async def seen(self, locker_id: UUID) -> tuple[bool, bytes]:
        """A heartbeat or report: (whether the locker was offline until now, its secret hash)."""
        now = self._clock.now()
        row = await self.store.touch(locker_id, now)
        if row is None:
            raise NotFound("locker not found", code="locker_not_found")
        was_offline = not is_online(row["previous"], now, self._settings.locker_heartbeat_ms)
        if was_offline:
            await self.store.log(self.store.pool, locker_id, "online", now, actor_kind="device")
        return was_offline, bytes(row["secret_hash"])

    async def mark_offline(self, locker_id: UUID, last_seen_at: datetime | None) -> None:
        await self.store.log(
            self.store.pool,
            locker_id,
            "offline",
            self._clock.now(),
            data={"last_seen_at": last_seen_at.isoformat() if last_seen_at else None},
        )

    async def acknowledge(
        self, locker_id: UUID, request_id: UUID, opened: bool, error: str | None
    ) -> dict[str, Any]:
        """The device's answer to a command. A repeated answer changes nothing and says so."""
        now = self._clock.now()
        after: list[asyncpg.Record] = []
        async with self.store.pool.acquire() as conn, conn.transaction():
            command = await self.store.command(conn, locker_id, request_id)
            if command is None:
                # Also what a device hears about another locker's request id.
                raise NotFound("no such request for this locker", code="unknown_request")
            if command["status"] != "pending" and not (
                opened and command["status"] in ("timed_out", "failed")
            ):
                return {"status": command["status"], "duplicate": True}
            if opened:
                late = command["status"] != "pending"
                done = await self._opened(
                    conn, command, "reconciled" if late else "acked", "device", now
                )
                if done is not None:
                    after.append(done)
            else:
                done = await self.store.finish_command(
                    conn, locker_id, request_id, ("pending",), "failed", now, error
                )
                assert done is not None
                if done["code_id"] is not None:
                    await self.store.reopen_code(conn, done["code_id"])
                await self.store.log(
                    conn,
                    locker_id,
                    "door_failed",
                    now,
                    actor_kind="device",
                    slot_no=done["slot_no"],
                    request_id=request_id,
                    parcel_id=done["parcel_id"],
                    data={"error": error},
                )
        for row in after:
            await self._order_follows(row)
        status = "failed" if not opened else after[0]["status"] if after else "acked"
        return {"status": status, "duplicate": False}

    async def report_state(self, locker_id: UUID, slots: list[SlotReport]) -> list[UUID]:
        """A device's state report: store each slot and reconcile commands it settles.

        A command whose request id a slot reports as its last one, or whose slot is reported open
        after the command timed out or failed, did open the door (IoT devices may act on a
        command whose acknowledgement was lost): it is recorded as opened, with its effect.
        Returns the request ids reconciled.
        """
        now = self._clock.now()
        known = {s["slot_no"] for s in await self.store.slots(self.store.pool, locker_id)}
        unknown = [s.slot_no for s in slots if s.slot_no not in known]
        if unknown:
            raise InvalidInput(
                "the report names slots this locker does not have",
                code="unknown_slot",
                details={"slots": unknown},
            )
        settled: list[asyncpg.Record] = []
        async with self.store.pool.acquire() as conn, conn.transaction():
            for slot in sorted(slots, key=lambda s: s.slot_no):
                for command in await self.store.unsettled_on_slot(conn, locker_id, slot.slot_no):
                    matches = slot.last_request_id == command["request_id"]
                    opened_late = slot.door == "open" and command["status"] != "pending"
                    if matches or opened_late:
                        # A pending command seen done is one whose ack is lost or on its way.
                        status = "acked" if command["status"] == "pending" else "reconciled"
                        done = await self._opened(conn, command, status, "device", now)
                        if done is not None:
                            settled.append(done)
                        break  # one door opening settles one command
                previous = await self.store.update_slot(
                    conn, locker_id, slot.slot_no, slot.door, slot.occupied, slot.fault, now
                )
                if previous is not None and previous["previous_fault"] != slot.fault:
                    await self.store.log(
                        conn,
                        locker_id,
                        "fault" if slot.fault else "fault_cleared",
                        now,
                        actor_kind="device",
                        slot_no=slot.slot_no,
                        data={"fault": slot.fault or previous["previous_fault"]},
                    )
        for row in settled:
            await self._order_follows(row)
        return [row["request_id"] for row in settled]

    async def _opened(
        self, conn: Conn, command: asyncpg.Record, status: str, by: str, now: datetime
    ) -> asyncpg.Record | None:
        """Record that a command's door opened, and its effect on the parcel, once."""
        done = await self.store.finish_command(
            conn,
            command["locker_id"],
            command["request_id"],
            ("pending", "timed_out", "failed"),
            status,
            now,
        )
        if done is None:
            return None
        if status == "reconciled":
            await self.store.log(
                conn,
                done["locker_id"],
                "command_reconciled",
                now,
                actor_kind=by,
                slot_no=done["slot_no"],
                request_id=done["request_id"],
                parcel_id=done["parcel_id"],
                data={"was": command["status"]},
            )
        else:
            await self.store.log(
                conn,
                done["locker_id"],
                "command_acked",
                now,
                actor_kind=by,
                slot_no=done["slot_no"],
                request_id=done["request_id"],
                parcel_id=done["parcel_id"],
            )
        if done["code_id"] is not None:
            # A code reopened after a timeout must not open the door a second time.
            await conn.execute(
                "UPDATE locker_codes SET used_at = COALESCE(used_at, $2) WHERE id = $1",
                done["code_id"],
                now,
            )
        purpose = done["purpose"]
        data: dict[str, Any] = {}
        if purpose == "maintenance":
            data = {"reason": done["reason"]}
        elif done["parcel_id"] is not None:
            moved = await self.store.move_parcel(
                conn, done["parcel_id"], (_CODE_FROM[purpose],), _OPENED_TO[purpose], now
            )
            if moved is None:
                return done  # the parcel already moved on (an earlier command did it)
            if moved["order_id"] is not None:
                data = {"order_id": str(moved["order_id"])}
        await self.store.log(
            conn,
            done["locker_id"],
            _OPENED_EVENT[purpose],
            now,
            actor_kind="user" if done["actor_id"] else "system",
            actor_id=done["actor_id"],
            slot_no=done["slot_no"],
            request_id=done["request_id"],
            parcel_id=done["parcel_id"],
            data=data,
        )
        return done

    async def _order_follows(self, command: asyncpg.Record) -> None:
        """After commit: the order follows the door (see :meth:`_follow`)."""
        if command["purpose"] not in ("pickup", "return") or command["parcel_id"] is None:
            return
        parcel = await self.store.parcel(self.store.pool, command["parcel_id"])
        if parcel is not None:
            await self._follow(parcel)

    async def _follow(self, parcel: asyncpg.Record) -> bool:
        """Move the parcel's order to where the parcel is: an item out of its slot starts the
        rental (or hands a consignment over); an item back in a slot ends the rental and
        completes the order, which releases the deposit. Each move checks the order's status
        first, so a repeat (or the sweep after a crash) finds nothing left to do."""
        order_id = parcel["order_id"]
        if order_id is None:
            return False
        moved = False
        try:
            order = await self._orders.store.order(self._orders.store.pool, order_id)
            if order is None:
                return False
            if parcel["status"] == "out" and order["status"] in (Status.PAID, Status.CONFIRMED):
                if order["mode"] == Mode.RENTAL:
                    await self._orders.act_as_system(order_id, Action.PICK_UP)
                else:
                    await self._orders.act_as_system(order_id, Action.HAND_OVER)
                    # Sold: the item's stay at the locker is over.
                    async with self.store.pool.acquire() as conn:
                        await self.store.move_parcel(
                            conn, parcel["id"], ("out",), "closed", self._clock.now()
                        )
                moved = True
            elif parcel["status"] == "stored" and order["mode"] == Mode.RENTAL:
                if order["status"] == Status.PICKED_UP:
                    order = await self._orders.act_as_system(order_id, Action.RETURN)
                    moved = True
                if order["status"] == Status.RETURNED:
                    await self._orders.act_as_system(order_id, Action.COMPLETE)
                    moved = True
                # The item is back in its slot, free for the next rental.
                async with self.store.pool.acquire() as conn:
                    await conn.execute(
                        "UPDATE locker_parcels SET order_id = NULL WHERE id = $1 AND order_id = $2",
                        parcel["id"],
                        order_id,
                    )
        except Exception:
            # The door is recorded; the sweep (or the seller side by hand) moves the order later.
            log.exception("lockers.order_move_failed", order_id=str(order_id))
        return moved

    async def sweep_orders(self) -> int:
        """Finish order moves that a crash between a door opening and its order move left
        undone (job). Returns how many parcels needed a move."""
        rows = await self.store.parcels_behind_orders()
        done = 0
        for parcel in rows:
            done += await self._follow(parcel)
        return done


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()
