"""Housekeeping jobs. Each is idempotent: arq runs a job at least once, so a repeat must be harmless."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from lago_core.container import Core
from lago_core.logging import get_logger

__all__ = ["purge_ended_sessions"]

log = get_logger(__name__)

# Ended sessions are kept a while for audit ("where was I logged in") before they are deleted.
SESSION_RETENTION = timedelta(days=30)


async def purge_ended_sessions(ctx: dict[str, Any]) -> int:
    """Delete sessions that expired or were revoked more than the retention period ago."""
    core: Core = ctx["core"]
    removed = await core.identity.purge_ended_sessions(core.clock.now() - SESSION_RETENTION)
    log.info("sessions.purged", removed=removed)
    return removed
