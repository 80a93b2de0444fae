"""The ledger's guarantees, in code and in the database: balanced, once per key, append-only,
never overdrawn; corrections by reversal; refund allocation that returns exactly the split."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lago_core.container import Core
from lago_core.errors import Conflict
from lago_core.ledger import (
    AccountKind,
    AccountRef,
    InsufficientFunds,
    Party,
    PartyKind,
    UnbalancedTransaction,
    credit,
    debit,
    flows,
)

from .waiting import until

CLEARING = AccountRef(AccountKind.CLEARING)
COMMISSION = AccountRef(AccountKind.PLATFORM_COMMISSION)


async def test_post_is_balanced_and_once_per_key(core: Core) -> None:
    seller = Party(PartyKind.USER, uuid.uuid4())
    entries = flows.captured(seller, flows.Split(900, 100, 0), None)
    first = await core.ledger.post("payment:1:capture", "captured", entries)
    again = await core.ledger.post("payment:1:capture", "captured", entries)
    assert first.created
    assert not again.created
    assert again.transaction_id == first.transaction_id
    assert await core.ledger.balance(CLEARING) == 1_000
    assert await core.ledger.balance(seller.payable) == 900
    with pytest.raises(Conflict, match="other entries"):
        await core.ledger.post("payment:1:capture", "captured", flows.deposit_held(5))
    with pytest.raises(UnbalancedTransaction):
        await core.ledger.post("bad", "unbalanced", [debit(CLEARING, 5), credit(COMMISSION, 4)])
    with pytest.raises(UnbalancedTransaction):
        await core.ledger.post("bad", "one account", [debit(CLEARING, 5), credit(CLEARING, 5)])
    with pytest.raises(UnbalancedTransaction):
        await core.ledger.post("bad", "not fen", [debit(CLEARING, 1.5), credit(COMMISSION, 1.5)])  # type: ignore[arg-type]
    assert await core.ledger.check() == []


async def test_database_refuses_unbalanced_edited_and_overdrawn(core: Core) -> None:
    await core.ledger.post("seed", "seed", flows.deposit_held(100))
    account = await core.pool.fetchval(
        "SELECT id FROM ledger_accounts WHERE kind = 'payments_clearing'"
    )

    async def insert_unbalanced(conn: asyncpg.Connection) -> None:
        async with conn.transaction():
            txn = await conn.fetchval(
                """INSERT INTO ledger_transactions (key, description, created_at)
                   VALUES ('raw', 'raw', now()) RETURNING id"""
            )
            await conn.execute(
                "INSERT INTO ledger_entries (transaction_id, account_id, amount_fen) "
                "VALUES ($1, $2, 7)",
                txn,
                account,
            )

    async with core.pool.acquire() as conn:
        # Entries that do not sum to zero fail at commit, whoever inserts them.
        with pytest.raises(asyncpg.CheckViolationError, match="does not balance"):
            await insert_unbalanced(conn)
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await conn.execute("UPDATE ledger_entries SET amount_fen = amount_fen * 2")
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await conn.execute("DELETE FROM ledger_transactions")
    # Paying out more than escrow holds would overdraw it: refused, nothing posted.
    with pytest.raises(InsufficientFunds):
        await core.ledger.post(
            "overdraw",
            "too much",
            [
                debit(AccountRef(AccountKind.DEPOSIT_ESCROW), 101),
                credit(AccountRef(AccountKind.REFUNDS), 101),
            ],
        )
    assert await core.ledger.transaction_id("overdraw") is None
    assert await core.ledger.check() == []


async def test_reversal_corrects_once(core: Core) -> None:
    posted = await core.ledger.post("payment:2:deposit-hold", "held", flows.deposit_held(300))
    reversal = await core.ledger.reverse(posted.transaction_id, "posted in error")
    assert reversal.created
    assert (await core.ledger.reverse(posted.transaction_id, "again")).transaction_id == (
        reversal.transaction_id
    )
    assert await core.ledger.balance(CLEARING) == 0
    with pytest.raises(Conflict):
        await core.ledger.reverse(reversal.transaction_id, "reverse the reversal")
    # The original is still there: history is kept, corrected by a new transaction.
    assert await core.ledger.entries(posted.transaction_id) == {
        CLEARING: 300,
        AccountRef(AccountKind.DEPOSIT_ESCROW): -300,
    }
    assert await core.ledger.check() == []


@settings(max_examples=300, deadline=None)
@given(
    price=st.integers(1, 1_000_000),
    commission_bps=st.integers(0, 10_000),
    share_bps=st.integers(0, 10_000),
    cuts=st.lists(st.integers(1, 1_000_000), max_size=8),
)
def test_refund_allocation_returns_exactly_the_split(
    price: int, commission_bps: int, share_bps: int, cuts: list[int]
) -> None:
    split = flows.split_price(price, commission_bps, share_bps)
    assert split.total == price
    assert min(split.payee_fen, split.commission_fen, split.property_fen) >= 0
    remaining = split
    for cut in [*cuts, price]:  # partial refunds, then whatever is left
        amount = min(cut, remaining.total)
        if amount == 0:
            break
        parts = flows.allocate_refund(remaining, amount)
        assert parts.total == amount
        assert 0 <= parts.payee_fen <= remaining.payee_fen
        assert 0 <= parts.commission_fen <= remaining.commission_fen
        assert 0 <= parts.property_fen <= remaining.property_fen
        remaining = flows.Split(
            remaining.payee_fen - parts.payee_fen,
            remaining.commission_fen - parts.commission_fen,
            remaining.property_fen - parts.property_fen,
        )
    assert remaining == flows.Split(0, 0, 0)


async def test_an_account_opened_by_a_concurrent_transaction_is_found(core: Core) -> None:
    # Two first postings to one new account race: the second waits on the first's insert and,
    # once it commits, must find the account (its own statement's snapshot cannot see it).
    ref = AccountRef(AccountKind.MERCHANT_PAYABLE, uuid.uuid4())
    store = core.ledger.store
    async with core.pool.acquire() as first, core.pool.acquire() as second:
        tx_first = first.transaction()
        await tx_first.start()
        opened = await store.account_ids(first, [ref])
        tx_second = second.transaction()
        await tx_second.start()
        racing = asyncio.ensure_future(store.account_ids(second, [ref, CLEARING]))
        # Wait (bounded) until the second statement is blocked on the first's uncommitted row.
        pid = second.get_server_pid()

        async def second_waits() -> bool:
            return bool(
                await core.pool.fetchval(
                    "SELECT count(*) > 0 FROM pg_locks WHERE pid = $1 AND NOT granted", pid
                )
            )

        await until(second_waits)
        assert not racing.done()
        await tx_first.commit()
        found = await racing
        await tx_second.commit()
    assert found[ref] == opened[ref]
    assert CLEARING in found
