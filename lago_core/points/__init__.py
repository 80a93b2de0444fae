"""Points (积分): earned by rules under daily caps, kept in lots that expire after a year, spent
oldest first, redeemed in a catalogue (docs/points.md)."""

from dataclasses import dataclass

from lago_core.points.catalogue import CatalogueService, CouponIssuer, ProductSpec
from lago_core.points.invitations import Invitations, InvitationService, Invited, mask_phone
from lago_core.points.rules import RULES, Rule, RuleName, local_day
from lago_core.points.service import (
    CheckIn,
    Earned,
    ExpiryNotice,
    PointsService,
    PointsSummary,
    TellExpiry,
)
from lago_core.points.sources import PointsSources
from lago_core.points.store import PointsStore

__all__ = [
    "RULES",
    "CatalogueService",
    "CheckIn",
    "CouponIssuer",
    "Earned",
    "ExpiryNotice",
    "InvitationService",
    "Invitations",
    "Invited",
    "Points",
    "PointsService",
    "PointsSources",
    "PointsStore",
    "PointsSummary",
    "ProductSpec",
    "Rule",
    "RuleName",
    "TellExpiry",
    "local_day",
    "mask_phone",
]


@dataclass
class Points:
    """The points services of one process (Core.points)."""

    service: PointsService
    catalogue: CatalogueService
    invitations: InvitationService
    sources: PointsSources
