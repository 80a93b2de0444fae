"""Coupons (优惠券): templates, issuing (claim, grant, sign-up, points), the wallet, and holding
coupons for the orders and group-buy seats that spend them.

Who may: admins run platform templates; a merchant's owner and staff run its templates; signed-in
residents claim and read their wallet. The money side (who funds a discount, the ledger) is in
docs/money.md, "Coupons and discounts"; the races are settled in :mod:`lago_core.coupons.store`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
from prometheus_client import Counter

from lago_core.clock import Clock
from lago_core.coupons.pricing import (
    Breakdown,
    CouponTerms,
    Purchase,
    best_combination,
    breakdown,
    discount_of,
    why_unusable,
)
from lago_core.coupons.store import CouponStore
from lago_core.errors import Conflict, Forbidden, InvalidInput, LagoError, NotFound
from lago_core.ledger.store import Conn
from lago_core.logging import get_logger
from lago_core.merchants import MerchantService
from lago_core.phones import normalise_phone
from lago_core.ratelimit import RateLimiter
from lago_core.security.roles import Principal

__all__ = ["CLAIM_LIMIT", "CouponService", "Held", "TemplateSpec"]

log = get_logger(__name__)
# Claims one resident may make a minute: a claim centre is tapped, not scripted.
CLAIM_LIMIT = "30/minute"
MAX_GRANT = 500
SOURCES = frozenset({"claim", "grant", "signup", "points"})
# New-user coupons that could not be granted at sign-up (sold out, ended): a rise means a
# template ran out while still flagged for new users.
SIGNUP_GRANT_FAILURES = Counter(
    "lago_coupon_signup_grant_failures_total", "new-user coupons not granted at sign-up", ["code"]
)


@dataclass(frozen=True, slots=True)
class TemplateSpec:
    name: str
    kind: str
    valid_days: int
    amount_off_fen: int | None = None
    percent_off_bps: int | None = None
    max_discount_fen: int | None = None
    threshold_fen: int = 0
    categories: tuple[str, ...] = ()
    listing_ids: tuple[UUID, ...] = ()
    merchant_id: UUID | None = None
    total_count: int | None = None
    per_user_limit: int = 1
    claimable: bool = True
    new_user: bool = False
    budget_fen: int | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Held:
    """What coupons locked to a holder take off: per funder, and the coupon ids."""

    platform_discount_fen: int
    merchant_discount_fen: int
    coupon_ids: tuple[UUID, ...]

    @property
    def discount_fen(self) -> int:
        return self.platform_discount_fen + self.merchant_discount_fen


def terms_of(row: asyncpg.Record | dict[str, Any]) -> CouponTerms:
    """A wallet row as pricing sees it (with what the merchant's budget can still give)."""
    budget = row["budget_fen"]
    return CouponTerms(
        id=row["id"],
        kind=row["kind"],
        funded_by=row["funded_by"],
        threshold_fen=row["threshold_fen"],
        amount_off_fen=row["amount_off_fen"],
        percent_off_bps=row["percent_off_bps"],
        max_discount_fen=row["max_discount_fen"],
        categories=frozenset(row["categories"]),
        listing_ids=frozenset(row["listing_ids"]),
        merchant_id=row["merchant_id"],
        budget_left_fen=None if budget is None else budget - row["discount_given_fen"],
        expires_at=row["expires_at"],
    )


class CouponService:
    def __init__(
        self,
        store: CouponStore,
        merchants: MerchantService,
        limiter: RateLimiter,
        clock: Clock,
        *,
        user_by_phone: Callable[[str], Awaitable[UUID | None]] | None = None,
    ) -> None:
        self.store = store
        self._merchants = merchants
        self._limiter = limiter
        self._clock = clock
        # (phone) -> user id or None: how grants by phone find residents (identity's lookup).
        self._user_by_phone = user_by_phone

    # --- templates -------------------------------------------------------------------------------

    async def _require_owner_side(self, actor: Principal, merchant_id: UUID | None) -> None:
        """Platform templates are the admins'; a merchant's are its owner's and staff's."""
        if merchant_id is None:
            if not actor.is_admin:
                raise Forbidden("only platform admins manage platform coupons")
        elif not actor.is_admin:
            await self._merchants.require_member(actor, merchant_id)
        else:
            await self._merchants.get(merchant_id)

    async def create_template(self, actor: Principal, spec: TemplateSpec) -> asyncpg.Record:
        await self._require_owner_side(actor, spec.merchant_id)
        _check_spec(spec)
        now = self._clock.now()
        return await self.store.insert_template(
            {
                "id": uuid4(),
                "name": spec.name,
                "kind": spec.kind,
                "amount_off_fen": spec.amount_off_fen,
                "percent_off_bps": spec.percent_off_bps,
                "max_discount_fen": spec.max_discount_fen,
                "threshold_fen": spec.threshold_fen,
                "categories": sorted(set(spec.categories)),
                "listing_ids": sorted(set(spec.listing_ids)),
                "merchant_id": spec.merchant_id,
                "funded_by": "platform" if spec.merchant_id is None else "merchant",
                "total_count": spec.total_count,
                "per_user_limit": spec.per_user_limit,
                "valid_days": spec.valid_days,
                "claimable": spec.claimable,
                "new_user": spec.new_user,
                "budget_fen": spec.budget_fen,
                "starts_at": spec.starts_at,
                "ends_at": spec.ends_at,
                "created_by": actor.user_id,
                "created_at": now,
                "updated_at": now,
            }
        )

    async def template(self, template_id: UUID) -> asyncpg.Record:
        row = await self.store.template(None, template_id)
        if row is None:
            raise NotFound("coupon template not found")
        return row

    async def check_redeemable(self, template_id: UUID) -> None:
        """For the points catalogue: the template exists, is the platform's (points never spend
        a merchant's budget) and is still issuing."""
        row = await self.store.template(None, template_id)
        if row is None:
            raise InvalidInput("no such coupon template", code="unknown_coupon_template")
        if row["merchant_id"] is not None:
            raise InvalidInput(
                "only platform coupons are offered for points", code="invalid_product"
            )
        if row["status"] != "active":
            raise InvalidInput("this coupon template has ended", code="coupon_ended")

    async def may_manage(self, actor: Principal, template: asyncpg.Record) -> bool:
        """Whether ``actor`` is on the template's owner side (sees its budget and spend)."""
        try:
            await self._require_owner_side(actor, template["merchant_id"])
        except Forbidden:
            return False
        return True

    async def end_template(self, actor: Principal, template_id: UUID) -> asyncpg.Record:
        row = await self.template(template_id)
        await self._require_owner_side(actor, row["merchant_id"])
        ended = await self.store.end_template(template_id, self._clock.now())
        assert ended is not None
        return ended

    async def claim_centre(
        self, actor: Principal, community_id: UUID | None
    ) -> list[asyncpg.Record]:
        return await self.store.templates(
            claimable_for=actor.user_id, community_id=community_id, now=self._clock.now()
        )

    async def platform_templates(self, actor: Principal) -> list[asyncpg.Record]:
        if not actor.is_admin:
            raise Forbidden("only platform admins list platform coupons")
        return await self.store.templates(platform=True)

    async def merchant_templates(self, actor: Principal, merchant_id: UUID) -> list[asyncpg.Record]:
        await self._require_owner_side(actor, merchant_id)
        return await self.store.templates(merchant_id=merchant_id)

    # --- issuing ---------------------------------------------------------------------------------

    async def _issue(
        self,
        conn: Conn,
        user_id: UUID,
        template_id: UUID,
        source: str,
        key: str | None,
        *,
        claim: bool,
    ) -> UUID:
        """Issue one coupon in the caller's transaction; raises the refusal's Conflict (which
        rolls the caller back). With ``key`` a repeat returns the first coupon."""
        if source not in SOURCES:
            raise InvalidInput("unknown coupon source", code="invalid_source")
        if key is not None:
            existing = await self.store.by_key(conn, key)
            if existing is not None:
                return _same_issue(existing, user_id, template_id)
        now = self._clock.now()
        try:
            async with conn.transaction():
                template = await self.store.take_unit(conn, template_id, now, claim=claim)
                if template is None:
                    raise await self._why_not_issued(conn, template_id, now, claim)
                if (
                    await self.store.held_by(conn, template_id, user_id)
                    >= template["per_user_limit"]
                ):
                    raise Conflict(
                        "you hold as many of this coupon as one resident may",
                        code="coupon_limit_reached",
                        details={"per_user_limit": template["per_user_limit"]},
                    )
                coupon_id = uuid4()
                await self.store.insert_coupon(
                    conn,
                    {
                        "id": coupon_id,
                        "template_id": template_id,
                        "user_id": user_id,
                        "source": source,
                        "issue_key": key,
                        "issued_at": now,
                        "expires_at": now + timedelta(days=template["valid_days"]),
                    },
                )
        except asyncpg.UniqueViolationError:
            # The same key issued concurrently: the savepoint undid our unit; answer the first.
            assert key is not None
            existing = await self.store.by_key(conn, key)
            assert existing is not None
            return _same_issue(existing, user_id, template_id)
        except asyncpg.ForeignKeyViolationError:
            raise NotFound("user not found") from None
        return coupon_id

    async def _why_not_issued(
        self, conn: Conn, template_id: UUID, now: datetime, claim: bool
    ) -> LagoError:
        row = await self.store.template(conn, template_id)
        if row is None:
            return NotFound("coupon template not found")
        if row["status"] != "active" or (row["ends_at"] is not None and row["ends_at"] <= now):
            return Conflict("this coupon is no longer issued", code="coupon_ended")
        if row["starts_at"] is not None and row["starts_at"] > now:
            return Conflict("this coupon is not issued yet", code="coupon_not_started")
        if claim and not row["claimable"]:
            return Conflict("this coupon cannot be claimed", code="coupon_not_claimable")
        if row["budget_fen"] is not None and row["discount_given_fen"] >= row["budget_fen"]:
            return Conflict("the merchant's budget is spent", code="coupon_budget_exhausted")
        return Conflict("all of this coupon are taken", code="coupon_sold_out")

    async def issue_in(
        self, conn: asyncpg.Connection, user_id: UUID, template_id: UUID, key: str, source: str
    ) -> UUID:
        """For points redemption (the contract's CouponIssuer): issue inside the caller's
        transaction, once per ``key``; Conflict(coupon_sold_out, …) rolls the caller back."""
        if not key or len(key) > 200:
            raise InvalidInput("an issue key is 1–200 characters", code="invalid_key")
        return await self._issue(conn, user_id, template_id, source, key, claim=False)

    async def claim(self, actor: Principal, template_id: UUID) -> asyncpg.Record:
        """Claim one coupon: verified residents (of a community the merchant serves, for a
        merchant's coupon) — the claim centre is a resident's, not an account farm's."""
        await self._limiter.hit_or_raise(CLAIM_LIMIT, "coupon-claim", str(actor.user_id))
        template = await self.template(template_id)
        if not await self.store.is_resident_for(actor.user_id, template["merchant_id"]):
            raise Forbidden(
                "coupons are claimed by verified residents of the communities they serve",
                code="not_a_resident",
            )
        async with self.store.pool.acquire() as conn, conn.transaction():
            coupon_id = await self._issue(
                conn, actor.user_id, template_id, "claim", None, claim=True
            )
        return await self._coupon(coupon_id)

    async def grant(
        self,
        actor: Principal,
        template_id: UUID,
        phones: Sequence[str] = (),
        user_ids: Sequence[UUID] = (),
    ) -> tuple[list[asyncpg.Record], list[dict[str, Any]]]:
        """Issue one coupon to each resident named (each its own transaction: one refusal does
        not undo the others). Answers the coupons granted and the refusals with their codes."""
        template = await self.template(template_id)
        await self._require_owner_side(actor, template["merchant_id"])
        if len(phones) + len(user_ids) > MAX_GRANT:
            raise InvalidInput(f"grant to at most {MAX_GRANT} at once", code="too_many_recipients")
        targets: list[tuple[dict[str, Any], UUID | None]] = []
        for phone in phones:
            user_id = None
            if self._user_by_phone is not None:
                try:
                    user_id = await self._user_by_phone(normalise_phone(phone))
                except LagoError:
                    user_id = None
            targets.append(({"phone": phone}, user_id))
        targets.extend(({"user_id": str(u)}, u) for u in user_ids)
        granted: list[asyncpg.Record] = []
        refused: list[dict[str, Any]] = []
        for who, user_id in targets:
            if user_id is None:
                refused.append({**who, "code": "user_not_found"})
                continue
            try:
                async with self.store.pool.acquire() as conn, conn.transaction():
                    coupon_id = await self._issue(
                        conn, user_id, template_id, "grant", None, claim=False
                    )
            except (Conflict, NotFound) as exc:
                code = "user_not_found" if isinstance(exc, NotFound) else exc.code
                refused.append({**who, "code": code})
                continue
            granted.append(await self._coupon(coupon_id))
        return granted, refused

    async def grant_new_user(self, user_id: UUID) -> list[UUID]:
        """Sign-up: one coupon of each active new-user template, once per user and template
        (keyed), so a repeated hook grants nothing twice. A refusal is logged and counted."""
        issued: list[UUID] = []
        for template_id in await self.store.new_user_templates(self._clock.now()):
            try:
                async with self.store.pool.acquire() as conn, conn.transaction():
                    issued.append(
                        await self._issue(
                            conn,
                            user_id,
                            template_id,
                            "signup",
                            f"signup:{user_id}:{template_id}",
                            claim=False,
                        )
                    )
            except Conflict as exc:
                SIGNUP_GRANT_FAILURES.labels(code=exc.code).inc()
                log.warning(
                    "coupons.signup_grant_refused",
                    user_id=str(user_id),
                    template_id=str(template_id),
                    code=exc.code,
                )
        return issued

    # --- the wallet ------------------------------------------------------------------------------

    async def _coupon(self, coupon_id: UUID) -> asyncpg.Record:
        row = await self.store.coupon(None, coupon_id, self._clock.now())
        assert row is not None
        return row

    async def wallet(self, actor: Principal, status: str | None) -> list[asyncpg.Record]:
        return await self.store.wallet(actor.user_id, status, self._clock.now())

    # --- checkout --------------------------------------------------------------------------------

    async def usable_for(
        self, actor: Principal, purchase: Purchase
    ) -> tuple[list[tuple[asyncpg.Record, int]], list[tuple[asyncpg.Record, str]], Breakdown]:
        """The caller's available coupons for a purchase: usable with their discount alone,
        unusable with why, and the best combination."""
        rows = await self.store.wallet(actor.user_id, "available", self._clock.now())
        usable: list[tuple[asyncpg.Record, int]] = []
        unusable: list[tuple[asyncpg.Record, str]] = []
        for row in rows:
            terms = terms_of(row)
            problem = why_unusable(terms, purchase)
            if problem is None:
                usable.append((row, discount_of(terms, purchase.price_fen)))
            else:
                unusable.append((row, problem))
        best = best_combination(purchase, [terms_of(r) for r, _ in usable])
        return usable, unusable, best

    async def price(
        self, conn: Conn | None, user_id: UUID, purchase: Purchase, coupon_ids: Sequence[UUID]
    ) -> Breakdown:
        """The breakdown with exactly these coupons of the user's; 409 coupon_not_usable (with
        which coupon and why) when one is not the caller's, not available, or does not apply."""
        if len(coupon_ids) > 2:
            raise InvalidInput("at most two coupons per purchase", code="too_many_coupons")
        if not coupon_ids:
            return Breakdown(purchase.price_fen)
        rows = await self.store.coupons(conn, list(coupon_ids), self._clock.now())
        found = {r["id"]: r for r in rows if r["user_id"] == user_id}
        for coupon_id in coupon_ids:
            row = found.get(coupon_id)
            if row is None:
                raise NotFound("coupon not found", details={"coupon_id": str(coupon_id)})
            if row["status"] != "available":
                raise _not_usable(coupon_id, f"coupon_{row['status']}")
        try:
            return breakdown(purchase, [terms_of(found[c]) for c in coupon_ids])
        except ValueError as exc:
            bad = _which(purchase, [terms_of(found[c]) for c in coupon_ids])
            raise _not_usable(bad, str(exc)) from None

    async def hold(
        self,
        conn: Conn,
        user_id: UUID,
        result: Breakdown,
        holder_type: str,
        holder_id: UUID,
    ) -> None:
        """Lock the breakdown's coupons to the holder in the caller's transaction (the order's
        insert, the seat's payment): one coupon spent by two concurrent purchases is locked by
        one; the other gets 409 coupon_not_usable and its transaction rolls back."""
        if not result.applied:
            return
        discounts = {a.coupon_id: a.discount_fen for a in result.applied}
        locked = await self.store.lock(
            conn, user_id, discounts, holder_type, holder_id, self._clock.now()
        )
        for coupon_id in discounts:
            if coupon_id not in locked:
                raise _not_usable(coupon_id, "coupon_taken")
        rows = await self.store.coupons(conn, list(discounts), self._clock.now())
        # Templates are updated in one order everywhere (by id): two purchases spending coupons
        # of the same two templates never wait on each other in a cycle.
        for row in sorted(rows, key=lambda r: r["template_id"]):
            if not await self.store.spend_budget(conn, row["template_id"], discounts[row["id"]]):
                raise _not_usable(row["id"], "coupon_budget_exhausted")

    async def held(self, conn: Conn | None, holder_type: str, holder_id: UUID) -> Held:
        rows = await self.store.held(conn, holder_type, holder_id, self._clock.now())
        live = [r for r in rows if r["status"] in ("locked", "used")]
        return Held(
            sum(r["discount_fen"] for r in live if r["funded_by"] == "platform"),
            sum(r["discount_fen"] for r in live if r["funded_by"] == "merchant"),
            tuple(r["id"] for r in live),
        )

    async def release(self, conn: Conn, holder_type: str, holder_id: UUID) -> int:
        """The holder will not pay (order cancelled or expired, seat released): locked coupons
        go back to the wallet and their discounts leave the merchants' budgets."""
        rows = await self.store.release(conn, holder_type, holder_id, "locked", self._clock.now())
        for row in sorted(rows, key=lambda r: r["template_id"]):
            await self.store.give_back(conn, row["template_id"], row["discount_fen"], used=False)
        return len(rows)

    async def use(self, conn: Conn, holder_type: str, holder_id: UUID) -> int:
        """The holder's money was captured: its coupons are used."""
        return len(await self.store.use(conn, holder_type, holder_id, self._clock.now()))

    async def give_back(self, conn: Conn, holder_type: str, holder_id: UUID) -> int:
        """The holder was refunded in whole: its used coupons return to the wallet (as expired
        when their validity has passed) and their discounts leave the merchants' budgets."""
        rows = await self.store.release(conn, holder_type, holder_id, "used", self._clock.now())
        for row in sorted(rows, key=lambda r: r["template_id"]):
            await self.store.give_back(conn, row["template_id"], row["discount_fen"], used=True)
        return len(rows)

    # --- jobs ------------------------------------------------------------------------------------

    async def sweep(self) -> dict[str, int]:
        """Cron: mark expired coupons, and bring back coupons whose holder ended on a path that
        did not return them (a crash, or a seat released by the channel actor)."""
        returned = 0
        for row in await self.store.orphaned_holders():
            async with self.store.pool.acquire() as conn, conn.transaction():
                if row["status"] == "locked":
                    returned += await self.release(conn, row["holder_type"], row["holder_id"])
                else:
                    returned += await self.give_back(conn, row["holder_type"], row["holder_id"])
        return {"expired": await self.store.expire(self._clock.now()), "returned": returned}


def _same_issue(existing: asyncpg.Record, user_id: UUID, template_id: UUID) -> UUID:
    if (existing["user_id"], existing["template_id"]) != (user_id, template_id):
        raise Conflict("this issue key was used for another coupon", code="issue_key_reused")
    coupon_id: UUID = existing["id"]
    return coupon_id


def _not_usable(coupon_id: UUID, reason: str) -> Conflict:
    return Conflict(
        "this coupon cannot be used here",
        code="coupon_not_usable",
        details={"coupon_id": str(coupon_id), "reason": reason},
    )


def _which(purchase: Purchase, coupons: list[CouponTerms]) -> UUID:
    """The coupon to blame when a combination is refused (the first that fails alone, or the
    second of two with the same funder)."""
    for coupon in coupons:
        if why_unusable(coupon, purchase) is not None:
            return coupon.id
    return coupons[-1].id


def _check_spec(spec: TemplateSpec) -> None:
    def bad(message: str, code: str = "invalid_coupon_template") -> InvalidInput:
        return InvalidInput(message, code=code)

    if spec.kind == "amount_off":
        if spec.amount_off_fen is None or spec.percent_off_bps is not None:
            raise bad("an amount_off coupon has amount_off_fen and no percent_off_bps")
        if spec.max_discount_fen is not None:
            raise bad("max_discount_fen is for percent_off coupons")
    elif spec.kind == "percent_off":
        if spec.percent_off_bps is None or spec.amount_off_fen is not None:
            raise bad("a percent_off coupon has percent_off_bps and no amount_off_fen")
    else:
        raise bad("kind is amount_off or percent_off")
    if spec.merchant_id is None and spec.budget_fen is not None:
        raise bad("a platform coupon has no budget (the platform pays it)")
    if spec.merchant_id is not None and spec.budget_fen is None:
        raise bad("a merchant coupon needs a budget_fen", code="budget_required")
    if spec.starts_at is not None and spec.ends_at is not None and spec.ends_at <= spec.starts_at:
        raise bad("ends_at comes after starts_at")
    if spec.new_user and spec.merchant_id is not None:
        raise bad("new-user coupons are the platform's")
