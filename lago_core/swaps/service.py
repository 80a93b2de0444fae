"""Swaps (置换): one resident's listing for a neighbour's, with an optional agreed difference.

The moves are the table below; each is ``UPDATE ... WHERE status = <expected>``, so of two
concurrent moves one wins and the other is refused. Acceptance holds both listings (a row each in
``swap_holds``) after locking their rows the way an order's insert does (sql/032_swaps.sql), so a
listing is never in an open order and an accepted swap, nor in two accepted swaps. A difference is
a payment through the provider like an order's: captured into the receiver's payable, paid out by
T+7 settlement once the swap completes, refunded if it is cancelled. docs/swaps.md.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from lago_core.clock import Clock
from lago_core.errors import Conflict, Forbidden, InvalidInput, NotFound
from lago_core.idempotency import check_key
from lago_core.ledger import Party, PartyKind
from lago_core.ledger.store import Conn
from lago_core.listings import ListingService
from lago_core.logging import get_logger
from lago_core.metrics import PUSH_FAILURES
from lago_core.payments import AfterCommit, Demand, PaymentService, PaymentSpec, PaymentView, Refuse
from lago_core.push import Pusher
from lago_core.push_events import SWAP_UPDATED
from lago_core.ratelimit import RateLimiter
from lago_core.security.roles import Principal
from lago_core.settings import Settings
from lago_core.swaps.store import SwapStore

__all__ = ["RatingHook", "Side", "Status", "SwapService"]

log = get_logger(__name__)

REFERENCE_TYPE = "swap"
# One reason for every refund of a difference: it is part of the refund's idempotency parameters,
# so the cancel path and the sweep send the same one.
REFUND_REASON = "swap cancelled"
OFFER_LIMIT = "20/minute"
MAX_DIFFERENCE_FEN = 100_000_000


class Status(enum.StrEnum):
    OFFERED = "offered"
    ACCEPTED = "accepted"
    PAID = "paid"  # the difference is captured; the hand-over is next
    COMPLETED = "completed"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class Side(enum.StrEnum):
    OWNER = "owner"  # owns the listing asked for
    PROPOSER = "proposer"  # offered their own listing for it
    SYSTEM = "system"  # the payment hook and the expiry job


@dataclass(frozen=True, slots=True)
class Rule:
    sources: frozenset[Status]
    target: Status
    by: frozenset[Side]


def _rule(sources: set[Status], target: Status, *by: Side) -> Rule:
    return Rule(frozenset(sources), target, frozenset(by))


# Every move of a swap (docs/swaps.md renders the same table). ``confirm`` records one side's
# hand-over; the second confirmation completes the swap in the same transaction.
TRANSITIONS: dict[str, Rule] = {
    "accept": _rule({Status.OFFERED}, Status.ACCEPTED, Side.OWNER),
    "decline": _rule({Status.OFFERED}, Status.DECLINED, Side.OWNER),
    "withdraw": _rule({Status.OFFERED}, Status.WITHDRAWN, Side.PROPOSER),
    "expire": _rule({Status.OFFERED}, Status.EXPIRED, Side.SYSTEM),
    "pay": _rule({Status.ACCEPTED}, Status.PAID, Side.SYSTEM),
    "confirm": _rule({Status.ACCEPTED, Status.PAID}, Status.COMPLETED, Side.OWNER, Side.PROPOSER),
    "cancel": _rule(
        {Status.ACCEPTED, Status.PAID}, Status.CANCELLED, Side.OWNER, Side.PROPOSER, Side.SYSTEM
    ),
}

# Called inside a rating's transaction with the swap and the new rating (points for rating).
RatingHook = Callable[[Conn, asyncpg.Record, asyncpg.Record], Awaitable[None]]


def _invalid(action: str, current: str) -> Conflict:
    rule = TRANSITIONS[action]
    return Conflict(
        f"a swap cannot {action} from {current}",
        code="invalid_transition",
        details={"from": current, "to": rule.target.value, "action": action},
    )


class SwapService:
    def __init__(
        self,
        store: SwapStore,
        listings: ListingService,
        payments: PaymentService,
        pusher: Pusher | None,
        limiter: RateLimiter,
        settings: Settings,
        clock: Clock,
    ) -> None:
        self.store = store
        self._listings = listings
        self._payments = payments
        self._pusher = pusher
        self._limiter = limiter
        self._settings = settings
        self._clock = clock
        self._rating_hooks: list[RatingHook] = []
        payments.register_reference(
            REFERENCE_TYPE, demand=self._demand, on_capture=self._on_captured
        )

    def on_rating(self, hook: RatingHook) -> None:
        """Run ``hook`` in the transaction of every rating, with the swap and the rating."""
        self._rating_hooks.append(hook)

    # --- permissions -----------------------------------------------------------------------------

    @staticmethod
    def side_of(actor: Principal, row: asyncpg.Record) -> Side | None:
        if row["owner_id"] == actor.user_id:
            return Side.OWNER
        if row["proposer_id"] == actor.user_id:
            return Side.PROPOSER
        return None

    async def _readable(self, actor: Principal, swap_id: UUID) -> asyncpg.Record:
        """The swap, for its two parties, admins and customer service; others: not found."""
        row = await self.store.swap(self.store.pool, swap_id)
        if row is None or not (
            actor.is_admin or actor.is_customer_service or self.side_of(actor, row) is not None
        ):
            raise NotFound("swap not found")
        return row

    async def _party(self, actor: Principal, swap_id: UUID, action: str) -> tuple[Any, Side]:
        row = await self._readable(actor, swap_id)
        side = self.side_of(actor, row)
        if side is None or side not in TRANSITIONS[action].by:
            raise Forbidden(f"your side of this swap may not {action} it")
        return row, side

    # --- the listing flag ------------------------------------------------------------------------

    async def set_swap_ok(self, actor: Principal, listing_id: UUID, swap_ok: bool) -> bool:
        """Open (or close) the caller's own resident sale listing to swap offers."""
        listing = await self._listings.editable(actor, listing_id)
        _swappable(listing)
        row = await self.store.set_swap_ok(listing_id, swap_ok, self._clock.now())
        assert row is not None
        return bool(row["swap_ok"])

    # --- offering --------------------------------------------------------------------------------

    async def offer(
        self,
        actor: Principal,
        listing_id: UUID,
        offered_listing_id: UUID,
        difference_fen: int,
        difference_payer: Side | None,
        message: str,
    ) -> asyncpg.Record:
        """Offer one of the caller's own listings for a neighbour's listing open to swaps."""
        if not 0 <= difference_fen <= MAX_DIFFERENCE_FEN:
            raise InvalidInput("the difference is 0 to 1,000,000 yuan", code="invalid_difference")
        if (difference_fen > 0) != (difference_payer is not None):
            raise InvalidInput(
                "say who pays a difference, and only when there is one",
                code="invalid_difference_payer",
            )
        if difference_payer is Side.SYSTEM:
            raise InvalidInput("the owner or the proposer pays", code="invalid_difference_payer")
        if len(message) > 500:
            raise InvalidInput("the message is at most 500 characters", code="message_too_long")
        await self._limiter.hit_or_raise(OFFER_LIMIT, "swap-offer", str(actor.user_id))
        # Whoever may not see the listing is told it does not exist (the rule of orders).
        wanted = await self._listings.get(actor, listing_id)
        if wanted["seller_id"] == actor.user_id:
            raise InvalidInput("you cannot swap for your own listing", code="own_listing")
        _swappable(wanted)
        if not await self.store.swap_ok(listing_id):
            raise Conflict("this listing is not open to swaps", code="not_open_to_swaps")
        mine = await self._listings.store.listing(offered_listing_id)
        if mine is None or mine["seller_id"] != actor.user_id or mine["merchant_id"] is not None:
            raise InvalidInput("offer one of your own listings", code="not_your_listing")
        _swappable(mine)
        for row in (wanted, mine):
            if row["status"] != "active":
                raise Conflict(f"the listing is {row['status']}", code="listing_not_active")
        payer = payee = None
        if difference_payer is Side.PROPOSER:
            payer, payee = actor.user_id, wanted["seller_id"]
        elif difference_payer is Side.OWNER:
            payer, payee = wanted["seller_id"], actor.user_id
        now = self._clock.now()
        try:
            row = await self.store.insert(
                {
                    "id": uuid4(),
                    "status": Status.OFFERED.value,
                    "listing_id": listing_id,
                    "owner_id": wanted["seller_id"],
                    "offered_listing_id": offered_listing_id,
                    "proposer_id": actor.user_id,
                    "difference_fen": difference_fen,
                    "difference_payer": difference_payer.value if difference_payer else None,
                    "payer_id": payer,
                    "payee_id": payee,
                    "message": message,
                    "commission_bps": self._settings.commission_bps,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        except asyncpg.UniqueViolationError:
            raise Conflict("you already offered this listing for it", code="offer_exists") from None
        await self._changed(row)
        return row

    # --- reading ---------------------------------------------------------------------------------

    async def get(self, actor: Principal, swap_id: UUID) -> asyncpg.Record:
        await self._readable(actor, swap_id)
        row = await self.store.detail(swap_id)
        assert row is not None
        return row

    async def mine(
        self, actor: Principal, role: str | None, after: tuple[datetime, UUID] | None, limit: int
    ) -> list[asyncpg.Record]:
        return await self.store.mine(actor.user_id, role, after, limit)

    # --- moves -----------------------------------------------------------------------------------

    async def accept(self, actor: Principal, swap_id: UUID) -> asyncpg.Record:
        """The owner accepts: both listings are held for this swap, or 409 listing_reserved
        when an open order or another accepted swap holds either."""
        row, _ = await self._party(actor, swap_id, "accept")
        if row["status"] != Status.OFFERED:
            raise _invalid("accept", row["status"])
        listing_ids = [row["listing_id"], row["offered_listing_id"]]
        now = self._clock.now()
        try:
            async with self.store.pool.acquire() as conn, conn.transaction():
                locked = await self.store.lock_listings(conn, listing_ids)
                owners = {
                    row["listing_id"]: row["owner_id"],
                    row["offered_listing_id"]: row["proposer_id"],
                }
                for listing in locked:
                    if listing["status"] != "active":
                        raise Conflict(
                            f"a listing of this swap is {listing['status']}",
                            code="listing_not_active",
                            details={"listing_id": str(listing["id"])},
                        )
                    if listing["seller_id"] != owners[listing["id"]]:
                        raise Conflict("a listing changed hands", code="listing_not_active")
                busy = await self.store.busy_listings(conn, listing_ids)
                if busy:
                    raise Conflict(
                        "an order or another swap holds a listing of this swap",
                        code="listing_reserved",
                        details={"listing_id": str(busy[0])},
                    )
                moved = await self.store.transition(
                    conn, swap_id, Status.OFFERED, Status.ACCEPTED, now, {"accepted_at": now}
                )
                if moved is None:
                    current = await self.store.swap(conn, swap_id)
                    assert current is not None
                    raise _invalid("accept", current["status"])
                await self.store.hold(conn, swap_id, listing_ids)
        except asyncpg.UniqueViolationError:
            # Defence in depth: the primary key of swap_holds.
            raise Conflict(
                "another swap holds a listing of this swap", code="listing_reserved"
            ) from None
        await self._changed(moved)
        return moved

    async def decline(self, actor: Principal, swap_id: UUID) -> asyncpg.Record:
        return await self._end_offer(actor, swap_id, "decline")

    async def withdraw(self, actor: Principal, swap_id: UUID) -> asyncpg.Record:
        return await self._end_offer(actor, swap_id, "withdraw")

    async def _end_offer(self, actor: Principal, swap_id: UUID, action: str) -> asyncpg.Record:
        await self._party(actor, swap_id, action)
        now = self._clock.now()
        moved = await self.store.transition(
            self.store.pool,
            swap_id,
            Status.OFFERED,
            TRANSITIONS[action].target,
            now,
            {"ended_at": now},
        )
        if moved is None:
            current = await self.store.swap(self.store.pool, swap_id)
            assert current is not None
            raise _invalid(action, current["status"])
        await self._changed(moved)
        return moved

    async def cancel(self, actor: Principal, swap_id: UUID) -> asyncpg.Record:
        """Either party calls an accepted swap off before it completes: the listings are free
        again and a paid difference goes back to its payer."""
        row, side = await self._party(actor, swap_id, "cancel")
        return await self._cancel(row, side.value)

    async def _cancel(self, row: asyncpg.Record, reason: str) -> asyncpg.Record:
        now = self._clock.now()
        for _ in range(3):
            status = Status(row["status"])
            if status not in TRANSITIONS["cancel"].sources:
                raise _invalid("cancel", status)
            async with self.store.pool.acquire() as conn, conn.transaction():
                moved = await self.store.transition(
                    conn,
                    row["id"],
                    status,
                    Status.CANCELLED,
                    now,
                    {"cancel_reason": reason, "ended_at": now},
                )
                if moved is not None:
                    await self.store.release(conn, row["id"])
            if moved is not None:
                await self._refund(moved)
                await self._changed(moved)
                return moved
            current = await self.store.swap(self.store.pool, row["id"])
            assert current is not None
            row = current
        raise Conflict("the swap keeps changing; try again", code="swap_busy")

    async def _refund(self, row: asyncpg.Record) -> None:
        """Give a cancelled swap's captured difference back, keyed by the swap (the sweep
        repeats it after a crash, once)."""
        if row["payment_id"] is None:
            return
        await self._payments.refund(
            None,
            f"swap:{row['id']}:refund",
            row["payment_id"],
            row["difference_fen"],
            REFUND_REASON,
        )

    async def confirm(self, actor: Principal, swap_id: UUID) -> asyncpg.Record:
        """One side confirms the face-to-face hand-over; the second confirmation completes the
        swap: both listings are marked swapped and released, the difference is settled."""
        row, side = await self._party(actor, swap_id, "confirm")
        expected = Status.PAID if row["difference_fen"] > 0 else Status.ACCEPTED
        if row["status"] != expected:
            if row["difference_fen"] > 0 and row["status"] == Status.ACCEPTED:
                raise Conflict("the difference is not paid yet", code="difference_unpaid")
            raise _invalid("confirm", row["status"])
        column = "owner_confirmed_at" if side is Side.OWNER else "proposer_confirmed_at"
        now = self._clock.now()
        async with self.store.pool.acquire() as conn, conn.transaction():
            if row["difference_fen"] > 0:
                await self._payments.require_intact(conn, row["payment_id"])
            confirmed = await self.store.confirm(conn, swap_id, expected, column, now)
            if confirmed is None:
                current = await self.store.swap(conn, swap_id)
                assert current is not None
                if current["status"] == expected and current[column] is not None:
                    raise Conflict("you have confirmed the hand-over", code="already_confirmed")
                raise _invalid("confirm", current["status"])
            result = confirmed
            if confirmed["owner_confirmed_at"] and confirmed["proposer_confirmed_at"]:
                # The row lock of the confirmation serialises the two sides: exactly one of them
                # sees both confirmations and completes.
                completed = await self.store.transition(
                    conn, swap_id, expected, Status.COMPLETED, now, {"completed_at": now}
                )
                assert completed is not None
                await self.store.mark_swapped(
                    conn, [row["listing_id"], row["offered_listing_id"]], now
                )
                await self.store.release(conn, swap_id)
                result = completed
        await self._changed(result)
        return result

    # --- paying the difference -------------------------------------------------------------------

    async def pay(self, actor: Principal, swap_id: UUID, key: str) -> PaymentView:
        """A payment of the agreed difference by the side that pays it, once per idempotency key
        (pay it on the provider's page)."""
        row = await self._readable(actor, swap_id)
        if row["payer_id"] is None:
            raise Conflict("this swap has no difference to pay", code="no_difference")
        if row["payer_id"] != actor.user_id:
            raise Forbidden("the other side pays the difference")
        if row["status"] == Status.PAID:
            raise Conflict("the difference is paid", code="already_paid")
        if row["status"] != Status.ACCEPTED:
            raise _invalid("pay", row["status"])
        check_key(key)
        scoped = f"swap:{row['id'].hex}:{hashlib.sha256(key.encode()).hexdigest()[:40]}"
        return await self._payments.create(
            actor,
            scoped,
            PaymentSpec(
                reference_type=REFERENCE_TYPE,
                reference_id=row["id"],
                amount_fen=row["difference_fen"],
                payee=Party(PartyKind.USER, row["payee_id"]),
                description="置换差价",
                commission_bps=row["commission_bps"],
                community_id=await self._listings.store.meeting_community(
                    row["listing_id"], row["proposer_id"]
                ),
            ),
        )

    async def _demand(self, conn: Conn, swap_id: UUID) -> Demand | None:
        """The payer's, to the receiver, the difference. Any such payment will do (two tabs may
        each pay); the second to be captured finds the swap paid and is refunded."""
        row = await self.store.swap(conn, swap_id)
        if row is None or row["payer_id"] is None:
            return None
        return Demand(
            payer_id=row["payer_id"],
            payee=Party(PartyKind.USER, row["payee_id"]),
            amount_fen=row["difference_fen"],
        )

    async def _on_captured(
        self, conn: Conn, payment_id: UUID, swap_id: UUID
    ) -> AfterCommit | Refuse | None:
        """In the capture's transaction: the swap is paid — unless it is no longer accepted
        (cancelled, expired, paid already), then the payment is refunded in full."""
        now = self._clock.now()
        paid = await self.store.transition(
            conn,
            swap_id,
            Status.ACCEPTED,
            Status.PAID,
            now,
            {"paid_at": now, "payment_id": payment_id},
        )
        if paid is None:
            row = await self.store.swap(conn, swap_id)
            status = row["status"] if row is not None else "gone"
            log.info("swaps.capture_refused", swap_id=str(swap_id), status=status)
            return Refuse(f"swap_{status}")

        async def tell() -> None:
            await self._changed(paid)

        return tell

    # --- jobs ------------------------------------------------------------------------------------

    async def expire(self) -> dict[str, int]:
        """Expire offers unanswered for LAGO_SWAP_OFFER_TTL_S, cancel accepted swaps not handed
        over within LAGO_SWAP_HANDOVER_TTL_S, and refund cancelled swaps a crash left paid (job;
        every step is a conditional update or keyed, so a rerun finds nothing left)."""
        now = self._clock.now()
        expired = 0
        offer_cutoff = now - timedelta(seconds=self._settings.swap_offer_ttl_s)
        for row in await self.store.stale(Status.OFFERED, offer_cutoff, "created_at"):
            moved = await self.store.transition(
                self.store.pool, row["id"], Status.OFFERED, Status.EXPIRED, now, {"ended_at": now}
            )
            if moved is not None:
                expired += 1
                await self._changed(moved)
        cancelled = 0
        handover_cutoff = now - timedelta(seconds=self._settings.swap_handover_ttl_s)
        for status in (Status.ACCEPTED, Status.PAID):
            for row in await self.store.stale(status, handover_cutoff, "accepted_at"):
                try:
                    await self._cancel(row, "expired")
                    cancelled += 1
                except Conflict:
                    continue  # moved on meanwhile (confirmed, cancelled by a party)
        refunds = await self.store.refunds_owed()
        for row in refunds:
            await self._refund(row)
        return {"expired": expired, "cancelled": cancelled, "refunds": len(refunds)}

    # --- ratings ---------------------------------------------------------------------------------

    async def rate(
        self, actor: Principal, swap_id: UUID, score: int, comment: str
    ) -> asyncpg.Record:
        """Each party of a completed swap rates the other once (1–5), into the same reputation
        orders use."""
        row = await self._readable(actor, swap_id)
        side = self.side_of(actor, row)
        if side is None:
            raise Forbidden("only the two parties rate each other")
        if row["status"] != Status.COMPLETED:
            raise Conflict("rate once the swap is completed", code="not_completed")
        if not 1 <= score <= 5:
            raise InvalidInput("the score is 1 to 5", code="invalid_score")
        ratee = row["proposer_id"] if side is Side.OWNER else row["owner_id"]

        async def also(conn: Conn, rating: asyncpg.Record) -> None:
            for hook in self._rating_hooks:
                await hook(conn, row, rating)

        rating = await self.store.rate(
            swap_id, actor.user_id, ratee, score, comment, self._clock.now(), also
        )
        if rating is None:
            raise Conflict("you have rated this swap", code="already_rated")
        return rating

    async def ratings(self, actor: Principal, swap_id: UUID) -> list[asyncpg.Record]:
        await self._readable(actor, swap_id)
        return await self.store.ratings_of(swap_id)

    # --- pushes ----------------------------------------------------------------------------------

    async def _changed(self, row: asyncpg.Record) -> None:
        """After every committed change: tell both parties (at most once; the apps read the swap
        again after a reconnect)."""
        if self._pusher is None:
            return
        update = {
            "swap_id": str(row["id"]),
            "status": row["status"],
            "updated_at": row["updated_at"].isoformat(),
        }
        for user_id in (row["owner_id"], row["proposer_id"]):
            try:
                await self._pusher.to_user(user_id, SWAP_UPDATED, update)
            except Exception:
                PUSH_FAILURES.labels(event=SWAP_UPDATED).inc()
                log.warning("swaps.push_failed", swap_id=str(row["id"]), exc_info=True)


def _swappable(listing: asyncpg.Record) -> None:
    """Swaps are between residents' own items for sale (not rentals, consignments or a
    merchant's stock)."""
    if listing["merchant_id"] is not None or listing["kind"] != "sale":
        raise Conflict("only a resident's listing for sale can be swapped", code="not_swappable")
