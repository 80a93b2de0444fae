"""Auditable lottery draws: the pure commit-and-reveal core (see ``docs/lottery.md``), the store
of draws and results, and reading them."""

from lago_core.lottery.draw import (
    VerifyResult,
    canonical_entries,
    commitment_of,
    draw_winners,
    entries_hash,
    new_seed,
    verify,
)
from lago_core.lottery.service import LotteryService, draw_json
from lago_core.lottery.store import DrawStore

__all__ = [
    "DrawStore",
    "LotteryService",
    "VerifyResult",
    "canonical_entries",
    "commitment_of",
    "draw_json",
    "draw_winners",
    "entries_hash",
    "new_seed",
    "verify",
]
