"""The formulas of AI operations, as pure functions (docs/insights.md renders them for people):
hotness, complaint risk and its reasons, the k-anonymity rule of the portrait, age bands, areas."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

__all__ = [
    "BUSINESS_TZ",
    "CATEGORY_NAMES",
    "HALF_LIFE_DAYS",
    "HOTNESS_WEIGHTS",
    "K_ANONYMITY",
    "NO_COMMUNITY",
    "OTHER",
    "RISK_WEIGHTS",
    "RiskCounts",
    "Suppressed",
    "age_band",
    "area_of",
    "business_day",
    "risk_level",
    "risk_reasons",
    "risk_score",
    "suppress",
    "week_of",
]

BUSINESS_TZ = ZoneInfo("Asia/Shanghai")
# Events of users who are verified residents nowhere: one key, so totals stay whole.
NO_COMMUNITY = UUID(int=0)

# Hotness = Σ over hourly buckets of decay(age) × (views + 3·favourites + 2·searches + 5·orders),
# decay = 0.5 ** (age_days / HALF_LIFE_DAYS): an order says more than a look, and last week more
# than last month.
HOTNESS_WEIGHTS: Mapping[str, int] = {"views": 1, "favourites": 3, "searches": 2, "orders": 5}
HALF_LIFE_DAYS = 7
HOTNESS_DAYS = 28

# Risk = Σ weight × count over the last RISK_DAYS, plus REFUND_RATE_POINTS when at least
# REFUND_RATE_MIN_ORDERS orders saw REFUND_RATE_HIGH or more of them refunded.
RISK_WEIGHTS: Mapping[str, int] = {
    "reports": 3,
    "reported_messages": 2,
    "low_ratings": 2,
    "refunds": 2,
    "cancellations": 1,
}
RISK_DAYS = 30
REFUND_RATE_MIN_ORDERS = 4
REFUND_RATE_HIGH = 0.2
REFUND_RATE_POINTS = 5
RISK_HIGH = 8
RISK_MEDIUM = 4
# A rating at or below this is a low rating (1–5 stars).
LOW_RATING = 2

# No group of fewer people than this is ever shown in a portrait.
K_ANONYMITY = 10
OTHER = "其他"

CATEGORY_NAMES: Mapping[str, str] = {
    "toy": "玩具",
    "building_blocks": "积木",
    "game_console": "游戏机",
    "video_game": "游戏",
    "doll": "娃娃",
    "plush": "毛绒玩具",
    "figure": "手办",
    "outdoor": "户外",
    "educational": "益智",
    "other": "其他",
    "service": "服务",
}


def business_day(at: datetime) -> date:
    return at.astimezone(BUSINESS_TZ).date()


def week_of(at: datetime) -> date:
    """The Monday (Asia/Shanghai) of the week ``at`` falls in: a week's key."""
    day = business_day(at)
    return day - timedelta(days=day.weekday())


@dataclass(frozen=True, slots=True)
class RiskCounts:
    orders: int = 0
    reports: int = 0
    refunds: int = 0
    cancellations: int = 0
    ratings: int = 0
    low_ratings: int = 0
    reported_messages: int = 0

    @classmethod
    def of(cls, row: Any) -> RiskCounts:
        """From a row (or mapping) of summed counters."""
        return cls(**{name: int(row[name] or 0) for name in cls.__dataclass_fields__})

    @property
    def refund_rate(self) -> float | None:
        return self.refunds / self.orders if self.orders else None


def _high_refund_rate(counts: RiskCounts) -> bool:
    rate = counts.refund_rate
    return counts.orders >= REFUND_RATE_MIN_ORDERS and rate is not None and rate >= REFUND_RATE_HIGH


def risk_score(counts: RiskCounts) -> int:
    score = sum(weight * int(getattr(counts, name)) for name, weight in RISK_WEIGHTS.items())
    if _high_refund_rate(counts):
        score += REFUND_RATE_POINTS
    return score


def risk_level(score: int) -> str:
    if score >= RISK_HIGH:
        return "high"
    if score >= RISK_MEDIUM:
        return "medium"
    return "low"


def percent(part: int, whole: int) -> int:
    """A whole percentage, rounded half up in integers (no floats in what people read)."""
    return (200 * part + whole) // (2 * whole) if whole else 0


def risk_reasons(counts: RiskCounts) -> list[str]:
    """Why a subject scores what it does, biggest contribution first."""
    reasons: list[tuple[int, str]] = []
    if counts.reports:
        reasons.append((3 * counts.reports, f"{counts.reports} 次举报"))
    if counts.refunds:
        text = f"{counts.refunds} 次退款"
        if counts.orders:
            text += f"，退款率 {percent(counts.refunds, counts.orders)} %"
        points = 2 * counts.refunds + (REFUND_RATE_POINTS if _high_refund_rate(counts) else 0)
        reasons.append((points, text))
    if counts.low_ratings:
        reasons.append((2 * counts.low_ratings, f"{counts.low_ratings} 次差评（≤{LOW_RATING} 星）"))
    if counts.reported_messages:
        reasons.append((2 * counts.reported_messages, f"{counts.reported_messages} 条聊天被举报"))
    if counts.cancellations:
        reasons.append((counts.cancellations, f"{counts.cancellations} 次取消"))
    reasons.sort(key=lambda r: -r[0])
    return [text for _, text in reasons]


@dataclass(frozen=True, slots=True)
class Suppressed:
    """Buckets fit to show: each of at least K people; ``other`` the rest merged (0 or ≥ K);
    ``total`` None when the whole group is smaller than K (then nothing is shown)."""

    shown: list[tuple[str, int]]
    other: int
    total: int | None


def suppress(counts: Iterable[tuple[str, int]], k: int = K_ANONYMITY) -> Suppressed:
    """The k-anonymity rule: a bucket of fewer than ``k`` people is merged into 其他; when 其他
    itself would then hold fewer than ``k`` (1…k-1), the smallest shown buckets join it until it
    holds at least ``k`` — otherwise total minus the shown buckets would give the small group
    away (complementary disclosure). A whole group under ``k`` shows nothing at all."""
    items = sorted(((label, n) for label, n in counts if n > 0), key=lambda i: (-i[1], i[0]))
    total = sum(n for _, n in items)
    if total < k:
        return Suppressed([], 0, None)
    shown = [item for item in items if item[1] >= k]
    other = total - sum(n for _, n in shown)
    while 0 < other < k and shown:
        other += shown.pop()[1]
    return Suppressed(shown, other, total)


AGE_BANDS: tuple[tuple[int, int | None, str], ...] = (
    (0, 17, "18 岁以下"),
    (18, 24, "18–24"),
    (25, 34, "25–34"),
    (35, 44, "35–44"),
    (45, 54, "45–54"),
    (55, None, "55+"),
)


def age_band(birth_year: int, today: date) -> str:
    # The age reached this year: a birth year is all a user gives, never a date.
    age = today.year - birth_year
    for low, high, label in AGE_BANDS:
        if age >= low and (high is None or age <= high):
            return label
    return AGE_BANDS[0][2]


_CITY = re.compile(r"^(.{1,10}?(?:市|自治州|地区|盟))")
_DISTRICT = re.compile(r"^(.{1,10}?(?:区|县|旗|市))")
_PROVINCE = re.compile(r"^(.{1,8}?(?:省|自治区))")


def area_of(address: str) -> str:
    """City and district read from a community's address (communities keep one address line):
    "上海市浦东新区…" → "上海市浦东新区"; an address that names neither → "未知地区"."""
    rest = address.strip()
    province = _PROVINCE.match(rest)
    if province:
        rest = rest[province.end() :]
    city = _CITY.match(rest)
    if city is None:
        return "未知地区"
    rest = rest[city.end() :]
    district = _DISTRICT.match(rest)
    return city.group(1) + (district.group(1) if district else "")
