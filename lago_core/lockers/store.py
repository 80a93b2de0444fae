"""SQL for toy lockers: lockers and slots, parcels, codes, door commands and the event log."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from lago_core.ledger.store import Conn

__all__ = ["ACTIVE_PARCEL", "LockerStore"]

# Parcel statuses that hold a slot (the partial unique index of sql/012 says the same).
ACTIVE_PARCEL = ("awaiting_deposit", "stored", "awaiting_pickup", "awaiting_return")
_ACTIVE_SQL = "('awaiting_deposit', 'stored', 'awaiting_pickup', 'awaiting_return')"

_LOCKER = """l.id, l.community_id, l.name, l.location, l.secret_rotated_at, l.last_seen_at,
    l.created_by, l.created_at"""
_COMMAND = """c.request_id, c.locker_id, c.slot_no, c.purpose, c.parcel_id, c.code_id, c.actor_id,
    c.reason, c.status, c.attempts, c.error, c.created_at, c.last_sent_at, c.finished_at"""
_PARCEL = """p.id, p.locker_id, p.slot_no, p.listing_id, p.owner_id, p.order_id, p.status,
    p.created_at, p.updated_at"""


class LockerStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    # --- lockers and slots -----------------------------------------------------------------------

    async def insert_locker(
        self,
        conn: Conn,
        community_id: UUID,
        name: str,
        location: str,
        secret_hash: bytes,
        created_by: UUID,
        now: datetime,
        slots: list[tuple[int, str]],
    ) -> asyncpg.Record:
        row = await conn.fetchrow(
            f"""INSERT INTO lockers AS l (community_id, name, location, secret_hash,
                   secret_rotated_at, created_by, created_at)
               VALUES ($1, $2, $3, $4, $5, $6, $5) RETURNING {_LOCKER}""",
            community_id,
            name,
            location,
            secret_hash,
            now,
            created_by,
        )
        assert row is not None
        await conn.executemany(
            "INSERT INTO locker_slots (locker_id, slot_no, size) VALUES ($1, $2, $3)",
            [(row["id"], no, size) for no, size in slots],
        )
        return row

    async def locker(self, conn: Conn | asyncpg.Pool, locker_id: UUID) -> asyncpg.Record | None:
        return await conn.fetchrow(f"SELECT {_LOCKER} FROM lockers l WHERE l.id = $1", locker_id)

    async def locker_secret(self, locker_id: UUID) -> asyncpg.Record | None:
        return await self.pool.fetchrow(
            "SELECT id, community_id, secret_hash FROM lockers WHERE id = $1", locker_id
        )

    async def of_community(self, community_id: UUID) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            f"SELECT {_LOCKER} FROM lockers l WHERE l.community_id = $1 ORDER BY l.created_at, l.id",
            community_id,
        )

    async def set_secret(self, locker_id: UUID, secret_hash: bytes, now: datetime) -> bool:
        done = await self.pool.execute(
            "UPDATE lockers SET secret_hash = $2, secret_rotated_at = $3 WHERE id = $1",
            locker_id,
            secret_hash,
            now,
        )
        return done.endswith(" 1")

    async def touch(self, locker_id: UUID, now: datetime) -> asyncpg.Record | None:
        """Record a sign of life; the previous time tells whether the locker was offline."""
        return await self.pool.fetchrow(
            """UPDATE lockers l SET last_seen_at = GREATEST(l.last_seen_at, $2)
               FROM (SELECT id, last_seen_at FROM lockers WHERE id = $1 FOR UPDATE) old
               WHERE l.id = old.id
               RETURNING l.community_id, l.secret_hash, old.last_seen_at AS previous""",
            locker_id,
            now,
        )

    async def last_seen(self, community_id: UUID) -> dict[UUID, datetime | None]:
        rows = await self.pool.fetch(
            "SELECT id, last_seen_at FROM lockers WHERE community_id = $1", community_id
        )
        return {r["id"]: r["last_seen_at"] for r in rows}

    async def slots(self, conn: Conn | asyncpg.Pool, locker_id: UUID) -> list[asyncpg.Record]:
        """Each slot with whether an item holds (or is on its way into) it."""
        return await conn.fetch(
            f"""SELECT s.slot_no, s.size, s.door, s.occupied, s.fault, s.reported_at,
                      EXISTS (SELECT 1 FROM locker_parcels p
                              WHERE p.locker_id = s.locker_id AND p.slot_no = s.slot_no
                                AND p.status IN {_ACTIVE_SQL}) AS reserved
               FROM locker_slots s WHERE s.locker_id = $1 ORDER BY s.slot_no""",
            locker_id,
        )

    async def free_slot(self, conn: Conn, locker_id: UUID, sizes: list[str]) -> int | None:
        """The smallest fitting slot that is empty, closed, without fault and not reserved."""
        value = await conn.fetchval(
            f"""SELECT s.slot_no FROM locker_slots s
               WHERE s.locker_id = $1 AND s.size = ANY($2::text[]) AND s.fault IS NULL
                 AND NOT s.occupied AND s.door = 'closed'
                 AND NOT EXISTS (SELECT 1 FROM locker_parcels p
                                 WHERE p.locker_id = s.locker_id AND p.slot_no = s.slot_no
                                   AND p.status IN {_ACTIVE_SQL})
               ORDER BY array_position($2::text[], s.size), s.slot_no LIMIT 1""",
            locker_id,
            sizes,
        )
        return int(value) if value is not None else None

    async def update_slot(
        self,
        conn: Conn,
        locker_id: UUID,
        slot_no: int,
        door: str,
        occupied: bool,
        fault: str | None,
        now: datetime,
    ) -> asyncpg.Record | None:
        """Store a slot's reported state; returns the previous fault (to log changes)."""
        return await conn.fetchrow(
            """UPDATE locker_slots s SET door = $3, occupied = $4, fault = $5, reported_at = $6
               FROM (SELECT fault FROM locker_slots WHERE locker_id = $1 AND slot_no = $2
                     FOR UPDATE) old
               WHERE s.locker_id = $1 AND s.slot_no = $2
               RETURNING old.fault AS previous_fault""",
            locker_id,
            slot_no,
            door,
            occupied,
            fault,
            now,
        )

    # --- parcels ---------------------------------------------------------------------------------

    async def insert_parcel(
        self,
        conn: Conn,
        locker_id: UUID,
        slot_no: int,
        listing_id: UUID,
        owner_id: UUID,
        now: datetime,
    ) -> asyncpg.Record:
        row = await conn.fetchrow(
            f"""INSERT INTO locker_parcels AS p (locker_id, slot_no, listing_id, owner_id, status,
                   created_at, updated_at)
               VALUES ($1, $2, $3, $4, 'awaiting_deposit', $5, $5) RETURNING {_PARCEL}""",
            locker_id,
            slot_no,
            listing_id,
            owner_id,
            now,
        )
        assert row is not None
        return row

    async def parcel(self, conn: Conn | asyncpg.Pool, parcel_id: UUID) -> asyncpg.Record | None:
        return await conn.fetchrow(
            f"SELECT {_PARCEL} FROM locker_parcels p WHERE p.id = $1", parcel_id
        )

    async def parcel_of_listing(self, conn: Conn, listing_id: UUID) -> asyncpg.Record | None:
        return await conn.fetchrow(
            f"""SELECT {_PARCEL} FROM locker_parcels p
               WHERE p.listing_id = $1 AND p.status <> 'closed' FOR UPDATE""",
            listing_id,
        )

    async def move_parcel(
        self,
        conn: Conn,
        parcel_id: UUID,
        expected: tuple[str, ...],
        status: str,
        now: datetime,
        **fields: Any,
    ) -> asyncpg.Record | None:
        """``UPDATE ... WHERE status IN expected``: of two racing moves exactly one wins."""
        sets = ["status = $3", "updated_at = $4"]
        values: list[Any] = [parcel_id, list(expected), status, now]
        for name, value in fields.items():
            values.append(value)
            sets.append(f"{name} = ${len(values)}")
        return await conn.fetchrow(
            f"""UPDATE locker_parcels p SET {", ".join(sets)}
               WHERE p.id = $1 AND p.status = ANY($2::text[]) RETURNING {_PARCEL}""",
            *values,
        )

    async def parcels_behind_orders(self) -> list[asyncpg.Record]:
        """Parcels whose order has not followed the door: out of the slot while the order is
        still paid, or back in a slot while the rental still runs."""
        return await self.pool.fetch(
            f"""SELECT {_PARCEL} FROM locker_parcels p JOIN orders o ON o.id = p.order_id
               WHERE (p.status = 'out' AND o.status IN ('paid', 'confirmed'))
                  OR (p.status = 'stored' AND o.status IN ('picked_up', 'returned'))"""
        )

    # --- codes -----------------------------------------------------------------------------------

    async def insert_code(
        self,
        conn: Conn,
        parcel_id: UUID,
        locker_id: UUID,
        purpose: str,
        user_id: UUID,
        code_hash: bytes,
        expires_at: datetime,
        now: datetime,
    ) -> asyncpg.Record:
        row = await conn.fetchrow(
            """INSERT INTO locker_codes (parcel_id, locker_id, purpose, user_id, code_hash,
                   expires_at, created_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id, expires_at""",
            parcel_id,
            locker_id,
            purpose,
            user_id,
            code_hash,
            expires_at,
            now,
        )
        assert row is not None
        return row

    async def void_codes(self, conn: Conn, parcel_id: UUID, now: datetime) -> None:
        """A new code for a parcel replaces any still unused."""
        await conn.execute(
            "UPDATE locker_codes SET used_at = $2 WHERE parcel_id = $1 AND used_at IS NULL",
            parcel_id,
            now,
        )

    async def code(self, locker_id: UUID, code_hash: bytes) -> asyncpg.Record | None:
        """The newest code of this locker with this hash, used or not."""
        return await self.pool.fetchrow(
            """SELECT id, parcel_id, purpose, user_id, expires_at, used_at FROM locker_codes
               WHERE locker_id = $1 AND code_hash = $2 ORDER BY created_at DESC LIMIT 1""",
            locker_id,
            code_hash,
        )

    async def use_code(self, conn: Conn, code_id: UUID, now: datetime) -> bool:
        """Single use: of two concurrent uses, one sets used_at and the other finds it set."""
        done = await conn.execute(
            "UPDATE locker_codes SET used_at = $2 WHERE id = $1 AND used_at IS NULL", code_id, now
        )
        return done.endswith(" 1")

    async def reopen_code(self, conn: Conn, code_id: UUID) -> None:
        """The door did not open: the code may be used again (it still expires as before)."""
        await conn.execute("UPDATE locker_codes SET used_at = NULL WHERE id = $1", code_id)

    # --- commands --------------------------------------------------------------------------------

    async def insert_command(
        self,
        conn: Conn,
        request_id: UUID,
        locker_id: UUID,
        slot_no: int,
        purpose: str,
        parcel_id: UUID | None,
        code_id: UUID | None,
        actor_id: UUID | None,
        reason: str | None,
        now: datetime,
    ) -> asyncpg.Record:
        row = await conn.fetchrow(
            f"""INSERT INTO locker_commands AS c (request_id, locker_id, slot_no, purpose,
                   parcel_id, code_id, actor_id, reason, created_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {_COMMAND}""",
            request_id,
            locker_id,
            slot_no,
            purpose,
            parcel_id,
            code_id,
            actor_id,
            reason,
            now,
        )
        assert row is not None
        return row

    async def command(
        self, conn: Conn | asyncpg.Pool, locker_id: UUID, request_id: UUID
    ) -> asyncpg.Record | None:
        return await conn.fetchrow(
            f"SELECT {_COMMAND} FROM locker_commands c WHERE c.request_id = $1 AND c.locker_id = $2",
            request_id,
            locker_id,
        )

    async def finish_command(
        self,
        conn: Conn,
        locker_id: UUID,
        request_id: UUID,
        expected: tuple[str, ...],
        status: str,
        now: datetime,
        error: str | None = None,
    ) -> asyncpg.Record | None:
        return await conn.fetchrow(
            f"""UPDATE locker_commands c SET status = $4, finished_at = $5, error = $6
               WHERE c.request_id = $1 AND c.locker_id = $2 AND c.status = ANY($3::text[])
               RETURNING {_COMMAND}""",
            request_id,
            locker_id,
            list(expected),
            status,
            now,
            error,
        )

    async def mark_sent(self, request_id: UUID, now: datetime) -> None:
        await self.pool.execute(
            """UPDATE locker_commands SET attempts = attempts + 1, last_sent_at = $2
               WHERE request_id = $1 AND status = 'pending'""",
            request_id,
            now,
        )

    async def resendable(
        self, locker_ids: list[UUID], sent_before: datetime
    ) -> list[asyncpg.Record]:
        """Pending commands of these lockers not sent since ``sent_before``."""
        return await self.pool.fetch(
            f"""SELECT {_COMMAND} FROM locker_commands c
               WHERE c.locker_id = ANY($1::uuid[]) AND c.status = 'pending'
                 AND (c.last_sent_at IS NULL OR c.last_sent_at <= $2)
               ORDER BY c.created_at""",
            locker_ids,
            sent_before,
        )

    async def time_out(self, created_before: datetime, now: datetime) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            f"""UPDATE locker_commands c SET status = 'timed_out', finished_at = $2
               WHERE c.status = 'pending' AND c.created_at <= $1 RETURNING {_COMMAND}""",
            created_before,
            now,
        )

    async def unsettled_on_slot(
        self, conn: Conn, locker_id: UUID, slot_no: int
    ) -> list[asyncpg.Record]:
        """Commands on a slot that have not been seen to open it, newest first."""
        return await conn.fetch(
            f"""SELECT {_COMMAND} FROM locker_commands c
               WHERE c.locker_id = $1 AND c.slot_no = $2
                 AND c.status IN ('pending', 'timed_out', 'failed')
               ORDER BY c.created_at DESC FOR UPDATE""",
            locker_id,
            slot_no,
        )

    async def commands_of(self, locker_id: UUID, limit: int) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            f"""SELECT {_COMMAND} FROM locker_commands c WHERE c.locker_id = $1
               ORDER BY c.created_at DESC LIMIT $2""",
            locker_id,
            limit,
        )

    # --- the event log ---------------------------------------------------------------------------

    async def log(
        self,
        conn: Conn | asyncpg.Pool,
        locker_id: UUID,
        type_: str,
        at: datetime,
        *,
        actor_kind: str = "system",
        actor_id: UUID | None = None,
        slot_no: int | None = None,
        request_id: UUID | None = None,
        parcel_id: UUID | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        await conn.execute(
            """INSERT INTO locker_events (locker_id, at, type, slot_no, actor_kind, actor_id,
                   request_id, parcel_id, data)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
            locker_id,
            at,
            type_,
            slot_no,
            actor_kind,
            actor_id,
            request_id,
            parcel_id,
            data or {},
        )

    async def events(self, locker_id: UUID, after_id: int, limit: int) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            """SELECT id, at, type, slot_no, actor_kind, actor_id, request_id, parcel_id, data
               FROM locker_events WHERE locker_id = $1 AND id > $2 ORDER BY id LIMIT $3""",
            locker_id,
            after_id,
            limit,
        )
