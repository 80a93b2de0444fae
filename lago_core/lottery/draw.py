"""The auditable lottery draw: commit and reveal, a canonical entry list, HMAC-based ranking.

Everything here is a pure function of its arguments (``new_seed`` alone draws randomness), so a
draw can be recomputed by anyone from the published data. The scheme, step by step:

1. **Commit** (when the draw opens). The organiser's node draws a secret 32-byte ``seed`` from the
   operating system's CSPRNG and publishes ``commitment = SHA-256(seed)`` as lowercase hex — the
   hash of the 32 raw bytes, not of their hex text. The seed itself stays secret.
2. **Freeze the entry list** (at draw time). The entrant ids (strings; user UUIDs in their
   canonical lowercase ``str(uuid)`` form) are *canonicalised*: duplicates removed, sorted by
   Unicode code point (the same order as sorting their UTF-8 bytes), joined with ``"\\n"`` (no
   trailing newline) and encoded as UTF-8. ``entries_hash = SHA-256(those bytes)`` in lowercase
   hex is published. The order in which entries were collected therefore does not matter; only
   the set does. An id must be non-empty and must not contain ``"\\n"``, which would make the
   joined list ambiguous.
3. **Rank and pick.** Each entrant's score is ``HMAC-SHA256(key=seed, msg=UTF-8(entrant id))``,
   a 32-byte digest compared as an unsigned big-endian number (byte-wise). The winners are the
   ``k`` entrants with the smallest scores, listed from the smallest up (rank order). Equal scores
   would need a SHA-256 collision; should one happen, the smaller entrant id ranks first. Nothing
   is reduced modulo the number of entrants, so there is no modulo bias: every entrant's score is
   an independent uniform value to anyone who does not know the seed, and each ``k``-subset is
   equally likely. If ``k`` is at least the number of entrants, everyone wins (in rank order).
4. **Reveal.** After the draw the seed is published (lowercase hex). Anyone can then check that
   ``SHA-256(seed) == commitment`` (the seed was fixed before the list existed), that the entry
   list hashes to ``entries_hash``, and that ranking the list with the seed gives the published
   winners in the published order — which is what :func:`verify` does.

Because the seed was committed before the entry list was frozen, and the list was frozen before
the seed was revealed, neither the organiser (who knows the seed, but cannot change the list
without the hash changing) nor an entrant (who sees the list but not the seed) can steer the result.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "SEED_BYTES",
    "VerifyResult",
    "canonical_entries",
    "canonical_entry_bytes",
    "commitment_of",
    "draw_winners",
    "entries_hash",
    "new_seed",
    "parse_seed",
    "score",
    "verify",
]

SEED_BYTES = 32
_SEPARATOR = "\n"


def new_seed() -> str:
    """A fresh secret seed: 32 bytes from the OS CSPRNG, as 64 lowercase hex characters."""
    return secrets.token_bytes(SEED_BYTES).hex()


def parse_seed(seed_hex: str) -> bytes:
    """The 32 raw seed bytes of a 64-character hex seed (either case); ``ValueError`` otherwise."""
    if len(seed_hex) != 2 * SEED_BYTES:
        raise ValueError(f"a seed is {2 * SEED_BYTES} hex characters")
    try:
        return bytes.fromhex(seed_hex)
    except ValueError:
        raise ValueError("a seed is hexadecimal") from None


def commitment_of(seed_hex: str) -> str:
    """``SHA-256`` of the seed's 32 raw bytes, as lowercase hex: published when the draw opens."""
    return hashlib.sha256(parse_seed(seed_hex)).hexdigest()


def _check_id(entrant_id: str) -> str:
    if not entrant_id:
        raise ValueError("an entrant id must not be empty")
    if _SEPARATOR in entrant_id:
        raise ValueError("an entrant id must not contain a newline")
    return entrant_id


def canonical_entries(entries: Iterable[str]) -> list[str]:
    """The entry list in canonical form: unique ids, sorted by code point.

    ``ValueError`` for an empty id, an id containing ``"\\n"``, or one that is not encodable as
    UTF-8 (a lone surrogate).
    """
    unique = {_check_id(e) for e in entries}
    ordered = sorted(unique)
    for entrant_id in ordered:
        entrant_id.encode("utf-8")  # raises UnicodeEncodeError (a ValueError) on lone surrogates
    return ordered


def canonical_entry_bytes(entries: Iterable[str]) -> bytes:
    """The canonical entry list as bytes: ids joined by ``"\\n"``, UTF-8, no trailing newline."""
    return _SEPARATOR.join(canonical_entries(entries)).encode("utf-8")


def entries_hash(entries: Iterable[str]) -> str:
    """``SHA-256`` of :func:`canonical_entry_bytes`, lowercase hex: published at draw time."""
    return hashlib.sha256(canonical_entry_bytes(entries)).hexdigest()


def score(seed: bytes, entrant_id: str) -> bytes:
    """An entrant's rank score: ``HMAC-SHA256(key=seed, msg=UTF-8(id))``; smaller ranks first."""
    return hmac.new(seed, entrant_id.encode("utf-8"), hashlib.sha256).digest()


def draw_winners(seed_hex: str, entries: Iterable[str], k: int) -> list[str]:
    """The ``k`` winners in rank order: smallest ``(score, id)`` first; everyone when ``k ≥ n``.

    The result depends only on the seed, the *set* of entries and ``k``.
    """
    if k < 0:
        raise ValueError("the number of winners must not be negative")
    seed = parse_seed(seed_hex)
    ranked = heapq.nsmallest(
        k, ((score(seed, entrant_id), entrant_id) for entrant_id in canonical_entries(entries))
    )
    return [entrant_id for _score, entrant_id in ranked]


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """Each check of :func:`verify`, and the winners recomputed from the given seed and list."""

    seed_matches_commitment: bool
    entries_hash_matches: bool
    winners_match: bool
    recomputed_winners: list[str]

    @property
    def valid(self) -> bool:
        """The draw is valid only when every check passed."""
        return self.seed_matches_commitment and self.entries_hash_matches and self.winners_match


def verify(
    commitment: str,
    seed: str,
    entries: Sequence[str],
    entries_hash_hex: str,
    winners: Sequence[str],
    k: int,
) -> VerifyResult:
    """Recompute a published draw and say which step, if any, does not hold.

    - ``seed_matches_commitment``: ``SHA-256(seed bytes)`` equals ``commitment`` (hex, any case);
    - ``entries_hash_matches``: the canonical form of ``entries`` hashes to ``entries_hash_hex``
      (so a reordered list with the same ids still matches; an added or removed id does not);
    - ``winners_match``: ranking ``entries`` with ``seed`` gives exactly ``winners``, in order.

    Every check runs even when an earlier one failed. ``ValueError`` only for malformed input
    (a seed that is not 64 hex characters, a bad entrant id, a negative ``k``).
    """
    # Plain comparison: every value here is public once the seed is revealed.
    seed_ok = commitment_of(seed) == commitment.strip().lower()
    hash_ok = entries_hash(entries) == entries_hash_hex.strip().lower()
    recomputed = draw_winners(seed, entries, k)
    return VerifyResult(
        seed_matches_commitment=seed_ok,
        entries_hash_matches=hash_ok,
        winners_match=recomputed == list(winners),
        recomputed_winners=recomputed,
    )
