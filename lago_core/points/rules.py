"""The earning rules of the PRD (004 §4.1), their daily caps, and the community's local day.

Caps count per rule, per user, per local day of the *source event* (a post made on Monday and
credited after its grace period on Tuesday counts against Monday's cap). The day is the
community's local day, Asia/Shanghai, taken from the injected clock: all of Lago's communities
are in China today; a community in another zone would pass its own zone here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

__all__ = [
    "COMMUNITY_ZONE",
    "EXPIRY_NOTICE_DAYS",
    "RULES",
    "STREAK_LENGTH",
    "Rule",
    "RuleName",
    "local_day",
]

COMMUNITY_ZONE = ZoneInfo("Asia/Shanghai")
# Every STREAK_LENGTH-th day of an unbroken run of check-ins earns the streak bonus.
STREAK_LENGTH = 7
# Residents are told this many days before their points expire.
EXPIRY_NOTICE_DAYS = 7


class RuleName(enum.StrEnum):
    CHECK_IN = "check_in"
    STREAK_BONUS = "streak_bonus"
    ACTIVITY = "activity"
    PUBLISHING = "publishing"
    SPENDING = "spending"
    INVITATION = "invitation"
    RATING = "rating"


@dataclass(frozen=True, slots=True)
class Rule:
    name: RuleName
    # Points per occurrence; spending gives one per whole yuan instead (points None).
    points: int | None
    # Most points this rule gives one user on one local day; None: no cap.
    daily_cap: int | None
    label: str


RULES: dict[RuleName, Rule] = {
    rule.name: rule
    for rule in (
        Rule(RuleName.CHECK_IN, 5, 5, "每日签到"),
        Rule(RuleName.STREAK_BONUS, 20, 20, "连续签到7天"),
        Rule(RuleName.ACTIVITY, 10, 30, "参加活动"),
        Rule(RuleName.PUBLISHING, 5, 15, "发布动态"),
        Rule(RuleName.SPENDING, None, None, "消费"),
        Rule(RuleName.INVITATION, 50, 200, "邀请新用户"),
        Rule(RuleName.RATING, 3, 15, "评价服务"),
    )
}


def local_day(at: datetime) -> date:
    """The community's calendar day at the instant ``at`` (timezone-aware)."""
    return at.astimezone(COMMUNITY_ZONE).date()
