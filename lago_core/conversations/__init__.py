"""Buyer–seller conversations (私信) about a listing (docs/conversations.md)."""

from lago_core.conversations.service import (
    MAX_TEXT,
    CaseKind,
    CaseStatus,
    ConversationService,
    Side,
    message_view,
)
from lago_core.conversations.store import ConversationStore

__all__ = [
    "MAX_TEXT",
    "CaseKind",
    "CaseStatus",
    "ConversationService",
    "ConversationStore",
    "Side",
    "message_view",
]
