"""SQL of invoice requests and the amounts they are for."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

__all__ = ["InvoiceStore"]

_INVOICE = """i.id, i.kind, i.requester_id, i.merchant_id, m.name AS merchant_name, i.order_id,
    to_char(i.month, 'YYYY-MM') AS month, i.title_kind, i.title, i.tax_id, i.email, i.amount_fen,
    i.status, i.reject_reason, i.document_key IS NOT NULL AS has_document, i.document_key,
    i.generated, i.decided_by, i.decided_at, i.created_at"""
_FROM = "FROM invoices i JOIN merchants m ON m.id = i.merchant_id"


class InvoiceStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def insert(self, values: dict[str, Any]) -> asyncpg.Record:
        """Raises UniqueViolationError when a live request exists for the order or month."""
        columns = list(values)
        row = await self.pool.fetchrow(
            f"""WITH i AS (
                    INSERT INTO invoices ({", ".join(columns)})
                    VALUES ({", ".join(f"${n}" for n in range(1, len(columns) + 1))})
                    RETURNING *)
                SELECT {_INVOICE} FROM i JOIN merchants m ON m.id = i.merchant_id""",
            *values.values(),
        )
        assert row is not None
        return row

    async def get(self, invoice_id: UUID) -> asyncpg.Record | None:
        return await self.pool.fetchrow(f"SELECT {_INVOICE} {_FROM} WHERE i.id = $1", invoice_id)

    async def of_merchant(self, merchant_id: UUID, kind: str | None) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            f"""SELECT {_INVOICE} {_FROM} WHERE i.merchant_id = $1 AND ($2::text IS NULL
                OR i.kind = $2) ORDER BY i.created_at DESC, i.id LIMIT 200""",
            merchant_id,
            kind,
        )

    async def of_requester(self, user_id: UUID) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            f"""SELECT {_INVOICE} {_FROM} WHERE i.requester_id = $1
                ORDER BY i.created_at DESC, i.id LIMIT 200""",
            user_id,
        )

    async def fee_queue(self, status: str | None) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            f"""SELECT {_INVOICE} {_FROM} WHERE i.kind = 'platform_fee'
                AND ($1::text IS NULL OR i.status = $1)
                ORDER BY i.created_at, i.id LIMIT 200""",
            status,
        )

    async def decide(
        self,
        invoice_id: UUID,
        status: str,
        actor: UUID,
        now: datetime,
        *,
        document_key: str | None = None,
        generated: bool | None = None,
        reason: str | None = None,
    ) -> asyncpg.Record | None:
        """requested → issued | rejected, once (None when it was decided already)."""
        return await self.pool.fetchrow(
            f"""WITH i AS (
                    UPDATE invoices SET status = $2, decided_by = $3, decided_at = $4,
                        document_key = $5, generated = $6, reject_reason = $7
                    WHERE id = $1 AND status = 'requested' RETURNING *)
                SELECT {_INVOICE} FROM i JOIN merchants m ON m.id = i.merchant_id""",
            invoice_id,
            status,
            actor,
            now,
            document_key,
            generated,
            reason,
        )

    async def order_for_invoice(self, order_id: UUID) -> asyncpg.Record | None:
        """The order, its merchant and what its buyer paid net of refunds."""
        return await self.pool.fetchrow(
            """SELECT o.id, o.buyer_id, o.merchant_id, o.status, l.title AS listing_title,
                      p.status AS payment_status, p.amount_fen - p.refunded_fen AS paid_fen
               FROM orders o JOIN payments p ON p.id = o.payment_id
               JOIN listings l ON l.id = o.listing_id
               WHERE o.id = $1""",
            order_id,
        )

    async def fees_of(self, merchant_id: UUID, start: datetime, end: datetime) -> int:
        """What the platform kept of the merchant's payments captured in the period: the
        commission with the property share inside it, net of refunds."""
        return int(
            await self.pool.fetchval(
                """SELECT COALESCE(sum(commission_fen - refunded_commission_fen
                                       + property_share_fen - refunded_property_fen), 0)
                   FROM payments
                   WHERE payee_kind = 'merchant' AND payee_id = $1 AND status = 'captured'
                     AND captured_at >= $2 AND captured_at < $3""",
                merchant_id,
                start,
                end,
            )
        )

    async def merchant_tax(self, merchant_id: UUID) -> asyncpg.Record | None:
        return await self.pool.fetchrow(
            "SELECT name, legal_name, credit_code FROM merchants WHERE id = $1", merchant_id
        )
