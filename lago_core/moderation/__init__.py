"""Reports of channel messages to customer service, and their handling."""

from lago_core.moderation.service import ModerationService, ReportStatus
from lago_core.moderation.store import ReportStore

__all__ = ["ModerationService", "ReportStatus", "ReportStore"]
