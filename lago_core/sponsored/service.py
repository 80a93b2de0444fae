"""Sponsored slots in live channels (广告曝光): what admins sell, what the channel shows, what
viewers report and what the brand is told.

The channel actor (``lago_rt/channel/sponsored.py``) asks :meth:`SponsoredService.due` on its
heartbeat while a stream runs; each due slot is recorded as shown (``sponsor_shows``) and then
emitted as a ``sponsor.show`` channel event. Viewers report impressions and clicks over REST;
each counts once per viewer and showing (primary keys), so a replay never counts twice.
docs/sponsored.md.
"""

from __future__ import annotations

import asyncio
import csv
import io
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID, uuid4

import asyncpg

from lago_core.clock import Clock
from lago_core.communities import CommunityService
from lago_core.errors import Conflict, Forbidden, InvalidInput, NotFound
from lago_core.live import LiveService
from lago_core.logging import get_logger
from lago_core.ratelimit import RateLimiter
from lago_core.security.roles import Principal
from lago_core.sponsored.store import SponsoredStore
from lago_core.storage import Storage, discard
from lago_core.uploads import DECLARED_IMAGE_TYPES, check_declared_type, clean_image

__all__ = ["Due", "ReportRow", "SponsoredService"]

log = get_logger(__name__)

REPORT_LIMIT = "60/minute"
MAX_SLOT_DAYS = 366
MAX_COMMUNITIES = 200


@dataclass(frozen=True, slots=True)
class Due:
    """A slot to show now, as the channel event carries it."""

    slot_id: UUID
    campaign_id: UUID
    brand_name: str
    title: str
    link_url: str
    image_url: str | None
    duration_s: int

    def event(self, session_id: str) -> dict[str, Any]:
        return {
            "session_id": session_id,
            "slot_id": str(self.slot_id),
            "brand": self.brand_name,
            "title": self.title,
            "link_url": self.link_url,
            "image_url": self.image_url,
            "duration_s": self.duration_s,
        }


@dataclass(frozen=True, slots=True)
class ReportRow:
    slot_id: UUID
    community_id: UUID
    community_name: str
    creative_title: str
    shows: int
    impressions: int
    unique_viewers: int
    clicks: int
    unique_clickers: int

    @property
    def ctr(self) -> float:
        """Clicks per impression (0 before the first impression)."""
        return round(self.clicks / self.impressions, 4) if self.impressions else 0.0


def _check_link(link: str) -> str:
    # Browsers read "\" as "/" and drop tabs and newlines inside a URL, so "/\evil.example" or
    # "/<TAB>/evil.example" would open another site, as "//evil.example" does; no link needs
    # either (WHATWG URL parsing).
    if "\\" in link or any(ord(c) < 0x20 or c == "\x7f" for c in link):
        raise InvalidInput(
            "the link may not hold backslashes or control characters", code="invalid_link"
        )
    if link.startswith("/") and not link.startswith("//"):
        return link  # a page of the app (a listing, a coupon)
    parts = urlsplit(link)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise InvalidInput(
            "the link is an http(s) address or a path of the app", code="invalid_link"
        )
    return link


class SponsoredService:
    def __init__(
        self,
        store: SponsoredStore,
        communities: CommunityService,
        live: LiveService,
        storage: Storage,
        limiter: RateLimiter,
        clock: Clock,
    ) -> None:
        self.store = store
        self._communities = communities
        self._live = live
        self._storage = storage
        self._limiter = limiter
        self._clock = clock

    @staticmethod
    def require_admin(actor: Principal) -> None:
        if not actor.is_admin:
            raise Forbidden("only platform admins sell sponsored slots")

    # --- selling ---------------------------------------------------------------------------------

    async def create_brand(self, actor: Principal, name: str, contact: str) -> asyncpg.Record:
        self.require_admin(actor)
        try:
            return await self.store.insert_brand(
                {
                    "id": uuid4(),
                    "name": name,
                    "contact": contact,
                    "created_by": actor.user_id,
                    "created_at": self._clock.now(),
                }
            )
        except asyncpg.UniqueViolationError:
            raise Conflict("a brand of this name exists", code="brand_exists") from None

    async def brands(self, actor: Principal) -> list[asyncpg.Record]:
        self.require_admin(actor)
        return await self.store.brands()

    async def create_campaign(
        self, actor: Principal, brand_id: UUID, name: str, price_fen: int
    ) -> asyncpg.Record:
        self.require_admin(actor)
        if await self.store.brand(brand_id) is None:
            raise NotFound("brand not found", code="brand_not_found")
        row = await self.store.insert_campaign(
            {
                "id": uuid4(),
                "brand_id": brand_id,
                "name": name,
                "price_fen": price_fen,
                "created_by": actor.user_id,
                "created_at": self._clock.now(),
            }
        )
        return await self.campaign(actor, row["id"])

    async def campaign(self, actor: Principal, campaign_id: UUID) -> asyncpg.Record:
        self.require_admin(actor)
        row = await self.store.campaign(campaign_id)
        if row is None:
            raise NotFound("campaign not found")
        return row

    async def campaigns(self, actor: Principal) -> list[asyncpg.Record]:
        self.require_admin(actor)
        return await self.store.campaigns()

    async def create_creative(
        self, actor: Principal, campaign_id: UUID, title: str, link_url: str
    ) -> asyncpg.Record:
        await self.campaign(actor, campaign_id)
        return await self.store.insert_creative(
            {
                "id": uuid4(),
                "campaign_id": campaign_id,
                "title": title,
                "link_url": _check_link(link_url),
                "created_at": self._clock.now(),
            }
        )

    async def set_creative_image(
        self, actor: Principal, creative_id: UUID, data: bytes, declared_type: str | None
    ) -> asyncpg.Record:
        """The creative's picture, re-encoded like a listing's (no metadata, nothing after the
        pixels)."""
        self.require_admin(actor)
        if await self.store.creative(creative_id) is None:
            raise NotFound("creative not found")
        check_declared_type(declared_type, DECLARED_IMAGE_TYPES, "upload a JPEG, PNG or WebP image")
        clean = await asyncio.to_thread(clean_image, data)
        key = f"sp_{secrets.token_hex(16)}{clean.extension}"
        await self._storage.put(key, clean.data, clean.content_type)
        old = await self.store.set_image(creative_id, key)
        if old:
            await discard(self._storage, old)
        row = await self.store.creative(creative_id)
        assert row is not None
        return row

    def image_url(self, key: str | None) -> str | None:
        return self._storage.url_for(key) if key else None

    async def create_slot(
        self,
        actor: Principal,
        campaign_id: UUID,
        creative_id: UUID,
        starts_at: datetime,
        ends_at: datetime,
        community_ids: list[UUID],
        duration_s: int,
    ) -> asyncpg.Record:
        await self.campaign(actor, campaign_id)
        creative = await self.store.creative(creative_id)
        if creative is None or creative["campaign_id"] != campaign_id:
            raise InvalidInput("the creative is not this campaign's", code="invalid_creative")
        if ends_at <= starts_at or ends_at - starts_at > timedelta(days=MAX_SLOT_DAYS):
            raise InvalidInput(
                "the window ends after it starts, within a year", code="invalid_window"
            )
        targets = sorted(set(community_ids))
        if not 1 <= len(targets) <= MAX_COMMUNITIES:
            raise InvalidInput(
                f"target 1 to {MAX_COMMUNITIES} communities", code="invalid_communities"
            )
        for community_id in targets:
            await self._communities.get(community_id)  # NotFound for an unknown one
        return await self.store.insert_slot(
            {
                "id": uuid4(),
                "campaign_id": campaign_id,
                "creative_id": creative_id,
                "starts_at": starts_at,
                "ends_at": ends_at,
                "duration_s": duration_s,
                "created_at": self._clock.now(),
            },
            targets,
        )

    async def slots(self, actor: Principal, campaign_id: UUID) -> list[asyncpg.Record]:
        await self.campaign(actor, campaign_id)
        return await self.store.slots_of(campaign_id)

    async def cancel_slot(self, actor: Principal, slot_id: UUID) -> None:
        self.require_admin(actor)
        if await self.store.cancel_slot(slot_id, self._clock.now()) is None:
            raise NotFound("no such slot running", code="slot_not_found")

    # --- showing (the channel actor) ------------------------------------------------------------

    async def due(self, community_id: UUID, session_id: str) -> list[Due]:
        """Slots to show now in this stream, each recorded as shown first: the actor emits the
        event after this returns, and a new owner after a failover finds the record and does not
        show it again (the event it may have missed is at most once, like every push)."""
        now = self._clock.now()
        due = []
        for row in await self.store.due(community_id, session_id, now):
            await self.store.record_show(row["slot_id"], session_id, community_id, now)
            due.append(
                Due(
                    slot_id=row["slot_id"],
                    campaign_id=row["campaign_id"],
                    brand_name=row["brand_name"],
                    title=row["title"],
                    link_url=row["link_url"],
                    image_url=self.image_url(row["image_key"]),
                    duration_s=row["duration_s"],
                )
            )
        return due

    # --- viewers' reports ------------------------------------------------------------------------

    async def report_seen(
        self, actor: Principal, kind: str, slot_id: UUID, session_id: str
    ) -> bool:
        """Count the caller once for this showing (``impression`` or ``click``); False when
        they were counted already (a replay). Only someone who may watch the community's stream
        reports, and only a showing that happened."""
        assert kind in ("impression", "click")
        await self._limiter.hit_or_raise(REPORT_LIMIT, "sponsor-report", str(actor.user_id))
        show = await self.store.show(slot_id, session_id)
        if show is None:
            raise NotFound("this slot was not shown in this stream", code="show_not_found")
        community_id = show["community_id"]
        if not await self._may_watch(actor, community_id):
            raise NotFound("this slot was not shown in this stream", code="show_not_found")
        return await self.store.count(
            kind, slot_id, session_id, actor.user_id, community_id, self._clock.now()
        )

    async def _may_watch(self, actor: Principal, community_id: UUID) -> bool:
        if actor.is_admin or actor.is_customer_service:
            return True
        if await self._communities.is_verified_member(actor.user_id, community_id):
            return True
        if await self._communities.is_staff(actor, community_id):
            return True
        return await self._live.host_role(actor, community_id) is not None

    # --- the brand's report ----------------------------------------------------------------------

    async def report(self, actor: Principal, campaign_id: UUID) -> list[ReportRow]:
        await self.campaign(actor, campaign_id)
        return [
            ReportRow(
                slot_id=r["slot_id"],
                community_id=r["community_id"],
                community_name=r["community_name"],
                creative_title=r["creative_title"],
                shows=r["shows"],
                impressions=r["impressions"],
                unique_viewers=r["unique_viewers"],
                clicks=r["clicks"],
                unique_clickers=r["unique_clickers"],
            )
            for r in await self.store.report(campaign_id)
        ]

    async def report_csv(self, actor: Principal, campaign_id: UUID) -> str:
        campaign = await self.campaign(actor, campaign_id)
        rows = await self.report(actor, campaign_id)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(
            [
                "brand",
                "campaign",
                "slot_id",
                "community",
                "community_id",
                "creative",
                "shows",
                "impressions",
                "unique_viewers",
                "clicks",
                "unique_clickers",
                "ctr",
            ]
        )
        for r in rows:
            writer.writerow(
                [
                    _cell(campaign["brand_name"]),
                    _cell(campaign["name"]),
                    r.slot_id,
                    _cell(r.community_name),
                    r.community_id,
                    _cell(r.creative_title),
                    r.shows,
                    r.impressions,
                    r.unique_viewers,
                    r.clicks,
                    r.unique_clickers,
                    f"{r.ctr:.4f}",
                ]
            )
        return out.getvalue()


def _cell(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
