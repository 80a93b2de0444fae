"""Neighbourhood recommendations: what to show a resident, and why.

A listing's score adds four parts, each in [0, 1] and weighted:

- **place** (0.4): the resident's own community scores 1; a neighbouring one falls from 0.5 to 0
  with its GeoHash distance out to ``LAGO_AI_NEIGHBOUR_RADIUS_M`` — own community first;
- **history** (0.3): the resident's affinity for the listing's category and brand, from views (1),
  searches (2), favourites (3) and orders (4) over the last 90 days;
- **freshness** (0.15): halves every week;
- **popularity** (0.15): recent views and favourites of the listing, log-scaled;

plus ``MEMBER_RECOMMEND_BOOST`` (0.05) when the seller is a member (会员; docs/subscriptions.md):
a thumb on the scale between near-equals — a member's listing passes a non-member's only when
the two are within 0.05, never one from a farther community or far less relevant.

Listings the resident bought, rents or is ordering, and their own, are never recommended. With no
history at all (cold start) the history part is zero for everyone, so place, freshness and
popularity decide, and each recommendation says so.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from lago_core.ai.neighbourhood import neighbourhood_of
from lago_core.ai.search import CANDIDATES, freshness
from lago_core.ai.store import AiStore
from lago_core.clock import Clock
from lago_core.security.roles import Principal

__all__ = ["MEMBER_RECOMMEND_BOOST", "Reason", "RecommendService", "Recommendation"]

# A member seller's exposure boost in recommendations (scores are in [0, 1]).
MEMBER_RECOMMEND_BOOST = 0.05

_WEIGHTS = {"view": 1, "search": 2, "favourite": 3, "order": 4}
_CATEGORY_NAMES = {
    "toy": "玩具",
    "building_blocks": "积木",
    "game_console": "游戏机",
    "video_game": "游戏",
    "doll": "娃娃",
    "plush": "毛绒玩具",
    "figure": "手办",
    "outdoor": "户外玩具",
    "educational": "益智玩具",
    "other": "其他",
}


@dataclass(frozen=True, slots=True)
class Reason:
    code: str  # own_community | nearby | history | fresh | popular | cold_start
    text: str


@dataclass(frozen=True, slots=True)
class Recommendation:
    listing: dict[str, Any]
    score: float
    community_id: UUID
    community_name: str
    distance_m: float
    reasons: list[Reason]


class RecommendService:
    def __init__(self, store: AiStore, clock: Clock, neighbour_radius_m: int) -> None:
        self._store = store
        self._clock = clock
        self._radius = neighbour_radius_m

    async def for_user(self, actor: Principal, limit: int) -> tuple[bool, list[Recommendation]]:
        """(cold start?, recommendations best first)."""
        now = self._clock.now()
        hood = await neighbourhood_of(self._store, actor.user_id, self._radius)
        if not hood.ids:
            return True, []
        signals = await self._store.profile(actor.user_id, now - timedelta(days=90))
        categories: Counter[str] = Counter()
        brands: Counter[str] = Counter()
        sources: dict[str, set[str]] = {}
        for s in signals:
            weight = _WEIGHTS[s["source"]]
            if s["category"]:
                categories[s["category"]] += weight
                sources.setdefault(s["category"], set()).add(s["source"])
            if s["brand"]:
                brands[s["brand"].lower()] += weight
                sources.setdefault(s["brand"].lower(), set()).add(s["source"])
        cold = not signals
        top_category = max(categories.values(), default=0)
        top_brand = max(brands.values(), default=0)
        excluded = await self._store.ordered_listings(actor.user_id)
        rows = await self._store.candidates(hood.ids, now - timedelta(days=30), CANDIDATES, now)
        out: list[Recommendation] = []
        for row in rows:
            if row["id"] in excluded or row["seller_id"] == actor.user_id:
                continue
            place = hood.nearest(list(row["community_ids"]))
            assert place is not None
            reasons: list[Reason] = []
            if place.home:
                near = 1.0
                reasons.append(Reason("own_community", f"来自你所在的小区（{place.name}）"))
            else:
                near = 0.5 * max(0.0, 1 - place.distance_m / max(self._radius, 1))
                reasons.append(
                    Reason(
                        "nearby", f"邻近小区（{place.name}，{place.distance_m / 1000:.1f} 公里）"
                    )
                )
            history = 0.0
            category, brand = row["category"], (row["brand"] or "").lower()
            if top_category and categories[category]:
                history += 0.6 * categories[category] / top_category
            if top_brand and brand and brands[brand]:
                history += 0.4 * brands[brand] / top_brand
            if history > 0:
                what = row["brand"] if brand and brands[brand] else _CATEGORY_NAMES[category]
                done = sources.get(brand if brand and brands[brand] else category, set())
                verbs = "、".join(
                    {"view": "看过", "search": "搜过", "favourite": "收藏过", "order": "买过/租过"}[
                        s
                    ]
                    for s in sorted(done, key=lambda s: -_WEIGHTS[s])
                )
                reasons.append(Reason("history", f"你{verbs}{what}"))
            fresh = freshness(row["created_at"], now)
            if fresh >= 0.8:
                reasons.append(Reason("fresh", "新上架"))
            interest = row["views"] + 3 * row["favourites"]
            popular = min(1.0, math.log1p(interest) / math.log1p(50))
            if interest >= 5:
                reasons.append(
                    Reason("popular", f"近 30 天 {row['views']} 次浏览、{row['favourites']} 人收藏")
                )
            if cold:
                reasons.append(Reason("cold_start", "新用户：按距离、新鲜度和热度推荐"))
            score = 0.4 * near + 0.3 * history + 0.15 * fresh + 0.15 * popular
            if row["seller_member"]:
                score += MEMBER_RECOMMEND_BOOST
                reasons.append(Reason("member", "会员卖家"))
            out.append(
                Recommendation(
                    dict(row),
                    round(score, 4),
                    place.community_id,
                    place.name,
                    place.distance_m,
                    reasons,
                )
            )
        out.sort(key=lambda r: (-r.score, r.listing["id"]))
        return cold, out[:limit]
