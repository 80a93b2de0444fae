"""Auditable lottery draws: the pure commit-and-reveal core (see ``docs/lottery.md``)."""

from lago_core.lottery.draw import (
    VerifyResult,
    canonical_entries,
    commitment_of,
    draw_winners,
    entries_hash,
    new_seed,
    verify,
)

__all__ = [
    "VerifyResult",
    "canonical_entries",
    "commitment_of",
    "draw_winners",
    "entries_hash",
    "new_seed",
    "verify",
]
