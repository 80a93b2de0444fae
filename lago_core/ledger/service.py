"""Posting to the ledger: balanced, once per key, never edited — and reading balances back."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

import asyncpg

from lago_core.clock import Clock
from lago_core.errors import Conflict, NotFound
from lago_core.ledger.model import (
    AccountKind,
    AccountRef,
    Entry,
    InsufficientFunds,
    merge_entries,
)
from lago_core.ledger.store import Conn, LedgerStore

__all__ = ["Ledger", "LedgerProblem", "Posted"]


@dataclass(frozen=True, slots=True)
class Posted:
    transaction_id: UUID
    # False when the key had been posted before: the earlier transaction is returned unchanged.
    created: bool


@dataclass(frozen=True, slots=True)
class LedgerProblem:
    what: str
    detail: str


class Ledger:
    def __init__(self, store: LedgerStore, pool: asyncpg.Pool, clock: Clock) -> None:
        self.store = store
        self._pool = pool
        self._clock = clock

    async def post(
        self,
        key: str,
        description: str,
        entries: Iterable[Entry],
        *,
        conn: Conn | None = None,
        reverses: UUID | None = None,
    ) -> Posted:
        """Post one balanced transaction once per ``key``.

        Posting a key again returns the first transaction, provided the entries are the same —
        a retried effect. Different entries under a posted key are a bug in the caller and are
        refused. With ``conn`` the posting joins the caller's transaction (as a savepoint), so an
        effect and its ledger transaction commit or roll back together.
        """
        merged = merge_entries(entries)
        if conn is None:
            async with self._pool.acquire() as own:
                return await self._post(own, key, description, merged, reverses)
        return await self._post(conn, key, description, merged, reverses)

    async def _post(
        self,
        conn: Conn,
        key: str,
        description: str,
        merged: dict[AccountRef, int],
        reverses: UUID | None,
    ) -> Posted:
        try:
            async with conn.transaction():
                ids = await self.store.account_ids(conn, sorted(merged))
                txn_id = await self.store.insert_transaction(
                    conn, key, description, reverses, self._clock.now()
                )
                if txn_id is not None:
                    await self.store.insert_entries(
                        conn, txn_id, {ids[acc]: fen for acc, fen in merged.items()}
                    )
                    return Posted(txn_id, True)
        except asyncpg.CheckViolationError as exc:
            if exc.constraint_name == "ledger_accounts_non_negative":
                raise InsufficientFunds(
                    "the transaction would overdraw an account", details={"key": key}
                ) from None
            raise
        existing = await self.store.transaction(conn, key=key)
        assert existing is not None
        if await self._entries_of(conn, existing["id"]) != merged:
            raise Conflict(
                "a ledger transaction with this key was posted with other entries",
                code="ledger_key_reused",
                details={"key": key},
            )
        return Posted(existing["id"], False)

    async def _entries_of(self, conn: Conn | asyncpg.Pool, txn_id: UUID) -> dict[AccountRef, int]:
        return {
            AccountRef(AccountKind(r["kind"]), r["owner_id"]): r["amount_fen"]
            for r in await self.store.entries(conn, txn_id)
        }

    async def entries(self, txn_id: UUID) -> dict[AccountRef, int]:
        return await self._entries_of(self._pool, txn_id)

    async def transaction_id(self, key: str) -> UUID | None:
        row = await self.store.transaction(self._pool, key=key)
        return row["id"] if row else None

    async def reverse(self, txn_id: UUID, description: str, *, conn: Conn | None = None) -> Posted:
        """Correct a transaction by posting its opposite; a transaction is reversed at most once."""
        if conn is None:
            async with self._pool.acquire() as own:
                return await self._reverse(own, txn_id, description)
        return await self._reverse(conn, txn_id, description)

    async def _reverse(self, conn: Conn, txn_id: UUID, description: str) -> Posted:
        original = await self.store.transaction(conn, txn_id=txn_id)
        if original is None:
            raise NotFound("ledger transaction not found")
        if original["reverses"] is not None:
            raise Conflict("a reversal is not reversed again", code="is_reversal")
        entries = await self._entries_of(conn, txn_id)
        return await self.post(
            f"reversal:{original['key']}",
            description,
            [Entry(acc, -fen) for acc, fen in entries.items()],
            conn=conn,
            reverses=txn_id,
        )

    async def balance(self, account: AccountRef) -> int:
        """The account's balance on its normal side (0 for an account never used)."""
        row = await self.store.account(account)
        return int(row["balance_fen"]) if row else 0

    async def balances(self) -> dict[AccountRef, int]:
        return {
            AccountRef(AccountKind(r["kind"]), r["owner_id"]): int(r["balance_fen"])
            for r in await self.store.accounts()
        }

    async def check(self) -> list[LedgerProblem]:
        """Verify the invariants from the rows themselves; an empty list means all hold.

        Every transaction has two or more entries summing to zero; every cached balance equals the
        sum of its entries; no account that must stay non-negative is negative; and debit-normal
        balances equal credit-normal ones (nothing created or destroyed).
        """
        problems = [
            LedgerProblem("unbalanced", f"{r['key']}: {r['n']} entries, sum {r['total']}")
            for r in await self.store.unbalanced_transactions()
        ]
        debits = credits = 0
        for r in await self.store.accounts():
            name = f"{r['kind']}:{r['owner_id']}"
            if r["balance_fen"] != r["derived_fen"]:
                problems.append(
                    LedgerProblem("cache", f"{name}: {r['balance_fen']} ≠ {r['derived_fen']}")
                )
            if r["derived_fen"] < 0 and not r["may_go_negative"]:
                problems.append(LedgerProblem("negative", f"{name}: {r['derived_fen']}"))
            if r["normal"] == "debit":
                debits += r["derived_fen"]
            else:
                credits += r["derived_fen"]
        if debits != credits:
            problems.append(LedgerProblem("conservation", f"debits {debits} ≠ credits {credits}"))
        return problems
