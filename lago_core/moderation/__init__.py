"""Reports of channel messages to customer service, and their handling."""

from lago_core.moderation.service import ModerationService, ReportStatus

__all__ = ["ModerationService", "ReportStatus"]
