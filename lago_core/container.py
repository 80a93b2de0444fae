"""The services of one Lago process, built from settings and closed together.

Handlers, real-time gateways and workers reach PostgreSQL, Redis and the domain services through
one :class:`Core` object rather than module globals, so tests build as many as they like.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from uuid import UUID

import asyncpg
import redis.asyncio as aioredis

from lago_core.ai import (
    AiHub,
    AiStore,
    GroupBuyLookup,
    RecommendService,
    SearchService,
    SupportService,
    create_engine,
)
from lago_core.ai.dialogue import DialogueStore
from lago_core.ai.embeddings import create_embedder
from lago_core.ai.index import ListingEmbeddings
from lago_core.clock import Clock, SystemClock
from lago_core.communities import CommunityService, CommunityStore
from lago_core.conversations import ConversationService, ConversationStore
from lago_core.coupons import CheckoutService, CouponService, CouponStore
from lago_core.courses import CourseService, CourseStore
from lago_core.db import create_pool
from lago_core.email import EmailProvider, create_email_provider
from lago_core.events import EventService, EventStore
from lago_core.groupbuys import GroupBuyService, GroupBuyStore
from lago_core.idempotency import Idempotency
from lago_core.identity import IdentityService, IdentityStore
from lago_core.insights import InsightService, InsightStore
from lago_core.invoices import InvoiceService, InvoiceStore
from lago_core.jobs import DELIVER_SANDBOX_WEBHOOK
from lago_core.ledger import Ledger, LedgerStore
from lago_core.listings import ListingService, ListingStore
from lago_core.live import LiveService, LiveStore
from lago_core.lockers import LockerService, LockerStore
from lago_core.lottery import DrawStore, LotteryService
from lago_core.merchants import MerchantService, MerchantStore
from lago_core.moderation import ModerationService, ReportStore
from lago_core.moneyout import MoneyOutService, MoneyOutStore
from lago_core.notifications import NotificationHooks, NotificationService, NotificationStore
from lago_core.orders import OrderService, OrderStore
from lago_core.payments import (
    JobQueue,
    PaymentService,
    PaymentStore,
    SandboxProvider,
    SandboxStore,
)
from lago_core.points import (
    CatalogueService,
    CouponIssuer,
    InvitationService,
    Points,
    PointsService,
    PointsSources,
    PointsStore,
)
from lago_core.points.notices import tell_through
from lago_core.push import Pusher
from lago_core.ratelimit import RateLimiter
from lago_core.redis import create_redis
from lago_core.security.passwords import use_test_hashing
from lago_core.security.tokens import TokenCodec
from lago_core.settings import Settings
from lago_core.settlement import SettlementService, SettlementStore
from lago_core.sms import SmsProvider, create_sms_provider
from lago_core.sponsored import SponsoredService, SponsoredStore
from lago_core.storage import Storage, create_storage
from lago_core.subscriptions import PLANS, SubscriptionService, SubscriptionStore
from lago_core.swaps import SwapService, SwapStore
from lago_core.virtual_numbers import SandboxNumbers, VirtualNumberService, VirtualNumberStore

__all__ = ["Core", "build_core"]


@dataclass
class Core:
    settings: Settings
    pool: asyncpg.Pool
    redis: aioredis.Redis
    clock: Clock
    sms: SmsProvider
    limiter: RateLimiter
    tokens: TokenCodec
    identity: IdentityService
    communities: CommunityService
    merchants: MerchantService
    listings: ListingService
    storage: Storage
    moderation: ModerationService
    jobs: JobQueue
    ledger: Ledger
    payments: PaymentService
    # The local provider (LAGO_PAYMENT_PROVIDER=sandbox): its pay page and webhook sender.
    # None once a real provider is configured; the sandbox routes then answer 404.
    sandbox: SandboxProvider | None
    # Publishes to socket.io rooms through Redis (merchant order pushes); no connection until used.
    pusher: Pusher
    orders: OrderService
    # T+7 payouts, statements and the merchant dashboard (its aggregates follow order moves).
    settlement: SettlementService
    # Group buys: campaigns, seat payments, outcomes (seats themselves: the channel actor).
    groupbuys: GroupBuyService
    # Coupons (issue 18): templates, the wallet, and the checkout preview.
    coupons: CouponService
    checkout: CheckoutService
    # AI: search with intent, customer service, recommendations (docs/ai.md).
    ai: AiHub
    # Toy lockers (issue 7): registration, codes, flows and door commands.
    lockers: LockerService
    # Live streams: who may go live, grants, announcements (docs/live.md); lottery draws to read.
    live: LiveService
    lottery: LotteryService
    # Points (docs/points.md): earning rules and their hooks, lots, expiry, the catalogue.
    points: Points
    # The notification centre: in-app, live, SMS and e-mail (docs/notifications.md).
    notifications: NotificationService
    email: EmailProvider
    # Subscriptions (会员, 虚拟号 plans) and virtual numbers (docs/subscriptions.md).
    subscriptions: SubscriptionService
    virtual_numbers: VirtualNumberService
    # The sandbox's privacy-number network (None with a real provider; its routes answer 404).
    sandbox_numbers: SandboxNumbers | None
    # Money out (issue 19): bank accounts, withdrawals, income, property statements and payouts.
    moneyout: MoneyOutService
    invoices: InvoiceService
    # AI operations and the customer portrait (docs/insights.md): aggregates, suggestions.
    insights: InsightService
    # Weekend events (docs/events.md): sign-up, waiting list, QR check-in, links.
    events: EventService
    # Buyer–seller conversations about listings (docs/conversations.md).
    conversations: ConversationService
    # Swaps (置换, docs/swaps.md): offers, held listings, the difference's payment, ratings.
    swaps: SwapService
    # Sponsored slots in live channels (广告曝光, docs/sponsored.md).
    sponsored: SponsoredService
    # Courses (children's classes), live classes recorded and replayed (docs/courses.md).
    courses: CourseService
    # The sandbox provider's own connections (it stands in for the provider's database).
    sandbox_pool: asyncpg.Pool | None = None

    async def close(self) -> None:
        await self.ai.close()
        await self.pusher.close()
        await self.storage.close()
        if self.sandbox_pool is not None:
            await self.sandbox_pool.close()
        await self.pool.close()
        await self.jobs.close()
        await self.limiter.close()
        await self.redis.aclose()


async def build_core(settings: Settings, *, clock: Clock | None = None) -> Core:
    if not settings.jwt_secret:
        if settings.env == "prod":
            raise ValueError("LAGO_JWT_SECRET is required in prod")
        # Outside prod an unset secret still works for a single process; `lago dev` and the
        # make targets pass one shared secret to every process so tokens work across them.
        settings = replace(settings, jwt_secret=secrets.token_urlsafe(32))
    if settings.env == "test":
        use_test_hashing()
    clock = clock or SystemClock()
    pool = await create_pool(
        settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max
    )
    redis = create_redis(settings.redis_url, cluster=settings.redis_cluster)
    sms = create_sms_provider(settings.sms_provider)
    limiter = RateLimiter(
        redis, settings.redis_url, settings.redis_prefix, cluster=settings.redis_cluster
    )
    tokens = TokenCodec(settings.signing_secret, settings.jwt_issuer, settings.access_token_ttl_s)
    identity = IdentityService(IdentityStore(pool), redis, settings, tokens, sms, limiter, clock)
    communities = CommunityService(CommunityStore(pool), clock)
    storage = await create_storage(settings)
    merchants = MerchantService(
        MerchantStore(pool), communities, storage, clock, settings.max_upload_bytes
    )
    listings = ListingService(
        ListingStore(pool),
        merchants,
        communities,
        storage,
        clock,
        active_cap=settings.listing_cap_non_member,
    )
    jobs = JobQueue(redis, settings)
    ledger = Ledger(LedgerStore(pool), pool, clock)

    async def deliver_later(event_id: str) -> None:
        await jobs.enqueue(DELIVER_SANDBOX_WEBHOOK, event_id, job_id=f"sandbox-event:{event_id}")

    # A pool of its own: a payment creates its intent inside the payment's transaction, which
    # holds a connection of the main pool; were the sandbox to take a second one from that pool,
    # as many concurrent payments as the pool has connections would wait on each other forever.
    sandbox_pool = await create_pool(settings.database_url, min_size=1, max_size=2)
    sandbox = SandboxProvider(
        SandboxStore(sandbox_pool),
        clock,
        settings.webhook_secret,
        settings.webhook_tolerance_s,
        on_event=deliver_later,
    )
    payments = PaymentService(
        PaymentStore(pool),
        ledger,
        sandbox,
        Idempotency(pool, clock),
        jobs,
        merchants,
        communities,
        settings,
        clock,
        limiter,
    )
    pusher = Pusher(settings, redis)

    async def user_by_phone(phone: str) -> UUID | None:
        user = await identity.user_by_phone(phone)
        return user.id if user is not None else None

    coupons = CouponService(
        CouponStore(pool), merchants, limiter, clock, user_by_phone=user_by_phone
    )
    identity.on_signed_up(coupons.grant_new_user)
    orders = OrderService(
        OrderStore(pool), listings, merchants, payments, pusher, settings, clock, coupons=coupons
    )
    settlement = SettlementService(SettlementStore(pool), payments, merchants, orders, clock)
    groupbuys = GroupBuyService(
        GroupBuyStore(pool),
        merchants,
        communities,
        payments,
        jobs,
        pusher,
        redis,
        settings,
        clock,
        coupons=coupons,
    )
    checkout = CheckoutService(coupons, orders.quote, groupbuys.quote_seat)
    settlement.follow_group_buys(groupbuys)
    email = create_email_provider(settings.email_provider)
    notifications = NotificationService(
        NotificationStore(pool),
        pusher=pusher,
        jobs=jobs,
        sms=sms,
        email=email,
        limiter=limiter,
        settings=settings,
        clock=clock,
    )
    hooks = NotificationHooks(notifications, notifications.store)
    orders.on_created(hooks.order_created)
    orders.on_transition(hooks.order_moved)
    orders.on_rating(hooks.rated)
    merchants.on_decided(hooks.merchant_decided)
    payments.on_payout_paid(hooks.payout_paid)
    subscription_store = SubscriptionStore(pool)
    await subscription_store.ensure_plans(PLANS)
    subscriptions = SubscriptionService(
        subscription_store,
        payments=payments,
        ledger=ledger,
        notifications=notifications,
        idempotency=payments.idempotency,
        settings=settings,
        clock=clock,
    )
    subscriptions.follow_provider()
    sandbox_numbers = SandboxNumbers(sandbox, clock)
    virtual_numbers = VirtualNumberService(
        VirtualNumberStore(pool),
        subscriptions=subscription_store,
        listings=listings,
        provider=sandbox_numbers,
        ttl_s=settings.virtual_number_ttl_s,
        clock=clock,
    )
    points = build_points(
        pool,
        clock,
        settings,
        notifications,
        identity,
        communities,
        listings,
        orders,
        groupbuys,
        Idempotency(pool, clock),
        limiter,
        coupons,
    )
    settlement.on_made_available(hooks.settlement_available)
    moneyout = MoneyOutService(
        MoneyOutStore(pool),
        payments=payments,
        merchants=merchants,
        communities=communities,
        notifications=notifications,
        idempotency=payments.idempotency,
        settings=settings,
        clock=clock,
    )
    moneyout.wire()
    invoices = InvoiceService(
        InvoiceStore(pool),
        merchants=merchants,
        storage=storage,
        notifications=notifications,
        clock=clock,
        font=settings.invoice_font,
    )
    courses = CourseService(
        CourseStore(pool),
        merchants=merchants,
        payments=payments,
        limiter=limiter,
        clock=clock,
        notifications=notifications,
    )
    courses.wire()
    insights = InsightService(
        InsightStore(pool),
        communities=communities,
        merchants=merchants,
        listings=listings,
        notifications=notifications,
        limiter=limiter,
        clock=clock,
    )
    insights.follow(orders, groupbuys, communities)
    events = EventService(
        EventStore(pool),
        communities=communities,
        notifications=notifications,
        attended=points.sources.event_attended,
        limiter=limiter,
        ticket_key=settings.event_ticket_key,
        clock=clock,
    )
    conversations = ConversationService(
        ConversationStore(pool),
        listings=listings,
        merchants=merchants,
        storage=storage,
        pusher=pusher,
        notifications=notifications,
        subscriptions=subscription_store,
        virtual_numbers=virtual_numbers,
        limiter=limiter,
        clock=clock,
    )
    ai = build_ai(
        settings,
        pool,
        listings,
        orders,
        payments,
        jobs,
        pusher,
        limiter,
        clock,
        groupbuys,
        redis=redis,
    )
    swaps = SwapService(SwapStore(pool), listings, payments, pusher, limiter, settings, clock)
    swaps.on_rating(points.sources.rated)
    live = LiveService(LiveStore(pool), communities, pusher, clock)
    sponsored = SponsoredService(SponsoredStore(pool), communities, live, storage, limiter, clock)
    return Core(
        settings=settings,
        pool=pool,
        redis=redis,
        clock=clock,
        sms=sms,
        limiter=limiter,
        tokens=tokens,
        identity=identity,
        communities=communities,
        merchants=merchants,
        listings=listings,
        storage=storage,
        moderation=ModerationService(ReportStore(pool), clock, communities),
        jobs=jobs,
        ledger=ledger,
        payments=payments,
        sandbox=sandbox,
        pusher=pusher,
        orders=orders,
        settlement=settlement,
        groupbuys=groupbuys,
        coupons=coupons,
        checkout=checkout,
        ai=ai,
        lockers=LockerService(
            LockerStore(pool), communities, listings, orders, pusher, limiter, settings, clock
        ),
        live=live,
        lottery=LotteryService(DrawStore(pool), communities),
        points=points,
        notifications=notifications,
        email=email,
        subscriptions=subscriptions,
        virtual_numbers=virtual_numbers,
        sandbox_numbers=sandbox_numbers,
        moneyout=moneyout,
        invoices=invoices,
        insights=insights,
        events=events,
        conversations=conversations,
        swaps=swaps,
        sponsored=sponsored,
        courses=courses,
        sandbox_pool=sandbox_pool,
    )


def build_points(
    pool: asyncpg.Pool,
    clock: Clock,
    settings: Settings,
    notifications: NotificationService,
    identity: IdentityService,
    communities: CommunityService,
    listings: ListingService,
    orders: OrderService,
    groupbuys: GroupBuyService,
    idempotency: Idempotency,
    limiter: RateLimiter,
    coupons: CouponIssuer | None,
) -> Points:
    """The points services, following the events that earn points; coupon products are issued
    by ``coupons`` (refused while it is None)."""
    store = PointsStore(pool)
    service = PointsService(store, clock, limiter=limiter, tell=tell_through(notifications))
    invitations = InvitationService(store, service, clock)
    sources = PointsSources(store, service, invitations, clock, settings.points_post_grace_s)
    orders.on_transition(sources.order_moved)
    orders.on_rating(sources.rated)
    groupbuys.on_order_moved(sources.group_buy_order_moved)
    listings.on_created(sources.listing_created)
    communities.on_verified(sources.member_verified)
    identity.on_sign_up(invitations.check_code, invitations.record_in)
    return Points(
        service=service,
        catalogue=CatalogueService(
            store, service, idempotency, clock, limiter=limiter, coupons=coupons
        ),
        invitations=invitations,
        sources=sources,
    )


def build_ai(
    settings: Settings,
    pool: asyncpg.Pool,
    listings: ListingService,
    orders: OrderService,
    payments: PaymentService,
    jobs: JobQueue,
    pusher: Pusher,
    limiter: RateLimiter,
    clock: Clock,
    group_buys: GroupBuyLookup | None = None,
    *,
    redis: aioredis.Redis,
) -> AiHub:
    """The AI services on the engine the settings choose (tests rebuild it for another engine)."""
    engine = create_engine(settings)
    store = AiStore(pool)
    radius = settings.ai_neighbour_radius_m
    embeddings = ListingEmbeddings(store, create_embedder(settings), clock)
    return AiHub(
        engine=engine,
        store=store,
        search=SearchService(store, engine, limiter, clock, radius, embeddings),
        recommend=RecommendService(store, clock, radius),
        # Customer service explains the caller's group buys from the group-buy records.
        support=SupportService(
            store,
            engine,
            orders,
            payments,
            jobs,
            pusher,
            limiter,
            clock,
            group_buys=group_buys,
            dialogue=DialogueStore(redis, settings),
            settings=settings,
        ),
        listings=listings,
        clock=clock,
    )
