"""Public verification of lottery draws: anyone can recompute a draw from its published data."""

from __future__ import annotations

import asyncio
from typing import Annotated

from aiohttp import web
from pydantic import ConfigDict, Field, StringConstraints

from lago_core.errors import InvalidInput
from lago_core.lottery import verify
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


@api.post("/lottery/verify", tags=TAGS)
async def verify_draw(body: VerifyDraw, request: web.Request, svc: Services) -> DrawVerdict:
    """Recompute a draw from its commitment, seed, entry list and hash. Public, no sign-in."""
    # Public and CPU-heavy: a per-address limit. Behind a proxy this is the proxy's address
    # until forwarded-for headers are trusted; the limit is generous for people, not for loops.
    await svc.limiter.hit_or_raise(VERIFY_LIMIT, "lottery-verify", request.remote or "unknown")
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
