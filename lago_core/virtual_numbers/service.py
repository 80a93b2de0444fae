"""Virtual numbers (虚拟号, vision §7): a buyer asks to call a seller; a seller with a plan is
reached through a number bound to the pair for a limited time, a seller without one has the
platform's guidance shown instead. The basic plan reaches up to N distinct buyers a month
(counted per seller and China month, under the seller's subscription row lock)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from prometheus_client import Counter

from lago_core.clock import Clock
from lago_core.errors import Forbidden, InvalidInput, NotFound, Unavailable
from lago_core.listings import ListingService
from lago_core.logging import get_logger
from lago_core.payments.provider import ProviderError
from lago_core.security.roles import Principal
from lago_core.subscriptions.store import SubscriptionStore
from lago_core.text import refuse_unstorable
from lago_core.virtual_numbers.provider import CALL_COMPLETED, PrivacyNumberProvider
from lago_core.virtual_numbers.store import VirtualNumberStore

__all__ = ["GUIDANCE", "VirtualNumberService"]

log = get_logger(__name__)
CHINA = ZoneInfo("Asia/Shanghai")
CALL_REQUESTS = Counter(
    "lago_virtual_number_requests_total", "buyers asking to call a seller", ["answer"]
)

# A call longer than a day is not a call record we can believe (and would not fit the column).
MAX_CALL_S = 86_400

# What a buyer sees instead of a number (vision §7: 防封指引与风险提示).
GUIDANCE = (
    "卖家暂未开通虚拟号，无法直接通话。",
    "建议在小区内当面看货、当面交易，或在社区频道里联系卖家。",
    "请勿提前转账，勿添加陌生人微信进行站外交易，谨防诈骗。",
)


def usage_month(moment: datetime) -> str:
    return moment.astimezone(CHINA).strftime("%Y-%m")


class VirtualNumberService:
    def __init__(
        self,
        store: VirtualNumberStore,
        *,
        subscriptions: SubscriptionStore,
        listings: ListingService,
        provider: PrivacyNumberProvider,
        ttl_s: int,
        clock: Clock,
    ) -> None:
        self.store = store
        self._subscriptions = subscriptions
        self._listings = listings
        self.provider = provider
        self._ttl = timedelta(seconds=ttl_s)
        self._clock = clock

    async def request_call(self, actor: Principal, listing_id: UUID) -> dict[str, Any]:
        """The buyer's "call the seller": a number and its expiry, or the guidance."""
        listing = await self._listings.get(actor, listing_id)
        seller_id = listing["seller_id"]
        if seller_id == actor.user_id:
            raise InvalidInput("you are the seller", code="cannot_call_yourself")
        now = self._clock.now()
        month = usage_month(now)
        async with self.store.pool.acquire() as conn, conn.transaction():
            plan = None
            if listing["merchant_id"] is None:
                # Locks the seller's subscription: bindings of one seller are counted in turn.
                plan = await self._subscriptions.active_plan(conn, seller_id, "virtual_number", now)
            if plan is None:
                CALL_REQUESTS.labels(answer="no_plan").inc()
                return {"mode": "guidance", "reason": "no_plan", "guidance": list(GUIDANCE)}
            # A binding that still has a minute left is reused: the same number, no new count.
            existing = await self.store.open_binding(
                conn, seller_id, actor.user_id, now + timedelta(minutes=1)
            )
            if existing is not None:
                CALL_REQUESTS.labels(answer="reused").inc()
                return _number(existing)
            limit = plan["grants"].get("vn_buyers_per_month")
            known = await self.store.has_buyer(conn, seller_id, month, actor.user_id)
            if (
                not known
                and limit is not None
                and await self.store.buyers(conn, seller_id, month) >= limit
            ):
                CALL_REQUESTS.labels(answer="quota").inc()
                return {
                    "mode": "guidance",
                    "reason": "seller_quota_reached",
                    "guidance": list(GUIDANCE[1:]),
                }
            await self.store.add_buyer(conn, seller_id, month, actor.user_id, now)
            binding_id = uuid4()
            expires_at = now + self._ttl
            try:
                # Keyed by our binding: a rollback after the call leaves an orphan binding the
                # provider expires; nobody was given its number.
                bound = await self.provider.bind(
                    await self.store.phone_of(conn, actor.user_id),
                    await self.store.phone_of(conn, seller_id),
                    expires_at,
                    f"binding:{binding_id}",
                )
            except ProviderError as exc:
                raise Unavailable(
                    "no virtual number is free right now, try again shortly", code=exc.code
                ) from None
            row = await self.store.insert_binding(
                conn,
                {
                    "id": binding_id,
                    "provider": self.provider.name,
                    "provider_binding_id": bound.id,
                    "number": bound.number,
                    "listing_id": listing_id,
                    "seller_id": seller_id,
                    "buyer_id": actor.user_id,
                    "subscription_id": plan["id"],
                    "usage_month": month,
                    "expires_at": bound.expires_at,
                    "created_at": now,
                },
            )
        CALL_REQUESTS.labels(answer="number").inc()
        return _number(row)

    async def unbind(self, actor: Principal, binding_id: UUID) -> dict[str, Any]:
        """End a binding now (its buyer, its seller or an admin); idempotent."""
        row = await self.store.binding(binding_id)
        if row is None or (
            actor.user_id not in (row["buyer_id"], row["seller_id"]) and not actor.is_admin
        ):
            raise NotFound("binding not found")
        await self._release(row["id"], row["provider_binding_id"])
        fresh = await self.store.binding(binding_id)
        assert fresh is not None
        return _number(fresh)

    async def _release(self, binding_id: UUID, provider_binding_id: str) -> None:
        # The provider first: should we crash between, the job unbinds it again (idempotent).
        await self.provider.unbind(provider_binding_id)
        await self.store.mark_unbound(binding_id, self._clock.now())

    async def expire(self) -> int:
        """Unbind every binding past its expiry (job ``expire_virtual_numbers``)."""
        done = 0
        for row in await self.store.expired(self._clock.now()):
            await self._release(row["id"], row["provider_binding_id"])
            done += 1
        return done

    async def receive_callback(
        self, provider: str, signature: str | None, body: bytes
    ) -> tuple[str, bool]:
        """A call record: verified, then recorded once per provider call id. (event id, dup)"""
        if provider != self.provider.name:
            raise NotFound("no such virtual-number provider")
        event = self.provider.parse_callback(signature, body, self._clock.now())
        if event.type != CALL_COMPLETED:
            return event.id, False
        obj = event.data
        # Signed, so from the provider — but still nothing PostgreSQL cannot store.
        refuse_unstorable(obj, "data")
        try:
            duration_s = int(obj["duration_s"])
            values: dict[str, Any] = {
                "id": uuid4(),
                "provider": provider,
                "provider_call_id": str(obj["id"]),
                "provider_binding_id": str(obj["binding_id"]),
                "from_number": str(obj["from_number"])[:40],
                "duration_s": duration_s,
                "started_at": datetime.fromtimestamp(int(obj["started_at"]), tz=CHINA),
                "received_at": self._clock.now(),
            }
        except (KeyError, TypeError, ValueError, OverflowError, OSError):
            raise InvalidInput("the call record is malformed", code="malformed_event") from None
        if not 0 <= duration_s <= MAX_CALL_S:
            raise InvalidInput("the call record is malformed", code="malformed_event")
        new = await self.store.record_call(values)
        return event.id, not new

    async def usage(self, actor: Principal) -> dict[str, Any]:
        """The seller's plan and this month's use of it."""
        now = self._clock.now()
        month = usage_month(now)
        async with self.store.pool.acquire() as conn, conn.transaction():
            plan = await self._subscriptions.active_plan(conn, actor.user_id, "virtual_number", now)
        row = await self.store.usage(actor.user_id, month, now)
        return {
            "month": month,
            "plan_code": plan["plan_code"] if plan else None,
            "plan_name": plan["name"] if plan else None,
            "buyer_limit": plan["grants"].get("vn_buyers_per_month") if plan else None,
            "buyers": row["buyers"],
            "open_bindings": row["open_bindings"],
            "calls": row["calls"],
            "call_seconds": row["call_seconds"],
        }

    def require_admin(self, actor: Principal) -> None:
        if not actor.is_admin:
            raise Forbidden("admins only")


def _number(row: Any) -> dict[str, Any]:
    return {
        "mode": "number",
        "binding_id": row["id"],
        "number": row["number"],
        "expires_at": row["expires_at"],
        "unbound": row["unbound_at"] is not None,
    }
