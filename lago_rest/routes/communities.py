"""Property companies, communities (小区) and resident verification (住户认证)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, TypeVar
from uuid import UUID

from pydantic import Field, model_validator

from lago_core.errors import NotFound
from lago_core.security.roles import MemberStatus, Principal
from lago_rest.api import Api
from lago_rest.context import Services
from lago_rest.schemas import Page, PageQuery, Schema, keyset_after, page_of

api = Api()
S = TypeVar("S", bound=Schema)
TAGS = ("communities",)

Latitude = Field(ge=-90, le=90, max_digits=9, decimal_places=6)
Longitude = Field(ge=-180, le=180, max_digits=9, decimal_places=6)


class CompanyIn(Schema):
    name: str = Field(min_length=1, max_length=100)


class Company(Schema):
    id: UUID
    name: str
    created_at: datetime


class CompanySummary(Company):
    community_count: int


class StaffIn(Schema):
    """The user to add: by id, or by the phone number they signed up with."""

    user_id: UUID | None = None
    phone: str | None = Field(default=None, min_length=3, max_length=30)

    @model_validator(mode="after")
    def _one_of(self) -> StaffIn:
        if (self.user_id is None) == (self.phone is None):
            raise ValueError("give either user_id or phone")
        return self


class StaffMember(Schema):
    user_id: UUID
    display_name: str
    created_at: datetime


class CommunityIn(Schema):
    name: str = Field(min_length=1, max_length=100)
    address: str = Field(min_length=1, max_length=300)
    latitude: Decimal = Latitude
    longitude: Decimal = Longitude
    property_company_id: UUID | None = None


class CommunityPatch(Schema):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    address: str | None = Field(default=None, min_length=1, max_length=300)
    latitude: Decimal | None = Latitude
    longitude: Decimal | None = Longitude
    property_company_id: UUID | None = None


class Community(Schema):
    id: UUID
    name: str
    address: str
    latitude: Decimal
    longitude: Decimal
    geohash: str
    property_company_id: UUID | None
    created_at: datetime


class MyCommunity(Community):
    role: Literal["resident", "property_staff"]
    status: MemberStatus


class CommunityQuery(PageQuery):
    near: str | None = Field(
        default=None, pattern=r"^[0-9b-hjkmnp-z]{1,9}$", description="GeoHash prefix"
    )
    q: str | None = Field(default=None, min_length=1, max_length=50)


class JoinRequest(Schema):
    unit: str | None = Field(
        default=None, max_length=50, description="building and flat, e.g. 3-1-402"
    )
    note: str | None = Field(default=None, max_length=200)


class Membership(Schema):
    community_id: UUID
    user_id: UUID
    status: MemberStatus
    unit: str | None
    note: str | None
    requested_at: datetime
    decided_at: datetime | None
    reason: str | None


class Decision(Schema):
    reason: str | None = Field(default=None, max_length=200)


class MemberQuery(PageQuery):
    status: MemberStatus | None = None


class Member(Schema):
    user_id: UUID
    display_name: str
    role: Literal["resident", "property_staff"]
    status: MemberStatus
    unit: str | None
    since: datetime


def _row(model: type[S], row: Any) -> S:
    return model.model_validate(dict(row))


@api.post("/property-companies", status=201, tags=TAGS)
async def create_company(body: CompanyIn, user: Principal, svc: Services) -> Company:
    """Register a property company (物业公司). Admins only."""
    return _row(Company, await svc.communities.create_company(user, body.name))


@api.get("/property-companies", tags=TAGS)
async def list_companies(user: Principal, svc: Services) -> list[CompanySummary]:
    """Every property company, by name, with its number of communities. Admins only."""
    return [_row(CompanySummary, r) for r in await svc.communities.companies(user)]


@api.post("/property-companies/{company_id}/staff", status=204, tags=TAGS)
async def add_company_staff(
    company_id: UUID, body: StaffIn, user: Principal, svc: Services
) -> None:
    """Make a user staff of a property company, by user id or phone number. Admins only."""
    user_id = body.user_id
    if user_id is None:
        # Admins first: the phone book is not open to probing by others.
        svc.communities.require_admin(user)
        found = await svc.identity.user_by_phone(body.phone or "")
        if found is None:
            raise NotFound("no account has this phone number", code="user_not_found")
        user_id = found.id
    await svc.communities.add_company_staff(user, company_id, user_id)


@api.delete("/property-companies/{company_id}/staff/{user_id}", status=204, tags=TAGS)
async def remove_company_staff(
    company_id: UUID, user_id: UUID, user: Principal, svc: Services
) -> None:
    """Remove a staff member from a property company. Admins only."""
    await svc.communities.remove_company_staff(user, company_id, user_id)


@api.get("/property-companies/{company_id}/staff", tags=TAGS)
async def list_company_staff(company_id: UUID, user: Principal, svc: Services) -> list[StaffMember]:
    """Staff of a property company: for admins and the company's own staff."""
    return [_row(StaffMember, r) for r in await svc.communities.company_staff(user, company_id)]


@api.post("/communities", status=201, tags=TAGS)
async def create_community(body: CommunityIn, user: Principal, svc: Services) -> Community:
    """Create a community (小区) and optionally bind its property company. Admins only."""
    row = await svc.communities.create(
        user, body.name, body.address, body.latitude, body.longitude, body.property_company_id
    )
    return _row(Community, row)


@api.patch("/communities/{community_id}", tags=TAGS)
async def update_community(
    community_id: UUID, body: CommunityPatch, user: Principal, svc: Services
) -> Community:
    """Rename, move or rebind a community to a property company. Admins only."""
    changes = body.model_dump(exclude_unset=True)
    return _row(Community, await svc.communities.update(user, community_id, changes))


@api.get("/communities", tags=TAGS)
async def list_communities(
    query: CommunityQuery, user: Principal, svc: Services
) -> Page[Community]:
    """Find communities by GeoHash prefix and name or address text."""
    after = keyset_after(query.cursor, str, UUID)
    rows = await svc.communities.search(query.near, query.q, after, query.limit + 1)
    items = [_row(Community, r) for r in rows]
    return page_of(Page[Community], items, query.limit, lambda c: (c.name, c.id))


@api.get("/communities/{community_id}", tags=TAGS)
async def get_community(community_id: UUID, user: Principal, svc: Services) -> Community:
    """One community."""
    return _row(Community, await svc.communities.get(community_id))


@api.post("/communities/{community_id}/join-requests", status=201, tags=TAGS)
async def request_to_join(
    community_id: UUID, body: JoinRequest, user: Principal, svc: Services
) -> Membership:
    """Ask to join a community as a resident; property staff verify or reject."""
    row = await svc.communities.request_to_join(user, community_id, body.unit, body.note)
    return _row(Membership, row)


@api.post("/communities/{community_id}/members/{user_id}/verify", tags=TAGS)
async def verify_member(
    community_id: UUID, user_id: UUID, user: Principal, svc: Services
) -> Membership:
    """Verify a resident (住户认证). The community's property staff or an admin."""
    row = await svc.communities.decide(user, community_id, user_id, MemberStatus.VERIFIED, None)
    return _row(Membership, row)


@api.post("/communities/{community_id}/members/{user_id}/reject", tags=TAGS)
async def reject_member(
    community_id: UUID, user_id: UUID, body: Decision, user: Principal, svc: Services
) -> Membership:
    """Reject a request or revoke a verification, with a reason. Property staff or an admin."""
    row = await svc.communities.decide(
        user, community_id, user_id, MemberStatus.REJECTED, body.reason
    )
    return _row(Membership, row)


@api.delete("/communities/{community_id}/members/me", status=204, tags=TAGS)
async def leave_community(community_id: UUID, user: Principal, svc: Services) -> None:
    """Leave a community (or withdraw a pending request)."""
    await svc.communities.leave(user, community_id)


@api.get("/communities/{community_id}/members", tags=TAGS)
async def list_members(
    community_id: UUID, query: MemberQuery, user: Principal, svc: Services
) -> Page[Member]:
    """Members with their roles. Staff and admins see requests of any status."""
    after = keyset_after(query.cursor, datetime.fromisoformat, UUID)
    rows = await svc.communities.members(user, community_id, query.status, after, query.limit + 1)
    items = [_row(Member, r) for r in rows]
    return page_of(Page[Member], items, query.limit, lambda m: (m.since, m.user_id))


@api.get("/me/communities", tags=TAGS)
async def my_communities(user: Principal, svc: Services) -> list[MyCommunity]:
    """The caller's communities, as resident (any status) or as property staff."""
    return [_row(MyCommunity, r) for r in await svc.communities.mine(user)]
