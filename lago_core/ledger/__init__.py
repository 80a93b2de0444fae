"""The double-entry ledger: every movement of money as a balanced, append-only transaction."""

from lago_core.ledger import flows
from lago_core.ledger.model import (
    PLATFORM,
    AccountKind,
    AccountRef,
    Entry,
    InsufficientFunds,
    Party,
    PartyKind,
    UnbalancedTransaction,
    credit,
    debit,
)
from lago_core.ledger.service import Ledger, LedgerProblem, Posted
from lago_core.ledger.store import LedgerStore

__all__ = [
    "PLATFORM",
    "AccountKind",
    "AccountRef",
    "Entry",
    "InsufficientFunds",
    "Ledger",
    "LedgerProblem",
    "LedgerStore",
    "Party",
    "PartyKind",
    "Posted",
    "UnbalancedTransaction",
    "credit",
    "debit",
    "flows",
]
