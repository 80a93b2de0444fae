"""SQL of bank accounts, withdrawals, the income list and property companies' statements."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

import asyncpg

from lago_core.ledger.store import Conn

__all__ = ["MoneyOutStore"]

_ACCOUNT = "id, merchant_id, key_id, nonce, ciphertext, updated_by, created_at, updated_at"
_WITHDRAWAL = """w.id, w.merchant_id, w.amount_fen, w.status, w.account_last4, w.payout_id,
    w.requested_by, w.day, w.failure_code, w.created_at, w.paid_at, w.failed_at"""

# Both kinds of settled order with what their payment split, for the income list and the
# property statements: listing orders and group-buy orders, each joined to its payment.
_ORDERS_WITH_PAYMENTS = """
    SELECT 'order' AS kind, o.id AS order_id, o.payee_kind, o.payee_id, o.status,
           p.community_id, p.id AS payment_id, p.captured_at, p.amount_fen,
           p.platform_discount_fen, p.merchant_discount_fen, p.refunded_fen,
           p.refunded_platform_discount_fen, p.commission_fen, p.refunded_commission_fen,
           p.property_share_fen, p.refunded_property_fen, p.deposit_withheld_fen,
           p.property_company_id,
           i.settlement_id, i.net_fen AS settled_net_fen, i.property_share_fen AS settled_property_fen
    FROM orders o JOIN payments p ON p.id = o.payment_id
    LEFT JOIN settlement_items i ON i.order_id = o.id
    UNION ALL
    SELECT 'group_buy_order', g.id, 'merchant', g.merchant_id, g.status,
           COALESCE(p.community_id, gb.community_id), p.id, p.captured_at, p.amount_fen,
           p.platform_discount_fen, p.merchant_discount_fen, p.refunded_fen,
           p.refunded_platform_discount_fen, p.commission_fen, p.refunded_commission_fen,
           p.property_share_fen, p.refunded_property_fen, p.deposit_withheld_fen,
           p.property_company_id,
           i.settlement_id, i.net_fen, i.property_share_fen
    FROM group_buy_orders g JOIN payments p ON p.id = g.payment_id
    JOIN group_buys gb ON gb.id = g.group_id
    LEFT JOIN settlement_group_buy_items i ON i.group_buy_order_id = g.id
"""


class MoneyOutStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    # --- bank accounts ---------------------------------------------------------------------------

    async def bank_account(
        self, conn: Conn | asyncpg.Pool, merchant_id: UUID
    ) -> asyncpg.Record | None:
        return await conn.fetchrow(
            f"SELECT {_ACCOUNT} FROM merchant_bank_accounts WHERE merchant_id = $1", merchant_id
        )

    async def bank_account_by_id(self, account_id: UUID) -> asyncpg.Record | None:
        return await self.pool.fetchrow(
            f"SELECT {_ACCOUNT} FROM merchant_bank_accounts WHERE id = $1", account_id
        )

    async def put_bank_account(
        self,
        account_id: UUID,
        merchant_id: UUID,
        key_id: str,
        nonce: bytes,
        ciphertext: bytes,
        actor: UUID,
        now: datetime,
    ) -> asyncpg.Record:
        """One account per merchant: a new one replaces the details (its id stays, so past
        withdrawals keep pointing at the merchant's account row)."""
        row = await self.pool.fetchrow(
            f"""INSERT INTO merchant_bank_accounts AS a
                    (id, merchant_id, key_id, nonce, ciphertext, updated_by, created_at, updated_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
                ON CONFLICT (merchant_id) DO UPDATE
                SET key_id = EXCLUDED.key_id, nonce = EXCLUDED.nonce,
                    ciphertext = EXCLUDED.ciphertext, updated_by = EXCLUDED.updated_by,
                    updated_at = EXCLUDED.updated_at
                RETURNING {_ACCOUNT}""",
            account_id,
            merchant_id,
            key_id,
            nonce,
            ciphertext,
            actor,
            now,
        )
        assert row is not None
        return row

    async def accounts_not_under(self, key_id: str) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            f"SELECT {_ACCOUNT} FROM merchant_bank_accounts WHERE key_id <> $1", key_id
        )

    async def reseal(
        self, account_id: UUID, old_key_id: str, key_id: str, nonce: bytes, ciphertext: bytes
    ) -> bool:
        """Re-encrypted under another key, unless the row changed meanwhile."""
        status = await self.pool.execute(
            """UPDATE merchant_bank_accounts SET key_id = $3, nonce = $4, ciphertext = $5
               WHERE id = $1 AND key_id = $2""",
            account_id,
            old_key_id,
            key_id,
            nonce,
            ciphertext,
        )
        return status.endswith(" 1")

    # --- withdrawals -----------------------------------------------------------------------------

    async def lock_merchant(self, conn: Conn, merchant_id: UUID) -> None:
        """Serialise one merchant's withdrawals: the daily limit is read after the previous
        request committed (the balance itself is guarded by the ledger's row lock and CHECK)."""
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext('withdrawal:' || $1::uuid::text))", merchant_id
        )

    async def withdrawn_on(self, conn: Conn, merchant_id: UUID, day: date) -> int:
        return int(
            await conn.fetchval(
                """SELECT COALESCE(sum(amount_fen), 0) FROM withdrawals
                   WHERE merchant_id = $1 AND day = $2 AND status <> 'failed'""",
                merchant_id,
                day,
            )
        )

    async def insert_withdrawal(
        self,
        conn: Conn,
        *,
        withdrawal_id: UUID,
        merchant_id: UUID,
        amount_fen: int,
        bank_account_id: UUID,
        last4: str,
        payout_id: UUID,
        actor: UUID,
        day: date,
        now: datetime,
    ) -> asyncpg.Record:
        row = await conn.fetchrow(
            f"""WITH w AS (
                    INSERT INTO withdrawals (id, merchant_id, amount_fen, bank_account_id,
                        account_last4, payout_id, requested_by, day, created_at)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *)
                SELECT {_WITHDRAWAL} FROM w""",
            withdrawal_id,
            merchant_id,
            amount_fen,
            bank_account_id,
            last4,
            payout_id,
            actor,
            day,
            now,
        )
        assert row is not None
        return row

    async def withdrawals(self, merchant_id: UUID, limit: int) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            f"""SELECT {_WITHDRAWAL} FROM withdrawals w WHERE w.merchant_id = $1
                ORDER BY w.created_at DESC, w.id LIMIT $2""",
            merchant_id,
            limit,
        )

    async def withdrawal(self, merchant_id: UUID, withdrawal_id: UUID) -> asyncpg.Record | None:
        return await self.pool.fetchrow(
            f"SELECT {_WITHDRAWAL} FROM withdrawals w WHERE w.merchant_id = $1 AND w.id = $2",
            merchant_id,
            withdrawal_id,
        )

    async def mark_withdrawal(
        self, conn: Conn, payout_id: UUID, status: str, code: str | None, now: datetime
    ) -> asyncpg.Record | None:
        """requested → paid | failed, following its payout (once)."""
        return await conn.fetchrow(
            f"""WITH w AS (
                    UPDATE withdrawals SET status = $2, failure_code = $3,
                        paid_at = CASE WHEN $2::text = 'paid' THEN $4::timestamptz END,
                        failed_at = CASE WHEN $2::text = 'failed' THEN $4::timestamptz END
                    WHERE payout_id = $1 AND status = 'requested' RETURNING *)
                SELECT {_WITHDRAWAL} FROM w""",
            payout_id,
            status,
            code,
            now,
        )

    async def withdrawal_totals(self, merchant_id: UUID) -> asyncpg.Record:
        row = await self.pool.fetchrow(
            """SELECT COALESCE(sum(amount_fen) FILTER (WHERE status = 'requested'), 0) AS in_transit_fen,
                      COALESCE(sum(amount_fen) FILTER (WHERE status = 'paid'), 0) AS withdrawn_fen
               FROM withdrawals WHERE merchant_id = $1""",
            merchant_id,
        )
        assert row is not None
        return row

    # --- income ----------------------------------------------------------------------------------

    async def income(
        self, merchant_id: UUID, start: datetime, end: datetime
    ) -> list[asyncpg.Record]:
        """The merchant's captured payments of the period, with the settlement (if any) and the
        settlement's creation time (FIFO withdrawal state is computed by the caller)."""
        return await self.pool.fetch(
            f"""SELECT x.*, s.created_at AS settled_at
                FROM ({_ORDERS_WITH_PAYMENTS}) x
                LEFT JOIN settlements s ON s.id = x.settlement_id
                WHERE x.payee_kind = 'merchant' AND x.payee_id = $1
                  AND x.captured_at >= $2 AND x.captured_at < $3
                ORDER BY x.captured_at, x.order_id""",
            merchant_id,
            start,
            end,
        )

    async def settlements_fifo(self, merchant_id: UUID) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            """SELECT id, net_fen FROM settlements
               WHERE payee_kind = 'merchant' AND payee_id = $1 ORDER BY created_at, id""",
            merchant_id,
        )

    # --- property companies ----------------------------------------------------------------------

    async def property_items(
        self, company_id: UUID, start: datetime, end: datetime
    ) -> list[asyncpg.Record]:
        """The company's share of the orders settled in the period, per order, with the
        community of the trade."""
        return await self.pool.fetch(
            f"""SELECT x.kind, x.order_id, x.community_id, c.name AS community_name,
                       x.settled_property_fen AS share_fen, s.created_at AS settled_at
                FROM ({_ORDERS_WITH_PAYMENTS}) x
                JOIN settlements s ON s.id = x.settlement_id
                LEFT JOIN communities c ON c.id = x.community_id
                WHERE x.property_company_id = $1 AND x.settled_property_fen > 0
                  AND s.created_at >= $2 AND s.created_at < $3
                ORDER BY s.created_at, x.order_id""",
            company_id,
            start,
            end,
        )

    async def property_payout(self, company_id: UUID, month: date) -> asyncpg.Record | None:
        return await self.pool.fetchrow(
            """SELECT pp.company_id, pp.month, pp.amount_fen, pp.payout_id, pp.created_at,
                      po.status AS payout_status, po.paid_at
               FROM property_payouts pp JOIN payouts po ON po.id = pp.payout_id
               WHERE pp.company_id = $1 AND pp.month = $2""",
            company_id,
            month,
        )

    async def insert_property_payout(
        self,
        conn: Conn,
        company_id: UUID,
        month: date,
        amount_fen: int,
        payout_id: UUID,
        now: datetime,
    ) -> None:
        await conn.execute(
            """INSERT INTO property_payouts (company_id, month, amount_fen, payout_id, created_at)
               VALUES ($1, $2, $3, $4, $5) ON CONFLICT (company_id, month) DO NOTHING""",
            company_id,
            month,
            amount_fen,
            payout_id,
            now,
        )

    async def companies_with_share(self, start: datetime, end: datetime) -> list[UUID]:
        rows = await self.pool.fetch(
            f"""SELECT DISTINCT x.property_company_id FROM ({_ORDERS_WITH_PAYMENTS}) x
                JOIN settlements s ON s.id = x.settlement_id
                WHERE x.property_company_id IS NOT NULL AND x.settled_property_fen > 0
                  AND s.created_at >= $1 AND s.created_at < $2""",
            start,
            end,
        )
        return [r["property_company_id"] for r in rows]

    async def owners(self, conn: Conn | asyncpg.Pool, merchant_id: UUID) -> list[UUID]:
        rows = await conn.fetch(
            "SELECT user_id FROM merchant_members WHERE merchant_id = $1 AND role = 'owner'",
            merchant_id,
        )
        return [r["user_id"] for r in rows]

    async def balance(self, conn: Conn, kind: str, owner_id: UUID) -> int:
        """An account's balance read in the caller's transaction (0 for one never used)."""
        value = await conn.fetchval(
            "SELECT balance_fen FROM ledger_accounts WHERE kind = $1 AND owner_id = $2",
            kind,
            owner_id,
        )
        return int(value or 0)
