"""Reading lottery draws: members of the community see them; the seed only once drawn."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from lago_core.communities import CommunityService
from lago_core.errors import Forbidden, NotFound
from lago_core.lottery.store import DrawStore
from lago_core.security.roles import Principal

__all__ = ["LotteryService", "draw_json", "opened_json"]


class LotteryService:
    def __init__(self, store: DrawStore, communities: CommunityService) -> None:
        self.store = store
        self._communities = communities

    async def _require_reader(self, actor: Principal, community_id: UUID) -> None:
        if actor.is_admin or actor.is_customer_service:
            return
        if await self._communities.is_staff(actor, community_id):
            return
        if await self._communities.is_verified_member(actor.user_id, community_id):
            return
        raise Forbidden("only members of this community see its draws", code="not_a_member")

    async def get(self, actor: Principal, draw_id: UUID) -> dict[str, Any]:
        row = await self.store.get(draw_id)
        if row is None:
            raise NotFound("draw not found", code="draw_not_found")
        await self._require_reader(actor, row["community_id"])
        return draw_json(row, with_entries=True)

    async def of_community(self, actor: Principal, community_id: UUID) -> list[dict[str, Any]]:
        await self._communities.get(community_id)
        await self._require_reader(actor, community_id)
        return [
            draw_json(r, with_entries=False) for r in await self.store.of_community(community_id)
        ]


def opened_json(row: Any) -> dict[str, Any]:
    """What is published when a draw opens (the ``lottery.opened`` event)."""
    return {
        "id": str(row["id"]),
        "community_id": str(row["community_id"]),
        "organiser_id": str(row["organiser_id"]),
        "live_session": row["live_session"],
        "prize": row["prize"],
        "winner_count": row["winner_count"],
        "eligibility": row["eligibility"],
        "keyword": row["keyword"],
        "commitment": row["commitment"],
        "opened_at": row["opened_at"].isoformat(),
        "draw_at": row["draw_at"].isoformat(),
    }


def draw_json(row: asyncpg.Record, *, with_entries: bool) -> dict[str, Any]:
    """The published data of a draw; the seed appears only once the result is stored."""
    drawn = row["drawn_at"] is not None
    out: dict[str, Any] = {
        **opened_json(row),
        "status": "drawn" if drawn else "open",
        "drawn_at": row["drawn_at"].isoformat() if drawn else None,
        "entries_hash": row["entries_hash"],
        "entry_count": len(row["entries"]) if drawn else None,
        "winners": row["winners"] if drawn else None,
        "seed": row["seed"] if drawn else None,
    }
    if with_entries:
        out["entries"] = row["entries"] if drawn else None
    return out
