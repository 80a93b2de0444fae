"""Points (issue 18, docs/points.md): rules and caps by the local day, lots, spending, expiry and
its notices, take-backs, the catalogue, invitations, and the sources without a hook."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from lago_core.clock import ManualClock
from lago_core.container import Core
from lago_core.coupons import TemplateSpec
from lago_core.errors import Conflict, LagoError
from lago_core.points import ExpiryNotice, PointsService, RuleName
from lago_core.points.rules import COMMUNITY_ZONE
from lago_core.security.roles import MemberStatus, PlatformRole, Principal
from lago_core.settings import Settings
from lago_core.sms import LogSmsProvider

from .conftest import Account, CommunityWorld
from .points_support import assert_points_sound
from .test_orders import act, call, listing, order, pay_order
from .test_payments import webhook_target

__all__ = ["webhook_target"]  # a fixture, re-exported so pytest finds it

Client = TestClient[Any, Any]
DAY = 86_400


def me(account: Account, role: PlatformRole | None = None) -> Principal:
    return Principal(user_id=account.id, session_id=uuid.uuid4(), platform_role=role)


def set_shanghai(clock: ManualClock, hour: int, minute: int = 0) -> None:
    """Move the clock forward to the next ``hour:minute`` in Shanghai (UTC+8), a day or more
    ahead (forward only: access tokens issued before stay in the past)."""
    shanghai = clock.now().astimezone(COMMUNITY_ZONE)
    target = (shanghai + timedelta(days=1)).replace(
        hour=hour, minute=minute, second=0, microsecond=0
    )
    clock.advance((target - shanghai).total_seconds())


async def relog(core: Core, account: Account) -> Account:
    """The account with a fresh access token (after the test clock moved past its expiry)."""
    pair = await core.identity.log_in(account.phone, account.password, "pytest")
    account.access_token = pair.access_token
    return account


async def balance(client: Client, account: Account) -> int:
    status, body = await call(client, account, "GET", "/me/points")
    assert status == 200, body
    return int(body["balance"])


async def test_check_in_follows_the_shanghai_day_and_pays_the_streak(
    client: Client, core: Core, clock: ManualClock, community: CommunityWorld
) -> None:
    resident = community.residents[0]
    set_shanghai(clock, 23, 58)
    await relog(core, resident)
    status, body = await call(client, resident, "POST", "/me/points/check-in")
    assert (status, body) == (200, {"earned": 5, "bonus": 0, "streak_days": 1, "balance": 5})
    status, body = await call(client, resident, "POST", "/me/points/check-in")
    assert (status, body["error"]["code"]) == (409, "already_checked_in")
    # 00:01 in Shanghai is a new day although it is still the same UTC day (16:01).
    clock.advance(180)
    assert clock.now().hour == 16
    status, body = await call(client, resident, "POST", "/me/points/check-in")
    assert (status, body["streak_days"], body["balance"]) == (200, 2, 10)
    for expected in range(3, 8):
        clock.advance(DAY)
        await relog(core, resident)
        status, body = await call(client, resident, "POST", "/me/points/check-in")
        assert (status, body["streak_days"]) == (200, expected)
    # The 7th day in a row: 5 and the 20 bonus.
    assert (body["earned"], body["bonus"], body["balance"]) == (5, 20, 55)
    status, summary = await call(client, resident, "GET", "/me/points")
    assert summary["checked_in_today"] is True
    today = {r["rule"]: (r["earned"], r["cap"]) for r in summary["today"]}
    assert today["check_in"] == (5, 5)
    assert today["streak_bonus"] == (20, 20)
    # A day missed breaks the run.
    clock.advance(2 * DAY)
    await relog(core, resident)
    status, body = await call(client, resident, "POST", "/me/points/check-in")
    assert (body["streak_days"], body["bonus"]) == (1, 0)
    _, history = await call(client, resident, "GET", "/me/points/history?limit=2")
    assert [item["rule"] for item in history["items"]][:1] == ["check_in"]
    await assert_points_sound(core.pool)


async def test_publishing_listings_is_capped_per_day_and_credited_once(
    client: Client, core: Core, clock: ManualClock, community: CommunityWorld
) -> None:
    seller = community.residents[1]
    set_shanghai(clock, 10)
    await relog(core, seller)
    for _ in range(4):
        await listing(client, seller)
    assert await balance(client, seller) == 15
    entries = await core.pool.fetch(
        "SELECT delta, requested, note FROM points_journal WHERE user_id = $1 ORDER BY created_at",
        seller.id,
    )
    # The fourth is journaled as capped: its source is used up, nothing credited.
    assert sorted((e["delta"], e["requested"]) for e in entries) == [(0, 5), (5, 5), (5, 5), (5, 5)]
    # A repeated delivery of the same listing credits nothing, the next day either.
    row = await core.pool.fetchrow("SELECT * FROM listings WHERE seller_id = $1 LIMIT 1", seller.id)
    clock.advance(DAY)
    await core.points.sources.listing_created(row)
    await relog(core, seller)
    assert await balance(client, seller) == 15
    await listing(client, seller)
    assert await balance(client, seller) == 20
    await assert_points_sound(core.pool)


async def test_an_order_completing_pays_spending_points_and_ratings_earn(
    client: Client,
    core: Core,
    settings: Settings,
    community: CommunityWorld,
    webhook_target: None,
) -> None:
    buyer, seller, _ = community.residents
    item = await listing(client, seller, price_fen=12_345)
    placed = await order(client, buyer, item["id"])
    await pay_order(client, core, settings, buyer, placed)
    assert await balance(client, buyer) == 0
    assert (await act(client, seller, placed, "hand-over"))[0] == 200
    assert (await act(client, buyer, placed, "confirm-receipt"))[0] == 200
    # 1 point per whole yuan of what the buyer paid: ¥123.45 → 123.
    assert await balance(client, buyer) == 123
    assert (await act(client, buyer, placed, "ratings", {"score": 5}))[0] == 201
    assert (await act(client, seller, placed, "ratings", {"score": 5}))[0] == 201
    assert await balance(client, buyer) == 126
    assert await balance(client, seller) == 5 + 3  # the listing, then the rating
    _, history = await call(client, buyer, "GET", "/me/points/history")
    assert {(i["rule"], i["delta"]) for i in history["items"]} == {("spending", 123), ("rating", 3)}
    await assert_points_sound(core.pool)


async def test_a_refunded_order_takes_back_what_remains_and_records_the_shortfall(
    core: Core, community: CommunityWorld
) -> None:
    buyer = community.residents[0]
    points = core.points.service
    order_id = uuid.uuid4()
    await points.earn(buyer.id, RuleName.CHECK_IN, "check_in:x")
    await points.earn(buyer.id, RuleName.SPENDING, f"spending:order:{order_id}", amount=100)
    async with core.pool.acquire() as conn, conn.transaction():
        await points.spend_in(conn, buyer.id, 100, "redeem:test")
    async with core.pool.acquire() as conn, conn.transaction():
        taken = await points.take_back_in(
            conn, buyer.id, f"spending:order:{order_id}", f"take_back:order:{order_id}"
        )
        again = await points.take_back_in(
            conn, buyer.id, f"spending:order:{order_id}", f"take_back:order:{order_id}"
        )
    assert (taken, again) == (5, 0)
    entry = await core.pool.fetchrow(
        "SELECT delta, requested, note FROM points_journal WHERE source_key = $1",
        f"take_back:order:{order_id}",
    )
    assert (entry["delta"], entry["requested"], entry["note"]) == (-5, 100, "shortfall 95")
    assert (
        await core.pool.fetchval("SELECT balance FROM points_accounts WHERE user_id = $1", buyer.id)
        == 0
    )
    await assert_points_sound(core.pool)


async def test_spending_takes_the_oldest_lots_first(
    core: Core, clock: ManualClock, community: CommunityWorld
) -> None:
    user = community.residents[0]
    points = core.points.service
    await points.earn(user.id, RuleName.SPENDING, "spending:order:a", amount=30)
    clock.advance(10 * DAY)
    await points.earn(user.id, RuleName.SPENDING, "spending:order:b", amount=50)
    async with core.pool.acquire() as conn, conn.transaction():
        await points.spend_in(conn, user.id, 40, "redeem:one")
    lots = await core.pool.fetch(
        "SELECT amount, remaining FROM points_lots WHERE user_id = $1 ORDER BY earned_at", user.id
    )
    assert [(r["amount"], r["remaining"]) for r in lots] == [(30, 0), (50, 40)]
    await assert_points_sound(core.pool)


async def test_lots_expire_after_a_year_and_residents_are_told_a_week_before(
    client: Client, core: Core, clock: ManualClock, community: CommunityWorld
) -> None:
    resident = community.residents[0]
    points = core.points.service
    await points.earn(resident.id, RuleName.SPENDING, "spending:order:old", amount=40)
    clock.advance(100 * DAY)
    await points.earn(resident.id, RuleName.SPENDING, "spending:order:new", amount=7)
    clock.advance(260 * DAY)  # 360 days after the first lot: it expires within the week
    assert await points.notify_expiring() == {"recorded": 1, "sent": 1}
    assert await points.notify_expiring() == {"recorded": 0, "sent": 0}
    # Told through the notification centre: in the app, with an SMS copy it delivers.
    told = await core.pool.fetch(
        """SELECT n.user_id, n.kind, n.body, d.channel, d.address FROM notifications n
           JOIN notification_deliveries d ON d.notification_id = n.id"""
    )
    assert [(r["user_id"], r["kind"], r["channel"], r["address"]) for r in told] == [
        (resident.id, "points_expiring", "sms", resident.phone)
    ]
    assert "40积分" in told[0]["body"]
    # A year on, the resident reads the summary the endpoint serves.
    summary = await points.summary(me(resident))
    assert summary.expiring_soon is not None
    assert summary.expiring_soon.points == 40
    assert await points.expire_due() == 0
    clock.advance(6 * DAY)
    assert await points.expire_due() == 40
    assert await points.expire_due() == 0
    assert (await points.summary(me(resident))).balance == 7
    expired = await core.pool.fetch("SELECT delta FROM points_journal WHERE kind = 'expire'")
    assert [r["delta"] for r in expired] == [-40]
    await assert_points_sound(core.pool)


async def test_the_catalogue_redeems_atomically_and_idempotently(
    client: Client, core: Core, community: CommunityWorld
) -> None:
    admin, resident = community.admin, community.residents[0]
    gift = {"kind": "gift", "name": "保温杯", "points_cost": 30, "stock": 1, "pickup": "locker"}
    status, body = await call(client, resident, "POST", "/points-products", gift)
    assert status == 403
    status, body = await call(client, admin, "POST", "/points-products", gift | {"pickup": None})
    assert (status, body["error"]["code"]) == (422, "invalid_product")
    status, product = await call(client, admin, "POST", "/points-products", gift)
    assert status == 201, product
    await core.points.service.earn(resident.id, RuleName.SPENDING, "spending:order:z", amount=70)

    async def redeem(key: str, product_id: str = product["id"]) -> tuple[int, Any]:
        response = await client.post(
            f"/api/v1/points-products/{product_id}/redeem",
            headers={**resident.headers, "Idempotency-Key": key},
        )
        return response.status, await response.json()

    status, first = await redeem("k1")
    assert status == 201, first
    assert (first["status"], first["pickup"], first["points"]) == ("awaiting_pickup", "locker", 30)
    assert len(first["pickup_code"]) == 10
    assert await redeem("k1") == (201, first)  # a retry answers with the same redemption
    status, body = await redeem("k2")
    assert (status, body["error"]["code"]) == (409, "product_sold_out")
    assert await balance(client, resident) == 40
    # Restock; the points are short of a second unit at 50.
    status, _ = await call(
        client, admin, "PATCH", f"/points-products/{product['id']}", {"stock": 5, "points_cost": 50}
    )
    assert status == 200
    status, body = await redeem("k3")
    assert (status, body["error"]["code"]) == (409, "insufficient_points")
    stock = await core.pool.fetchval(
        "SELECT stock FROM points_products WHERE id = $1", uuid.UUID(product["id"])
    )
    assert stock == 5  # the refused redemption took no stock
    # A coupon product names a platform template that is issuing; redeeming waits for the
    # coupon issuer. Privileges become entitlements.
    coupon_product = {"kind": "coupon", "name": "满50减5", "points_cost": 10}
    status, body = await call(
        client,
        admin,
        "POST",
        "/points-products",
        coupon_product | {"coupon_template_id": str(uuid.uuid4())},
    )
    assert (status, body["error"]["code"]) == (422, "unknown_coupon_template")
    template = await core.coupons.create_template(
        me(admin, PlatformRole.ADMIN),
        TemplateSpec(name="满50减5", kind="amount_off", valid_days=30, amount_off_fen=500),
    )
    status, coupon = await call(
        client,
        admin,
        "POST",
        "/points-products",
        coupon_product | {"coupon_template_id": str(template["id"])},
    )
    assert status == 201, coupon
    issuer, core.points.catalogue.coupons = core.points.catalogue.coupons, None
    status, body = await redeem("k4", coupon["id"])
    assert (status, body["error"]["code"]) == (409, "coupon_products_unavailable")
    core.points.catalogue.coupons = issuer
    status, privilege = await call(
        client,
        admin,
        "POST",
        "/points-products",
        {"kind": "privilege", "name": "活动优先权", "points_cost": 10},
    )
    status, granted = await redeem("k5", privilege["id"])
    assert (status, granted["status"]) == (201, "granted")
    assert (
        await core.pool.fetchval(
            "SELECT count(*) FROM points_entitlements WHERE user_id = $1", resident.id
        )
        == 1
    )
    _, mine = await call(client, resident, "GET", "/me/redemptions")
    assert sorted(r["name"] for r in mine["items"]) == sorted(["活动优先权", "保温杯"])
    status, _ = await call(
        client, admin, "PATCH", f"/points-products/{privilege['id']}", {"status": "inactive"}
    )
    _, listed = await call(client, resident, "GET", "/points-products")
    assert privilege["id"] not in [p["id"] for p in listed["items"]]
    status, body = await redeem("k6", privilege["id"])
    assert (status, body["error"]["code"]) == (409, "product_inactive")
    await assert_points_sound(core.pool)


async def test_concurrent_redemptions_spend_exactly_what_the_balance_covers(
    core: Core, community: CommunityWorld
) -> None:
    resident, admin = community.residents[0], community.admin
    catalogue = core.points.catalogue
    product = await catalogue.store.insert_product(
        {
            "id": uuid.uuid4(),
            "kind": "gift",
            "name": "毛巾",
            "points_cost": 10,
            "stock": 8,
            "pickup": "merchant",
            "created_at": core.clock.now(),
            "updated_at": core.clock.now(),
        }
    )
    del admin
    await core.points.service.earn(resident.id, RuleName.SPENDING, "spending:order:c", amount=55)
    catalogue._limiter = None  # the rate limit is not what this test is about

    async def attempt(i: int) -> str:
        try:
            await catalogue.redeem(me(resident), product["id"], f"key-{i}")
        except LagoError as exc:
            return exc.code
        return "ok"

    outcomes = await asyncio.gather(*(attempt(i) for i in range(20)))
    assert outcomes.count("ok") == 5, outcomes
    assert set(outcomes) == {"ok", "insufficient_points"}
    assert (
        await core.pool.fetchval("SELECT stock FROM points_products WHERE id = $1", product["id"])
        == 3
    )
    assert (
        await core.pool.fetchval(
            "SELECT balance FROM points_accounts WHERE user_id = $1", resident.id
        )
        == 5
    )
    # Stock runs out before points: another resident with plenty gets the last three only.
    other = community.residents[1]
    await core.points.service.earn(other.id, RuleName.SPENDING, "spending:order:d", amount=1_000)

    async def attempt_other(i: int) -> str:
        try:
            await catalogue.redeem(me(other), product["id"], f"other-{i}")
        except LagoError as exc:
            return exc.code
        return "ok"

    outcomes = await asyncio.gather(*(attempt_other(i) for i in range(10)))
    assert outcomes.count("ok") == 3, outcomes
    assert (
        await core.pool.fetchval("SELECT stock FROM points_products WHERE id = $1", product["id"])
        == 0
    )
    await assert_points_sound(core.pool)


async def _sign_up(
    client: Client, core: Core, phone: str, invite_code: str | None
) -> tuple[int, Any]:
    response = await client.post("/api/v1/auth/codes", json={"phone": phone, "purpose": "signup"})
    assert response.status == 202, await response.text()
    sms = core.sms
    assert isinstance(sms, LogSmsProvider)
    code = sms.sent[-1][1]
    body: dict[str, Any] = {
        "phone": phone,
        "code": code,
        "password": "a long password",
        "display_name": "新邻居",
    }
    if invite_code is not None:
        body["invite_code"] = invite_code
    response = await client.post("/api/v1/auth/signup", json=body)
    return response.status, await response.json()


async def test_an_invitation_pays_once_the_invitee_is_verified(
    client: Client, core: Core, community: CommunityWorld
) -> None:
    inviter = community.residents[0]
    status, mine = await call(client, inviter, "GET", "/me/invitation")
    assert status == 200
    code = mine["code"]
    assert (mine["invited"], mine["earned"]) == ([], 0)
    status, body = await _sign_up(client, core, "+8613700001111", "ABCDEFGH")
    assert (status, body["error"]["code"]) == (422, "invalid_invite_code")
    # Refused before the SMS code was spent? A new code is needed either way after a refusal
    # (the cooldown), so the account simply does not exist.
    assert (
        await core.pool.fetchval("SELECT count(*) FROM users WHERE phone = '+8613700001111'") == 0
    )
    status, body = await _sign_up(client, core, "+8613700002222", code.lower())
    assert status == 201, body
    invitee_id = await core.pool.fetchval("SELECT id FROM users WHERE phone = '+8613700002222'")
    _, mine = await call(client, inviter, "GET", "/me/invitation")
    assert [(i["phone"], i["status"]) for i in mine["invited"]] == [("+86137****2222", "pending")]
    await core.communities.request_to_join(
        Principal(invitee_id, uuid.uuid4(), None), uuid.UUID(community.id), None, None
    )
    await core.communities.decide(
        me(community.staff), uuid.UUID(community.id), invitee_id, MemberStatus.VERIFIED, None
    )
    _, mine = await call(client, inviter, "GET", "/me/invitation")
    assert (mine["invited"][0]["status"], mine["earned"]) == ("credited", 50)
    assert (await core.points.sources.scan())["invitations"] == 0  # credited once
    await assert_points_sound(core.pool)


async def test_self_invitations_and_rings_are_refused(
    core: Core, community: CommunityWorld
) -> None:
    a, b, c = community.residents
    invitations = core.points.invitations
    store = invitations.store
    for account in (a, b, c):
        await invitations.code_of(account.id)

    async def record(invitee: Account, inviter: Account) -> str:
        async with core.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow("SELECT id, phone FROM users WHERE id = $1", inviter.id)
            try:
                await invitations.record_invitation_in(conn, invitee.id, invitee.phone, row)
            except LagoError as exc:
                return exc.code
        return "ok"

    assert await record(a, a) == "invite_refused"
    assert await record(b, a) == "ok"  # A invited B
    assert await record(a, b) == "invite_refused"  # B inviting A: a ring
    assert await record(c, b) == "ok"  # B invited C
    assert await record(a, c) == "invite_refused"  # C inviting A closes A → B → C → A
    assert await record(c, a) == "already_invited"
    del store
    # The same phone as the inviter's is refused at the check before sign-up.
    code = await invitations.code_of(a.id)
    with pytest.raises(Conflict) as refused:
        await invitations.check_code(a.phone, code)
    assert refused.value.code == "invite_refused"


async def test_channel_posts_earn_after_the_grace_period_unless_deleted(
    core: Core, clock: ManualClock, community: CommunityWorld
) -> None:
    author = community.residents[0]
    community_id = uuid.UUID(community.id)
    now = clock.now()
    for seq in range(1, 6):
        await core.pool.execute(
            """INSERT INTO channel_events (community_id, seq, type, user_id, client_msg_id, data,
                                          created_at, deleted_at)
               VALUES ($1, $2, 'chat.message', $3, $4, '{}', $5, $6)""",
            community_id,
            seq,
            author.id,
            f"m{seq}",
            now,
            now if seq == 1 else None,  # the first was deleted by moderation
        )
    assert (await core.points.sources.scan())["posts"] == 0  # still within the grace period
    clock.advance(core.settings.points_post_grace_s + 1)
    assert (await core.points.sources.scan())["posts"] == 4
    assert (await core.points.sources.scan())["posts"] == 0
    assert (
        await core.pool.fetchval(
            "SELECT balance FROM points_accounts WHERE user_id = $1", author.id
        )
        == 15
    )  # four posts, capped at 15 for the day they were made
    await assert_points_sound(core.pool)


async def test_lottery_entries_and_events_are_activities_capped_at_30(
    core: Core, clock: ManualClock, community: CommunityWorld
) -> None:
    resident = community.residents[0]
    community_id = uuid.UUID(community.id)
    now = clock.now()
    for eligibility in ("keyword", "members"):
        draw_id = uuid.uuid4()
        await core.pool.execute(
            """INSERT INTO lottery_draws (id, community_id, organiser_id, prize, winner_count,
                                         eligibility, keyword, commitment, seed, opened_at, draw_at)
               VALUES ($1, $2, $3, '玩具', 1, $4, $5, $6, $6, $7, $7)""",
            draw_id,
            community_id,
            community.staff.id,
            eligibility,
            "抽奖" if eligibility == "keyword" else None,
            "a" * 64,
            now,
        )
        await core.pool.execute(
            """INSERT INTO lottery_results (draw_id, entries, entries_hash, winners, drawn_at)
               VALUES ($1, $2, $3, '[]', $4)""",
            draw_id,
            [str(resident.id)],
            "b" * 64,
            now,
        )
    # Only the keyword draw took part; a draw among all members does not count.
    assert (await core.points.sources.scan())["lottery"] == 1
    sources = core.points.sources
    assert await sources.event_attended(resident.id, "event-1") == 10
    assert await sources.event_attended(resident.id, "event-1") == 0
    assert await sources.event_attended(resident.id, "event-2") == 10
    assert await sources.event_attended(resident.id, "event-3") == 0  # the cap of 30
    await assert_points_sound(core.pool)


async def test_check_ins_and_redemptions_are_rate_limited(
    client: Client, core: Core, community: CommunityWorld
) -> None:
    resident = community.residents[2]
    codes = [(await call(client, resident, "POST", "/me/points/check-in"))[0] for _ in range(11)]
    assert codes == [200] + [409] * 9 + [429]
    product = uuid.uuid4()
    statuses = []
    for i in range(21):
        response = await client.post(
            f"/api/v1/points-products/{product}/redeem",
            headers={**resident.headers, "Idempotency-Key": f"k{i}"},
        )
        statuses.append(response.status)
    assert statuses == [404] * 20 + [429]


async def test_a_notice_that_could_not_be_told_is_told_by_the_next_run(
    core: Core, clock: ManualClock, community: CommunityWorld
) -> None:
    resident = community.residents[0]
    told: list[ExpiryNotice] = []
    failing = [True]

    async def tell(notice: ExpiryNotice) -> None:
        # Stands in for the SMS provider, which is down for the first run.
        if failing[0]:
            raise ConnectionError("the SMS provider is down")
        told.append(notice)

    service = PointsService(core.points.service.store, clock, tell=tell)
    await service.earn(resident.id, RuleName.SPENDING, "spending:order:n", amount=12)
    clock.advance(360 * DAY)
    assert await service.notify_expiring() == {"recorded": 1, "sent": 0}
    failing[0] = False
    assert await service.notify_expiring() == {"recorded": 0, "sent": 1}
    assert [(n.user_id, n.points) for n in told] == [(resident.id, 12)]
    assert await service.notify_expiring() == {"recorded": 0, "sent": 0}


async def test_the_scan_credits_a_completed_order_whose_hook_did_not(
    client: Client,
    core: Core,
    settings: Settings,
    community: CommunityWorld,
    webhook_target: None,
) -> None:
    buyer, seller, _ = community.residents
    item = await listing(client, seller, price_fen=5_099)
    placed = await order(client, buyer, item["id"])
    await pay_order(client, core, settings, buyer, placed)
    # As if the hook's savepoint had failed: the order completed, no points with it.
    await core.pool.execute(
        """UPDATE orders SET status = 'completed', completed_at = $2, updated_at = $2
           WHERE id = $1""",
        uuid.UUID(placed["id"]),
        core.clock.now(),
    )
    assert await balance(client, buyer) == 0
    assert (await core.points.sources.scan())["spending"] == 1
    assert (await core.points.sources.scan())["spending"] == 0
    assert await balance(client, buyer) == 50
    await assert_points_sound(core.pool)


async def test_bad_input_is_refused_with_a_code(
    client: Client, core: Core, community: CommunityWorld
) -> None:
    resident, admin = community.residents[0], community.admin
    await core.points.service.earn(resident.id, RuleName.CHECK_IN, "check_in:bad-input")
    for path in ("/me/points/history?before=soon", "/me/points/history?limit=0"):
        status, body = await call(client, resident, "GET", path)
        assert (status, body["error"]["code"]) == (422, "invalid_input"), (path, body)
    # A time without a zone is read as UTC rather than failing.
    status, body = await call(
        client, resident, "GET", "/me/points/history?before=2999-01-01T00:00:00"
    )
    assert (status, len(body["items"])) == (200, 1)
    gift = {"kind": "gift", "name": "杯\u0000子", "points_cost": 5, "stock": 1, "pickup": "locker"}
    status, body = await call(client, admin, "POST", "/points-products", gift)
    assert status == 422, body
    status, body = await call(
        client, admin, "POST", "/points-products", gift | {"name": "杯子", "points_cost": 0}
    )
    assert status == 422, body
    status, product = await call(client, admin, "POST", "/points-products", gift | {"name": "杯子"})
    assert status == 201, product
    for patch in ({"stock": -1}, {"kind": "coupon"}, {"points_cost": "5"}):
        status, body = await call(
            client, admin, "PATCH", f"/points-products/{product['id']}", patch
        )
        assert status == 422, (patch, body)
    status, body = await call(
        client, admin, "PATCH", f"/points-products/{uuid.uuid4()}", {"stock": 1}
    )
    assert status == 404, body
    response = await client.post(
        "/api/v1/points-products/not-a-uuid/redeem",
        headers={**resident.headers, "Idempotency-Key": "k"},
    )
    assert response.status == 422
    response = await client.post(
        f"/api/v1/points-products/{product['id']}/redeem", headers=resident.headers
    )
    assert (await response.json())["error"]["code"] == "idempotency_key_required"
    assert (await client.get("/api/v1/me/points")).status == 401


async def test_coupon_products_issue_through_the_coupon_issuer_in_the_same_transaction(
    client: Client, core: Core, community: CommunityWorld
) -> None:
    resident, admin = community.residents[0], community.admin
    status, template = await call(
        client,
        admin,
        "POST",
        "/coupon-templates",
        {
            "name": "满50减5",
            "kind": "amount_off",
            "amount_off_fen": 500,
            "threshold_fen": 5_000,
            "total_count": 1,
            "per_user_limit": 5,
            "valid_days": 30,
            "claimable": False,
        },
    )
    assert status == 201, template
    status, product = await call(
        client,
        admin,
        "POST",
        "/points-products",
        {
            "kind": "coupon",
            "name": "满50减5",
            "points_cost": 20,
            "coupon_template_id": template["id"],
        },
    )
    assert status == 201, product
    await core.points.service.earn(resident.id, RuleName.SPENDING, "spending:order:cp", amount=100)

    async def redeem(key: str) -> tuple[int, Any]:
        response = await client.post(
            f"/api/v1/points-products/{product['id']}/redeem",
            headers={**resident.headers, "Idempotency-Key": key},
        )
        return response.status, await response.json()

    status, first = await redeem("c1")
    assert (status, first["status"]) == (201, "issued"), first
    _, wallet = await call(client, resident, "GET", "/me/coupons?status=available")
    assert [(c["id"], c["source"]) for c in wallet["items"]] == [(first["coupon_id"], "points")]
    assert await redeem("c1") == (201, first)
    # The template is exhausted: the issuer refuses, and the points and the redemption go back
    # with it.
    status, body = await redeem("c2")
    assert (status, body["error"]["code"]) == (409, "coupon_sold_out")
    assert await balance(client, resident) == 80
    assert await core.pool.fetchval("SELECT count(*) FROM points_redemptions") == 1
    await assert_points_sound(core.pool)


async def test_a_gift_is_handed_over_once_by_staff_of_the_residents_community(
    client: Client, core: Core, community: CommunityWorld, make_account: Any
) -> None:
    """Property staff of the resident's community (or an admin) look a pickup code up and hand
    the gift over once; anyone else, a wrong code and a malformed one learn nothing."""
    admin, staff, resident = community.admin, community.staff, community.residents[0]
    status, product = await call(
        client,
        admin,
        "POST",
        "/points-products",
        {"kind": "gift", "name": "乐高钥匙扣", "points_cost": 10, "stock": 3, "pickup": "locker"},
    )
    assert status == 201, product
    await core.points.service.earn(resident.id, RuleName.SPENDING, "spending:order:g", amount=50)
    response = await client.post(
        f"/api/v1/points-products/{product['id']}/redeem",
        headers={**resident.headers, "Idempotency-Key": "gift-1"},
    )
    redemption = await response.json()
    assert response.status == 201, redemption
    code = redemption["pickup_code"]

    async def counter(account: Account, action: str, pickup_code: str) -> tuple[int, Any]:
        return await call(
            client, account, "POST", f"/points-gifts/{action}", {"pickup_code": pickup_code}
        )

    # Nobody but staff of the resident's community and admins: the same 404 as a wrong code.
    stranger_staff = await make_account("别的物业")
    for account in (community.residents[1], community.outsider, stranger_staff):
        status, body = await counter(account, "look-up", code)
        assert (status, body["error"]["code"]) == (404, "pickup_code_not_found")
    wrong = "Z" * 10 if code != "Z" * 10 else "Y" * 10
    status, body = await counter(staff, "look-up", wrong)
    assert (status, body["error"]["code"]) == (404, "pickup_code_not_found")
    for bad, error in (
        ("short", "invalid_pickup_code"),
        ("0O1I0O1I0O", "invalid_pickup_code"),
        ("abc\x00defghi", "invalid_text"),
    ):
        status, body = await counter(staff, "look-up", bad)
        assert (status, body["error"]["code"]) == (422, error), bad
    # Staff read it as typed (lower case, spaces), see the masked phone, hand it over once.
    status, seen = await counter(staff, "look-up", f" {code.lower()} ")
    assert (status, seen["id"], seen["status"]) == (200, redemption["id"], "awaiting_pickup")
    assert seen["phone"] != resident.phone
    assert seen["phone"][-4:] == resident.phone[-4:]
    results = await asyncio.gather(
        counter(staff, "hand-over", code), counter(admin, "hand-over", code)
    )
    assert sorted(status for status, _ in results) == [200, 409]
    done = next(body for status, body in results if status == 200)
    assert (done["status"], done["picked_up_at"] is not None) == ("picked_up", True)
    _, mine = await call(client, resident, "GET", "/me/redemptions")
    assert [(r["status"], r["picked_up_at"] is not None) for r in mine["items"]] == [
        ("picked_up", True)
    ]
    await assert_points_sound(core.pool)
