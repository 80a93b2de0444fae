"""SQL of payments, refunds, payouts and received provider events."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from lago_core.ledger.flows import Split
from lago_core.ledger.store import Conn

__all__ = ["PaymentStore"]

_PAYMENT = """id, payer_id, reference_type, reference_id, description, currency, amount_fen,
    deposit_fen, payee_kind, payee_id, commission_fen, property_company_id, property_share_fen,
    provider, provider_intent_id, client_secret, status, refunded_fen, refunded_payee_fen,
    refunded_commission_fen, refunded_property_fen, deposit_status, deposit_withheld_fen,
    platform_discount_fen, merchant_discount_fen, refunded_platform_discount_fen, coupon_funded_at,
    expires_at, captured_at, created_at, rejected_reason, rejected_at"""
_REFUND = """id, payment_id, kind, amount_fen, reason, status, provider_refund_id, created_at,
    succeeded_at"""
_PAYOUT = """id, key, payee_kind, payee_id, amount_fen, status, provider_payout_id, created_at,
    paid_at, source_kind, destination, failed_at, failure_code"""


class PaymentStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    # --- payments --------------------------------------------------------------------------------

    async def insert_payment(self, conn: Conn, values: dict[str, Any]) -> None:
        columns = list(values)
        await conn.execute(
            f"""INSERT INTO payments ({", ".join(columns)})
                VALUES ({", ".join(f"${i}" for i in range(1, len(columns) + 1))})""",
            *values.values(),
        )

    async def set_intent(
        self, conn: Conn, payment_id: UUID, intent_id: str, client_secret: str
    ) -> asyncpg.Record:
        row = await conn.fetchrow(
            f"""UPDATE payments SET provider_intent_id = $2, client_secret = $3 WHERE id = $1
                RETURNING {_PAYMENT}""",
            payment_id,
            intent_id,
            client_secret,
        )
        assert row is not None
        return row

    async def payment(self, conn: Conn | asyncpg.Pool, payment_id: UUID) -> asyncpg.Record | None:
        return await conn.fetchrow(f"SELECT {_PAYMENT} FROM payments WHERE id = $1", payment_id)

    async def lock_payment(self, conn: Conn, payment_id: UUID) -> asyncpg.Record | None:
        return await conn.fetchrow(
            f"SELECT {_PAYMENT} FROM payments WHERE id = $1 FOR UPDATE", payment_id
        )

    async def mark_captured(
        self, conn: Conn, payment_id: UUID, deposit_status: str, now: datetime
    ) -> None:
        await conn.execute(
            """UPDATE payments SET status = 'captured', captured_at = $3, deposit_status = $2
               WHERE id = $1 AND status <> 'captured'""",
            payment_id,
            deposit_status,
            now,
        )

    async def mark_rejected(self, conn: Conn, payment_id: UUID, reason: str, now: datetime) -> bool:
        status = await conn.execute(
            """UPDATE payments SET rejected_reason = $2, rejected_at = $3
               WHERE id = $1 AND status = 'captured' AND rejected_at IS NULL""",
            payment_id,
            reason,
            now,
        )
        return status.endswith(" 1")

    async def mark_failed(self, conn: Conn, payment_id: UUID) -> bool:
        status = await conn.execute(
            "UPDATE payments SET status = 'failed' WHERE id = $1 AND status = 'requires_payment'",
            payment_id,
        )
        return status.endswith(" 1")

    async def add_refunded(
        self, conn: Conn, payment_id: UUID, parts: Split, discount_fen: int = 0
    ) -> None:
        """Count a refund: ``parts`` given back by payee, commission and property share, of
        which ``discount_fen`` went back to the platform's coupon expense, the rest to the payer."""
        await conn.execute(
            """UPDATE payments SET refunded_fen = refunded_fen + $2 + $3 + $4 - $5,
                   refunded_payee_fen = refunded_payee_fen + $2,
                   refunded_commission_fen = refunded_commission_fen + $3,
                   refunded_property_fen = refunded_property_fen + $4,
                   refunded_platform_discount_fen = refunded_platform_discount_fen + $5
               WHERE id = $1""",
            payment_id,
            parts.payee_fen,
            parts.commission_fen,
            parts.property_fen,
            discount_fen,
        )

    async def release_deposit(self, conn: Conn, payment_id: UUID, withheld_fen: int) -> None:
        await conn.execute(
            """UPDATE payments SET deposit_status = 'released', deposit_withheld_fen = $2
               WHERE id = $1 AND deposit_status = 'held'""",
            payment_id,
            withheld_fen,
        )

    # --- refunds ---------------------------------------------------------------------------------

    async def insert_refund(
        self,
        conn: Conn,
        refund_id: UUID,
        payment_id: UUID,
        kind: str,
        amount_fen: int,
        reason: str,
        requested_by: UUID | None,
        now: datetime,
    ) -> asyncpg.Record:
        row = await conn.fetchrow(
            f"""INSERT INTO refunds (id, payment_id, kind, amount_fen, reason, requested_by,
                    created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_REFUND}""",
            refund_id,
            payment_id,
            kind,
            amount_fen,
            reason,
            requested_by,
            now,
        )
        assert row is not None
        return row

    async def refund(self, conn: Conn | asyncpg.Pool, refund_id: UUID) -> asyncpg.Record | None:
        return await conn.fetchrow(
            f"""SELECT {_REFUND}, (SELECT provider_intent_id FROM payments p
                                   WHERE p.id = r.payment_id) AS intent_id
                FROM refunds r WHERE id = $1""",
            refund_id,
        )

    async def lock_refund(self, conn: Conn, refund_id: UUID) -> asyncpg.Record | None:
        return await conn.fetchrow(
            f"SELECT {_REFUND} FROM refunds WHERE id = $1 FOR UPDATE", refund_id
        )

    async def deposit_refund(
        self, conn: Conn | asyncpg.Pool, payment_id: UUID
    ) -> asyncpg.Record | None:
        return await conn.fetchrow(
            f"SELECT {_REFUND} FROM refunds WHERE payment_id = $1 AND kind = 'deposit'",
            payment_id,
        )

    async def refunds_of(self, payment_id: UUID) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            f"SELECT {_REFUND} FROM refunds WHERE payment_id = $1 ORDER BY created_at, id",
            payment_id,
        )

    async def refund_submitted(self, refund_id: UUID, provider_refund_id: str) -> None:
        await self.pool.execute(
            """UPDATE refunds SET provider_refund_id = $2
               WHERE id = $1 AND provider_refund_id IS NULL""",
            refund_id,
            provider_refund_id,
        )

    async def refund_succeeded(
        self, conn: Conn, refund_id: UUID, provider_refund_id: str, now: datetime
    ) -> None:
        await conn.execute(
            """UPDATE refunds SET status = 'succeeded', succeeded_at = $3,
                   provider_refund_id = COALESCE(provider_refund_id, $2)
               WHERE id = $1 AND status = 'pending'""",
            refund_id,
            provider_refund_id,
            now,
        )

    # --- payouts ---------------------------------------------------------------------------------

    async def insert_payout(
        self,
        conn: Conn,
        payout_id: UUID,
        key: str,
        payee_kind: str,
        payee_id: UUID,
        amount_fen: int,
        now: datetime,
        source_kind: str | None = None,
        destination: str | None = None,
    ) -> asyncpg.Record | None:
        return await conn.fetchrow(
            f"""INSERT INTO payouts (id, key, payee_kind, payee_id, amount_fen, created_at,
                                     source_kind, destination)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                ON CONFLICT (key) DO NOTHING RETURNING {_PAYOUT}""",
            payout_id,
            key,
            payee_kind,
            payee_id,
            amount_fen,
            now,
            source_kind,
            destination,
        )

    async def payout(
        self, conn: Conn | asyncpg.Pool, *, payout_id: UUID | None = None, key: str | None = None
    ) -> asyncpg.Record | None:
        return await conn.fetchrow(
            f"SELECT {_PAYOUT} FROM payouts WHERE id = $1 OR key = $2", payout_id, key
        )

    async def lock_payout(self, conn: Conn, payout_id: UUID) -> asyncpg.Record | None:
        return await conn.fetchrow(
            f"SELECT {_PAYOUT} FROM payouts WHERE id = $1 FOR UPDATE", payout_id
        )

    async def payout_submitted(self, payout_id: UUID, provider_payout_id: str) -> None:
        await self.pool.execute(
            """UPDATE payouts SET provider_payout_id = $2
               WHERE id = $1 AND provider_payout_id IS NULL""",
            payout_id,
            provider_payout_id,
        )

    async def payout_paid(
        self, conn: Conn, payout_id: UUID, provider_payout_id: str, now: datetime
    ) -> None:
        await conn.execute(
            """UPDATE payouts SET status = 'paid', paid_at = $3,
                   provider_payout_id = COALESCE(provider_payout_id, $2)
               WHERE id = $1 AND status = 'pending'""",
            payout_id,
            provider_payout_id,
            now,
        )

    async def payout_failed(
        self, conn: Conn, payout_id: UUID, provider_payout_id: str, code: str, now: datetime
    ) -> None:
        await conn.execute(
            """UPDATE payouts SET status = 'failed', failed_at = $4, failure_code = $3,
                   provider_payout_id = COALESCE(provider_payout_id, $2)
               WHERE id = $1 AND status = 'pending'""",
            payout_id,
            provider_payout_id,
            code[:100],
            now,
        )

    # --- provider events -------------------------------------------------------------------------

    async def record_event(
        self, provider: str, event_id: str, type_: str, payload: dict[str, Any], now: datetime
    ) -> tuple[bool, bool]:
        """(new, applied): whether this delivery recorded the event, and whether it is applied."""
        row = await self.pool.fetchrow(
            """WITH ins AS (
                   INSERT INTO payment_events (provider, event_id, type, payload, received_at)
                   VALUES ($1, $2, $3, $4, $5) ON CONFLICT (provider, event_id) DO NOTHING
                   RETURNING 1)
               SELECT EXISTS (SELECT 1 FROM ins) AS new,
                      EXISTS (SELECT 1 FROM payment_events WHERE provider = $1 AND event_id = $2
                              AND applied_at IS NOT NULL) AS applied""",
            provider,
            event_id,
            type_,
            payload,
            now,
        )
        assert row is not None
        return bool(row["new"]), bool(row["applied"])

    async def lock_event(self, conn: Conn, provider: str, event_id: str) -> asyncpg.Record | None:
        return await conn.fetchrow(
            """SELECT id, type, payload, applied_at, outcome FROM payment_events
               WHERE provider = $1 AND event_id = $2 FOR UPDATE""",
            provider,
            event_id,
        )

    async def mark_applied(self, conn: Conn, row_id: int, outcome: str, now: datetime) -> None:
        await conn.execute(
            "UPDATE payment_events SET applied_at = $2, outcome = $3 WHERE id = $1",
            row_id,
            now,
            outcome,
        )

    async def event(self, provider: str, event_id: str) -> asyncpg.Record | None:
        return await self.pool.fetchrow(
            """SELECT id, type, payload, received_at, applied_at, outcome FROM payment_events
               WHERE provider = $1 AND event_id = $2""",
            provider,
            event_id,
        )

    # --- the sweeper -----------------------------------------------------------------------------

    async def stale_work(self, before: datetime) -> dict[str, list[Any]]:
        """Work whose job should have run by now: unapplied events, unsubmitted refunds/payouts."""
        events = await self.pool.fetch(
            """SELECT provider, event_id FROM payment_events
               WHERE applied_at IS NULL AND received_at < $1 ORDER BY received_at LIMIT 500""",
            before,
        )
        refunds = await self.pool.fetch(
            """SELECT id FROM refunds WHERE status = 'pending' AND created_at < $1
               ORDER BY created_at LIMIT 500""",
            before,
        )
        payouts = await self.pool.fetch(
            """SELECT id FROM payouts WHERE status = 'pending' AND created_at < $1
               ORDER BY created_at LIMIT 500""",
            before,
        )
        fundings = await self.pool.fetch(
            """SELECT id FROM payments
               WHERE platform_discount_fen > 0 AND status = 'captured'
                 AND coupon_funded_at IS NULL AND captured_at < $1
               ORDER BY captured_at LIMIT 500""",
            before,
        )
        return {
            "events": [(r["provider"], r["event_id"]) for r in events],
            "refunds": [r["id"] for r in refunds],
            "payouts": [r["id"] for r in payouts],
            "coupon_fundings": [r["id"] for r in fundings],
        }

    async def mark_coupon_funded(self, conn: Conn, payment_id: UUID, now: datetime) -> None:
        await conn.execute(
            "UPDATE payments SET coupon_funded_at = $2 WHERE id = $1 AND coupon_funded_at IS NULL",
            payment_id,
            now,
        )

    async def user_exists(self, user_id: UUID) -> bool:
        return bool(await self.pool.fetchval("SELECT 1 FROM users WHERE id = $1", user_id))
