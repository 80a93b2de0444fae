"""AI jobs. The customer-service agent answers each resident message once: the job is enqueued
with the message's id as its job id, and the reply row names the message it answers (a unique
index), so a second run finds it answered."""

from __future__ import annotations

from typing import Any

from arq import Retry

from lago_core.ai.dialogue import DialogueBusy
from lago_core.container import Core

__all__ = ["FUNCTIONS", "answer_support_message"]


async def answer_support_message(ctx: dict[str, Any], message_id: int) -> int | None:
    """Let the agent answer a resident's message (unless a human has taken the conversation)."""
    core: Core = ctx["core"]
    try:
        reply = await core.ai.support.answer(message_id)
    except DialogueBusy:
        # Another turn of the same conversation holds it (a slow model): answer after it.
        raise Retry(defer=2) from None
    return None if reply is None else int(reply["id"])


FUNCTIONS = [answer_support_message]
