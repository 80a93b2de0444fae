"""The notification centre: in-app notifications, live pushes, SMS and e-mail (docs/notifications.md)."""

from lago_core.notifications.hooks import NotificationHooks
from lago_core.notifications.service import (
    ANNOUNCEMENT_BATCH,
    RETRY_DELAYS,
    AudienceRole,
    Notice,
    NotificationService,
)
from lago_core.notifications.store import NotificationStore

__all__ = [
    "ANNOUNCEMENT_BATCH",
    "RETRY_DELAYS",
    "AudienceRole",
    "Notice",
    "NotificationHooks",
    "NotificationService",
    "NotificationStore",
]
