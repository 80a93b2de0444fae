"""Notification jobs. Each is safe to run twice: pushes are claimed once (``pushed_at``), an
SMS/e-mail attempt is claimed before it is sent, and an announcement's fan-out keeps its place
and inserts under a dedupe key (docs/notifications.md)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from arq import cron

from lago_core.container import Core

__all__ = [
    "CRON_JOBS",
    "FUNCTIONS",
    "deliver_notification",
    "fan_out_announcement",
    "sweep_notifications",
]


async def deliver_notification(ctx: dict[str, Any], notification_id: str) -> str:
    """Push a notification live and send its due SMS and e-mail."""
    core: Core = ctx["core"]
    return await core.notifications.deliver(UUID(notification_id))


async def fan_out_announcement(ctx: dict[str, Any], announcement_id: str) -> int:
    """Make an announcement's notifications, in batches."""
    core: Core = ctx["core"]
    return await core.notifications.fan_out(UUID(announcement_id))


async def sweep_notifications(ctx: dict[str, Any]) -> dict[str, int]:
    """Retries that are due, and pushes and announcements whose job was lost."""
    core: Core = ctx["core"]
    return await core.notifications.sweep()


FUNCTIONS = [deliver_notification, fan_out_announcement, sweep_notifications]
# Every minute: the first retry is due 30 s after a failure, and it is the backstop for lost jobs.
CRON_JOBS = [cron(sweep_notifications, second={23}, unique=True)]
