"""Group buys (拼团): campaigns, groups, seats, payments and outcomes (docs/groupbuys.md)."""

from lago_core.groupbuys.service import REFERENCE_TYPE, CampaignSpec, GroupBuyService
from lago_core.groupbuys.store import GroupBuyStore

__all__ = ["REFERENCE_TYPE", "CampaignSpec", "GroupBuyService", "GroupBuyStore"]
