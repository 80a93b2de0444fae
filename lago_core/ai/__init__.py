"""AI as the service hub: search with intent, customer service, neighbourhood recommendations.

One :class:`Engine` interface with two engines (an OpenAI-compatible endpoint, or the local
deterministic one); see docs/ai.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from lago_core.ai.engine import (
    ChatMessage,
    ChatTurn,
    Engine,
    EngineError,
    LocalEngine,
    OpenAIEngine,
    ToolCall,
    ToolSpec,
    create_engine,
)
from lago_core.ai.intent import Intent, parse_intent
from lago_core.ai.recommend import Reason, Recommendation, RecommendService
from lago_core.ai.search import Hit, SearchResult, SearchService
from lago_core.ai.store import AiStore
from lago_core.ai.support import GroupBuyLookup, NoGroupBuys, SupportService
from lago_core.clock import Clock
from lago_core.listings import ListingService
from lago_core.security.roles import Principal

__all__ = [
    "AiHub",
    "AiStore",
    "ChatMessage",
    "ChatTurn",
    "Engine",
    "EngineError",
    "GroupBuyLookup",
    "Hit",
    "Intent",
    "LocalEngine",
    "NoGroupBuys",
    "OpenAIEngine",
    "Reason",
    "RecommendService",
    "Recommendation",
    "SearchResult",
    "SearchService",
    "SupportService",
    "ToolCall",
    "ToolSpec",
    "create_engine",
    "parse_intent",
]


@dataclass
class AiHub:
    """The AI services of one process, sharing one engine."""

    engine: Engine
    store: AiStore
    search: SearchService
    recommend: RecommendService
    support: SupportService
    listings: ListingService
    clock: Clock

    async def record_view(self, actor: Principal, listing_id: UUID) -> datetime:
        """A resident looked at a listing they may see (a signal for recommendations)."""
        await self.listings.get(actor, listing_id)
        now = self.clock.now()
        await self.store.record_view(actor.user_id, listing_id, now)
        return now

    async def favourite(self, actor: Principal, listing_id: UUID, on: bool) -> None:
        if on:
            await self.listings.get(actor, listing_id)
        await self.store.set_favourite(actor.user_id, listing_id, on, self.clock.now())

    async def favourites(self, actor: Principal) -> list[UUID]:
        return await self.store.favourites(actor.user_id)

    async def close(self) -> None:
        await self.engine.close()
        await self.search.embeddings.embedder.close()
