"""Accounts, phone verification, sessions and tokens."""

from lago_core.identity.service import IdentityService, TokenPair, UserView
from lago_core.identity.store import IdentityStore

__all__ = ["IdentityService", "IdentityStore", "TokenPair", "UserView"]
