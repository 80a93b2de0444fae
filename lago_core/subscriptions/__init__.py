"""Subscriptions (会员, 虚拟号 plans): plans, agreements, renewals (docs/subscriptions.md)."""

from lago_core.subscriptions.plans import PLANS, PlanDef
from lago_core.subscriptions.service import SubscriptionService, add_month
from lago_core.subscriptions.store import SubscriptionStore

__all__ = ["PLANS", "PlanDef", "SubscriptionService", "SubscriptionStore", "add_month"]
