"""Orders (订单) of the three trade modes — C2C sale, consignment (寄卖), rental — with ratings."""

from lago_core.orders.machine import (
    CONSIGNMENT_COMMISSION_BPS,
    TRANSITIONS,
    Action,
    InvalidTransition,
    Mode,
    Side,
    Status,
)
from lago_core.orders.service import OrderService, Reputation
from lago_core.orders.store import OrderStore

__all__ = [
    "CONSIGNMENT_COMMISSION_BPS",
    "TRANSITIONS",
    "Action",
    "InvalidTransition",
    "Mode",
    "OrderService",
    "OrderStore",
    "Reputation",
    "Side",
    "Status",
]
