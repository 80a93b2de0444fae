"""AI jobs. The customer-service agent answers each resident message once: the job is enqueued
with the message's id as its job id, and the reply row names the message it answers (a unique
index), so a second run finds it answered. Every minute, listings whose embedding is missing or
older than their last change are embedded (search by meaning; a listing whose text hash is
unchanged costs no model call, so a rerun does nothing)."""

from __future__ import annotations

from typing import Any

from arq import Retry, cron

from lago_core.ai.dialogue import DialogueBusy
from lago_core.container import Core

__all__ = ["CRON_JOBS", "FUNCTIONS", "answer_support_message", "embed_listings"]

# Listings a run embeds at most (about 10 s of CPU at most on the bundled model); the rest next
# minute. `lago ai-backfill` does all at once.
EMBED_BATCH = 128
EMBED_ROUNDS = 4


async def answer_support_message(ctx: dict[str, Any], message_id: int) -> int | None:
    """Let the agent answer a resident's message (unless a human has taken the conversation)."""
    core: Core = ctx["core"]
    try:
        reply = await core.ai.support.answer(message_id)
    except DialogueBusy:
        # Another turn of the same conversation holds it (a slow model): answer after it.
        raise Retry(defer=2) from None
    return None if reply is None else int(reply["id"])


async def embed_listings(ctx: dict[str, Any]) -> int:
    """Embed listings that are new or changed and not yet embedded (the sweep)."""
    core: Core = ctx["core"]
    return await core.ai.search.embeddings.backfill(EMBED_BATCH, EMBED_ROUNDS)


FUNCTIONS = [answer_support_message, embed_listings]
CRON_JOBS = [cron(embed_listings, second={53}, unique=True)]
