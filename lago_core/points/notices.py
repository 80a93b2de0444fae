"""Telling residents their points expire soon, through the notification centre
(docs/notifications.md): an in-app notification, live, with an SMS copy. The container wires
:func:`tell_through`; :class:`PointsService` knows only the :data:`TellExpiry` function."""

from __future__ import annotations

from lago_core.notifications import Notice, NotificationService
from lago_core.points.service import ExpiryNotice, TellExpiry

__all__ = ["EXPIRY_KIND", "expiry_notice", "tell_through"]

EXPIRY_KIND = "points_expiring"


def expiry_notice(notice: ExpiryNotice) -> Notice:
    day = notice.expiry_day.isoformat()
    return Notice(
        EXPIRY_KIND,
        # One per resident and expiry day, like the notice row: a rerun tells nobody twice.
        f"points:expiring:{day}",
        "积分即将过期",
        f"您有{notice.points}积分将于{day}过期，请尽快在「我的积分」兑换。",
        {"points": notice.points, "expiry_day": day},
    )


def tell_through(notifications: NotificationService) -> TellExpiry:
    async def tell(notice: ExpiryNotice) -> None:
        await notifications.notify([notice.user_id], expiry_notice(notice), sms=True)

    return tell
