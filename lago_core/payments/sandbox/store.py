"""SQL of the sandbox provider: its intents, refunds, payouts and outgoing events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from lago_core.errors import Conflict
from lago_core.ledger.store import Conn

__all__ = ["SandboxStore"]

_INTENT = "id, amount_fen, currency, status, client_secret, metadata, expires_at, paid_at"
_AGREEMENT = "id, client_secret, status, funds_ok, max_amount_fen, metadata, signed_at"
_CHARGE = "id, idempotency_key, attempt, agreement_id, amount_fen, status, metadata"


class SandboxStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    def acquire(self) -> Any:
        return self._pool.acquire()

    async def create_intent(
        self,
        intent_id: str,
        key: str,
        amount_fen: int,
        currency: str,
        client_secret: str,
        metadata: dict[str, str],
        expires_at: datetime,
        now: datetime,
    ) -> asyncpg.Record:
        """The new intent, or the one created earlier under the same idempotency key."""
        row = await self._pool.fetchrow(
            f"""INSERT INTO sandbox_intents (id, idempotency_key, amount_fen, currency,
                    client_secret, status, metadata, expires_at, created_at)
                VALUES ($1, $2, $3, $4, $5, 'requires_payment', $6, $7, $8)
                ON CONFLICT (idempotency_key) DO NOTHING RETURNING {_INTENT}""",
            intent_id,
            key,
            amount_fen,
            currency,
            client_secret,
            metadata,
            expires_at,
            now,
        )
        if row is None:
            row = await self._pool.fetchrow(
                f"SELECT {_INTENT} FROM sandbox_intents WHERE idempotency_key = $1", key
            )
            assert row is not None
        return row

    async def lock_intent(self, conn: Conn, intent_id: str) -> asyncpg.Record | None:
        return await conn.fetchrow(
            f"SELECT {_INTENT} FROM sandbox_intents WHERE id = $1 FOR UPDATE", intent_id
        )

    async def set_intent_status(
        self, conn: Conn, intent_id: str, status: str, paid_at: datetime | None
    ) -> asyncpg.Record:
        row = await conn.fetchrow(
            f"""UPDATE sandbox_intents SET status = $2, paid_at = $3 WHERE id = $1
                RETURNING {_INTENT}""",
            intent_id,
            status,
            paid_at,
        )
        assert row is not None
        return row

    async def refund_by_key(self, conn: Conn, key: str) -> asyncpg.Record | None:
        return await conn.fetchrow(
            "SELECT id, intent_id, amount_fen FROM sandbox_refunds WHERE idempotency_key = $1", key
        )

    async def refunded(self, conn: Conn, intent_id: str) -> int:
        return int(
            await conn.fetchval(
                "SELECT COALESCE(sum(amount_fen), 0) FROM sandbox_refunds WHERE intent_id = $1",
                intent_id,
            )
        )

    async def insert_refund(
        self,
        conn: Conn,
        refund_id: str,
        key: str,
        intent_id: str,
        amount_fen: int,
        metadata: dict[str, str],
        now: datetime,
    ) -> asyncpg.Record:
        row = await conn.fetchrow(
            """INSERT INTO sandbox_refunds (id, idempotency_key, intent_id, amount_fen, metadata,
                   created_at) VALUES ($1, $2, $3, $4, $5, $6)
               RETURNING id, intent_id, amount_fen""",
            refund_id,
            key,
            intent_id,
            amount_fen,
            metadata,
            now,
        )
        assert row is not None
        return row

    async def payout_by_key(self, conn: Conn, key: str) -> asyncpg.Record | None:
        return await conn.fetchrow(
            "SELECT id, destination, amount_fen FROM sandbox_payouts WHERE idempotency_key = $1",
            key,
        )

    async def top_up(
        self,
        conn: Conn,
        top_up_id: str,
        key: str,
        amount_fen: int,
        metadata: dict[str, str],
        now: datetime,
    ) -> asyncpg.Record:
        """Record a top-up once per key; a repeat answers the first (the same amount or 409)."""
        await conn.execute(
            """INSERT INTO sandbox_top_ups (id, idempotency_key, amount_fen, metadata, created_at)
               VALUES ($1, $2, $3, $4, $5) ON CONFLICT (idempotency_key) DO NOTHING""",
            top_up_id,
            key,
            amount_fen,
            metadata,
            now,
        )
        row = await conn.fetchrow(
            "SELECT id, amount_fen FROM sandbox_top_ups WHERE idempotency_key = $1", key
        )
        assert row is not None
        if row["amount_fen"] != amount_fen:
            raise Conflict("this top-up key was used for another amount", code="key_reused")
        return row

    async def lock_balance(self, conn: Conn) -> int:
        """What the merchant account holds: captured minus refunded minus paid out.

        The advisory lock serialises payouts and refunds against each other (one balance).
        """
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('sandbox-balance'))")
        return int(
            await conn.fetchval(
                """SELECT (SELECT COALESCE(sum(amount_fen), 0) FROM sandbox_intents
                           WHERE status = 'succeeded')
                        - (SELECT COALESCE(sum(amount_fen), 0) FROM sandbox_refunds)
                        - (SELECT COALESCE(sum(amount_fen), 0) FROM sandbox_payouts
                           WHERE status = 'paid')
                        + (SELECT COALESCE(sum(amount_fen), 0) FROM sandbox_top_ups)
                        + (SELECT COALESCE(sum(amount_fen), 0) FROM sandbox_agreement_charges
                           WHERE status = 'succeeded')"""
            )
        )

    async def insert_payout(
        self,
        conn: Conn,
        payout_id: str,
        key: str,
        destination: str,
        amount_fen: int,
        metadata: dict[str, str],
        now: datetime,
        status: str = "paid",
    ) -> asyncpg.Record:
        row = await conn.fetchrow(
            """INSERT INTO sandbox_payouts (id, idempotency_key, destination, amount_fen, metadata,
                   created_at, status) VALUES ($1, $2, $3, $4, $5, $6, $7)
               RETURNING id, destination, amount_fen""",
            payout_id,
            key,
            destination,
            amount_fen,
            metadata,
            now,
            status,
        )
        assert row is not None
        return row

    async def insert_event(
        self,
        conn: Conn,
        event_id: str,
        type_: str,
        payload: dict[str, Any],
        now: datetime,
        target: str = "payments",
    ) -> None:
        await conn.execute(
            """INSERT INTO sandbox_events (id, type, payload, created_at, target)
               VALUES ($1, $2, $3, $4, $5)""",
            event_id,
            type_,
            payload,
            now,
            target,
        )

    async def event(self, event_id: str) -> asyncpg.Record | None:
        return await self._pool.fetchrow(
            """SELECT id, type, payload, delivered_at, attempts, target FROM sandbox_events
               WHERE id = $1""",
            event_id,
        )

    async def events(self) -> list[asyncpg.Record]:
        return await self._pool.fetch(
            "SELECT id, type, payload, delivered_at FROM sandbox_events ORDER BY created_at, id"
        )

    async def record_attempt(self, event_id: str, delivered_at: datetime | None) -> None:
        await self._pool.execute(
            """UPDATE sandbox_events SET attempts = attempts + 1,
                   delivered_at = COALESCE(delivered_at, $2) WHERE id = $1""",
            event_id,
            delivered_at,
        )

    async def totals(self) -> asyncpg.Record:
        """Captured, refunded and paid out, for reconciliation with the ledger."""
        row = await self._pool.fetchrow(
            """SELECT (SELECT COALESCE(sum(amount_fen), 0) FROM sandbox_intents
                       WHERE status = 'succeeded')
                    + (SELECT COALESCE(sum(amount_fen), 0) FROM sandbox_agreement_charges
                       WHERE status = 'succeeded') AS captured,
                      (SELECT COALESCE(sum(amount_fen), 0) FROM sandbox_refunds) AS refunded,
                      (SELECT COALESCE(sum(amount_fen), 0) FROM sandbox_payouts
                       WHERE status = 'paid') AS paid_out,
                      (SELECT COALESCE(sum(amount_fen), 0) FROM sandbox_top_ups) AS funded"""
        )
        assert row is not None
        return row

    # --- agreements (recurring charges) -------------------------------------------------------

    async def create_agreement(
        self,
        agreement_id: str,
        key: str,
        client_secret: str,
        max_amount_fen: int,
        metadata: dict[str, str],
        now: datetime,
    ) -> asyncpg.Record:
        """The new agreement, or the one created earlier under the same idempotency key."""
        await self._pool.execute(
            """INSERT INTO sandbox_agreements (id, idempotency_key, client_secret, status,
                   max_amount_fen, metadata, created_at)
               VALUES ($1, $2, $3, 'pending', $4, $5, $6)
               ON CONFLICT (idempotency_key) DO NOTHING""",
            agreement_id,
            key,
            client_secret,
            max_amount_fen,
            metadata,
            now,
        )
        row = await self._pool.fetchrow(
            f"SELECT {_AGREEMENT} FROM sandbox_agreements WHERE idempotency_key = $1", key
        )
        assert row is not None
        return row

    async def lock_agreement(self, conn: Conn, agreement_id: str) -> asyncpg.Record | None:
        return await conn.fetchrow(
            f"SELECT {_AGREEMENT} FROM sandbox_agreements WHERE id = $1 FOR UPDATE", agreement_id
        )

    async def sign_agreement(self, conn: Conn, agreement_id: str, now: datetime) -> asyncpg.Record:
        row = await conn.fetchrow(
            f"""UPDATE sandbox_agreements SET status = 'signed', signed_at = $2 WHERE id = $1
                RETURNING {_AGREEMENT}""",
            agreement_id,
            now,
        )
        assert row is not None
        return row

    async def set_funds(self, agreement_id: str, ok: bool) -> None:
        await self._pool.execute(
            "UPDATE sandbox_agreements SET funds_ok = $2 WHERE id = $1", agreement_id, ok
        )

    async def charges_by_key(self, conn: Conn, key: str) -> list[asyncpg.Record]:
        """Every attempt under a key, the latest first (the caller holds the agreement lock)."""
        return await conn.fetch(
            f"""SELECT {_CHARGE} FROM sandbox_agreement_charges WHERE idempotency_key = $1
                ORDER BY attempt DESC""",
            key,
        )

    async def insert_charge(
        self,
        conn: Conn,
        charge_id: str,
        key: str,
        attempt: int,
        agreement_id: str,
        amount_fen: int,
        status: str,
        metadata: dict[str, str],
        now: datetime,
    ) -> asyncpg.Record:
        row = await conn.fetchrow(
            f"""INSERT INTO sandbox_agreement_charges (id, idempotency_key, attempt, agreement_id,
                    amount_fen, status, metadata, created_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {_CHARGE}""",
            charge_id,
            key,
            attempt,
            agreement_id,
            amount_fen,
            status,
            metadata,
            now,
        )
        assert row is not None
        return row
