"""Names of the socket.io events pushed to clients from outside the real-time nodes.

REST handlers and workers push through :class:`lago_core.push.Pusher`; the apps switch on these
names, which docs/protocol.md documents (a test checks each one is there). They are defined here
once so that two pushers of one event cannot drift apart, and so the real-time nodes can import
the same names where they emit or describe them.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "CONVERSATION_CASE",
    "CONVERSATION_MESSAGE",
    "CONVERSATION_READ",
    "DOOR_OPEN",
    "GROUPBUY_ORDER",
    "LIVE_ANNOUNCEMENT",
    "NOTIFICATION_NEW",
    "ORDER_CANCELLED",
    "ORDER_NEW",
    "ORDER_OVERDUE",
    "ORDER_PAID",
    "ORDER_REFUND_REQUESTED",
    "ORDER_UPDATED",
    "PUSHED_EVENTS",
    "REVIEW_NEW",
    "SUPPORT_CLOSED",
    "SUPPORT_MESSAGE",
    "SUPPORT_QUEUED",
    "SUPPORT_TAKEN",
    "SWAP_UPDATED",
]

# To the merchant's staff on /merchant; ORDER_OVERDUE also to the renter on /.
ORDER_NEW: Final = "order:new"
ORDER_PAID: Final = "order:paid"
ORDER_CANCELLED: Final = "order:cancelled"
ORDER_REFUND_REQUESTED: Final = "order:refund_requested"
ORDER_OVERDUE: Final = "order:overdue"
# The buyer's review (rating) of a merchant's order, to the merchant's staff on /merchant.
REVIEW_NEW: Final = "review:new"
# Any committed change of an order (its status, or a rental falling overdue), to its parties on
# /: the buyer, and the seller of a resident's (non-merchant) order. The apps read the order again.
ORDER_UPDATED: Final = "order:updated"
# Any committed change of a swap (置换, docs/swaps.md), to both parties on /: {swap_id, status,
# updated_at}; the apps read the swap again.
SWAP_UPDATED: Final = "swap:updated"
# An order of a successful group buy, to its buyer on / and the merchant's staff on /merchant.
GROUPBUY_ORDER: Final = "groupbuy:order"
# An announcement (活动预告) made or cancelled, to the community's sockets on /.
LIVE_ANNOUNCEMENT: Final = "live:announcement"
# Customer service: SUPPORT_MESSAGE to the resident on /, and all four to the agents' room on
# /support.
SUPPORT_MESSAGE: Final = "support:message"
SUPPORT_QUEUED: Final = "support:queued"
SUPPORT_TAKEN: Final = "support:taken"
SUPPORT_CLOSED: Final = "support:closed"
# A new notification (docs/notifications.md), to every socket of its user on /, with the user's
# unread count: {"notification": {...}, "unread": n}.
NOTIFICATION_NEW: Final = "notification:new"
# Buyer–seller conversations (docs/conversations.md): a new message, and a side's read position,
# to the buyer's sockets on / and the seller's (a resident on /, a merchant's staff on
# /merchant); a new report or escalation to the agents' room on /support.
CONVERSATION_MESSAGE: Final = "conversation:message"
CONVERSATION_READ: Final = "conversation:read"
CONVERSATION_CASE: Final = "conversation:case"
# A command to a toy locker on /device (the nodes resend it until the device acknowledges).
DOOR_OPEN: Final = "door:open"

PUSHED_EVENTS: Final = (
    ORDER_NEW,
    ORDER_PAID,
    ORDER_CANCELLED,
    ORDER_REFUND_REQUESTED,
    ORDER_OVERDUE,
    ORDER_UPDATED,
    SWAP_UPDATED,
    REVIEW_NEW,
    GROUPBUY_ORDER,
    LIVE_ANNOUNCEMENT,
    SUPPORT_MESSAGE,
    SUPPORT_QUEUED,
    SUPPORT_TAKEN,
    SUPPORT_CLOSED,
    DOOR_OPEN,
    NOTIFICATION_NEW,
    CONVERSATION_MESSAGE,
    CONVERSATION_READ,
    CONVERSATION_CASE,
)
