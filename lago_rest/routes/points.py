"""Points (积分): the resident's balance, history and check-in, the redemption catalogue, and
invitations (docs/points.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, TypeVar
from uuid import UUID

from pydantic import Field

from lago_core.points import ProductSpec, mask_phone
from lago_core.security.roles import Principal
from lago_rest.api import Api
from lago_rest.context import Services
from lago_rest.routes.payments import IdempotencyKey
from lago_rest.schemas import Schema

api = Api()
TAGS = ("points",)

ProductKind = Literal["coupon", "gift", "privilege"]
Pickup = Literal["locker", "merchant"]


class RuleToday(Schema):
    rule: str = Field(
        description="check_in | streak_bonus | activity | publishing | invitation | rating"
    )
    earned: int
    cap: int | None = Field(description="the most this rule gives a day; null: no cap")


class Expiring(Schema):
    points: int
    before: datetime = Field(description="the first of these points expires at this time")


class PointsSummary(Schema):
    balance: int
    expiring_soon: Expiring | None = Field(description="points expiring within 7 days")
    streak_days: int = Field(description="check-ins in a row up to today or yesterday")
    checked_in_today: bool
    today: list[RuleToday] = Field(description="today's earnings (Asia/Shanghai) per capped rule")


class HistoryQuery(Schema):
    before: datetime | None = Field(default=None, description="entries before this time")
    limit: int = Field(default=50, ge=1, le=100)


class HistoryItem(Schema):
    id: UUID
    delta: int = Field(description="points added (earn) or removed (spend, expire, take_back)")
    kind: Literal["earn", "spend", "expire", "take_back"]
    rule: str
    source_key: str
    note: str
    created_at: datetime
    expires_at: datetime | None


class History(Schema):
    items: list[HistoryItem]


class CheckInResult(Schema):
    earned: int
    bonus: int = Field(description="the streak bonus, on every 7th day in a row")
    streak_days: int
    balance: int


class ProductIn(Schema):
    kind: ProductKind
    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=1000)
    points_cost: int = Field(strict=True, ge=1, le=1_000_000)
    stock: int | None = Field(default=None, strict=True, ge=0, le=1_000_000)
    pickup: Pickup | None = Field(default=None, description="gifts only: where it is picked up")
    coupon_template_id: UUID | None = Field(default=None, description="coupons only")
    status: Literal["active", "inactive"] = "active"


class ProductPatch(Schema):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=1000)
    points_cost: int | None = Field(default=None, strict=True, ge=1, le=1_000_000)
    stock: int | None = Field(default=None, strict=True, ge=0, le=1_000_000)
    status: Literal["active", "inactive"] | None = None


class Product(Schema):
    id: UUID
    kind: ProductKind
    name: str
    description: str
    points_cost: int
    stock: int | None
    pickup: Pickup | None
    coupon_template_id: UUID | None
    status: Literal["active", "inactive"]


class Products(Schema):
    items: list[Product]


class Redemption(Schema):
    id: UUID
    product_id: UUID
    kind: ProductKind
    name: str
    points: int
    status: Literal["awaiting_pickup", "picked_up", "issued", "granted"]
    coupon_id: UUID | None
    pickup: Pickup | None
    pickup_code: str | None = Field(description="gifts: shown at the locker or the merchant")
    created_at: datetime
    picked_up_at: datetime | None = Field(description="gifts: when staff handed it over")


class PickupCode(Schema):
    pickup_code: str = Field(min_length=1, max_length=20, description="as the resident shows it")


class GiftAtCounter(Redemption):
    phone: str = Field(description="the resident's masked phone number, to compare")


class Redemptions(Schema):
    items: list[Redemption]


class InvitedItem(Schema):
    phone: str = Field(description="the invitee's masked phone number")
    status: Literal["pending", "verified", "credited"]
    created_at: datetime


class Invitation(Schema):
    code: str
    invited: list[InvitedItem]
    earned: int = Field(description="points earned by inviting, in all")


M = TypeVar("M", bound=Schema)


def _row(model: type[M], row: Any) -> M:
    """The model's fields from a row (rows carry columns the API does not show)."""
    return model.model_validate({name: row[name] for name in model.model_fields})


def _product(row: Any) -> Product:
    return _row(Product, row)


@api.get("/me/points", tags=TAGS)
async def my_points(user: Principal, svc: Services) -> PointsSummary:
    """The caller's balance, points expiring within a week, check-in streak and today's
    earnings against each rule's daily cap."""
    return PointsSummary.model_validate(
        await svc.points.service.summary(user), from_attributes=True
    )


@api.get("/me/points/history", tags=TAGS)
async def my_points_history(query: HistoryQuery, user: Principal, svc: Services) -> History:
    """The caller's points journal, newest first; page with ``before`` = the last item's
    ``created_at`` (a page never splits entries of one instant)."""
    rows = await svc.points.service.history(user, query.before, query.limit)
    return History(items=[_row(HistoryItem, row) for row in rows])


@api.post("/me/points/check-in", tags=TAGS)
async def check_in(user: Principal, svc: Services) -> CheckInResult:
    """Today's check-in (5 points; every 7th day in a row 20 more). A second one on the same
    day (Asia/Shanghai) is refused: 409 ``already_checked_in``."""
    result = await svc.points.service.check_in(user)
    return CheckInResult.model_validate(result, from_attributes=True)


@api.get("/points-products", tags=TAGS)
async def list_products(user: Principal, svc: Services) -> Products:
    """The catalogue: active products; admins see inactive ones too."""
    return Products(items=[_product(r) for r in await svc.points.catalogue.products(user)])


@api.post("/points-products", status=201, tags=TAGS)
async def create_product(body: ProductIn, user: Principal, svc: Services) -> Product:
    """Add a product (admins). A gift has a stock and a pickup place; a coupon names its
    coupon template."""
    spec = ProductSpec(**body.model_dump())
    return _product(await svc.points.catalogue.create(user, spec))


@api.patch("/points-products/{product_id}", tags=TAGS)
async def update_product(
    product_id: UUID, body: ProductPatch, user: Principal, svc: Services
) -> Product:
    """Change a product's name, description, cost, stock or status (admins)."""
    changes = body.model_dump(exclude_unset=True)
    return _product(await svc.points.catalogue.update(user, product_id, changes))


@api.post("/points-products/{product_id}/redeem", status=201, tags=TAGS)
async def redeem(
    product_id: UUID, idempotency_key: IdempotencyKey, user: Principal, svc: Services
) -> Redemption:
    """Redeem one unit for its points; requires an ``Idempotency-Key`` header (a retry answers
    with the first redemption). Stock and points are taken in one transaction: 409
    ``insufficient_points``, ``product_sold_out``, ``product_inactive``,
    ``coupon_products_unavailable`` (no coupon issuer yet), ``coupon_sold_out``."""
    body = await svc.points.catalogue.redeem(user, product_id, idempotency_key)
    return _row(Redemption, body)


@api.get("/me/redemptions", tags=TAGS)
async def my_redemptions(user: Principal, svc: Services) -> Redemptions:
    """The caller's redemptions, newest first, with gift pickup codes."""
    rows = await svc.points.catalogue.redemptions(user)
    return Redemptions(items=[_row(Redemption, row) for row in rows])


@api.get("/me/invitation", tags=TAGS)
async def my_invitation(user: Principal, svc: Services) -> Invitation:
    """The caller's invitation code, whom it brought (masked phones) and the points earned:
    50 per invitee verified in a community, at most 200 a day."""
    return Invitation.model_validate(await svc.points.invitations.mine(user), from_attributes=True)


def _at_counter(row: Any) -> GiftAtCounter:
    fields = {name: row[name] for name in Redemption.model_fields}
    return GiftAtCounter.model_validate(fields | {"phone": mask_phone(row["phone"])})


@api.post("/points-gifts/look-up", tags=TAGS)
async def look_up_gift(body: PickupCode, user: Principal, svc: Services) -> GiftAtCounter:
    """The gift redeemed under a pickup code, for the staff handing it over (admins, property
    staff of a community the resident lives in); 404 ``pickup_code_not_found`` otherwise. A
    POST so the code stays out of access logs."""
    return _at_counter(await svc.points.catalogue.gift(user, body.pickup_code))


@api.post("/points-gifts/hand-over", tags=TAGS)
async def hand_over_gift(body: PickupCode, user: Principal, svc: Services) -> Redemption:
    """Mark the gift picked up: 409 ``already_picked_up`` when it was."""
    return _row(Redemption, await svc.points.catalogue.hand_over(user, body.pickup_code))
