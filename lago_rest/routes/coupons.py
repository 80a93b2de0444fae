"""Coupons (优惠券) and the checkout preview over REST (issue 18; contract:
helpers/issue18-contract.md). Who may do what is decided in :class:`CouponService`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID

from pydantic import Field, model_validator

from lago_core.coupons import Breakdown, TemplateSpec
from lago_core.errors import InvalidInput
from lago_core.security.roles import Principal
from lago_rest.api import Api
from lago_rest.context import Services
from lago_rest.schemas import Schema

api = Api()
TAGS = ("coupons",)

MAX_FEN = 100_000_000
Fen = Annotated[int, Field(strict=True, gt=0, le=MAX_FEN, description="integer fen (分)")]
Category = Annotated[str, Field(min_length=1, max_length=40)]
Phone = Annotated[str, Field(min_length=1, max_length=32)]
Kind = Literal["amount_off", "percent_off"]
FundedBy = Literal["platform", "merchant"]
CouponStatus = Literal["available", "locked", "used", "expired"]
Source = Literal["claim", "grant", "signup", "points"]


class TemplateIn(Schema):
    name: str = Field(min_length=1, max_length=60)
    kind: Kind
    amount_off_fen: Fen | None = Field(default=None, description="amount_off: the discount")
    percent_off_bps: int | None = Field(
        default=None, strict=True, ge=1, le=9999, description="percent_off: 1000 = 10 % off"
    )
    max_discount_fen: Fen | None = Field(default=None, description="percent_off: optional cap")
    threshold_fen: int = Field(
        default=0, strict=True, ge=0, le=MAX_FEN, description="满减: price before discounts"
    )
    categories: list[Category] = Field(default_factory=list, max_length=50)
    listing_ids: list[UUID] = Field(default_factory=list, max_length=200)
    merchant_id: UUID | None = Field(
        default=None, description="set: a merchant coupon (its owner and staff); null: platform"
    )
    total_count: int | None = Field(default=None, strict=True, ge=1, le=10_000_000)
    per_user_limit: int = Field(default=1, strict=True, ge=1, le=100)
    valid_days: int = Field(strict=True, ge=1, le=366, description="valid for days from issue")
    claimable: bool = Field(default=True, description="shown in the claim centre")
    new_user: bool = Field(default=False, description="granted at sign-up (platform coupons)")
    budget_fen: Fen | None = Field(
        default=None, description="merchant coupons: the most their discounts may add up to"
    )
    starts_at: datetime | None = None
    ends_at: datetime | None = None


class Template(Schema):
    id: UUID
    name: str
    kind: Kind
    amount_off_fen: int | None
    percent_off_bps: int | None
    max_discount_fen: int | None
    threshold_fen: int
    categories: list[str]
    listing_ids: list[UUID]
    merchant_id: UUID | None
    funded_by: FundedBy
    total_count: int | None = Field(description="null: unlimited")
    issued_count: int
    used_count: int
    per_user_limit: int
    valid_days: int
    claimable: bool
    new_user: bool
    budget_fen: int | None
    discount_given_fen: int | None = Field(
        description="discounts of coupons locked or used so far (null: only the owner side sees it)"
    )
    status: Literal["active", "ended"]
    starts_at: datetime | None
    ends_at: datetime | None
    created_at: datetime


class ClaimableTemplate(Template):
    claimed_by_me: int = Field(description="how many of this coupon the caller holds")
    merchant_name: str | None = Field(description="the store of a merchant's coupon")


class Templates(Schema):
    items: list[Template]


class ClaimCentre(Schema):
    items: list[ClaimableTemplate]


class TemplateQuery(Schema):
    claimable: bool | None = Field(default=None, description="true: the claim centre")
    community_id: UUID | None = Field(default=None, description="claim centre of a community")
    funded_by: Literal["platform"] | None = Field(default=None, description="admins")


class UserCoupon(Schema):
    id: UUID
    template_id: UUID
    name: str
    kind: Kind
    amount_off_fen: int | None
    percent_off_bps: int | None
    max_discount_fen: int | None
    threshold_fen: int
    categories: list[str]
    listing_ids: list[UUID]
    funded_by: FundedBy
    merchant_id: UUID | None
    merchant_name: str | None
    status: CouponStatus
    issued_at: datetime
    expires_at: datetime
    order_id: UUID | None = Field(
        description="locked/used: the order or group-buy seat holding it (holder_type says which)"
    )
    holder_type: Literal["order", "group_buy_seat"] | None
    source: Source


class Wallet(Schema):
    items: list[UserCoupon]


class WalletQuery(Schema):
    status: CouponStatus | None = Field(default=None, description="omit for all")


class GrantIn(Schema):
    phones: list[Phone] = Field(default_factory=list, max_length=500)
    user_ids: list[UUID] = Field(default_factory=list, max_length=500)

    @model_validator(mode="after")
    def _some(self) -> GrantIn:
        if not self.phones and not self.user_ids:
            raise ValueError("name at least one phone or user id")
        return self


class GrantRefusal(Schema):
    phone: str | None = None
    user_id: UUID | None = None
    code: str = Field(description="user_not_found, coupon_sold_out, coupon_limit_reached, …")


class GrantResult(Schema):
    granted: list[UserCoupon]
    refused: list[GrantRefusal]


class PreviewIn(Schema):
    listing_id: UUID | None = None
    days: int | None = Field(default=None, strict=True, ge=1, le=365, description="rentals")
    group_id: UUID | None = Field(default=None, description="a group-buy seat instead")
    coupon_ids: list[UUID] = Field(default_factory=list, max_length=2)

    @model_validator(mode="after")
    def _one(self) -> PreviewIn:
        if (self.listing_id is None) == (self.group_id is None):
            raise ValueError("name a listing_id or a group_id")
        if self.group_id is not None and self.days is not None:
            raise ValueError("days are for rentals")
        return self


class AppliedCoupon(Schema):
    coupon_id: UUID
    funded_by: FundedBy
    discount_fen: int


class UsableCoupon(Schema):
    coupon: UserCoupon
    discount_fen: int = Field(description="its discount on this purchase alone")


class UnusableCoupon(Schema):
    coupon: UserCoupon
    reason: str


class Preview(Schema):
    price_fen: int = Field(description="the price, or the rent for a rental")
    deposit_fen: int = Field(description="never discounted")
    discount_fen: int
    platform_discount_fen: int
    merchant_discount_fen: int
    pay_fen: int = Field(description="price − discount")
    total_fen: int = Field(description="pay_fen + deposit_fen")
    applied: list[AppliedCoupon]
    usable: list[UsableCoupon]
    unusable: list[UnusableCoupon]
    best: list[UUID] = Field(description="the best valid combination: ≤ 1 platform + 1 merchant")
    best_discount_fen: int


def _template(row: Any) -> Template:
    return Template.model_validate({k: row[k] for k in Template.model_fields})


_T = TypeVar("_T", bound="Template")


def _public(template: _T) -> _T:
    """A merchant's template as residents see it: the terms without its budget and spend."""
    if template.merchant_id is None:
        return template
    return template.model_copy(update={"budget_fen": None, "discount_given_fen": None})


def _coupon(row: Any) -> UserCoupon:
    return UserCoupon.model_validate({k: row[k] for k in UserCoupon.model_fields})


def _applied(result: Breakdown) -> list[AppliedCoupon]:
    return [
        AppliedCoupon(coupon_id=a.coupon_id, funded_by=a.funded_by, discount_fen=a.discount_fen)  # type: ignore[arg-type]
        for a in result.applied
    ]


@api.post("/coupon-templates", status=201, tags=TAGS)
async def create_template(body: TemplateIn, user: Principal, svc: Services) -> Template:
    """A coupon template: platform coupons by admins, a merchant's (``merchant_id``, with a
    ``budget_fen``) by its owner and staff."""
    spec = TemplateSpec(
        name=body.name,
        kind=body.kind,
        valid_days=body.valid_days,
        amount_off_fen=body.amount_off_fen,
        percent_off_bps=body.percent_off_bps,
        max_discount_fen=body.max_discount_fen,
        threshold_fen=body.threshold_fen,
        categories=tuple(body.categories),
        listing_ids=tuple(body.listing_ids),
        merchant_id=body.merchant_id,
        total_count=body.total_count,
        per_user_limit=body.per_user_limit,
        claimable=body.claimable,
        new_user=body.new_user,
        budget_fen=body.budget_fen,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
    )
    return _template(await svc.coupons.create_template(user, spec))


@api.get("/coupon-templates", tags=TAGS)
async def list_templates(
    query: TemplateQuery, user: Principal, svc: Services
) -> ClaimCentre | Templates:
    """``?claimable=true[&community_id=]``: the claim centre (active, claimable, not exhausted,
    with how many the caller holds); ``?funded_by=platform``: the platform's templates (admins)."""
    if query.funded_by == "platform":
        if query.claimable or query.community_id:
            raise InvalidInput("funded_by does not go with the claim centre's filters")
        rows = await svc.coupons.platform_templates(user)
        return Templates(items=[_template(r) for r in rows])
    if not query.claimable:
        raise InvalidInput("ask for ?claimable=true or ?funded_by=platform", code="filter_required")
    rows = await svc.coupons.claim_centre(user, query.community_id)
    return ClaimCentre(
        items=[
            _public(
                ClaimableTemplate.model_validate({k: r[k] for k in ClaimableTemplate.model_fields})
            )
            for r in rows
        ]
    )


@api.get("/coupon-templates/{template_id}", tags=TAGS)
async def get_template(template_id: UUID, user: Principal, svc: Services) -> Template:
    """One template. Anyone signed in reads its terms (what a claim centre shows); a merchant's
    budget and what it has spent only its owner side and admins."""
    row = await svc.coupons.template(template_id)
    if row["merchant_id"] is not None and not await svc.coupons.may_manage(user, row):
        return _public(_template(row))
    return _template(row)


@api.post("/coupon-templates/{template_id}/end", tags=TAGS)
async def end_template(template_id: UUID, user: Principal, svc: Services) -> Template:
    """Stop issuing (claims, grants, points); coupons already issued stay valid."""
    return _template(await svc.coupons.end_template(user, template_id))


@api.get("/merchants/{merchant_id}/coupon-templates", tags=TAGS)
async def merchant_templates(merchant_id: UUID, user: Principal, svc: Services) -> Templates:
    """A merchant's templates (its owner and staff, admins)."""
    rows = await svc.coupons.merchant_templates(user, merchant_id)
    return Templates(items=[_template(r) for r in rows])


@api.post("/coupon-templates/{template_id}/claim", status=201, tags=TAGS)
async def claim(template_id: UUID, user: Principal, svc: Services) -> UserCoupon:
    """Claim one coupon: 409 coupon_sold_out, coupon_limit_reached, coupon_not_claimable,
    coupon_ended; 429 when claiming too fast."""
    return _coupon(await svc.coupons.claim(user, template_id))


@api.post("/coupon-templates/{template_id}/grants", tags=TAGS)
async def grant(template_id: UUID, body: GrantIn, user: Principal, svc: Services) -> GrantResult:
    """Give a coupon to residents by phone or user id (at most 500), by the template's owner
    side; each refusal says why."""
    granted, refused = await svc.coupons.grant(user, template_id, body.phones, body.user_ids)
    return GrantResult(
        granted=[_coupon(r) for r in granted],
        refused=[GrantRefusal.model_validate(r) for r in refused],
    )


@api.get("/me/coupons", tags=TAGS)
async def my_coupons(query: WalletQuery, user: Principal, svc: Services) -> Wallet:
    """The caller's coupons, soonest to expire first."""
    return Wallet(items=[_coupon(r) for r in await svc.coupons.wallet(user, query.status)])


@api.post("/checkout/preview", tags=("orders",))
async def preview(body: PreviewIn, user: Principal, svc: Services) -> Preview:
    """The price breakdown of ordering a listing (or paying a group-buy seat) with these
    coupons, the caller's other coupons that would or would not apply, and the best
    combination. Reserves nothing; 409 coupon_not_usable when a chosen coupon cannot apply."""
    result = await svc.checkout.preview(
        user, body.coupon_ids, listing_id=body.listing_id, days=body.days, group_id=body.group_id
    )
    chosen = result.chosen
    deposit = result.quote.deposit_fen
    return Preview(
        price_fen=chosen.price_fen,
        deposit_fen=deposit,
        discount_fen=chosen.discount_fen,
        platform_discount_fen=chosen.platform_discount_fen,
        merchant_discount_fen=chosen.merchant_discount_fen,
        pay_fen=chosen.pay_fen,
        total_fen=chosen.pay_fen + deposit,
        applied=_applied(chosen),
        usable=[UsableCoupon(coupon=_coupon(r), discount_fen=d) for r, d in result.usable],
        unusable=[UnusableCoupon(coupon=_coupon(r), reason=why) for r, why in result.unusable],
        best=[a.coupon_id for a in result.best.applied],
        best_discount_fen=result.best.discount_fen,
    )
