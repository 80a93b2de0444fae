"""Sponsored slots in live channels (广告曝光): admins sell them; viewers report what they saw."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from aiohttp import web
from pydantic import AwareDatetime, Field

from lago_core.security.roles import Principal
from lago_rest.api import Api
from lago_rest.context import Services
from lago_rest.schemas import Schema
from lago_rest.uploads import read_file_part

api = Api()
TAGS = ("sponsored",)

Fen = Annotated[int, Field(strict=True, ge=0, le=10_000_000_000, description="integer fen (分)")]


class BrandIn(Schema):
    name: str = Field(min_length=1, max_length=60)
    contact: str = Field(default="", max_length=100)


class Brand(Schema):
    id: UUID
    name: str
    contact: str
    created_at: datetime


class CampaignIn(Schema):
    brand_id: UUID
    name: str = Field(min_length=1, max_length=60)
    price_fen: Fen = Field(description="what the brand pays for the campaign (the sale)")


class Campaign(Schema):
    id: UUID
    brand_id: UUID
    brand_name: str
    name: str
    price_fen: int
    created_at: datetime


class CreativeIn(Schema):
    title: str = Field(min_length=1, max_length=40)
    link_url: str = Field(
        min_length=1, max_length=500, description="http(s) address, or a path of the app (/…)"
    )


class Creative(Schema):
    id: UUID
    campaign_id: UUID
    title: str
    link_url: str
    image_url: str | None
    created_at: datetime


class SlotIn(Schema):
    creative_id: UUID
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    community_ids: list[UUID] = Field(min_length=1, max_length=200)
    duration_s: int = Field(default=30, strict=True, ge=5, le=600)


class Slot(Schema):
    id: UUID
    campaign_id: UUID
    creative_id: UUID
    starts_at: datetime
    ends_at: datetime
    duration_s: int
    community_ids: list[UUID]
    cancelled_at: datetime | None
    created_at: datetime


class SeenIn(Schema):
    session_id: str = Field(min_length=1, max_length=100, description="the live session shown in")


class Seen(Schema):
    counted: bool = Field(description="false: this viewer was already counted for this showing")


class ReportLine(Schema):
    slot_id: UUID
    community_id: UUID
    community_name: str
    creative_title: str
    shows: int
    impressions: int = Field(description="viewers × showings: a viewer counts once per showing")
    unique_viewers: int
    clicks: int
    unique_clickers: int
    ctr: float = Field(description="clicks / impressions")


class Report(Schema):
    campaign: Campaign
    lines: list[ReportLine]
    totals: dict[str, float]


def _creative(svc: Services, row: Any) -> Creative:
    data = dict(row)
    data["image_url"] = svc.sponsored.image_url(data.pop("image_key"))
    return Creative.model_validate(data)


def _campaign(row: Any) -> Campaign:
    data = dict(row)
    data.pop("created_by", None)
    return Campaign.model_validate(data)


@api.post("/sponsored/brands", status=201, tags=TAGS)
async def create_brand(body: BrandIn, user: Principal, svc: Services) -> Brand:
    """A brand that buys slots (admins). 409 ``brand_exists``."""
    row = await svc.sponsored.create_brand(user, body.name, body.contact)
    return Brand.model_validate({k: row[k] for k in ("id", "name", "contact", "created_at")})


@api.get("/sponsored/brands", tags=TAGS)
async def brands(user: Principal, svc: Services) -> list[Brand]:
    rows = await svc.sponsored.brands(user)
    return [
        Brand.model_validate({k: r[k] for k in ("id", "name", "contact", "created_at")})
        for r in rows
    ]


@api.post("/sponsored/campaigns", status=201, tags=TAGS)
async def create_campaign(body: CampaignIn, user: Principal, svc: Services) -> Campaign:
    """A campaign sold to a brand, its price recorded in fen (admins)."""
    return _campaign(
        await svc.sponsored.create_campaign(user, body.brand_id, body.name, body.price_fen)
    )


@api.get("/sponsored/campaigns", tags=TAGS)
async def campaigns(user: Principal, svc: Services) -> list[Campaign]:
    return [_campaign(r) for r in await svc.sponsored.campaigns(user)]


@api.post("/sponsored/campaigns/{campaign_id}/creatives", status=201, tags=TAGS)
async def create_creative(
    campaign_id: UUID, body: CreativeIn, user: Principal, svc: Services
) -> Creative:
    """A creative: a title and where a click leads; its picture is uploaded separately."""
    row = await svc.sponsored.create_creative(user, campaign_id, body.title, body.link_url)
    return _creative(svc, row)


@api.put("/sponsored/creatives/{creative_id}/image", tags=TAGS, raw_body="multipart/form-data")
async def upload_creative_image(
    creative_id: UUID, request: web.Request, user: Principal, svc: Services
) -> Creative:
    """The creative's picture: multipart/form-data with one part named ``file`` (JPEG, PNG,
    WebP; stored re-encoded)."""
    svc.sponsored.require_admin(user)  # refuses strangers before reading their upload
    data, declared = await read_file_part(request, svc.settings.max_upload_bytes)
    return _creative(svc, await svc.sponsored.set_creative_image(user, creative_id, data, declared))


@api.post("/sponsored/campaigns/{campaign_id}/slots", status=201, tags=TAGS)
async def create_slot(campaign_id: UUID, body: SlotIn, user: Principal, svc: Services) -> Slot:
    """A slot: shown during live streams in the target communities within its window, for
    ``duration_s`` on screen, once per stream."""
    row = await svc.sponsored.create_slot(
        user,
        campaign_id,
        body.creative_id,
        body.starts_at,
        body.ends_at,
        body.community_ids,
        body.duration_s,
    )
    return Slot.model_validate(dict(row))


@api.get("/sponsored/campaigns/{campaign_id}/slots", tags=TAGS)
async def slots(campaign_id: UUID, user: Principal, svc: Services) -> list[Slot]:
    return [Slot.model_validate(dict(r)) for r in await svc.sponsored.slots(user, campaign_id)]


@api.post("/sponsored/slots/{slot_id}/cancel", status=204, tags=TAGS)
async def cancel_slot(slot_id: UUID, user: Principal, svc: Services) -> None:
    """Stop showing a slot (admins)."""
    await svc.sponsored.cancel_slot(user, slot_id)


@api.post("/sponsored/slots/{slot_id}/impressions", tags=TAGS)
async def report_impression(slot_id: UUID, body: SeenIn, user: Principal, svc: Services) -> Seen:
    """The caller saw the slot's card in this stream: counted once per viewer and showing."""
    counted = await svc.sponsored.report_seen(user, "impression", slot_id, body.session_id)
    return Seen(counted=counted)


@api.post("/sponsored/slots/{slot_id}/clicks", tags=TAGS)
async def report_click(slot_id: UUID, body: SeenIn, user: Principal, svc: Services) -> Seen:
    """The caller opened the slot's link: counted once per viewer and showing (and as seen)."""
    counted = await svc.sponsored.report_seen(user, "click", slot_id, body.session_id)
    return Seen(counted=counted)


@api.get("/sponsored/campaigns/{campaign_id}/report", tags=TAGS)
async def report(campaign_id: UUID, user: Principal, svc: Services) -> Report:
    """The brand's report: per slot and community, showings, impressions, unique viewers,
    clicks and CTR (admins)."""
    campaign = await svc.sponsored.campaign(user, campaign_id)
    rows = await svc.sponsored.report(user, campaign_id)
    lines = [
        ReportLine(
            slot_id=r.slot_id,
            community_id=r.community_id,
            community_name=r.community_name,
            creative_title=r.creative_title,
            shows=r.shows,
            impressions=r.impressions,
            unique_viewers=r.unique_viewers,
            clicks=r.clicks,
            unique_clickers=r.unique_clickers,
            ctr=r.ctr,
        )
        for r in rows
    ]
    impressions = sum(r.impressions for r in rows)
    clicks = sum(r.clicks for r in rows)
    totals = {
        "shows": sum(r.shows for r in rows),
        "impressions": impressions,
        "clicks": clicks,
        "ctr": round(clicks / impressions, 4) if impressions else 0.0,
    }
    return Report(campaign=_campaign(campaign), lines=lines, totals=totals)


@api.get("/sponsored/campaigns/{campaign_id}/report.csv", tags=TAGS)
async def report_csv(campaign_id: UUID, user: Principal, svc: Services) -> web.Response:
    """The same report as CSV (UTF-8 with BOM, for spreadsheets)."""
    text = await svc.sponsored.report_csv(user, campaign_id)
    return web.Response(
        body=("\ufeff" + text).encode(),
        content_type="text/csv",
        charset="utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="sponsored-{campaign_id}.csv"',
            "Cache-Control": "private, no-store",
        },
    )
