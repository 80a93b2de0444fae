"""Lottery draws: reading a community's draws, and public verification from the published data.

Draws are opened and drawn in the channel (socket events ``lottery:open``/``lottery:draw``).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from aiohttp import web
from pydantic import ConfigDict, Field, StringConstraints

from lago_core.client_address import client_address
from lago_core.errors import InvalidInput
from lago_core.lottery import verify
from lago_core.security.roles import Principal
from lago_rest.api import Api
from lago_rest.context import Services
from lago_rest.schemas import Schema

api = Api()
TAGS = ("lottery",)

MAX_ENTRIES = 100_000
MAX_ID_CHARS = 64

Hex64 = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$")]
EntrantId = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_ID_CHARS, pattern=r"^[^\n]+$")
]


class VerifyDraw(Schema):
    # Ids are hashed byte for byte: never strip whitespace from them.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False, frozen=True)

    commitment: Hex64 = Field(description="SHA-256 of the seed's 32 bytes, published at opening")
    seed: Hex64 = Field(description="the revealed seed, 32 bytes as hex")
    entries: list[EntrantId] = Field(
        max_length=MAX_ENTRIES, description="the entrant ids, in any order"
    )
    entries_hash: Hex64 = Field(
        description="SHA-256 of the canonical entry list, published at draw"
    )
    winners: list[EntrantId] = Field(
        max_length=MAX_ENTRIES, description="the published winners, in rank order"
    )
    winner_count: int = Field(ge=1, le=MAX_ENTRIES)


class DrawChecks(Schema):
    seed_matches_commitment: bool
    entries_hash_matches: bool
    winners_match: bool


class DrawVerdict(Schema):
    valid: bool
    checks: DrawChecks
    recomputed_winners: list[str]


VERIFY_LIMIT = "30/minute"
# 100,000 UUID entries are ≈3.9 MB of JSON: more than LAGO_MAX_BODY_BYTES allows other endpoints.
VERIFY_BODY_BYTES = 5 << 20


class Draw(Schema):
    """A draw's published data. ``seed``, ``entries`` and ``winners`` appear once it is drawn;
    with ``commitment``, ``entries_hash`` and ``winner_count`` they are what verify takes."""

    id: UUID
    community_id: UUID
    organiser_id: UUID
    live_session: str | None
    prize: str
    winner_count: int
    eligibility: str
    keyword: str | None
    commitment: str
    opened_at: datetime
    draw_at: datetime
    status: str
    drawn_at: datetime | None
    entries_hash: str | None
    entry_count: int | None
    winners: list[str] | None
    seed: str | None
    entries: list[str] | None = None


def _draw(data: dict[str, Any]) -> Draw:
    return Draw.model_validate(data)


@api.get("/lottery/draws/{draw_id}", tags=TAGS)
async def get_draw(draw_id: UUID, user: Principal, svc: Services) -> Draw:
    """One draw with its frozen entry list and revealed seed. Members of the community."""
    return _draw(await svc.lottery.get(user, draw_id))


@api.get("/communities/{community_id}/lottery/draws", tags=TAGS)
async def community_draws(community_id: UUID, user: Principal, svc: Services) -> list[Draw]:
    """The community's latest 100 draws, newest first (without entry lists). Members."""
    return [_draw(d) for d in await svc.lottery.of_community(user, community_id)]


@api.post("/lottery/verify", tags=TAGS, max_body_bytes=VERIFY_BODY_BYTES)
async def verify_draw(body: VerifyDraw, request: web.Request, svc: Services) -> DrawVerdict:
    """Recompute a draw from its commitment, seed, entry list and hash. Public, no sign-in."""
    # Public and CPU-heavy: a per-address limit (the client's address behind a trusted proxy);
    # the limit is generous for people, not for loops.
    client = client_address(request, svc.settings.trusted_proxies)
    await svc.limiter.hit_or_raise(VERIFY_LIMIT, "lottery-verify", client)
    # Up to 100,000 HMACs and a sort (≈0.25 s at the limit): off the event loop.
    try:
        result = await asyncio.to_thread(
            verify,
            body.commitment,
            body.seed,
            body.entries,
            body.entries_hash,
            body.winners,
            body.winner_count,
        )
    except ValueError as exc:  # belt and braces: the schema already refuses malformed input
        raise InvalidInput(str(exc)) from None
    return DrawVerdict(
        valid=result.valid,
        checks=DrawChecks(
            seed_matches_commitment=result.seed_matches_commitment,
            entries_hash_matches=result.entries_hash_matches,
            winners_match=result.winners_match,
        ),
        recomputed_winners=result.recomputed_winners,
    )
