"""Group buys (拼团): campaigns, seat payments, the outcome of a group, orders for the merchant.

Who gets a seat is decided by the community's channel actor (``lago_rt/channel/groupbuys.py``),
which writes seats through fenced transactions; everything that money touches is here:

- a seat is paid by a payment whose capture runs :meth:`GroupBuyService._on_captured` in the
  capture's own transaction (seat paid; the group succeeds when paid seats reach the minimum, and
  every paid seat of a successful group gets an order);
- a capture that cannot take a seat (the payment is not the seat holder's, not to the merchant or
  not the group price — checked by the payments service against :meth:`GroupBuyService._demand` —
  or the seat was released, the group ended, the seat was already paid by another payment) is
  refunded in full by the payments service, in the capture's transaction;
- at expiry (an arq job deferred to ``expires_at``, the channel actor's tick and a sweep cron all
  call :meth:`expire`, which acts once under a row lock) a group short of its minimum fails and
  every paid member is refunded.

Refunds owed are recorded in the same transaction as the decision and requested after it
commits, with an idempotency key per payment, so a crash in between is healed by :meth:`sweep`.

The merchant works its orders (paid → confirmed → completed); every order created or moved runs
the :meth:`GroupBuyService.on_order_moved` hooks in the same transaction (settlement keeps the
merchant's dashboard with them); the settlement job pays completed orders out at T+7, as it does
listing orders.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import redis.asyncio as aioredis

from lago_core.actor_keys import CHANNEL_KIND, tell_actor
from lago_core.actor_messages import GROUPBUY_SYNC
from lago_core.clock import Clock
from lago_core.communities import CommunityService
from lago_core.coupons import CouponService, Purchase, Quote
from lago_core.errors import Conflict, Forbidden, InvalidInput, NotFound
from lago_core.groupbuys.store import GroupBuyStore
from lago_core.idempotency import check_key
from lago_core.jobs import EXPIRE_GROUP_BUY, JobQueue
from lago_core.ledger import Party, PartyKind
from lago_core.ledger.store import Conn
from lago_core.logging import get_logger
from lago_core.merchants import MerchantService
from lago_core.payments import Demand, PaymentService, PaymentSpec, PaymentView, Refuse
from lago_core.payments.service import AfterCommit
from lago_core.push import Pusher
from lago_core.push_events import GROUPBUY_ORDER
from lago_core.security.roles import Principal
from lago_core.settings import Settings

__all__ = ["REFERENCE_TYPE", "CampaignSpec", "GroupBuyService", "OrderHook"]

log = get_logger(__name__)

REFERENCE_TYPE = "group_buy_seat"
# Coupons spent on a seat are held by the seat (two tabs may each pay it; one is kept).
COUPON_HOLDER = "group_buy_seat"

# Called inside the transaction that created or moved a group-buy order, with its row.
OrderHook = Callable[[Conn, asyncpg.Record], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class CampaignSpec:
    merchant_id: UUID
    title: str
    group_price_fen: int
    original_price_fen: int
    min_members: int
    max_members: int
    community_ids: list[UUID]
    description: str = ""
    listing_id: UUID | None = None
    item_id: UUID | None = None
    valid_hours: int = 24
    per_user_limit: int = 1
    stock: int | None = None
    payment_window_s: int | None = None
    auto_fill: bool = False


class GroupBuyService:
    def __init__(
        self,
        store: GroupBuyStore,
        merchants: MerchantService,
        communities: CommunityService,
        payments: PaymentService,
        jobs: JobQueue,
        pusher: Pusher,
        redis: aioredis.Redis,
        settings: Settings,
        clock: Clock,
        coupons: CouponService | None = None,
    ) -> None:
        self.store = store
        # Coupons spent on seats (issue 18); None: seats take no coupons.
        self._coupons = coupons
        self._merchants = merchants
        self._communities = communities
        self._payments = payments
        self._jobs = jobs
        self._pusher = pusher
        self._redis = redis
        self._settings = settings
        self._clock = clock
        self._order_hooks: list[OrderHook] = []
        payments.register_reference(
            REFERENCE_TYPE, demand=self._demand, on_capture=self._on_captured
        )

    def on_order_moved(self, hook: OrderHook) -> None:
        """Run ``hook`` in the transaction that creates (status ``paid``) or moves an order."""
        self._order_hooks.append(hook)

    async def _orders_moved(self, conn: Conn, orders: list[asyncpg.Record]) -> None:
        for order in orders:
            for hook in self._order_hooks:
                await hook(conn, order)

    async def _create_orders(
        self, conn: Conn, group: asyncpg.Record, now: datetime
    ) -> list[asyncpg.Record]:
        orders = await self.store.create_orders(conn, group, now)
        await self._orders_moved(conn, orders)
        return orders

    # --- campaigns -------------------------------------------------------------------------------

    async def create_campaign(self, actor: Principal, spec: CampaignSpec) -> asyncpg.Record:
        """A merchant's owner or staff (organiser ``merchant``) or a platform admin (``platform``)
        offers a group price in chosen communities."""
        if actor.is_admin:
            organiser = "platform"
            await self._merchants.get(spec.merchant_id)
        else:
            await self._merchants.require_member(actor, spec.merchant_id)
            organiser = "merchant"
        if not await self._merchants.is_approved(spec.merchant_id):
            raise Conflict("the merchant is not approved yet", code="merchant_not_approved")
        await self._check_goods(spec)
        communities = sorted(set(spec.community_ids))
        if not communities:
            raise InvalidInput("offer the campaign in at least one community", code="no_community")
        served = set(await self._merchants.communities(spec.merchant_id))
        for community_id in communities:
            await self._communities.get(community_id)
            if organiser == "merchant" and community_id not in served:
                raise Forbidden(
                    "the merchant does not serve that community",
                    code="community_not_served",
                    details={"community_id": str(community_id)},
                )
        window = spec.payment_window_s or self._settings.groupbuy_payment_window_s
        if window >= spec.valid_hours * 3600:
            raise InvalidInput(
                "the payment window must be shorter than the group's validity",
                code="invalid_payment_window",
            )
        now = self._clock.now()
        fields: dict[str, Any] = {
            "id": uuid4(),
            "merchant_id": spec.merchant_id,
            "organiser": organiser,
            "created_by": actor.user_id,
            "title": spec.title,
            "description": spec.description,
            "listing_id": spec.listing_id,
            "item_id": spec.item_id,
            "group_price_fen": spec.group_price_fen,
            "original_price_fen": spec.original_price_fen,
            "min_members": spec.min_members,
            "max_members": spec.max_members,
            "valid_hours": spec.valid_hours,
            "per_user_limit": spec.per_user_limit,
            "stock": spec.stock,
            "payment_window_s": window,
            "auto_fill": spec.auto_fill,
            "created_at": now,
            "updated_at": now,
        }
        async with self.store.pool.acquire() as conn, conn.transaction():
            return await self.store.insert_campaign(conn, fields, communities)

    async def _check_goods(self, spec: CampaignSpec) -> None:
        if (spec.listing_id is None) == (spec.item_id is None):
            raise InvalidInput(
                "name either a listing or a catalogue item", code="invalid_campaign_goods"
            )
        if not 0 < spec.group_price_fen < spec.original_price_fen:
            raise InvalidInput(
                "the group price is positive and below the original price", code="invalid_amount"
            )
        if not 2 <= spec.min_members <= spec.max_members <= 100:
            raise InvalidInput("members: 2 ≤ minimum ≤ maximum ≤ 100", code="invalid_group_size")
        if spec.listing_id is not None:
            row = await self.store.pool.fetchrow(
                "SELECT merchant_id, status FROM listings WHERE id = $1", spec.listing_id
            )
            if row is None or row["merchant_id"] != spec.merchant_id:
                raise NotFound("the merchant has no such listing", code="listing_not_found")
            if row["status"] != "active":
                raise Conflict("the listing is not active", code="listing_not_active")
        else:
            assert spec.item_id is not None
            item = await self._merchants.item(spec.item_id)
            if item["merchant_id"] != spec.merchant_id or not item["active"]:
                raise NotFound("the merchant has no such active item", code="item_not_found")

    async def campaign(self, campaign_id: UUID) -> asyncpg.Record:
        row = await self.store.campaign(None, campaign_id)
        if row is None:
            raise NotFound("campaign not found")
        return row

    async def readable_campaign(
        self, actor: Principal, campaign_id: UUID
    ) -> tuple[asyncpg.Record, list[UUID]]:
        """A campaign and its communities, for the merchant's people, admins, customer service
        and members or staff of a community it is offered in (others: not found)."""
        row = await self.campaign(campaign_id)
        communities = await self.store.campaign_communities(campaign_id)
        if actor.is_admin or actor.is_customer_service:
            return row, communities
        if await self._merchants.role_of(actor.user_id, row["merchant_id"]) is not None:
            return row, communities
        for community_id in communities:
            try:
                await self.require_reader(actor, community_id)
            except Forbidden:
                continue
            return row, communities
        raise NotFound("campaign not found")

    async def campaigns_in(
        self, actor: Principal, community_id: UUID, after: tuple[Any, ...] | None, limit: int
    ) -> list[asyncpg.Record]:
        await self.require_reader(actor, community_id)
        return await self.store.campaigns_in(community_id, self._clock.now(), after, limit)

    async def campaigns_of(self, actor: Principal, merchant_id: UUID) -> list[asyncpg.Record]:
        if not actor.is_admin:
            await self._merchants.require_member(actor, merchant_id)
        return await self.store.campaigns_of(merchant_id)

    async def end_campaign(self, actor: Principal, campaign_id: UUID) -> asyncpg.Record:
        """No new groups; groups already formed run to their end."""
        row = await self.campaign(campaign_id)
        if not actor.is_admin:
            await self._merchants.require_member(actor, row["merchant_id"])
        ended = await self.store.end_campaign(campaign_id, self._clock.now())
        assert ended is not None
        return ended

    async def require_reader(self, actor: Principal, community_id: UUID) -> None:
        if actor.is_admin or actor.is_customer_service:
            return
        if await self._communities.is_verified_member(actor.user_id, community_id):
            return
        if await self._communities.is_staff(actor, community_id):
            return
        raise Forbidden("only members of this community see its group buys", code="not_a_member")

    # --- groups (reading) ------------------------------------------------------------------------

    async def groups_in(
        self, actor: Principal, community_id: UUID, after: tuple[Any, ...] | None, limit: int
    ) -> list[asyncpg.Record]:
        await self.require_reader(actor, community_id)
        return await self.store.groups_in(community_id, after, limit)

    async def group(self, actor: Principal, group_id: UUID) -> tuple[asyncpg.Record, list[Any]]:
        row = await self.store.group(None, group_id)
        if row is None:
            raise NotFound("group not found")
        await self.require_reader(actor, row["community_id"])
        return row, await self.store.seats_of_group(group_id)

    async def schedule_expiry(self, group_id: UUID, expires_at: Any) -> None:
        """Queue the expiry job for the group's end (called by the actor after it commits)."""
        await self._jobs.enqueue(
            EXPIRE_GROUP_BUY,
            str(group_id),
            job_id=f"groupbuy-expire:{group_id}",
            defer_until=expires_at,
        )

    # --- paying for a seat -----------------------------------------------------------------------

    async def quote_seat(self, actor: Principal, group_id: UUID) -> Quote:
        """What a seat of this group costs before coupons (checkout preview): the group price,
        the scope keys of the campaign's goods (a catalogue item has no category)."""
        await self.group(actor, group_id)  # members and staff of its community; others 404
        group = await self.store.group(None, group_id)
        assert group is not None
        return Quote(await self._purchase(group))

    async def _purchase(self, group: asyncpg.Record) -> Purchase:
        listing_id, category = await self.store.goods_scope(group["campaign_id"])
        return Purchase(group["group_price_fen"], category, listing_id, group["merchant_id"])

    async def pay(
        self, actor: Principal, group_id: UUID, key: str, coupon_ids: Sequence[UUID] = ()
    ) -> PaymentView:
        """A payment for the caller's reserved seat, once per idempotency key.

        ``coupon_ids`` are locked to the seat (replacing coupons an earlier payment request
        locked to it): the seat's price is the group price less the coupons it holds, so a
        payment made in another tab with other coupons no longer fits and is refunded at
        capture (docs/groupbuys.md, "Paying")."""
        group = await self.store.group(None, group_id)
        if group is None:
            raise NotFound("group not found")
        seat = await self.store.my_active_seat(group_id, actor.user_id)
        if seat is None:
            raise NotFound("you hold no seat in this group", code="no_seat")
        if seat["status"] == "paid":
            raise Conflict("your seat is already paid", code="already_paid")
        if group["status"] not in ("open", "succeeded"):
            raise Conflict("this group has ended", code="group_ended")
        check_key(key)
        coupons = self._coupons
        if coupon_ids and coupons is None:
            raise Conflict("coupons are not taken here", code="coupon_not_usable")
        discount = platform_discount = merchant_discount = 0
        if coupons is not None:
            priced = await coupons.price(
                None, actor.user_id, await self._purchase(group), list(coupon_ids)
            )
            async with self.store.pool.acquire() as conn, conn.transaction():
                locked = await self.store.lock_seat(conn, seat["id"])
                if locked is None or locked["status"] != "reserved":
                    raise Conflict("your seat is no longer reserved", code="seat_not_reserved")
                await coupons.release(conn, COUPON_HOLDER, seat["id"])
                await coupons.hold(conn, actor.user_id, priced, COUPON_HOLDER, seat["id"])
            discount = priced.discount_fen
            platform_discount = priced.platform_discount_fen
            merchant_discount = priced.merchant_discount_fen
        # The client's key, scoped to the seat (the same key may pay another group's seat) and
        # hashed so the scoped key stays within the key length limit.
        scoped = f"groupbuy-seat:{seat['id'].hex}:{hashlib.sha256(key.encode()).hexdigest()[:40]}"
        view = await self._payments.create(
            actor,
            scoped,
            PaymentSpec(
                reference_type=REFERENCE_TYPE,
                reference_id=seat["id"],
                amount_fen=group["group_price_fen"] - discount,
                payee=Party(PartyKind.MERCHANT, group["merchant_id"]),
                description=f"拼团 {group['title']}",
                community_id=group["community_id"],
                platform_discount_fen=platform_discount,
                merchant_discount_fen=merchant_discount,
            ),
        )
        async with self.store.pool.acquire() as conn:
            await self.store.insert_payment_link(conn, view.id, seat["id"], self._clock.now())
        return view

    async def _demand(self, conn: Conn, seat_id: UUID) -> Demand | None:
        """What a payment for this seat must be: its holder's, to the campaign's merchant, the
        group price less the coupons the seat holds. Any such payment will do (two tabs may pay
        one seat; one of them is kept)."""
        seat = await self.store.seat(conn, seat_id)
        group = await self.store.group(conn, seat["group_id"]) if seat is not None else None
        if seat is None or group is None:
            return None
        platform = merchant = 0
        if self._coupons is not None:
            held = await self._coupons.held(conn, COUPON_HOLDER, seat_id)
            platform, merchant = held.platform_discount_fen, held.merchant_discount_fen
        return Demand(
            payer_id=seat["user_id"],
            payee=Party(PartyKind.MERCHANT, group["merchant_id"]),
            amount_fen=group["group_price_fen"] - platform - merchant,
            platform_discount_fen=platform,
        )

    async def _on_captured(
        self, conn: Conn, payment_id: UUID, seat_id: UUID
    ) -> AfterCommit | Refuse | None:
        """In the capture's transaction (the payment already checked against :meth:`_demand`):
        take the seat — or refuse the money (it is refunded) when the seat cannot take it."""
        now = self._clock.now()
        first = await self.store.seat(conn, seat_id)
        assert first is not None  # the demand found it
        group = await self.store.lock_group(conn, first["group_id"])
        seat = await self.store.lock_seat(conn, seat_id)
        assert group is not None
        assert seat is not None
        orders: list[asyncpg.Record] = []
        if seat["status"] == "paid":
            return Refuse("seat_already_paid")
        if seat["status"] != "reserved":
            return Refuse(f"seat_{seat['status']}")
        if group["status"] not in ("open", "succeeded"):
            return Refuse(f"group_{group['status']}")
        if self._coupons is not None:
            # Asked again under the seat's lock: a pay request in another tab may have changed
            # the seat's coupons since the demand was read (its transaction locks the seat too).
            held = await self._coupons.held(conn, COUPON_HOLDER, seat_id)
            paid = await self.store.payment_amounts(conn, payment_id)
            if paid != (group["group_price_fen"] - held.discount_fen, held.platform_discount_fen):
                return Refuse("wrong_amount")
        await self.store.insert_payment_link(conn, payment_id, seat_id, now)
        await self.store.mark_paid(conn, seat_id, payment_id, now)
        if self._coupons is not None:
            await self._coupons.use(conn, COUPON_HOLDER, seat_id)
        if group["status"] == "open":
            if await self.store.paid_count(conn, group["id"]) >= group["min_members"]:
                await self.store.set_group_status(conn, group["id"], "succeeded", now)
                orders = await self._create_orders(conn, group, now)
        else:
            orders = await self._create_orders(conn, group, now)

        async def after() -> None:
            await self._after(group, orders, [])

        return after

    # --- expiry ----------------------------------------------------------------------------------

    async def expire(self, group_id: UUID) -> str:
        """End a group whose time is up (job, actor tick, sweep; safe to repeat)."""
        now = self._clock.now()
        owed: list[tuple[UUID, int]] = []
        orders: list[asyncpg.Record] = []
        async with self.store.pool.acquire() as conn, conn.transaction():
            group = await self.store.lock_group(conn, group_id)
            if group is None:
                return "unknown_group"
            if group["status"] not in ("open", "succeeded"):
                return "already_ended"
            if now < group["expires_at"]:
                return "not_due"
            status = group["status"]
            if status == "open":
                paid = await self.store.paid_count(conn, group_id)
                if paid >= group["min_members"] or (group["auto_fill"] and paid >= 1):
                    await self.store.set_group_status(conn, group_id, "succeeded", now)
                    orders = await self._create_orders(conn, group, now)
                    outcome = "closed"
                else:
                    outcome = "failed"
            else:
                outcome = "closed"
            released, refunded = await self.store.end_seats(
                conn, group_id, now, refund_paid=outcome == "failed"
            )
            await self.store.set_group_status(conn, group_id, outcome, now)
            await self._coupons_back(conn, released, refunded)
            for seat in refunded:
                await self.store.owe_refund(conn, seat["payment_id"], "the group failed", now)
                owed.append(
                    (seat["payment_id"], await self.store.payment_amount(conn, seat["payment_id"]))
                )
            await self.store.return_stock(conn, group["campaign_id"], len(released) + len(refunded))
        log.info("groupbuys.expired", group_id=str(group_id), outcome=outcome, refunds=len(owed))
        await self._after(group, orders, owed)
        return outcome

    async def _coupons_back(
        self, conn: Conn, released: Sequence[asyncpg.Record], refunded: Sequence[asyncpg.Record]
    ) -> None:
        """In the decision's transaction: released seats give their locked coupons back, seats
        refunded in whole their used ones (docs/money.md, "Coupons and discounts")."""
        if self._coupons is None:
            return
        for seat in released:
            await self._coupons.release(conn, COUPON_HOLDER, seat["id"])
        for seat in refunded:
            await self._coupons.give_back(conn, COUPON_HOLDER, seat["id"])

    async def sweep(self) -> dict[str, int]:
        """Expire groups whose jobs were lost and request refunds a crash left owed (cron)."""
        expired = 0
        for group_id in await self.store.due_groups(self._clock.now()):
            if await self.expire(group_id) in ("failed", "closed"):
                expired += 1
        owed = await self.store.refunds_owed()
        for row in owed:
            await self.refund(row["payment_id"], row["amount_fen"], row["refund_reason"] or "")
        return {"expired": expired, "refunds": len(owed)}

    async def refund(self, payment_id: UUID, amount_fen: int, reason: str) -> None:
        """Refund a seat payment in full, once (the key names the payment)."""
        await self._payments.refund(
            None, f"groupbuy-payment:{payment_id}:refund", payment_id, amount_fen, reason
        )
        await self.store.refund_requested(payment_id, self._clock.now())

    # --- after a decision commits ----------------------------------------------------------------

    async def _after(
        self, group: asyncpg.Record, orders: list[asyncpg.Record], owed: list[tuple[UUID, int]]
    ) -> None:
        for payment_id, amount in owed:
            try:
                await self.refund(payment_id, amount, "group buy")
            except Exception:
                # Recorded as owed in the decision's transaction: the sweep requests it again.
                log.warning("groupbuys.refund_deferred", payment_id=str(payment_id), exc_info=True)
        for order in orders:
            payload = order_payload(order)
            try:
                await self._pusher.to_merchant(order["merchant_id"], GROUPBUY_ORDER, payload)
                await self._pusher.to_user(order["buyer_id"], GROUPBUY_ORDER, payload)
            except Exception:
                log.warning("groupbuys.push_failed", order_id=str(order["id"]), exc_info=True)
        await self.tell_channel(group["community_id"], group["id"])

    async def tell_channel(self, community_id: UUID, group_id: UUID) -> None:
        """Wake the community's channel actor to reload the group (best effort; it also
        reconciles on its ticks)."""
        try:
            await tell_actor(
                self._redis,
                self._settings.redis_prefix,
                CHANNEL_KIND,
                str(community_id),
                GROUPBUY_SYNC,
                {"group_id": str(group_id)},
            )
        except Exception:
            log.warning("groupbuys.tell_failed", group_id=str(group_id), exc_info=True)

    # --- the merchant's orders -------------------------------------------------------------------

    async def merchant_orders(
        self,
        actor: Principal,
        merchant_id: UUID,
        after: tuple[Any, ...] | None,
        limit: int,
        status: str | None = None,
    ) -> list[asyncpg.Record]:
        if not actor.is_admin:
            await self._merchants.require_member(actor, merchant_id)
        return await self.store.orders_of_merchant(merchant_id, after, limit, status)

    async def advance_order(self, actor: Principal, order_id: UUID, step: str) -> asyncpg.Record:
        """``confirm`` (paid → confirmed) or ``complete`` (confirmed → completed), by the
        merchant's owner or staff."""
        row = await self.store.order(order_id)
        if row is None:
            raise NotFound("order not found")
        await self._merchants.require_member(actor, row["merchant_id"])
        moves = {"confirm": ("paid", "confirmed"), "complete": ("confirmed", "completed")}
        source, target = moves[step]
        async with self.store.pool.acquire() as conn, conn.transaction():
            # The order's money must still be there: it goes back only by refunding the order.
            await self._payments.require_intact(conn, row["payment_id"])
            moved = await self.store.advance_order(
                conn, order_id, source, target, self._clock.now()
            )
            if moved is not None:
                await self._orders_moved(conn, [moved])
        if moved is None:
            raise Conflict(
                f"a {row['status']} order cannot be {target}",
                code="invalid_transition",
                details={"status": row["status"]},
            )
        return moved

    async def refund_order(self, actor: Principal, order_id: UUID, reason: str) -> asyncpg.Record:
        """Refund an order the merchant cannot deliver, in full, before it is completed: by the
        merchant's owner or staff, platform admins and customer service.

        The seat ends (``refunded``) and its stock unit returns, as when a paid member leaves
        before success; the group keeps its outcome. Sent again, it answers with the refunded
        order and refunds nothing more: the refund's key names the payment, as every group-buy
        refund's does, so a payment is refunded once whatever path asks.
        """
        reason = reason.strip()
        if not 1 <= len(reason) <= 200:
            raise InvalidInput("a reason of 1 to 200 characters", code="invalid_reason")
        row = await self.store.order(order_id)
        if row is None:
            raise NotFound("order not found")
        if not (actor.is_admin or actor.is_customer_service):
            await self._merchants.require_member(actor, row["merchant_id"])
        now = self._clock.now()
        async with self.store.pool.acquire() as conn, conn.transaction():
            # Lock order: the group, then its order, then the seat, then the campaign.
            group = await self.store.lock_group(conn, row["group_id"])
            order = await self.store.lock_order(conn, order_id)
            assert group is not None
            assert order is not None
            if order["status"] == "refunded":
                return order
            if order["status"] not in ("paid", "confirmed"):
                raise Conflict(
                    f"a {order['status']} order cannot be refunded",
                    code="invalid_transition",
                    details={"status": order["status"]},
                )
            refunded = await self.store.mark_order_refunded(conn, order_id, reason, now)
            seat = await self.store.refund_seat(conn, order["seat_id"], now)
            if seat is not None:
                await self.store.return_stock(conn, order["campaign_id"], 1)
                await self._coupons_back(conn, [], [seat])
            await self.store.owe_refund(conn, order["payment_id"], reason, now)
            await self._orders_moved(conn, [refunded])
            amount = await self.store.payment_amount(conn, order["payment_id"])
        log.info("groupbuys.order_refunded", order_id=str(order_id), by=str(actor.user_id))
        await self._after(group, [refunded], [(order["payment_id"], amount)])
        return refunded

    async def orders_of_buyer(self, actor: Principal) -> list[asyncpg.Record]:
        return await self.store.orders_of_buyer(actor.user_id)

    async def state(self, actor: Principal, group_id: UUID | None) -> dict[str, Any] | None:
        """The caller's own seat in a group (the latest one if no id), for customer service:
        figures and states straight from the database, with a sentence that states them."""
        row = await self.store.my_latest_seat(actor.user_id, group_id)
        if row is None:
            line = "您没有参加这个团购。" if group_id else "您目前没有参加任何团购。"
            return {"found": False, "line": line}
        china = timedelta(hours=8)
        seat = (
            "已付款"
            if row["seat_status"] == "paid"
            else f"待付款（请在 {(row['reserved_until'] + china):%m-%d %H:%M} 前支付）"
            if row["seat_status"] == "reserved"
            else {"released": "未付款已释放", "refunded": "已退款"}[row["seat_status"]]
        )
        line = (
            f"「{row['title']}」{_STATUS_CN[row['status']]}：{row['members']}/{row['max_members']} "
            f"人，成团需 {row['min_members']} 人，已付款 {row['paid']} 人；您的座位"
            f" {row['seat_no']} 号{seat}；团购价 {_yuan(row['group_price_fen'])}；"
            f"截止 {(row['expires_at'] + china):%m-%d %H:%M}（北京时间）。"
        )
        return {
            "found": True,
            "group_id": str(row["group_id"]),
            "status": row["status"],
            "members": row["members"],
            "paid": row["paid"],
            "min_members": row["min_members"],
            "max_members": row["max_members"],
            "seat_status": row["seat_status"],
            "group_price_fen": row["group_price_fen"],
            "expires_at": row["expires_at"].isoformat(),
            "line": line,
        }


_STATUS_CN = {
    "open": "拼团中",
    "succeeded": "已成团",
    "failed": "未成团（已退款）",
    "cancelled": "已取消",
    "closed": "已结束",
}


def _yuan(fen: int) -> str:
    return f"¥{fen // 100}.{fen % 100:02d}"


def order_payload(order: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": str(order["id"]),
        "group_id": str(order["group_id"]),
        "campaign_id": str(order["campaign_id"]),
        "merchant_id": str(order["merchant_id"]),
        "buyer_id": str(order["buyer_id"]),
        "price_fen": order["price_fen"],
        "status": order["status"],
        "created_at": order["created_at"].isoformat(),
        "refund_reason": order.get("refund_reason"),
    }
