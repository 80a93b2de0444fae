"""Bank account details encrypted at rest: AES-256-GCM under keys from the environment.

LAGO_BANK_KEY lists keys as ``<id>:<base64 of 32 bytes>`` separated by commas. The first key
encrypts; every listed key decrypts, so a key is rotated by putting a new one first, re-encrypting
the rows (:meth:`MoneyOutService.rotate_bank_keys`) and then dropping the old one. Each row keeps
the id of the key that encrypted it. The associated data (the merchant's id) binds a ciphertext
to its row: copied into another merchant's row, it no longer decrypts.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["BankCipher", "Sealed"]

_KEY_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


@dataclass(frozen=True, slots=True)
class Sealed:
    key_id: str
    nonce: bytes
    ciphertext: bytes


class BankCipher:
    def __init__(self, spec: str) -> None:
        """``spec``: LAGO_BANK_KEY's value; raises ValueError naming what is wrong."""
        self._keys: dict[str, AESGCM] = {}
        order: list[str] = []
        for part in spec.split(","):
            key_id, sep, encoded = part.strip().partition(":")
            if not sep or not key_id or len(key_id) > 32 or set(key_id) - _KEY_ID_CHARS:
                raise ValueError("each key is <id>:<base64>, the id of letters, digits, _ or -")
            try:
                raw = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                raise ValueError(f"key {key_id!r} is not base64") from None
            if len(raw) != 32:
                raise ValueError(f"key {key_id!r} is not 32 bytes")
            if key_id in self._keys:
                raise ValueError(f"key {key_id!r} is listed twice")
            self._keys[key_id] = AESGCM(raw)
            order.append(key_id)
        self.current = order[0]

    def seal(self, plaintext: bytes, associated: bytes) -> Sealed:
        nonce = os.urandom(12)  # random 96-bit nonces: safe far beyond our number of rows
        return Sealed(
            self.current, nonce, self._keys[self.current].encrypt(nonce, plaintext, associated)
        )

    def open(self, sealed: Sealed, associated: bytes) -> bytes:
        """Raises KeyError for a key no longer listed, InvalidTag for a tampered row."""
        return self._keys[sealed.key_id].decrypt(sealed.nonce, sealed.ciphertext, associated)

    def knows(self, key_id: str) -> bool:
        return key_id in self._keys


__all__ += ["InvalidTag"]
