"""Conversation jobs. Safe to run twice: the sweep deletes the records of unsent uploads before
their files, so a rerun finds nothing left (docs/conversations.md, "Images")."""

from __future__ import annotations

from typing import Any

from arq import cron

from lago_core.container import Core

__all__ = ["CRON_JOBS", "FUNCTIONS", "sweep_unsent_images"]


async def sweep_unsent_images(ctx: dict[str, Any]) -> dict[str, int]:
    """Delete images uploaded to conversations more than a day ago and never sent."""
    core: Core = ctx["core"]
    return {"swept": await core.conversations.sweep_unsent_images()}


FUNCTIONS = [sweep_unsent_images]
# Hourly: uploads live a day, so an hour's lag is noise.
CRON_JOBS = [cron(sweep_unsent_images, minute={29}, unique=True)]
