"""The redemption catalogue (积分商城): products admins manage, redeemed for points.

A redemption is one transaction: a unit of stock taken by a conditional UPDATE (``stock > 0``),
the points spent from the resident's lots under the account's lock, and the product's effect — a
coupon issued through :class:`CouponIssuer`, a gift's pickup code, a privilege's entitlement. Any
refusal rolls back all three. It runs under the caller's Idempotency-Key, so a retried request
redeems once and answers with the first redemption.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID, uuid4

import asyncpg

from lago_core.clock import Clock
from lago_core.errors import Conflict, Forbidden, InvalidInput, NotFound
from lago_core.idempotency import Idempotency
from lago_core.ledger.store import Conn
from lago_core.points.service import PointsService
from lago_core.points.store import PointsStore
from lago_core.ratelimit import RateLimiter
from lago_core.security.roles import Principal

__all__ = ["CODE_ALPHABET", "CatalogueService", "CouponIssuer", "ProductSpec"]

# Codes people read aloud or type: capitals and digits without 0/O, 1/I.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
# Redemptions per resident: generous for a person, a wall for a script emptying the stock.
REDEEMS = "20/minute"
# Pickup-code look-ups per member of staff: a counter's pace, not a guesser's.
PICKUP_LOOKUPS = "30/minute"
_PICKUP_CODE = re.compile(r"[A-Z2-9]{10}")
_STATUS_OF_KIND = {"gift": "awaiting_pickup", "coupon": "issued", "privilege": "granted"}


class CouponIssuer(Protocol):
    """Issues a coupon of a template to a user inside the caller's transaction (h/coupons'
    CouponService implements it; docs/points.md)."""

    async def issue_in(
        self, conn: asyncpg.Connection, user_id: UUID, template_id: UUID, key: str, source: str
    ) -> UUID:
        """The coupon's id; idempotent by ``key``; raises Conflict(code="coupon_sold_out") when
        the template is exhausted (the caller's transaction then rolls back)."""

    async def check_redeemable(self, template_id: UUID) -> None:
        """Raises InvalidInput unless the template may be offered for points: it exists, is
        the platform's (a merchant's budget is not the catalogue's to spend) and is active."""


@dataclass(frozen=True, slots=True)
class ProductSpec:
    kind: str
    name: str
    description: str
    points_cost: int
    stock: int | None
    pickup: str | None
    coupon_template_id: UUID | None
    status: str = "active"


def new_code(length: int) -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


class CatalogueService:
    def __init__(
        self,
        store: PointsStore,
        points: PointsService,
        idempotency: Idempotency,
        clock: Clock,
        *,
        limiter: RateLimiter | None = None,
        coupons: CouponIssuer | None = None,
    ) -> None:
        self._limiter = limiter
        self.store = store
        self._points = points
        self._idempotency = idempotency
        self._clock = clock
        self.coupons = coupons

    # --- products (admins) -----------------------------------------------------------------------

    @staticmethod
    def _require_admin(actor: Principal) -> None:
        if not actor.is_admin:
            raise Forbidden("only platform admins manage points products")

    @staticmethod
    def _check(kind: str, stock: int | None, pickup: str | None, template: UUID | None) -> None:
        if (kind == "coupon") != (template is not None):
            raise InvalidInput(
                "a coupon product names its coupon template, and only it",
                code="invalid_product",
            )
        if (kind == "gift") != (pickup is not None):
            raise InvalidInput(
                "a gift says where it is picked up (locker or merchant), and only a gift",
                code="invalid_product",
            )
        if kind == "gift" and stock is None:
            raise InvalidInput("a gift has a stock", code="invalid_product")

    async def create(self, actor: Principal, spec: ProductSpec) -> asyncpg.Record:
        self._require_admin(actor)
        self._check(spec.kind, spec.stock, spec.pickup, spec.coupon_template_id)
        if spec.coupon_template_id is not None:
            if self.coupons is None:
                raise Conflict(
                    "coupons cannot be redeemed for points yet",
                    code="coupon_products_unavailable",
                )
            await self.coupons.check_redeemable(spec.coupon_template_id)
        now = self._clock.now()
        return await self.store.insert_product(
            {
                "id": uuid4(),
                "kind": spec.kind,
                "name": spec.name,
                "description": spec.description,
                "points_cost": spec.points_cost,
                "stock": spec.stock,
                "pickup": spec.pickup,
                "coupon_template_id": spec.coupon_template_id,
                "status": spec.status,
                "created_by": actor.user_id,
                "created_at": now,
                "updated_at": now,
            }
        )

    async def update(
        self, actor: Principal, product_id: UUID, changes: dict[str, Any]
    ) -> asyncpg.Record:
        """Change name, description, cost, stock or status (kind and its fields stay)."""
        self._require_admin(actor)
        current = await self.store.product(product_id)
        if current is None:
            raise NotFound("points product not found")
        allowed = {"name", "description", "points_cost", "stock", "status"}
        unknown = set(changes) - allowed
        if unknown:
            raise InvalidInput(f"cannot change {', '.join(sorted(unknown))}")
        stock = changes.get("stock", current["stock"])
        self._check(current["kind"], stock, current["pickup"], current["coupon_template_id"])
        row = await self.store.update_product(product_id, changes, self._clock.now())
        assert row is not None
        return row

    async def products(self, actor: Principal) -> list[asyncpg.Record]:
        """Active products for residents; every product for admins."""
        return await self.store.products(active_only=not actor.is_admin)

    # --- redeeming -------------------------------------------------------------------------------

    async def redeem(self, actor: Principal, product_id: UUID, key: str) -> dict[str, Any]:
        """Redeem one unit of a product for its points, once per Idempotency-Key."""
        if self._limiter is not None:
            await self._limiter.hit_or_raise(REDEEMS, "points-redeem", str(actor.user_id))

        async def action(conn: Conn) -> dict[str, Any]:
            row = await self._redeem_in(conn, actor.user_id, product_id)
            # asyncpg's own UUID type is not one the JSON encoder of stored responses knows.
            return {k: str(v) if isinstance(v, UUID) else v for k, v in row.items()}

        result = await self._idempotency.run(
            actor.user_id, key, "points.redeem", {"product_id": str(product_id)}, action
        )
        return result.body

    async def _redeem_in(self, conn: Conn, user_id: UUID, product_id: UUID) -> asyncpg.Record:
        now = self._clock.now()
        product = await self.store.take_product(conn, product_id, now)
        if product is None:
            # On the redemption's own connection: waiting for a second one from the pool while
            # holding this one deadlocks once every connection does the same.
            current = await self.store.product(product_id, conn)
            if current is None:
                raise NotFound("points product not found")
            if current["status"] != "active":
                raise Conflict("this product is not offered now", code="product_inactive")
            raise Conflict("this product is sold out", code="product_sold_out")
        if product["kind"] == "coupon" and self.coupons is None:
            raise Conflict(
                "coupons cannot be redeemed for points yet", code="coupon_products_unavailable"
            )
        redemption_id = uuid4()
        await self._points.spend_in(
            conn,
            user_id,
            product["points_cost"],
            f"redeem:{redemption_id}",
            note=product["name"][:200],
        )
        coupon_id = None
        if product["kind"] == "coupon":
            assert self.coupons is not None
            assert product["coupon_template_id"] is not None
            coupon_id = await self.coupons.issue_in(
                conn,  # type: ignore[arg-type]  # a pool's proxy is a Connection at run time
                user_id,
                product["coupon_template_id"],
                f"points-redemption:{redemption_id}",
                "points",
            )
        row = await self.store.insert_redemption(
            conn,
            {
                "id": redemption_id,
                "user_id": user_id,
                "product_id": product_id,
                "kind": product["kind"],
                "name": product["name"],
                "points": product["points_cost"],
                "status": _STATUS_OF_KIND[product["kind"]],
                "coupon_id": coupon_id,
                "pickup": product["pickup"],
                "pickup_code": new_code(10) if product["kind"] == "gift" else None,
                "created_at": now,
            },
        )
        if product["kind"] == "privilege":
            await self.store.insert_entitlement(
                conn,
                {
                    "id": uuid4(),
                    "user_id": user_id,
                    "redemption_id": redemption_id,
                    "product_id": product_id,
                    "name": product["name"],
                    "created_at": now,
                },
            )
        return row

    async def redemptions(self, actor: Principal) -> list[asyncpg.Record]:
        return await self.store.redemptions_of(actor.user_id)

    # --- handing gifts over ----------------------------------------------------------------------

    async def gift(self, actor: Principal, code: str) -> asyncpg.Record:
        """The gift redeemed under a pickup code, for whoever may hand it over: an admin, or
        property staff of a community the resident is verified in. Anyone else, and a code
        nobody holds, get the same 404, so the look-up tells a guesser nothing."""
        if self._limiter is not None:
            await self._limiter.hit_or_raise(PICKUP_LOOKUPS, "points-pickup", str(actor.user_id))
        normalised = code.strip().upper()
        if not _PICKUP_CODE.fullmatch(normalised):
            raise InvalidInput("a pickup code is 10 letters and digits", code="invalid_pickup_code")
        row = await self.store.gift_by_code(normalised)
        if row is None or not (
            actor.is_admin or await self.store.hands_over_for(actor.user_id, row["user_id"])
        ):
            raise NotFound("no gift awaits pickup under this code", code="pickup_code_not_found")
        return row

    async def hand_over(self, actor: Principal, code: str) -> asyncpg.Record:
        """Mark the gift under ``code`` picked up; 409 ``already_picked_up`` the second time."""
        gift = await self.gift(actor, code)
        row = await self.store.hand_over(gift["id"], actor.user_id, self._clock.now())
        if row is None:
            raise Conflict("this gift has been picked up already", code="already_picked_up")
        return row
