"""Settlement (结算): T+7 payouts of completed orders, monthly statements, the merchant dashboard."""

from lago_core.settlement.service import Dashboard, DayStats, SettlementService, Statement
from lago_core.settlement.store import SettlementStore

__all__ = ["Dashboard", "DayStats", "SettlementService", "SettlementStore", "Statement"]
