"""Sponsored slots in live channels (广告曝光): brands, campaigns, creatives, slots, counts."""

from lago_core.sponsored.service import Due, ReportRow, SponsoredService
from lago_core.sponsored.store import SponsoredStore

__all__ = ["Due", "ReportRow", "SponsoredService", "SponsoredStore"]
