"""The order state machines of the three trade modes, as one transition table.

Everything that moves an order looks its move up here: which action, in which mode, from which
statuses, to which status, by which side. docs/orders.md renders the same table for people.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from lago_core.errors import Conflict

__all__ = [
    "CONSIGNMENT_COMMISSION_BPS",
    "OPEN_STATUSES",
    "TRANSITIONS",
    "Action",
    "InvalidTransition",
    "Mode",
    "Rule",
    "Side",
    "Status",
    "rule_for",
]


class Mode(enum.StrEnum):
    SALE = "sale"  # C2C: a resident buys from a neighbour, face to face or self-pickup
    CONSIGNMENT = "consignment"  # 寄卖: a merchant sells on the owner's behalf
    RENTAL = "rental"


class Status(enum.StrEnum):
    CREATED = "created"
    PAID = "paid"
    CONFIRMED = "confirmed"  # a merchant (or seller) accepted the paid order
    HANDED_OVER = "handed_over"
    DELIVERED = "delivered"
    PICKED_UP = "picked_up"  # the rental runs
    RETURNED = "returned"  # the rental has ended; the deposit awaits settlement
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    REFUND_REQUESTED = "refund_requested"
    REFUNDED = "refunded"


class Action(enum.StrEnum):
    PAY = "pay"
    CANCEL = "cancel"
    CONFIRM = "confirm"
    REQUEST_REFUND = "request_refund"
    REJECT = "reject"
    HAND_OVER = "hand_over"
    CONFIRM_RECEIPT = "confirm_receipt"
    PICK_UP = "pick_up"
    RETURN = "return"
    COMPLETE = "complete"


class Side(enum.StrEnum):
    BUYER = "buyer"
    SELLER = "seller"  # the seller, or the owner and staff of the merchant running the order
    SYSTEM = "system"  # the payment hook and the jobs
    # Platform admins and customer service: they settle a dispute through the order (refund it),
    # since the payments API no longer refunds an order's payment behind its back.
    STAFF = "staff"


@dataclass(frozen=True, slots=True)
class Rule:
    sources: frozenset[Status]
    target: Status
    by: frozenset[Side]


def _rule(sources: set[Status], target: Status, *by: Side) -> Rule:
    return Rule(frozenset(sources), target, frozenset(by))


_ALL = tuple(Mode)
_PAID = {Status.PAID, Status.CONFIRMED}

# Shared by the three modes: payment, cancelling before payment, and the refund path of a paid
# order that has not been handed over yet (a merchant's reject, a buyer's refund request).
_COMMON: dict[Action, Rule] = {
    Action.PAY: _rule({Status.CREATED}, Status.PAID, Side.SYSTEM),
    Action.CANCEL: _rule({Status.CREATED}, Status.CANCELLED, Side.BUYER, Side.SELLER, Side.SYSTEM),
    Action.CONFIRM: _rule({Status.PAID}, Status.CONFIRMED, Side.SELLER),
    Action.REQUEST_REFUND: _rule(_PAID, Status.REFUND_REQUESTED, Side.BUYER),
    Action.REJECT: _rule(
        _PAID | {Status.REFUND_REQUESTED}, Status.REFUNDED, Side.SELLER, Side.STAFF
    ),
}

TRANSITIONS: dict[tuple[Mode, Action], Rule] = {
    **{(mode, action): rule for mode in _ALL for action, rule in _COMMON.items()},
    # C2C sale: created → paid → handed_over → completed
    (Mode.SALE, Action.HAND_OVER): _rule(_PAID, Status.HANDED_OVER, Side.SELLER),
    (Mode.SALE, Action.CONFIRM_RECEIPT): _rule({Status.HANDED_OVER}, Status.COMPLETED, Side.BUYER),
    # Consignment: created → paid → delivered → completed
    # The system side is a toy locker (docs/lockers.md): the door opening for the buyer's pickup
    # code hands the item over, and a return into a slot ends the rental.
    (Mode.CONSIGNMENT, Action.HAND_OVER): _rule(_PAID, Status.DELIVERED, Side.SELLER, Side.SYSTEM),
    (Mode.CONSIGNMENT, Action.CONFIRM_RECEIPT): _rule(
        {Status.DELIVERED}, Status.COMPLETED, Side.BUYER
    ),
    # Rental: created → paid → picked_up → returned → completed (deposit released)
    (Mode.RENTAL, Action.PICK_UP): _rule(_PAID, Status.PICKED_UP, Side.SELLER, Side.SYSTEM),
    (Mode.RENTAL, Action.RETURN): _rule(
        {Status.PICKED_UP}, Status.RETURNED, Side.SELLER, Side.SYSTEM
    ),
    (Mode.RENTAL, Action.COMPLETE): _rule(
        {Status.RETURNED}, Status.COMPLETED, Side.SELLER, Side.SYSTEM
    ),
}

# Statuses in which an order holds its listing (the partial unique index of sql/007 says the same).
OPEN_STATUSES = frozenset(
    {
        Status.CREATED,
        Status.PAID,
        Status.CONFIRMED,
        Status.HANDED_OVER,
        Status.DELIVERED,
        Status.PICKED_UP,
        Status.RETURNED,
        Status.REFUND_REQUESTED,
    }
)

# Platform commission on a consignment by listing category, basis points (5–15%): bulky or
# fragile things cost more to inspect, store and hand over; consoles sell fast at high prices.
CONSIGNMENT_COMMISSION_BPS: dict[str, int] = {
    "toy": 1_000,
    "building_blocks": 800,
    "game_console": 500,
    "video_game": 800,
    "doll": 1_200,
    "plush": 1_500,
    "figure": 1_000,
    "outdoor": 1_200,
    "educational": 1_000,
    "other": 1_500,
}


class InvalidTransition(Conflict):
    default_code = "invalid_transition"


def rule_for(mode: Mode, action: Action, current: Status) -> Rule:
    """The rule that moves an order in ``current`` by ``action``; InvalidTransition otherwise."""
    rule = TRANSITIONS.get((mode, action))
    if rule is None or current not in rule.sources:
        target = rule.target.value if rule is not None else None
        raise InvalidTransition(
            f"a {mode.value} order cannot {action.value} from {current.value}"
            + (f" to {target}" if target else ""),
            details={"from": current.value, "to": target, "action": action.value},
        )
    return rule
