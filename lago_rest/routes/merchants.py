"""Merchants (商家): owner and staff, communities served, and the back office (商家后台):
registration and platform review, qualification documents, store settings, the catalogue.

Handlers are thin: who may do what is decided in :class:`lago_core.merchants.MerchantService`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from aiohttp import web
from pydantic import Field

from lago_core.merchants import DocumentKind, ItemKind, MerchantStatus, Weekday
from lago_core.security.roles import MerchantRole, Principal
from lago_rest.api import Api
from lago_rest.context import Services
from lago_rest.schemas import Schema
from lago_rest.uploads import read_file_part

api = Api()
TAGS = ("merchants",)


class MerchantIn(Schema):
    name: str = Field(min_length=1, max_length=100)


# "HH:MM" (or "24:00" as a closing time); the service checks the ranges make sense.
TimeOfDay = Annotated[str, Field(pattern=r"^\d{2}:\d{2}$")]
OpeningHours = dict[Weekday, Annotated[list[tuple[TimeOfDay, TimeOfDay]], Field(max_length=4)]]


class Merchant(Schema):
    """The public profile; outsiders see it only once the merchant is approved."""

    id: UUID
    name: str
    status: MerchantStatus
    description: str
    opening_hours: OpeningHours = Field(
        description='per weekday, [open, close) ranges: {"mon": [["09:00", "18:00"]]}; '
        "a day left out is closed"
    )
    logo_url: str | None
    created_at: datetime
    community_ids: list[UUID] = Field(description="communities the merchant serves (service area)")


class MyMerchant(Schema):
    id: UUID
    name: str
    created_at: datetime
    role: MerchantRole


class StaffIn(Schema):
    user_id: UUID


class MerchantMember(Schema):
    user_id: UUID
    display_name: str
    role: MerchantRole
    created_at: datetime


class RegistrationPatch(Schema):
    """Company information (企业信息); send what changes."""

    legal_name: str | None = Field(default=None, min_length=1, max_length=200)
    credit_code: str | None = Field(
        default=None, min_length=18, max_length=22, description="统一社会信用代码, 18 characters"
    )
    legal_representative: str | None = Field(default=None, min_length=1, max_length=50)
    contact_phone: str | None = Field(default=None, min_length=3, max_length=30)
    contact_email: str | None = Field(
        default=None,
        min_length=3,
        max_length=254,
        description="optional: the review decision is also e-mailed here",
    )
    address: str | None = Field(default=None, min_length=1, max_length=200)
    business_scope: str | None = Field(default=None, min_length=1, max_length=2000)


class Registration(Schema):
    """The back-office view: company information and where the review stands."""

    id: UUID
    name: str
    status: MerchantStatus
    legal_name: str | None
    credit_code: str | None
    legal_representative: str | None
    contact_phone: str | None
    contact_email: str | None
    address: str | None
    business_scope: str | None
    rejection_reason: str | None = Field(description="set while the status is rejected")
    submitted_at: datetime | None
    decided_at: datetime | None
    created_at: datetime
    updated_at: datetime


class RejectIn(Schema):
    reason: str = Field(min_length=1, max_length=500)


class ReviewEntry(Schema):
    id: int
    action: str = Field(description="submit, resubmit, approve or reject")
    from_status: MerchantStatus
    to_status: MerchantStatus
    actor_id: UUID | None
    actor_name: str | None
    reason: str | None
    created_at: datetime


class ReviewQueueQuery(Schema):
    status: MerchantStatus | None = Field(
        default=None, description="omit for those awaiting review (submitted and resubmitted)"
    )
    limit: int = Field(default=50, ge=1, le=200)


class DocumentQuery(Schema):
    kind: DocumentKind


class Document(Schema):
    id: UUID
    merchant_id: UUID
    kind: DocumentKind
    content_type: str
    size_bytes: int
    url: str
    created_at: datetime


class SettingsPatch(Schema):
    """Store settings (店铺设置); send what changes."""

    description: str | None = Field(default=None, max_length=2000)
    opening_hours: OpeningHours | None = None
    community_ids: list[UUID] | None = Field(
        default=None, max_length=200, description="the whole service area; approved merchants"
    )


Fen = Annotated[int, Field(strict=True, gt=0, le=100_000_000, description="integer fen (分)")]
Stock = Annotated[int, Field(strict=True, ge=0, le=1_000_000)]


class ItemIn(Schema):
    name: str = Field(min_length=1, max_length=100)
    kind: ItemKind
    price_fen: Fen
    stock: Stock = 0


class ItemPatch(Schema):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    price_fen: Fen | None = None
    active: bool | None = Field(default=None, description="false takes it off sale (下架)")


class StockIn(Schema):
    delta: int = Field(
        strict=True, ge=-1_000_000, le=1_000_000, description="+ restock, − write off"
    )


class Item(Schema):
    id: UUID
    merchant_id: UUID
    name: str
    kind: ItemKind
    price_fen: int
    stock: int
    active: bool
    created_at: datetime
    updated_at: datetime


def _row(model: type[Schema], row: Any) -> Any:
    return model.model_validate(dict(row))


def _item(row: Any) -> Item:
    return Item.model_validate(dict(row))


def _registration(row: Any) -> Registration:
    return Registration.model_validate({k: row[k] for k in Registration.model_fields})


async def _merchant(svc: Services, row: Any) -> Merchant:
    return Merchant(
        id=row["id"],
        name=row["name"],
        status=row["status"],
        description=row["description"],
        opening_hours=row["opening_hours"],
        logo_url=svc.merchants.file_url(row["logo_key"]) if row["logo_key"] else None,
        created_at=row["created_at"],
        community_ids=await svc.merchants.communities(row["id"]),
    )


def _document(svc: Services, row: Any) -> Document:
    return Document(
        id=row["id"],
        merchant_id=row["merchant_id"],
        kind=row["kind"],
        content_type=row["content_type"],
        size_bytes=row["size_bytes"],
        url=svc.merchants.file_url(row["storage_key"]),
        created_at=row["created_at"],
    )


@api.post("/merchants", status=201, tags=TAGS)
async def create_merchant(body: MerchantIn, user: Principal, svc: Services) -> Merchant:
    """Register a merchant as a draft; the caller becomes its owner.

    Then fill in the registration, upload the business licence, and submit it for review.
    """
    return await _merchant(svc, await svc.merchants.create(user, body.name))


@api.get("/merchants/{merchant_id}", tags=TAGS)
async def get_merchant(merchant_id: UUID, user: Principal, svc: Services) -> Merchant:
    """A merchant's profile: an unapproved one only for its owner, staff and admins."""
    return await _merchant(svc, await svc.merchants.view(user, merchant_id))


@api.get("/merchants/{merchant_id}/staff", tags=TAGS)
async def list_merchant_staff(
    merchant_id: UUID, user: Principal, svc: Services
) -> list[MerchantMember]:
    """The owner and staff of a merchant: for its own members and admins."""
    return [_row(MerchantMember, r) for r in await svc.merchants.staff(user, merchant_id)]


@api.post("/merchants/{merchant_id}/staff", status=204, tags=TAGS)
async def add_merchant_staff(
    merchant_id: UUID, body: StaffIn, user: Principal, svc: Services
) -> None:
    """Make a user staff of the merchant. The owner only."""
    await svc.merchants.add_staff(user, merchant_id, body.user_id)


@api.delete("/merchants/{merchant_id}/staff/{user_id}", status=204, tags=TAGS)
async def remove_merchant_staff(
    merchant_id: UUID, user_id: UUID, user: Principal, svc: Services
) -> None:
    """Remove a staff member from the merchant. The owner only."""
    await svc.merchants.remove_staff(user, merchant_id, user_id)


@api.put("/merchants/{merchant_id}/communities/{community_id}", status=204, tags=TAGS)
async def bind_merchant_community(
    merchant_id: UUID, community_id: UUID, user: Principal, svc: Services
) -> None:
    """Let a merchant serve a community: its listings become visible there. Admins only."""
    await svc.merchants.bind_community(user, merchant_id, community_id)


@api.delete("/merchants/{merchant_id}/communities/{community_id}", status=204, tags=TAGS)
async def unbind_merchant_community(
    merchant_id: UUID, community_id: UUID, user: Principal, svc: Services
) -> None:
    """Stop a merchant serving a community. Admins only."""
    await svc.merchants.unbind_community(user, merchant_id, community_id)


@api.get("/me/merchants", tags=TAGS)
async def my_merchants(user: Principal, svc: Services) -> list[MyMerchant]:
    """The merchants the caller owns or works for, with their role."""
    return [_row(MyMerchant, r) for r in await svc.merchants.mine(user)]


# --- registration and review ---------------------------------------------------------------------


@api.get("/merchants/{merchant_id}/registration", tags=TAGS)
async def get_merchant_registration(
    merchant_id: UUID, user: Principal, svc: Services
) -> Registration:
    """Company information and review status: the owner, staff and admins."""
    return _registration(await svc.merchants.registration(user, merchant_id))


@api.patch("/merchants/{merchant_id}/registration", tags=TAGS)
async def update_merchant_registration(
    merchant_id: UUID, body: RegistrationPatch, user: Principal, svc: Services
) -> Registration:
    """Fill in or correct company information. The owner, as a draft or after a rejection."""
    fields = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
    return _registration(await svc.merchants.update_registration(user, merchant_id, fields))


@api.post("/merchants/{merchant_id}/submit", tags=TAGS)
async def submit_merchant(merchant_id: UUID, user: Principal, svc: Services) -> Registration:
    """Submit the registration for review (resubmit after a rejection). The owner only."""
    return _registration(await svc.merchants.submit(user, merchant_id))


@api.post("/merchants/{merchant_id}/approve", tags=TAGS)
async def approve_merchant(merchant_id: UUID, user: Principal, svc: Services) -> Registration:
    """Approve a submitted registration. Admins only."""
    return _registration(await svc.merchants.approve(user, merchant_id))


@api.post("/merchants/{merchant_id}/reject", tags=TAGS)
async def reject_merchant(
    merchant_id: UUID, body: RejectIn, user: Principal, svc: Services
) -> Registration:
    """Reject a submitted registration, saying why. Admins only."""
    return _registration(await svc.merchants.reject(user, merchant_id, body.reason))


@api.get("/merchants/{merchant_id}/reviews", tags=TAGS)
async def list_merchant_reviews(
    merchant_id: UUID, user: Principal, svc: Services
) -> list[ReviewEntry]:
    """Every submission and decision: who, when, and why. The owner, staff and admins."""
    return [_row(ReviewEntry, r) for r in await svc.merchants.reviews(user, merchant_id)]


@api.get("/admin/merchants", tags=TAGS)
async def merchant_review_queue(
    query: ReviewQueueQuery, user: Principal, svc: Services
) -> list[Registration]:
    """Merchants by review status, oldest submission first. Admins only."""
    statuses = (
        [query.status]
        if query.status is not None
        else [MerchantStatus.SUBMITTED, MerchantStatus.RESUBMITTED]
    )
    rows = await svc.merchants.review_queue(user, statuses, query.limit)
    return [_registration(r) for r in rows]


# --- qualification documents ---------------------------------------------------------------------


@api.post(
    "/merchants/{merchant_id}/documents", status=201, tags=TAGS, raw_body="multipart/form-data"
)
async def upload_merchant_document(
    merchant_id: UUID, query: DocumentQuery, request: web.Request, user: Principal, svc: Services
) -> Document:
    """Upload a licence or permit (PDF, JPEG, PNG or WebP) in a multipart part named ``file``.

    The owner only, while the registration is a draft or rejected.
    """
    # Refuse strangers before reading megabytes of their upload.
    await svc.merchants.require_owner(user, merchant_id)
    data, declared = await read_file_part(request, svc.settings.max_upload_bytes, "document")
    row = await svc.merchants.add_document(user, merchant_id, query.kind, data, declared)
    return _document(svc, row)


@api.get("/merchants/{merchant_id}/documents", tags=TAGS)
async def list_merchant_documents(
    merchant_id: UUID, user: Principal, svc: Services
) -> list[Document]:
    """The merchant's qualification documents: the owner, staff and admins."""
    return [_document(svc, r) for r in await svc.merchants.documents(user, merchant_id)]


@api.delete("/merchants/{merchant_id}/documents/{document_id}", status=204, tags=TAGS)
async def delete_merchant_document(
    merchant_id: UUID, document_id: UUID, user: Principal, svc: Services
) -> None:
    """Remove a document. The owner only, while the registration is a draft or rejected."""
    await svc.merchants.remove_document(user, merchant_id, document_id)


# --- store settings ------------------------------------------------------------------------------


@api.patch("/merchants/{merchant_id}/settings", tags=TAGS)
async def update_merchant_settings(
    merchant_id: UUID, body: SettingsPatch, user: Principal, svc: Services
) -> Merchant:
    """Description, opening hours and service area. The owner only."""
    row = await svc.merchants.update_settings(
        user,
        merchant_id,
        description=body.description,
        opening_hours=(
            {str(day): ranges for day, ranges in body.opening_hours.items()}
            if body.opening_hours is not None
            else None
        ),
        community_ids=body.community_ids,
    )
    return await _merchant(svc, row)


@api.put("/merchants/{merchant_id}/logo", tags=TAGS, raw_body="multipart/form-data")
async def upload_merchant_logo(
    merchant_id: UUID, request: web.Request, user: Principal, svc: Services
) -> Merchant:
    """Replace the logo: a JPEG, PNG or WebP in a multipart part named ``file``. The owner only."""
    await svc.merchants.require_owner(user, merchant_id)
    data, declared = await read_file_part(request, svc.settings.max_upload_bytes, "image")
    return await _merchant(svc, await svc.merchants.set_logo(user, merchant_id, data, declared))


# --- catalogue -----------------------------------------------------------------------------------


@api.post("/merchants/{merchant_id}/items", status=201, tags=TAGS)
async def create_merchant_item(
    merchant_id: UUID, body: ItemIn, user: Principal, svc: Services
) -> Item:
    """Add a service or product to the catalogue. The owner and staff."""
    row = await svc.merchants.create_item(
        user, merchant_id, body.name, body.kind, body.price_fen, body.stock
    )
    return _item(row)


@api.get("/merchants/{merchant_id}/items", tags=TAGS)
async def list_merchant_items(merchant_id: UUID, user: Principal, svc: Services) -> list[Item]:
    """The catalogue: all items for the owner, staff and admins; active ones for others."""
    return [_row(Item, r) for r in await svc.merchants.items(user, merchant_id)]


@api.patch("/merchants/{merchant_id}/items/{item_id}", tags=TAGS)
async def update_merchant_item(
    merchant_id: UUID, item_id: UUID, body: ItemPatch, user: Principal, svc: Services
) -> Item:
    """Rename, reprice, or take off / put on sale. The owner and staff."""
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
    return _item(await svc.merchants.update_item(user, merchant_id, item_id, changes))


@api.post("/merchants/{merchant_id}/items/{item_id}/stock", tags=TAGS)
async def adjust_merchant_item_stock(
    merchant_id: UUID, item_id: UUID, body: StockIn, user: Principal, svc: Services
) -> Item:
    """Restock or write off by a relative amount; the stock never goes below zero."""
    return _item(await svc.merchants.adjust_stock(user, merchant_id, item_id, body.delta))
