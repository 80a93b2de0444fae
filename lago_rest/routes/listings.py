"""Listings (闲置): publish, edit, withdraw, search by community, and images."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from aiohttp import web
from pydantic import Field

from lago_core.listings import (
    MAX_IMAGES,
    Category,
    Condition,
    ListingDraft,
    ListingKind,
    ListingStatus,
)
from lago_core.security.roles import Principal
from lago_rest.api import Api
from lago_rest.context import Services
from lago_rest.schemas import Page, PageQuery, Schema, keyset_after, page_of
from lago_rest.uploads import read_file_part

api = Api()
TAGS = ("listings",)

# ¥1,000,000: far above any toy or console, low enough that a typo of extra zeros is caught.
MAX_FEN = 100_000_000
# Strict: money is integer fen, so 12.5 — and 12.0, and "1250" — are refused rather than coerced.
PositiveFen = Annotated[int, Field(strict=True, gt=0, le=MAX_FEN, description="integer fen (分)")]
NonNegativeFen = Annotated[
    int, Field(strict=True, ge=0, le=MAX_FEN, description="integer fen (分)")
]


class ListingIn(Schema):
    title: str = Field(min_length=1, max_length=60)
    description: str = Field(default="", max_length=2000)
    category: Category
    brand: str | None = Field(default=None, min_length=1, max_length=50)
    condition: Condition
    kind: ListingKind
    price_fen: PositiveFen | None = Field(default=None, description="sale and consignment")
    rent_per_day_fen: PositiveFen | None = Field(default=None, description="rent only")
    deposit_fen: NonNegativeFen | None = Field(default=None, description="rent only (押金)")
    merchant_id: UUID | None = Field(
        default=None, description="publish as this merchant (its owner or staff only)"
    )

    def draft(self) -> ListingDraft:
        return ListingDraft(**self.model_dump())


class ListingPatch(Schema):
    title: str | None = Field(default=None, min_length=1, max_length=60)
    description: str | None = Field(default=None, max_length=2000)
    category: Category | None = None
    brand: str | None = Field(default=None, min_length=1, max_length=50)
    condition: Condition | None = None
    kind: ListingKind | None = None
    price_fen: PositiveFen | None = None
    rent_per_day_fen: PositiveFen | None = None
    deposit_fen: NonNegativeFen | None = None


class ListingImage(Schema):
    key: str
    url: str


class Listing(Schema):
    id: UUID
    seller_id: UUID
    merchant_id: UUID | None
    title: str
    description: str
    category: Category
    brand: str | None
    condition: Condition
    kind: ListingKind
    price_fen: int | None
    rent_per_day_fen: int | None
    deposit_fen: int | None
    images: list[ListingImage] = Field(max_length=MAX_IMAGES)
    status: ListingStatus
    created_at: datetime
    updated_at: datetime
    swap_ok: bool = Field(default=False, description="open to swaps (置换, docs/swaps.md)")


class ListingQuery(PageQuery):
    community_id: UUID | None = Field(
        default=None, description="omit to search every community the caller belongs to"
    )
    category: Category | None = None
    kind: ListingKind | None = None
    min_price_fen: int | None = Field(
        default=None, ge=0, description="compared with price_fen, or rent_per_day_fen for rentals"
    )
    max_price_fen: int | None = Field(default=None, ge=0)
    q: str | None = Field(
        default=None, min_length=1, max_length=50, description="title, brand, description"
    )


def _listing(svc: Services, row: Any) -> Listing:
    data = dict(row)
    data["images"] = [ListingImage(key=k, url=svc.listings.image_url(k)) for k in row["images"]]
    return Listing.model_validate(data)


def _after(cursor: str | None) -> tuple[datetime, UUID] | None:
    return keyset_after(cursor, datetime.fromisoformat, UUID)


def _page(svc: Services, rows: list[Any], limit: int) -> Page[Listing]:
    items = [_listing(svc, r) for r in rows]
    return page_of(Page[Listing], items, limit, lambda item: (item.created_at, item.id))


@api.post("/listings", status=201, tags=TAGS)
async def create_listing(body: ListingIn, user: Principal, svc: Services) -> Listing:
    """Publish a toy or console for sale, rent or consignment, as yourself or as a merchant.

    A resident who is not a member (会员) has at most ``LAGO_LISTING_CAP_NON_MEMBER`` active
    listings (409 ``listing_cap_reached``)."""
    return _listing(svc, await svc.listings.create(user, body.draft()))


@api.get("/listings", tags=TAGS)
async def search_listings(query: ListingQuery, user: Principal, svc: Services) -> Page[Listing]:
    """Search active listings of a community (verified residents, property staff, admins)."""
    rows = await svc.listings.search(
        user,
        query.community_id,
        query.category,
        query.kind,
        query.min_price_fen,
        query.max_price_fen,
        query.q,
        _after(query.cursor),
        query.limit + 1,
    )
    return _page(svc, rows, query.limit)


@api.get("/listings/{listing_id}", tags=TAGS)
async def get_listing(listing_id: UUID, user: Principal, svc: Services) -> Listing:
    """One listing; a withdrawn one only for those who manage it and admins."""
    return _listing(svc, await svc.listings.get(user, listing_id))


@api.patch("/listings/{listing_id}", tags=TAGS)
async def update_listing(
    listing_id: UUID, body: ListingPatch, user: Principal, svc: Services
) -> Listing:
    """Edit an active listing: its seller, or for a merchant listing the merchant's owner and staff."""
    changes = body.model_dump(exclude_unset=True)
    return _listing(svc, await svc.listings.update(user, listing_id, changes))


@api.post("/listings/{listing_id}/withdraw", tags=TAGS)
async def withdraw_listing(listing_id: UUID, user: Principal, svc: Services) -> Listing:
    """Take a listing off the market (下架). Those who may edit it, and admins."""
    return _listing(svc, await svc.listings.withdraw(user, listing_id))


@api.post("/listings/{listing_id}/reactivate", tags=TAGS)
async def reactivate_listing(listing_id: UUID, user: Principal, svc: Services) -> Listing:
    """Put a withdrawn listing back on the market (重新上架); non-members are capped like on
    publishing (409 ``listing_cap_reached``)."""
    return _listing(svc, await svc.listings.reactivate(user, listing_id))


@api.get("/me/listings", tags=TAGS)
async def my_listings(query: PageQuery, user: Principal, svc: Services) -> Page[Listing]:
    """Everything the caller published, withdrawn ones included, newest first."""
    rows = await svc.listings.mine(user, _after(query.cursor), query.limit + 1)
    return _page(svc, rows, query.limit)


@api.get("/merchants/{merchant_id}/listings", tags=TAGS)
async def merchant_listings(
    merchant_id: UUID, query: PageQuery, user: Principal, svc: Services
) -> Page[Listing]:
    """A merchant's listings, withdrawn and sold ones included, newest first: the back office's
    view for its owner, staff and admins."""
    rows = await svc.listings.of_merchant(user, merchant_id, _after(query.cursor), query.limit + 1)
    return _page(svc, rows, query.limit)


@api.post("/listings/{listing_id}/images", status=201, tags=TAGS, raw_body="multipart/form-data")
async def upload_listing_image(
    listing_id: UUID, request: web.Request, user: Principal, svc: Services
) -> Listing:
    """Add a JPEG, PNG or WebP image: multipart/form-data with one part named ``file``.

    This is what WeChat's ``wx.uploadFile({name: "file"})`` sends. At most nine images a listing.
    """
    # Refuse strangers before reading megabytes of their upload.
    await svc.listings.editable(user, listing_id)
    data, declared = await read_file_part(request, svc.settings.max_upload_bytes)
    return _listing(svc, await svc.listings.add_image(user, listing_id, data, declared))


@api.delete("/listings/{listing_id}/images/{image}", tags=TAGS)
async def delete_listing_image(
    listing_id: UUID, image: str, user: Principal, svc: Services
) -> Listing:
    """Remove an image by its 0-based position or its key; returns the listing."""
    return _listing(svc, await svc.listings.remove_image(user, listing_id, image))
