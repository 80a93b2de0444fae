"""Swaps (置换): a listing for a neighbour's listing, with an optional agreed difference."""

from lago_core.swaps.service import TRANSITIONS, Side, Status, SwapService
from lago_core.swaps.store import SwapStore

__all__ = ["TRANSITIONS", "Side", "Status", "SwapService", "SwapStore"]
