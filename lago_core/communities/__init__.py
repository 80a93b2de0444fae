"""Communities (小区), property companies and their staff, residents' memberships (住户认证)."""

from lago_core.communities.service import CommunityService
from lago_core.communities.store import CommunityStore

__all__ = ["CommunityService", "CommunityStore"]
