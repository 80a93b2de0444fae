"""AI operations (智能运营) and the customer portrait (用户画像): docs/insights.md."""

from lago_core.insights.rules import K_ANONYMITY, RiskCounts, Suppressed, suppress
from lago_core.insights.service import EffectWindow, InsightService, WindowSource
from lago_core.insights.store import InsightStore

__all__ = [
    "K_ANONYMITY",
    "EffectWindow",
    "InsightService",
    "InsightStore",
    "RiskCounts",
    "Suppressed",
    "WindowSource",
    "suppress",
]
