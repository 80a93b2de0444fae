"""The notification centre (issue 19 item 7): dedupe under retries, the events of orders, reviews
and merchant applications, SMS/e-mail delivery with retries when a provider fails, announcements
to the right audience only, the REST endpoints and their permissions, and the live push."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from lago_core.clock import ManualClock
from lago_core.container import Core
from lago_core.email import LogEmailProvider
from lago_core.errors import InvalidInput
from lago_core.jobs import SWEEP_NOTIFICATIONS
from lago_core.merchants.rules import DocumentKind
from lago_core.notifications import RETRY_DELAYS, AudienceRole, Notice, NotificationService
from lago_core.push import Pusher
from lago_core.push_events import NOTIFICATION_NEW, REVIEW_NEW
from lago_core.security.roles import MemberStatus, PlatformRole, Principal
from lago_core.settings import Settings
from lago_core.settlement.service import SETTLEMENT_DELAY
from lago_core.sms import LogSmsProvider
from lago_rt.app import create_rt_app

from .conftest import LICENCE_PDF, Account, CommunityWorld, company_registration
from .node_server import NodeServer
from .rt_client import ChannelClient
from .test_orders import act, call, listing, merchant_of, order, pay_order
from .test_payments import run_worker, webhook_target
from .test_push import push_until_received
from .test_settlement import completed_sale, settle_by_worker
from .waiting import until

Client = TestClient[Any, Any]
__all__ = ["webhook_target"]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # A small announcement budget, so the rate limit is reached within the test.
    return dataclasses.replace(settings, limit_announcements_per_admin="3/hour")


def me(account: Account, role: PlatformRole | None = None) -> Principal:
    return Principal(account.id, uuid.uuid4(), role)


async def rows_of(core: Core, user_id: uuid.UUID) -> list[Any]:
    return list(
        await core.pool.fetch(
            "SELECT * FROM notifications WHERE user_id = $1 ORDER BY created_at, kind", user_id
        )
    )


async def deliveries(core: Core, notification_id: uuid.UUID) -> list[dict[str, Any]]:
    return [dict(r) for r in await core.notifications.store.deliveries_of(notification_id)]


class FlakySms:
    """An SMS provider that refuses the first ``failures`` notices (a provider outage), then
    delivers; a real implementation of the interface, as a test double of the provider."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0
        self.sent: list[tuple[str, str]] = []

    async def send_code(self, phone: str, code: str, purpose: str) -> None:
        raise AssertionError("no codes in this test")

    async def send_notice(self, phone: str, text: str) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError("provider unavailable")
        self.sent.append((phone, text))


def with_sms(core: Core, sms: Any) -> NotificationService:
    """The core's notification centre on another SMS provider (the worker uses it too)."""
    service = NotificationService(
        core.notifications.store,
        pusher=core.pusher,
        jobs=core.jobs,
        sms=sms,
        email=core.email,
        limiter=core.limiter,
        settings=core.settings,
        clock=core.clock,
    )
    core.notifications = service
    return service


# --- dedupe ------------------------------------------------------------------------------------


async def test_a_retried_event_notifies_once(
    core: Core, settings: Settings, community: CommunityWorld
) -> None:
    user = community.residents[0]
    notice = Notice("test_event", "event:1", "标题", "正文", {"n": 1})
    first, *again = await asyncio.gather(
        *(core.notifications.notify([user.id], notice, sms=True) for _ in range(5))
    )
    made = [ids for ids in (first, *again) if ids]
    assert len(made) == 1
    assert len(made[0]) == 1
    assert len(await rows_of(core, user.id)) == 1
    assert await core.notifications.notify([user.id, user.id], notice, sms=True) == []

    # In a caller's transaction: nothing if it rolls back, once if it commits.
    rolled = Notice("test_event", "event:2", "标题", "正文")

    async def failing_change() -> None:
        async with core.pool.acquire() as conn, conn.transaction():
            assert await core.notifications.notify([user.id], rolled, sms=True, conn=conn)
            raise RuntimeError("the caller's change failed")

    with pytest.raises(RuntimeError):
        await failing_change()
    assert len(await rows_of(core, user.id)) == 1
    async with core.pool.acquire() as conn, conn.transaction():
        (inside,) = await core.notifications.notify([user.id], rolled, sms=True, conn=conn)
    # The jobs run twice (arq is at least once): one SMS per notification.
    await run_worker(settings, core)
    await core.notifications.deliver(inside)
    await core.notifications.deliver(made[0][0])
    assert isinstance(core.sms, LogSmsProvider)
    assert [phone for phone, _ in core.sms.notices] == [user.phone, user.phone]
    assert (await deliveries(core, inside))[0]["status"] == "sent"
    # The rolled-back one's job found nothing to do.
    assert len(await rows_of(core, user.id)) == 2


# --- delivery retries --------------------------------------------------------------------------


async def test_sms_delivery_retries_through_a_provider_outage(
    core: Core, settings: Settings, clock: ManualClock, community: CommunityWorld
) -> None:
    user = community.residents[0]
    flaky = FlakySms(failures=2)
    service = with_sms(core, flaky)
    (notification_id,) = await service.notify(
        [user.id], Notice("test_event", "outage:1", "取件提醒", "您的包裹已到"), sms=True
    )
    await run_worker(settings, core)  # the job: the first attempt fails
    (delivery,) = await deliveries(core, notification_id)
    assert (delivery["status"], delivery["attempts"]) == ("pending", 1)
    assert "provider unavailable" in delivery["last_error"]
    assert delivery["next_attempt_at"] == clock.now() + RETRY_DELAYS[0]

    # Not due yet: the sweep leaves it.
    await core.jobs.enqueue(SWEEP_NOTIFICATIONS)
    await run_worker(settings, core)
    assert flaky.calls == 1
    clock.advance(RETRY_DELAYS[0].total_seconds())
    await core.jobs.enqueue(SWEEP_NOTIFICATIONS, job_id="sweep-2")
    await run_worker(settings, core)  # the second attempt fails too
    (delivery,) = await deliveries(core, notification_id)
    assert (delivery["status"], delivery["attempts"]) == ("pending", 2)
    clock.advance(RETRY_DELAYS[1].total_seconds())
    await core.jobs.enqueue(SWEEP_NOTIFICATIONS, job_id="sweep-3")
    await run_worker(settings, core)
    (delivery,) = await deliveries(core, notification_id)
    assert (delivery["status"], delivery["attempts"]) == ("sent", 3)
    assert delivery["last_error"] is None
    assert flaky.sent == [(user.phone, "取件提醒：您的包裹已到")]
    # Sent is final: more sweeps send nothing.
    clock.advance(3600)
    await service.sweep()
    assert len(flaky.sent) == 1


async def test_a_delivery_is_given_up_after_the_last_retry(
    core: Core, clock: ManualClock, community: CommunityWorld
) -> None:
    user = community.residents[0]
    down = FlakySms(failures=1_000)
    service = with_sms(core, down)
    (notification_id,) = await service.notify(
        [user.id], Notice("test_event", "down:1", "标题", "正文"), sms=True
    )
    await service.deliver(notification_id)
    for delay in RETRY_DELAYS:
        clock.advance(delay.total_seconds())
        await service.sweep()
    (delivery,) = await deliveries(core, notification_id)
    assert (delivery["status"], delivery["attempts"]) == ("failed", len(RETRY_DELAYS) + 1)
    clock.advance(timedelta(days=1).total_seconds())
    await service.sweep()
    assert down.calls == len(RETRY_DELAYS) + 1
    # The in-app notification is there all the same.
    assert len(await rows_of(core, user.id)) == 1


# --- the events --------------------------------------------------------------------------------


async def test_merchant_hears_new_paid_refund_requested_orders_and_reviews(
    approve_merchant: Any,
    client: Client,
    core: Core,
    settings: Settings,
    community: CommunityWorld,
    make_account: Any,
    node_server: Any,
    clients: list[ChannelClient],
    webhook_target: None,
) -> None:
    buyer, owner, neighbour = community.residents
    staff = await make_account("店员")
    merchant = await merchant_of(core, approve_merchant, owner, staff)
    rt: NodeServer = await node_server(create_rt_app(settings, core=core))
    socket = ChannelClient(f"http://127.0.0.1:{rt.port}", staff.access_token)
    socket.on_push(NOTIFICATION_NEW)
    socket.on_push(REVIEW_NEW, namespace="/merchant")
    socket.on_push("probe")
    clients.append(socket)
    await socket.connect(namespaces=["/", "/merchant"])
    pusher = Pusher(settings)
    try:
        await push_until_received(socket, lambda: pusher.to_user(staff.id, "probe", {}))
    finally:
        await pusher.close()
    socket.pushes.clear()

    item = await listing(client, owner, price_fen=129_900, merchant_id=str(merchant))
    placed = await order(client, buyer, item["id"])
    await pay_order(client, core, settings, buyer, placed)
    assert (await act(client, owner, placed, "confirm"))[0] == 200

    def kinds(user: Account) -> Any:
        return rows_of(core, user.id)

    for member in (owner, staff):
        got = [(r["kind"], r["data"].get("order_id")) for r in await kinds(member)]
        assert ("order_new", placed["id"]) in got
        assert ("order_paid", placed["id"]) in got
    # Only the merchant's people: the buyer and a neighbour hear nothing of it.
    assert [r["kind"] for r in await kinds(buyer)] == []
    assert await kinds(neighbour) == []

    # SMS for the paid order: to the owner, at the registration's contact phone.
    paid = next(r for r in await kinds(owner) if r["kind"] == "order_paid")
    assert [
        (d["channel"], d["address"], d["status"]) for d in await deliveries(core, paid["id"])
    ] == [("sms", "+8613800138000", "sent")]
    staff_paid = next(r for r in await kinds(staff) if r["kind"] == "order_paid")
    assert await deliveries(core, staff_paid["id"]) == []
    assert "¥1299.00" in paid["body"]

    # Live, with the unread count, to the staff member's socket.
    def told(kind: str) -> bool:
        return any(
            data["notification"]["kind"] == kind
            for event, data in socket.pushes
            if event == NOTIFICATION_NEW
        )

    await socket.wait_until(lambda: told("order_paid"), within=5)
    push = next(
        d
        for e, d in socket.pushes
        if e == NOTIFICATION_NEW and d["notification"]["kind"] == "order_paid"
    )
    assert push["unread"] == 2
    assert push["notification"]["data"]["merchant_id"] == str(merchant)

    # A refund request and the buyer's review (a rating of the merchant's order).
    other = await listing(
        client, owner, title="毛绒熊", category="plush", merchant_id=str(merchant)
    )
    second = await order(client, buyer, other["id"])
    await pay_order(client, core, settings, buyer, second)
    status, body = await act(client, buyer, second, "request-refund")
    assert status == 200, body
    for step in ("hand-over", "confirm-receipt"):
        status, body = await act(client, owner if step == "hand-over" else buyer, placed, step)
        assert status == 200, (step, body)
    status, body = await call(
        client, buyer, "POST", f"/orders/{placed['id']}/ratings", {"score": 5, "comment": "很好"}
    )
    assert status == 201, body
    for member in (owner, staff):
        got = {(r["kind"], r["data"].get("order_id")) for r in await kinds(member)}
        assert ("order_refund_requested", second["id"]) in got
        assert ("review_new", placed["id"]) in got
    review = next(r for r in await kinds(owner) if r["kind"] == "review_new")
    assert review["body"].endswith("5 星：很好")
    # And the documented `review:new` on /merchant, for the open back office.
    await socket.wait_until(lambda: any(e == REVIEW_NEW for e, _ in socket.pushes), within=5)
    pushed = next(d for e, d in socket.pushes if e == REVIEW_NEW)
    assert (pushed["order_id"], pushed["score"], pushed["comment"]) == (placed["id"], 5, "很好")


async def test_the_review_decision_reaches_the_applicant_by_sms_and_email(
    core: Core, settings: Settings, clock: ManualClock, make_account: Any
) -> None:
    owner = await make_account("申请人")
    admin = await make_account("审核员", PlatformRole.ADMIN)
    row = await core.merchants.create(me(owner), "小明玩具铺")
    mid = row["id"]
    await core.merchants.update_registration(
        me(owner), mid, company_registration() | {"contact_email": "Boss@Example.COM"}
    )
    await core.merchants.add_document(
        me(owner), mid, DocumentKind.BUSINESS_LICENCE, LICENCE_PDF, "application/pdf"
    )
    await core.merchants.submit(me(owner), mid)
    await core.merchants.reject(me(admin, PlatformRole.ADMIN), mid, "营业执照不清晰")
    clock.advance(3600)
    await core.merchants.submit(me(owner), mid)
    await core.merchants.approve(me(admin, PlatformRole.ADMIN), mid)
    await run_worker(settings, core)

    rejected, approved = await rows_of(core, owner.id)
    assert rejected["kind"] == "merchant_rejected"
    assert "营业执照不清晰" in rejected["body"]
    assert rejected["data"]["reason"] == "营业执照不清晰"
    assert approved["kind"] == "merchant_approved"
    for row_ in (rejected, approved):
        sent = {
            (d["channel"], d["address"], d["status"]) for d in await deliveries(core, row_["id"])
        }
        assert sent == {("sms", "+8613800138000", "sent"), ("email", "Boss@example.com", "sent")}
    assert isinstance(core.email, LogEmailProvider)
    # One job per notification, run side by side by the worker: the order they send in is free.
    assert sorted(m.subject for m in core.email.sent) == sorted(
        ["入驻审核未通过", "入驻审核已通过"]
    )
    assert all(m.to == "Boss@example.com" for m in core.email.sent)
    # Nobody else heard of it.
    assert await rows_of(core, admin.id) == []


async def test_a_bad_contact_email_is_refused(core: Core, make_account: Any) -> None:
    owner = await make_account("申请人")
    row = await core.merchants.create(me(owner), "小明玩具铺")
    with pytest.raises(InvalidInput) as refused:
        await core.merchants.update_registration(me(owner), row["id"], {"contact_email": "no-at"})
    assert refused.value.code == "invalid_email"


# --- announcements -----------------------------------------------------------------------------


async def test_announcements_reach_their_audience_only(
    core: Core,
    settings: Settings,
    community: CommunityWorld,
    make_account: Any,
    approve_merchant: Any,
) -> None:
    admin = me(community.admin, PlatformRole.ADMIN)
    # A second community with a resident of its own.
    other = await core.communities.create(
        admin, "枫林小区", f"枫林路{uuid.uuid4().hex[:6]}", Decimal("39.9"), Decimal("116.3"), None
    )
    elsewhere = await make_account("别处住户")
    await core.communities.request_to_join(me(elsewhere), other["id"], None, None)
    await core.communities.decide(admin, other["id"], elsewhere.id, MemberStatus.VERIFIED, None)
    pending = await make_account("待审住户")
    await core.communities.request_to_join(me(pending), uuid.UUID(community.id), None, None)
    shopkeeper = await make_account("店主")
    await core.merchants.create(me(shopkeeper), "邻里小店")

    async def told(row: Any) -> set[uuid.UUID]:
        found = await core.pool.fetch(
            "SELECT user_id FROM notifications WHERE dedupe_key = $1",
            f"announcement:{row['id']}",
        )
        return {r["user_id"] for r in found}

    to_community = await core.notifications.announce(
        admin, "停水通知", "周六 9:00–12:00 停水", community_id=uuid.UUID(community.id)
    )
    # Two users a batch: three batches, and a rerun adds nobody.
    assert await core.notifications.fan_out(to_community["id"], batch=2) == 3
    assert await core.notifications.fan_out(to_community["id"], batch=2) == 0
    assert await told(to_community) == {r.id for r in community.residents}
    state = await core.notifications.store.announcement(core.pool, to_community["id"])
    assert state is not None
    assert (state["status"], state["recipients"]) == ("sent", 3)

    to_merchants = await core.notifications.announce(
        admin, "商家须知", "新规", role=AudienceRole.MERCHANT
    )
    await run_worker(settings, core)  # the job fans it out
    assert await told(to_merchants) == {shopkeeper.id}

    to_all = await core.notifications.announce(admin, "平台公告", "欢迎", everyone=True)
    await run_worker(settings, core)
    users = {r["id"] for r in await core.pool.fetch("SELECT id FROM users")}
    assert await told(to_all) == users
    assert pending.id in users
    assert elsewhere.id in users


async def test_announcement_and_notification_endpoints(
    client: Client,
    core: Core,
    settings: Settings,
    clock: ManualClock,
    community: CommunityWorld,
) -> None:
    admin = community.admin
    resident, other, _ = community.residents
    body = {"title": "停水通知", "body": "周六停水", "audience": {"community_id": community.id}}

    # Permissions and bad input.
    assert (await call(client, resident, "POST", "/announcements", body))[0] == 403
    assert (await call(client, community.staff, "GET", "/announcements"))[0] == 403
    for audience, code in (
        ({}, "invalid_audience"),
        ({"all": True, "role": "merchant"}, "invalid_audience"),
        ({"community_id": str(uuid.uuid4())}, "community_not_found"),
    ):
        status, data = await call(
            client, admin, "POST", "/announcements", body | {"audience": audience}
        )
        assert (status, data["error"]["code"]) in ((422, code), (404, code)), data
    status, data = await call(client, admin, "POST", "/announcements", body | {"title": "a\x00b"})
    assert status == 422, data
    status, data = await call(
        client, admin, "POST", "/announcements", body | {"audience": {"role": "king"}}
    )
    assert status == 422, data
    unauthenticated = await client.get("/api/v1/me/notifications")
    assert unauthenticated.status == 401

    status, made = await call(client, admin, "POST", "/announcements", body)
    assert status == 201, made
    assert made["audience"] == "community"
    assert made["status"] == "sending"
    await run_worker(settings, core)
    status, listed = await call(client, admin, "GET", "/announcements")
    assert status == 200
    assert listed["items"][0]["recipients"] == 3
    assert listed["items"][0]["status"] == "sent"

    # The resident's list, count, paging, read one, read all.
    for i in range(3):
        clock.advance(1)
        await core.notifications.notify(
            [resident.id], Notice("test_event", f"page:{i}", f"消息{i}", "正文")
        )
    status, count = await call(client, resident, "GET", "/me/notifications/unread-count")
    assert (status, count) == (200, {"unread": 4})
    status, page = await call(client, resident, "GET", "/me/notifications?limit=3")
    assert status == 200
    assert [n["title"] for n in page["items"]][:1] == ["消息2"]
    assert page["next_before"]
    status, rest = await call(
        client, resident, "GET", f"/me/notifications?limit=3&before={page['next_before']}"
    )
    assert [n["title"] for n in rest["items"]] == ["停水通知"]
    assert rest["next_before"] is None
    status, data = await call(client, resident, "GET", "/me/notifications?before=%%%")
    assert (status, data["error"]["code"]) == (422, "invalid_cursor")

    first = page["items"][0]["id"]
    # Another user's notification is not found, and changes nothing.
    status, data = await call(client, other, "POST", f"/me/notifications/{first}/read")
    assert (status, data["error"]["code"]) == (404, "notification_not_found")
    assert (await call(client, resident, "POST", f"/me/notifications/{first}/read"))[1] == {
        "unread": 3
    }
    assert (await call(client, resident, "POST", f"/me/notifications/{first}/read"))[1] == {
        "unread": 3
    }
    status, marked = await call(client, resident, "POST", "/me/notifications/read-all")
    assert (status, marked) == (200, {"marked": 3, "unread": 0})
    # The other resident's announcement is still unread.
    assert (await call(client, other, "GET", "/me/notifications/unread-count"))[1] == {"unread": 1}

    # The rate limit: three an hour in this test's settings (one made above).
    for _ in range(2):
        assert (await call(client, admin, "POST", "/announcements", body))[0] == 201
    status, data = await call(client, admin, "POST", "/announcements", body)
    assert (status, data["error"]["code"]) == (429, "rate_limited")


async def test_the_payee_hears_when_a_settlement_is_paid(
    approve_merchant: Any,
    client: Client,
    core: Core,
    settings: Settings,
    clock: ManualClock,
    community: CommunityWorld,
    make_account: Any,
    webhook_target: None,
) -> None:
    buyer = community.residents[0]
    owner = await make_account("店主")
    staff = await make_account("店员")
    merchant = await merchant_of(core, approve_merchant, owner, staff)
    await completed_sale(client, core, settings, buyer, owner, merchant)
    clock.advance(SETTLEMENT_DELAY.total_seconds() + 60)
    for _ in range(2):  # a second run (and the payout webhook again) tells nobody twice
        await settle_by_worker(core, settings)
    settled = await core.pool.fetchrow("SELECT * FROM settlements")
    assert settled is not None
    # A merchant's settlement becomes its available balance (docs/money.md): that is the news.
    for member in (owner, staff):
        (paid,) = [r for r in await rows_of(core, member.id) if r["kind"] == "settlement_available"]
        assert paid["data"]["settlement_id"] == str(settled["id"])
        assert paid["data"]["amount_fen"] == settled["net_fen"]
    assert [r for r in await rows_of(core, buyer.id) if r["kind"].startswith("settlement")] == []


async def test_a_job_queued_inside_a_transaction_waits_for_its_commit(
    core: Core, community: CommunityWorld
) -> None:
    """The job is queued before the caller commits: it must neither miss the notification nor
    deliver one that will roll back."""
    user = community.residents[0]
    sms = core.sms
    assert isinstance(sms, LogSmsProvider)

    async def waiting_on_a_lock() -> bool:
        found: int = await core.pool.fetchval(
            """SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"""
        )
        return found > 0

    async with core.pool.acquire() as conn, conn.transaction():
        (notification_id,) = await core.notifications.notify(
            [user.id], Notice("test_event", "early:1", "标题", "正文"), sms=True, conn=conn
        )
        job = asyncio.create_task(core.notifications.deliver(notification_id))
        await until(waiting_on_a_lock)
        assert not job.done()
    assert await job == "sms:sent"
    assert sms.notices[-1][0] == user.phone

    jobs: list[asyncio.Task[str]] = []

    async def change_that_fails() -> None:
        async with core.pool.acquire() as conn, conn.transaction():
            (doomed,) = await core.notifications.notify(
                [user.id], Notice("test_event", "early:2", "标题", "正文"), sms=True, conn=conn
            )
            jobs.append(asyncio.create_task(core.notifications.deliver(doomed)))
            await until(waiting_on_a_lock)
            raise RuntimeError("the caller's change failed")

    sent = len(sms.notices)
    with pytest.raises(RuntimeError):
        await change_that_fails()
    assert await jobs[0] == "gone"
    assert len(sms.notices) == sent
