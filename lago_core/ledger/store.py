"""SQL of the ledger: accounts, append-only transactions and entries, balances."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, TypeAlias
from uuid import UUID

import asyncpg

from lago_core.ledger.model import AccountKind, AccountRef

__all__ = ["Conn", "LedgerStore"]

# A connection of one's own or one borrowed from a pool: the stores take either. (The proxy
# is generic only in asyncpg-stubs, so the union exists for the type checker alone.)
if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    Conn: TypeAlias = asyncpg.Connection | PoolConnectionProxy[asyncpg.Record]
else:
    Conn = asyncpg.Connection


class LedgerStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def account_ids(self, conn: Conn, refs: list[AccountRef]) -> dict[AccountRef, UUID]:
        """The ids of these accounts, opened on first use.

        An account that a concurrent transaction opened and committed while this statement ran
        is skipped by ``ON CONFLICT DO NOTHING`` yet invisible to the statement's own snapshot;
        a second statement (a new snapshot, under READ COMMITTED) finds it.
        """
        found = await self._account_ids(conn, refs)
        missing = [r for r in refs if r not in found]
        if missing:
            found |= await self._account_ids(conn, missing)
        return found

    async def _account_ids(self, conn: Conn, refs: list[AccountRef]) -> dict[AccountRef, UUID]:
        rows = await conn.fetch(
            """
            WITH wanted AS (
                SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[]) AS w(kind, owner_id, normal)
            ), opened AS (
                INSERT INTO ledger_accounts (kind, owner_id, normal)
                SELECT kind, owner_id, normal FROM wanted
                ON CONFLICT (kind, owner_id) DO NOTHING
                RETURNING id, kind, owner_id
            )
            SELECT id, kind, owner_id FROM opened
            UNION ALL
            SELECT a.id, a.kind, a.owner_id FROM ledger_accounts a
            JOIN wanted w ON w.kind = a.kind AND w.owner_id = a.owner_id
            """,
            [r.kind.value for r in refs],
            [r.owner for r in refs],
            [r.kind.normal for r in refs],
        )
        return {AccountRef(AccountKind(r["kind"]), r["owner_id"]): r["id"] for r in rows}

    async def insert_transaction(
        self,
        conn: Conn,
        key: str,
        description: str,
        reverses: UUID | None,
        now: datetime,
    ) -> UUID | None:
        """The new transaction's id, or None when one with this key exists (it posted before).

        A concurrent insert of the same key waits here until the other commits or rolls back.
        """
        txn_id: UUID | None = await conn.fetchval(
            """INSERT INTO ledger_transactions (key, description, reverses, created_at)
               VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO NOTHING RETURNING id""",
            key,
            description,
            reverses,
            now,
        )
        return txn_id

    async def insert_entries(self, conn: Conn, txn_id: UUID, amounts: dict[UUID, int]) -> None:
        # Sorted by account id: concurrent postings lock account rows (the balance trigger) in
        # one global order, so they cannot deadlock on each other.
        ordered = sorted(amounts.items(), key=lambda item: item[0])
        await conn.execute(
            """INSERT INTO ledger_entries (transaction_id, account_id, amount_fen)
               SELECT $1, a, f FROM unnest($2::uuid[], $3::bigint[]) WITH ORDINALITY AS e(a, f, n)
               ORDER BY n""",
            txn_id,
            [a for a, _ in ordered],
            [f for _, f in ordered],
        )

    async def transaction(
        self, conn: Conn | asyncpg.Pool, *, key: str | None = None, txn_id: UUID | None = None
    ) -> asyncpg.Record | None:
        return await conn.fetchrow(
            """SELECT t.id, t.key, t.description, t.reverses, t.created_at,
                      (SELECT r.id FROM ledger_transactions r WHERE r.reverses = t.id) AS reversed_by
               FROM ledger_transactions t
               WHERE ($1::text IS NOT NULL AND t.key = $1) OR t.id = $2""",
            key,
            txn_id,
        )

    async def entries(self, conn: Conn | asyncpg.Pool, txn_id: UUID) -> list[asyncpg.Record]:
        return await conn.fetch(
            """SELECT a.kind, a.owner_id, e.amount_fen FROM ledger_entries e
               JOIN ledger_accounts a ON a.id = e.account_id
               WHERE e.transaction_id = $1 ORDER BY e.id""",
            txn_id,
        )

    async def account(self, ref: AccountRef) -> asyncpg.Record | None:
        return await self._pool.fetchrow(
            """SELECT id, kind, owner_id, normal, balance_fen, version FROM ledger_accounts
               WHERE kind = $1 AND owner_id = $2""",
            ref.kind.value,
            ref.owner,
        )

    async def accounts(self) -> list[asyncpg.Record]:
        """Every account with its cached balance and the balance derived from its entries."""
        return await self._pool.fetch(
            """
            SELECT a.id, a.kind, a.owner_id, a.normal, a.may_go_negative, a.balance_fen, a.version,
                   COALESCE(sum(CASE a.normal WHEN 'debit' THEN e.amount_fen
                                 ELSE -e.amount_fen END), 0)::bigint AS derived_fen,
                   count(e.id) AS entries
            FROM ledger_accounts a LEFT JOIN ledger_entries e ON e.account_id = a.id
            GROUP BY a.id ORDER BY a.kind, a.owner_id
            """
        )

    async def unbalanced_transactions(self) -> list[asyncpg.Record]:
        return await self._pool.fetch(
            """SELECT t.id, t.key, COALESCE(sum(e.amount_fen), 0) AS total, count(e.id) AS n
               FROM ledger_transactions t LEFT JOIN ledger_entries e ON e.transaction_id = t.id
               GROUP BY t.id HAVING COALESCE(sum(e.amount_fen), 0) <> 0 OR count(e.id) < 2"""
        )

    async def transaction_keys(self) -> list[str]:
        return [r["key"] for r in await self._pool.fetch("SELECT key FROM ledger_transactions")]
