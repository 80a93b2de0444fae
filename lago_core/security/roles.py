"""The roles of the product (产品角色) and what a caller holds.

Platform roles live on the user; merchant, property and community roles are memberships scoped to
one merchant, property company or community. Permission checks ask :class:`Principal` questions and
the stores that know the memberships; nothing trusts role claims carried in a token.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from uuid import UUID

__all__ = ["MemberStatus", "MerchantRole", "PlatformRole", "Principal"]


class PlatformRole(enum.StrEnum):
    ADMIN = "admin"
    CUSTOMER_SERVICE = "customer_service"


class MerchantRole(enum.StrEnum):
    OWNER = "owner"
    STAFF = "staff"


class MemberStatus(enum.StrEnum):
    PENDING = "pending"
    VERIFIED = "verified"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: who, through which session, with which platform role."""

    user_id: UUID
    session_id: UUID
    platform_role: PlatformRole | None = None

    @property
    def is_admin(self) -> bool:
        return self.platform_role is PlatformRole.ADMIN

    @property
    def is_customer_service(self) -> bool:
        return self.platform_role is PlatformRole.CUSTOMER_SERVICE
