"""The plans on offer (vision §7–8): one catalogue, inserted into ``subscription_plans`` when a
process starts (``ON CONFLICT DO NOTHING``: a row changed by hand in production is kept).

``grants`` is what the code enforces: ``listing_cap`` null (no cap on active listings),
``search_boost`` and ``support_priority`` for members; ``vn_buyers_per_month`` for the seller
virtual-number plans (null is unlimited). ``tier`` orders the plans of a kind for changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["PLANS", "PlanDef"]


@dataclass(frozen=True, slots=True)
class PlanDef:
    code: str
    name: str
    kind: str
    tier: int
    monthly_price_fen: int
    grants: dict[str, Any] = field(default_factory=dict)


PLANS: tuple[PlanDef, ...] = (
    PlanDef(
        "member",
        "来购会员",
        "membership",
        1,
        1_500,
        {"listing_cap": None, "search_boost": True, "support_priority": True},
    ),
    PlanDef("vn_basic", "虚拟号·普通卖家", "virtual_number", 1, 990, {"vn_buyers_per_month": 30}),
    PlanDef("vn_pro", "虚拟号·高级卖家", "virtual_number", 2, 1_990, {"vn_buyers_per_month": None}),
)
