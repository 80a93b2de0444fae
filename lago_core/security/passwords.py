"""Password hashing with Argon2id (argon2-cffi's RFC 9106 low-memory profile)."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = ["hash_password", "needs_rehash", "use_test_hashing", "verify_password"]

_hasher = PasswordHasher()
# Verifying against this when the account does not exist keeps log-in timing the same for
# unknown phones, so response time does not reveal which numbers have accounts.
_DUMMY_HASH = _hasher.hash("lago-timing-equaliser")


def use_test_hashing() -> None:
    """Argon2id at its cheapest, for ``LAGO_ENV=test`` only (``build_core`` decides).

    The real profile costs ≈ 0.2 s of CPU per hash or check on the 2-core machine, by design;
    the test suite creates and logs in thousands of accounts and spent minutes on it. Hashes
    made this way still verify under the real profile (Argon2 hashes carry their parameters),
    and ``needs_rehash`` reports them, so none of them could go unnoticed elsewhere.
    """
    global _hasher, _DUMMY_HASH
    _hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    _DUMMY_HASH = _hasher.hash("lago-timing-equaliser")


async def hash_password(password: str) -> str:
    # Argon2 takes tens of milliseconds of CPU by design: keep it off the event loop.
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    def check() -> bool:
        try:
            _hasher.verify(password_hash or _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return False
        return password_hash is not None

    return await asyncio.to_thread(check)


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
