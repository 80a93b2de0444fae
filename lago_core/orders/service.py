"""Orders of the three trade modes: who may move them, what each move does to money and listings.

The moves themselves are the table in :mod:`lago_core.orders.machine`; this module checks the caller's
side, applies the move with ``UPDATE ... WHERE status = <expected>`` and then does the move's
effects. Money effects go through :class:`PaymentService` with keys derived from the order, so a
retry — or the order sweep healing a crash between the move and its effect — never pays twice.
docs/orders.md describes the machines and the money of each step.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from lago_core.clock import Clock
from lago_core.coupons import CouponService, Purchase, Quote
from lago_core.errors import Conflict, Forbidden, InvalidInput, LagoError, NotFound
from lago_core.ledger import Party, PartyKind
from lago_core.ledger.store import Conn
from lago_core.listings import ListingService
from lago_core.logging import get_logger
from lago_core.merchants import MerchantService
from lago_core.orders.machine import (
    CONSIGNMENT_COMMISSION_BPS,
    TRANSITIONS,
    Action,
    Mode,
    Side,
    Status,
    rule_for,
)
from lago_core.orders.store import OrderStore
from lago_core.payments import AfterCommit, Demand, PaymentService, PaymentSpec, Refuse
from lago_core.push import Pusher
from lago_core.push_events import (
    ORDER_CANCELLED,
    ORDER_NEW,
    ORDER_OVERDUE,
    ORDER_PAID,
    ORDER_REFUND_REQUESTED,
    ORDER_UPDATED,
    REVIEW_NEW,
)
from lago_core.security.roles import Principal
from lago_core.settings import Settings

__all__ = [
    "CreatedHook",
    "Fulfilment",
    "OrderService",
    "RatingHook",
    "Reputation",
    "TransitionHook",
]

log = get_logger(__name__)

REFERENCE_TYPE = "order"
# One reason for every refund of an order's price: it is part of the refund's idempotency
# parameters, so the request path and the sweep must send the same one.
REFUND_REASON = "order refunded"
DAY = timedelta(days=1)

Fulfilment = str  # "face_to_face" | "self_pickup" | "delivery"
# How the goods change hands, per mode: a C2C sale is face to face or self-pickup (the seed's
# mode two); a merchant may deliver a consignment or a rental.
_FULFILMENTS: dict[Mode, frozenset[str]] = {
    Mode.SALE: frozenset({"face_to_face", "self_pickup"}),
    Mode.CONSIGNMENT: frozenset({"self_pickup", "delivery"}),
    Mode.RENTAL: frozenset({"face_to_face", "self_pickup", "delivery"}),
}
# Moves that take a paid order further (towards completion and the payee's payout): each checks,
# in its own transaction, that the order's money is captured and none of it refunded.
_NEEDS_MONEY = frozenset(
    {
        Action.CONFIRM,
        Action.HAND_OVER,
        Action.CONFIRM_RECEIPT,
        Action.PICK_UP,
        Action.RETURN,
        Action.COMPLETE,
    }
)
_MODE_OF_KIND = {"sale": Mode.SALE, "consignment": Mode.CONSIGNMENT, "rent": Mode.RENTAL}
_TAKEN = {Mode.SALE: "sold", Mode.CONSIGNMENT: "sold", Mode.RENTAL: "rented"}
# Merchant pushes (the /merchant namespace) by the status an order reached.
_PUSHED = {
    Status.PAID: ORDER_PAID,
    Status.CANCELLED: ORDER_CANCELLED,
    Status.REFUND_REQUESTED: ORDER_REFUND_REQUESTED,
}


# Called inside the transaction of each move (and of the capture that pays an order) with the
# moved order, so what it writes (the merchant dashboard's aggregates) commits or rolls back with
# the move. A registry rather than an import keeps orders independent of who watches them.
TransitionHook = Callable[[Conn, asyncpg.Record], Awaitable[None]]
# Called inside a rating's transaction with the order and the new rating.
RatingHook = Callable[[Conn, asyncpg.Record, asyncpg.Record], Awaitable[None]]
# Called once a new order and its payment exist (no transaction: creating is two writes).
CreatedHook = Callable[[asyncpg.Record], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Reputation:
    user_id: UUID
    rating_count: int
    average: float | None


class OrderService:
    def __init__(
        self,
        store: OrderStore,
        listings: ListingService,
        merchants: MerchantService,
        payments: PaymentService,
        pusher: Pusher | None,
        settings: Settings,
        clock: Clock,
        coupons: CouponService | None = None,
    ) -> None:
        self.store = store
        # Spending coupons at checkout (issue 18); None: orders take no coupons.
        self._coupons = coupons
        self._listings = listings
        self._merchants = merchants
        self._payments = payments
        self._pusher = pusher
        self._settings = settings
        self._clock = clock
        self._transition_hooks: list[TransitionHook] = []
        self._rating_hooks: list[RatingHook] = []
        self._created_hooks: list[CreatedHook] = []
        payments.register_reference(
            REFERENCE_TYPE, demand=self._demand, on_capture=self._on_captured
        )

    def on_transition(self, hook: TransitionHook) -> None:
        """Run ``hook`` in the transaction of every move, with the moved order."""
        self._transition_hooks.append(hook)

    def on_rating(self, hook: RatingHook) -> None:
        """Run ``hook`` in the transaction of every rating, with the order and the rating."""
        self._rating_hooks.append(hook)

    def on_created(self, hook: CreatedHook) -> None:
        """Run ``hook`` with each new order once its payment exists."""
        self._created_hooks.append(hook)

    async def _moved(self, conn: Conn, row: asyncpg.Record) -> None:
        for hook in self._transition_hooks:
            await hook(conn, row)

    # --- permissions -----------------------------------------------------------------------------

    async def sides(self, actor: Principal, row: asyncpg.Record) -> set[Side]:
        """The caller's sides of an order. A merchant's order belongs to the merchant: its owner
        and staff act for the seller side, and a removed staff member no longer does."""
        sides: set[Side] = set()
        if row["buyer_id"] == actor.user_id:
            sides.add(Side.BUYER)
        if row["merchant_id"] is not None:
            if await self._merchants.role_of(actor.user_id, row["merchant_id"]) is not None:
                sides.add(Side.SELLER)
        elif row["seller_id"] == actor.user_id:
            sides.add(Side.SELLER)
        if actor.is_admin or actor.is_customer_service:
            sides.add(Side.STAFF)
        return sides

    async def _readable(self, actor: Principal, order_id: UUID) -> asyncpg.Record:
        """The order, for its parties, admins and customer service; others: not found."""
        row = await self.store.order(self.store.pool, order_id)
        if row is None or not (
            actor.is_admin or actor.is_customer_service or await self.sides(actor, row)
        ):
            raise NotFound("order not found")
        return row

    # --- creating --------------------------------------------------------------------------------

    async def quote(self, actor: Principal, listing_id: UUID, days: int | None) -> Quote:
        """What ordering this listing would cost before coupons (checkout preview): the
        discountable price (the rent for a rental), the deposit and the coupon scope keys."""
        listing = await self._listings.get(actor, listing_id)
        price, deposit = self._price_of(listing, _MODE_OF_KIND[listing["kind"]], days)
        return Quote(_purchase(listing, price), deposit)

    def _price_of(self, listing: asyncpg.Record, mode: Mode, days: int | None) -> tuple[int, int]:
        if mode is Mode.RENTAL:
            if days is None:
                raise InvalidInput("a rental needs days", code="days_required")
            return listing["rent_per_day_fen"] * days, listing["deposit_fen"]
        if days is not None:
            raise InvalidInput("days are for rentals only", code="days_not_allowed")
        return listing["price_fen"], 0

    async def create(
        self,
        actor: Principal,
        listing_id: UUID,
        days: int | None,
        fulfilment: Fulfilment,
        coupon_ids: Sequence[UUID] = (),
    ) -> asyncpg.Record:
        """An order for a listing and its payment (to be paid through the provider's page).

        ``coupon_ids`` (≤ 1 platform + ≤ 1 merchant coupon of the buyer's) are locked to the
        order in the order's own insert transaction; the payment asks the price less them."""
        listing = await self._listings.get(actor, listing_id)
        if listing["status"] != "active":
            raise Conflict(f"the listing is {listing['status']}", code="listing_not_active")
        mode = _MODE_OF_KIND[listing["kind"]]
        if fulfilment not in _FULFILMENTS[mode]:
            raise InvalidInput(
                f"a {mode.value} order is fulfilled by {', '.join(sorted(_FULFILMENTS[mode]))}",
                code="invalid_fulfilment",
            )
        if await self._listings.can_manage(actor, listing):
            raise InvalidInput("you cannot order your own listing", code="own_listing")
        price, deposit = self._price_of(listing, mode, days)
        if mode is Mode.CONSIGNMENT:
            # The owner is paid, after the category's commission; the merchant runs the order.
            payee = Party(PartyKind.USER, listing["seller_id"])
            commission = CONSIGNMENT_COMMISSION_BPS[listing["category"]]
        else:
            payee = (
                Party(PartyKind.MERCHANT, listing["merchant_id"])
                if listing["merchant_id"] is not None
                else Party(PartyKind.USER, listing["seller_id"])
            )
            commission = self._settings.commission_bps
        coupons = self._coupons
        if coupon_ids and coupons is None:
            raise Conflict("coupons are not taken here", code="coupon_not_usable")
        priced = None
        if coupons is not None and coupon_ids:
            priced = await coupons.price(
                None, actor.user_id, _purchase(listing, price), list(coupon_ids)
            )

        async def hold(conn: Conn, order: asyncpg.Record) -> None:
            if coupons is not None and priced is not None:
                await coupons.hold(conn, actor.user_id, priced, REFERENCE_TYPE, order["id"])

        now = self._clock.now()
        try:
            row = await self.store.insert(
                {
                    "id": uuid4(),
                    "mode": mode.value,
                    "listing_id": listing_id,
                    "buyer_id": actor.user_id,
                    "seller_id": listing["seller_id"],
                    "merchant_id": listing["merchant_id"],
                    "payee_kind": payee.kind.value,
                    "payee_id": payee.id,
                    "fulfilment": fulfilment,
                    "title": listing["title"],
                    "category": listing["category"],
                    "price_fen": price,
                    "deposit_fen": deposit,
                    "rent_per_day_fen": listing["rent_per_day_fen"],
                    "days": days,
                    "commission_bps": commission,
                    "discount_fen": priced.discount_fen if priced else 0,
                    "platform_discount_fen": priced.platform_discount_fen if priced else 0,
                    "merchant_discount_fen": priced.merchant_discount_fen if priced else 0,
                    "coupon_ids": [a.coupon_id for a in priced.applied] if priced else [],
                    "created_at": now,
                    "updated_at": now,
                },
                self._settings.max_unpaid_orders,
                hold,
            )
        except asyncpg.UniqueViolationError:
            raise Conflict(
                "someone else has an open order for this listing", code="listing_reserved"
            ) from None
        if row is None:
            limit = self._settings.max_unpaid_orders
            raise Conflict(
                f"pay or cancel one of your {limit} unpaid orders first",
                code="too_many_unpaid_orders",
                details={"max_unpaid_orders": limit},
            )
        spec = PaymentSpec(
            reference_type=REFERENCE_TYPE,
            reference_id=row["id"],
            amount_fen=pay_fen(row),
            payee=payee,
            deposit_fen=deposit,
            description=listing["title"],
            commission_bps=commission,
            # The trade happens in a community the two share: its property company gets its
            # share of the commission (None when there is none, e.g. an admin buying).
            community_id=await self._listings.store.meeting_community(listing_id, actor.user_id),
            platform_discount_fen=row["platform_discount_fen"],
            merchant_discount_fen=row["merchant_discount_fen"],
        )
        try:
            payment = await self._payments.create(actor, f"order:{row['id']}", spec)
        except (LagoError, asyncpg.PostgresError):
            # Release the listing (and the coupons) at once rather than leaving them reserved
            # until the unpaid job.
            async with self.store.pool.acquire() as conn, conn.transaction():
                cancelled = await self.store.transition(
                    conn,
                    row["id"],
                    Status.CREATED,
                    Status.CANCELLED,
                    self._clock.now(),
                    {"cancel_reason": "payment_failed", "cancelled_at": self._clock.now()},
                )
                if cancelled is not None:
                    await self._coupons_follow(conn, cancelled)
            if cancelled is not None:
                await self._changed(cancelled, None)
            raise
        row = await self.store.set_payment(row["id"], payment.id)
        await self._changed(row, ORDER_NEW)
        for hook in self._created_hooks:
            await hook(row)
        return row

    async def _coupons_follow(self, conn: Conn, row: asyncpg.Record) -> None:
        """In a move's transaction: a cancelled order gives its locked coupons back; an order
        refunded in whole gives back its used coupons (docs/money.md)."""
        if self._coupons is None or not row["coupon_ids"]:
            return
        if row["status"] == Status.CANCELLED:
            await self._coupons.release(conn, REFERENCE_TYPE, row["id"])
        elif row["status"] == Status.REFUNDED:
            await self._coupons.give_back(conn, REFERENCE_TYPE, row["id"])

    # --- reading ---------------------------------------------------------------------------------

    async def get(self, actor: Principal, order_id: UUID) -> asyncpg.Record:
        return await self._readable(actor, order_id)

    async def mine(
        self,
        actor: Principal,
        role: str | None,
        after: tuple[datetime, UUID] | None,
        limit: int,
    ) -> list[asyncpg.Record]:
        return await self.store.mine(actor.user_id, role, after, limit)

    async def of_merchant(
        self,
        actor: Principal,
        merchant_id: UUID,
        status: Status | None,
        after: tuple[datetime, UUID] | None,
        limit: int,
    ) -> list[asyncpg.Record]:
        """A merchant's orders: its owner and staff, admins and customer service."""
        if actor.is_admin or actor.is_customer_service:
            await self._merchants.get(merchant_id)
        else:
            await self._merchants.require_member(actor, merchant_id)
        return await self.store.of_merchant(
            merchant_id, status.value if status else None, after, limit
        )

    # --- moving ----------------------------------------------------------------------------------

    async def act(
        self,
        actor: Principal,
        order_id: UUID,
        action: Action,
        *,
        late_fee_fen: int | None = None,
        damage_fen: int | None = None,
        reason: str | None = None,
    ) -> asyncpg.Record:
        """Apply ``action`` for the caller, if their side may and the order's status allows.

        ``reason`` goes with a reject only: why the order was refused or refunded, for the buyer.
        """
        row = await self._readable(actor, order_id)
        mode = Mode(row["mode"])
        sides = await self.sides(actor, row)
        rule = TRANSITIONS.get((mode, action))
        if rule is not None and not sides & rule.by:
            raise Forbidden(
                f"only the {' or '.join(sorted(rule.by - {Side.SYSTEM, Side.STAFF}))} may "
                f"{action.value}"
            )
        if action is not Action.COMPLETE and (late_fee_fen is not None or damage_fen is not None):
            raise InvalidInput(
                "fees are settled when a rental is completed", code="fees_not_allowed"
            )
        if reason is not None:
            reason = reason.strip() or None
            if action is not Action.REJECT:
                raise InvalidInput("only a rejection carries a reason", code="reason_not_allowed")
        # Who cancelled is recorded; someone who is both (a merchant's staff buying from it) acts
        # as the buyer where the buyer may.
        side = Side.BUYER if rule is not None and Side.BUYER in sides & rule.by else Side.SELLER
        return await self._move(row, action, side, late_fee_fen, damage_fen, reason)

    async def act_as_system(self, order_id: UUID, action: Action) -> asyncpg.Record:
        """Apply ``action`` for the platform itself (a toy locker's door), where the table lets the
        system side take it; a rental completed this way withholds the computed late fee only."""
        row = await self.store.order(self.store.pool, order_id)
        if row is None:
            raise NotFound("order not found")
        rule = TRANSITIONS.get((Mode(row["mode"]), action))
        if rule is not None and Side.SYSTEM not in rule.by:
            raise Forbidden(f"the platform may not {action.value} an order")
        return await self._move(row, action, Side.SYSTEM, None, None, None)

    async def _move(
        self,
        row: asyncpg.Record,
        action: Action,
        side: Side,
        late_fee_fen: int | None,
        damage_fen: int | None,
        reason: str | None,
    ) -> asyncpg.Record:
        order_id = row["id"]
        mode = Mode(row["mode"])
        # A concurrent move may win between reading and updating; read again and decide again
        # (it may have moved to another status this action also starts from, e.g. confirmed).
        for _ in range(3):
            rule = rule_for(mode, action, Status(row["status"]))
            fields = self._fields(row, action, side, late_fee_fen, damage_fen, reason)
            async with self.store.pool.acquire() as conn, conn.transaction():
                if action in _NEEDS_MONEY:
                    await self._payments.require_intact(conn, row["payment_id"])
                moved = await self.store.transition(
                    conn, order_id, row["status"], rule.target, self._clock.now(), fields
                )
                if moved is not None:
                    await self._listing_follows(conn, moved, action)
                    await self._coupons_follow(conn, moved)
                    await self._moved(conn, moved)
            if moved is not None:
                await self._after(moved, action)
                return moved
            current = await self.store.order(self.store.pool, order_id)
            assert current is not None
            row = current
        raise Conflict("the order keeps changing; try again", code="order_busy")

    def _fields(
        self,
        row: asyncpg.Record,
        action: Action,
        side: Side,
        late_fee_fen: int | None,
        damage_fen: int | None,
        reason: str | None,
    ) -> dict[str, Any]:
        now = self._clock.now()
        if action is Action.REJECT:
            return {"reject_reason": reason} if reason is not None else {}
        if action is Action.CANCEL:
            return {"cancelled_at": now, "cancel_reason": side.value}
        if action is Action.CONFIRM_RECEIPT:
            return {"completed_at": now}
        if action is Action.PICK_UP:
            # The rental starts now, not at payment: the renter pays for days they hold the item.
            return {"picked_up_at": now, "due_at": now + row["days"] * DAY}
        if action is Action.RETURN:
            return {"returned_at": now, "late_fee_fen": self.late_fee(row["due_at"], now)}
        if action is Action.COMPLETE:
            owed = row["late_fee_fen"] or 0
            late = owed if late_fee_fen is None else late_fee_fen
            damage = damage_fen or 0
            if late > owed:
                raise InvalidInput(
                    "the late fee is at most what the lateness costs",
                    code="invalid_late_fee",
                    details={"late_fee_fen": owed},
                )
            if late + damage > row["deposit_fen"]:
                raise Conflict(
                    "late fees and damages exceed the deposit held",
                    code="withheld_exceeds_deposit",
                    details={"deposit_fen": row["deposit_fen"]},
                )
            return {"completed_at": now, "late_fee_fen": late, "damage_fen": damage}
        return {}

    def late_fee(self, due_at: datetime, returned_at: datetime) -> int:
        """The configured fee for each started day after the due time."""
        late = returned_at - due_at
        if late <= timedelta(0):
            return 0
        days = -(-late // DAY)
        return days * self._settings.rental_late_fee_per_day_fen

    async def _listing_follows(self, conn: Conn, row: asyncpg.Record, action: Action) -> None:
        """A refunded order, and a finished rental, put the listing back on the market."""
        if action is Action.REJECT or (action is Action.COMPLETE and row["mode"] == Mode.RENTAL):
            await self._listings.store.set_status(
                conn, row["listing_id"], _TAKEN[Mode(row["mode"])], "active", self._clock.now()
            )

    async def _after(self, row: asyncpg.Record, action: Action) -> None:
        """The effects of a committed move. Each is keyed by the order, so a retry by the sweep
        after a crash here does it once."""
        if action is Action.REJECT:
            await self._refund(row)
        elif action is Action.COMPLETE and row["deposit_fen"] > 0:
            await self._release(row)
        await self._changed(row, _PUSHED.get(Status(row["status"])))

    async def _refund(self, row: asyncpg.Record) -> None:
        assert row["payment_id"] is not None
        await self._payments.refund(
            None, f"order:{row['id']}:refund", row["payment_id"], pay_fen(row), REFUND_REASON
        )
        if row["deposit_fen"] > 0:
            await self._payments.release_deposit(row["payment_id"], 0, REFUND_REASON)

    async def _release(self, row: asyncpg.Record) -> None:
        withheld = (row["late_fee_fen"] or 0) + (row["damage_fen"] or 0)
        await self._payments.release_deposit(
            row["payment_id"], withheld, f"rental ended; {withheld} fen withheld"
        )

    async def _changed(self, row: asyncpg.Record, merchant_event: str | None) -> None:
        """After every committed change of an order (each place that writes one calls this):
        tell its parties on ``/`` and, with ``merchant_event``, the merchant's online staff.

        Pushes are at most once and a lost one never fails the change: the apps read the order
        over REST again after a reconnect (docs/protocol.md, "Pushes to a user")."""
        if self._pusher is None:
            return
        # The parties who read the order as theirs (:meth:`sides`, ``mine``): the buyer, and the
        # seller of a resident's order; a merchant's order is its staff's, on /merchant.
        parties = {row["buyer_id"]}
        if row["merchant_id"] is None:
            parties.add(row["seller_id"])
        update = {
            "order_id": str(row["id"]),
            "status": row["status"],
            "updated_at": row["updated_at"].isoformat(),
        }
        for user_id in parties:
            try:
                await self._pusher.to_user(user_id, ORDER_UPDATED, update)
            except Exception:
                log.warning("orders.push_failed", order_id=str(row["id"]), exc_info=True)
        if merchant_event is not None and row["merchant_id"] is not None:
            try:
                await self._pusher.to_merchant(
                    row["merchant_id"], merchant_event, _push_payload(row)
                )
            except Exception:
                log.warning("orders.push_failed", order_id=str(row["id"]), exc_info=True)

    # --- the payment hook ------------------------------------------------------------------------

    async def _demand(self, conn: Conn, order_id: UUID) -> Demand | None:
        """What a payment for this order must be: the buyer's, to the payee, price and deposit —
        and the very payment the order created."""
        row = await self.store.order(conn, order_id)
        if row is None:
            return None
        return Demand(
            payer_id=row["buyer_id"],
            payee=Party(PartyKind(row["payee_kind"]), row["payee_id"]),
            amount_fen=pay_fen(row),
            deposit_fen=row["deposit_fen"],
            payment_id=row["payment_id"],
            platform_discount_fen=row["platform_discount_fen"],
        )

    async def _on_captured(
        self, conn: Conn, payment_id: UUID, order_id: UUID
    ) -> AfterCommit | Refuse | None:
        """In the capture's transaction (the payment already checked against :meth:`_demand`):
        the order is paid and its listing taken — or, if the order is no longer waiting for its
        money (cancelled, or paid already), the payment is refused and refunded."""
        now = self._clock.now()
        paid = await self.store.transition(
            conn, order_id, Status.CREATED, Status.PAID, now, {"paid_at": now}
        )
        if paid is None:
            row = await self.store.order(conn, order_id)
            status = row["status"] if row is not None else "gone"
            log.info("orders.capture_refused", order_id=str(order_id), status=status)
            return Refuse(f"order_{status}")
        await self._listings.store.set_status(
            conn, paid["listing_id"], "active", _TAKEN[Mode(paid["mode"])], now
        )
        if self._coupons is not None and paid["coupon_ids"]:
            await self._coupons.use(conn, REFERENCE_TYPE, order_id)
        await self._moved(conn, paid)

        async def tell() -> None:
            await self._changed(paid, ORDER_PAID)

        return tell

    # --- jobs ------------------------------------------------------------------------------------

    async def cancel_unpaid(self) -> int:
        """Cancel orders unpaid for LAGO_UNPAID_ORDER_TTL_S (job; a rerun finds none left)."""
        now = self._clock.now()
        rows = await self.store.cancel_unpaid(
            now - timedelta(seconds=self._settings.unpaid_order_ttl_s), now, self._coupons_follow
        )
        for row in rows:
            await self._changed(row, ORDER_CANCELLED)
        return len(rows)

    async def check_overdue(self) -> int:
        """Flag rentals past due and tell the renter and the merchant, once each (job)."""
        rows = await self.store.mark_overdue(self._clock.now())
        for row in rows:
            await self._changed(row, ORDER_OVERDUE)
            if self._pusher is not None:
                try:
                    await self._pusher.to_user(row["buyer_id"], ORDER_OVERDUE, _push_payload(row))
                except Exception:
                    log.warning("orders.push_failed", order_id=str(row["id"]), exc_info=True)
        return len(rows)

    async def sweep(self) -> dict[str, int]:
        """Finish money effects a crash left undone (job): refunds of refunded orders and of
        payments captured after their order was cancelled, and deposits still held."""
        refunds = await self.store.refunds_owed()
        for row in refunds:
            await self._payments.refund(
                None,
                f"order:{row['id']}:refund",
                row["payment_id"],
                pay_fen(row),
                REFUND_REASON,
            )
        deposits = await self.store.deposits_to_release()
        for row in deposits:
            if row["status"] == Status.COMPLETED:
                await self._release(row)
            else:
                await self._payments.release_deposit(row["payment_id"], 0, REFUND_REASON)
        return {"refunds": len(refunds), "deposits": len(deposits)}

    # --- ratings and reputation ------------------------------------------------------------------

    async def rate(
        self, actor: Principal, order_id: UUID, score: int, comment: str
    ) -> asyncpg.Record:
        """Each party of a completed order rates the other once (1–5)."""
        row = await self._readable(actor, order_id)
        if row["status"] != Status.COMPLETED:
            raise Conflict("rate once the order is completed", code="not_completed")
        if row["buyer_id"] == actor.user_id:
            ratee = row["seller_id"]
        elif row["seller_id"] == actor.user_id:
            ratee = row["buyer_id"]
        else:
            raise Forbidden("only the buyer and the seller rate each other")

        async def also(conn: Conn, rating: asyncpg.Record) -> None:
            for hook in self._rating_hooks:
                await hook(conn, row, rating)

        rating = await self.store.rate(
            order_id, actor.user_id, ratee, score, comment, self._clock.now(), also
        )
        if rating is None:
            raise Conflict("you have rated this order", code="already_rated")
        if row["merchant_id"] is not None and rating["rater_id"] == row["buyer_id"]:
            await self._push_review(row, rating)
        return rating

    async def _push_review(self, row: asyncpg.Record, rating: asyncpg.Record) -> None:
        """The buyer's review of a merchant's order, to its staff on /merchant (at most once)."""
        if self._pusher is None:
            return
        review = {
            "order_id": str(row["id"]),
            "merchant_id": str(row["merchant_id"]),
            "title": row["title"],
            "score": rating["score"],
            "comment": rating["comment"],
            "created_at": rating["created_at"].isoformat(),
        }
        try:
            await self._pusher.to_merchant(row["merchant_id"], REVIEW_NEW, review)
        except Exception:
            log.warning("orders.push_failed", order_id=str(row["id"]), exc_info=True)

    async def ratings(self, actor: Principal, order_id: UUID) -> list[asyncpg.Record]:
        await self._readable(actor, order_id)
        return await self.store.ratings_of(order_id)

    async def reputation(self, user_id: UUID) -> Reputation:
        if not await self._payments.store.user_exists(user_id):
            raise NotFound("user not found")
        row = await self.store.reputation(user_id)
        if row is None or row["rating_count"] == 0:
            return Reputation(user_id, 0, None)
        return Reputation(
            user_id, row["rating_count"], round(row["rating_sum"] / row["rating_count"], 2)
        )


def pay_fen(row: asyncpg.Record) -> int:
    """What the buyer pays for an order's price: the price less its coupons' discounts."""
    return int(row["price_fen"] - row["discount_fen"])


def _purchase(listing: asyncpg.Record, price_fen: int) -> Purchase:
    """The purchase as coupons see it. A consignment's price is paid to the item's owner, not
    to the merchant running the sale, so no merchant's coupon applies to it (the owner would
    bear the merchant's promotion); platform coupons do."""
    merchant_id = None if listing["kind"] == "consignment" else listing["merchant_id"]
    return Purchase(price_fen, listing["category"], listing["id"], merchant_id)


def _push_payload(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "order_id": str(row["id"]),
        # A person may run several merchants over one /merchant connection: say whose order.
        "merchant_id": str(row["merchant_id"]) if row["merchant_id"] is not None else None,
        "mode": row["mode"],
        "status": row["status"],
        "listing_id": str(row["listing_id"]),
        "title": row["title"],
        "price_fen": row["price_fen"],
        "deposit_fen": row["deposit_fen"],
    }
