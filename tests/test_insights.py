"""AI operations and the customer portrait (docs/insights.md): aggregates kept by real events
(orders, refunds, ratings, reports, views, favourites, searches, messages), an idempotent
roll-up, hotness, risk with reasons, the effect of a live stream and a group buy, the weekly
suggestions pushed once, the portrait's k-anonymity, consent-only demographics, and who may
read what."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from lago_core.clock import ManualClock
from lago_core.container import Core
from lago_core.insights import suppress
from lago_core.insights.rules import NO_COMMUNITY, RiskCounts, area_of, risk_reasons
from lago_core.jobs import ROLL_UP_INSIGHTS, WEEKLY_SUGGESTIONS
from lago_core.security.roles import PlatformRole, Principal
from lago_core.settings import Settings

from .conftest import Account, CommunityWorld
from .groupbuy_support import bulk_residents, campaign, merchant_with_item
from .test_orders import act, call, listing, merchant_of, order, pay_order
from .test_payments import pay, run_worker, webhook_target

Client = TestClient[Any, Any]
MakeAccount = Callable[..., Awaitable[Account]]
__all__ = ["webhook_target"]  # the fixture, re-exported so pytest finds it here


async def signed_in_again(core: Core, *accounts: Account) -> None:
    """Fresh access tokens after the clock moved past their lifetime."""
    for account in accounts:
        pair = await core.identity.log_in(account.phone, account.password, "pytest")
        account.access_token = pair.access_token


def _on_the_hour(clock: ManualClock) -> None:
    """Hourly buckets: start the test at a whole hour so windows and buckets line up."""
    now = clock.now()
    clock.advance(3600 - (now.minute * 60 + now.second))


async def activity(core: Core, community: str | uuid.UUID, category: str) -> dict[str, int]:
    row = await core.pool.fetchrow(
        """SELECT COALESCE(sum(views), 0) AS views, COALESCE(sum(favourites), 0) AS favourites,
                  COALESCE(sum(searches), 0) AS searches, COALESCE(sum(orders), 0) AS orders,
                  COALESCE(sum(gmv_fen), 0) AS gmv_fen
           FROM insight_activity WHERE community_id = $1 AND category = $2""",
        uuid.UUID(str(community)),
        category,
    )
    return {k: int(v) for k, v in dict(row).items()}


async def test_orders_refunds_ratings_and_reports_bump_the_aggregates(
    client: Client,
    core: Core,
    settings: Settings,
    community: CommunityWorld,
    webhook_target: None,
) -> None:
    buyer, seller, neighbour = community.residents
    item = await listing(client, seller)
    placed = await order(client, buyer, item["id"])
    await pay_order(client, core, settings, buyer, placed)
    assert (await act(client, buyer, placed, "request-refund"))[0] == 200
    assert (await act(client, seller, placed, "reject"))[0] == 200

    again = await order(client, buyer, item["id"])
    await pay_order(client, core, settings, buyer, again)
    assert (await act(client, seller, again, "hand-over"))[0] == 200
    assert (await act(client, buyer, again, "confirm-receipt"))[0] == 200
    assert (await act(client, buyer, again, "ratings", {"score": 1, "comment": "有破损"}))[0] == 201
    # The seller's rating of the buyer is no complaint about the seller.
    assert (await act(client, seller, again, "ratings", {"score": 1}))[0] == 201

    status, body = await call(
        client, neighbour, "POST", f"/listings/{item['id']}/reports", {"reason": "疑似假货"}
    )
    assert (status, body) == (200, {"new": True})
    status, body = await call(
        client, neighbour, "POST", f"/listings/{item['id']}/reports", {"reason": "再次举报"}
    )
    assert (status, body) == (200, {"new": False})  # once per reporter
    status, body = await call(
        client, seller, "POST", f"/listings/{item['id']}/reports", {"reason": "自己"}
    )
    assert (status, body["error"]["code"]) == (422, "own_listing")
    status, _ = await call(
        client, neighbour, "POST", f"/listings/{item['id']}/reports", {"reason": "a\x00b"}
    )
    assert status == 422
    # Someone who may not see the listing cannot report it (as if it did not exist).
    status, _ = await call(
        client, community.outsider, "POST", f"/listings/{item['id']}/reports", {"reason": "x"}
    )
    assert status == 404

    # The seller cancels an order before payment (counts); a buyer drops one (does not).
    spare = await listing(client, seller, title="乐高 C")
    dropped = await order(client, neighbour, spare["id"])
    assert (await act(client, neighbour, dropped, "cancel"))[0] == 200
    refused = await order(client, neighbour, spare["id"])
    assert (await act(client, seller, refused, "cancel"))[0] == 200

    assert await activity(core, community.id, "building_blocks") == {
        "views": 0,
        "favourites": 0,
        "searches": 0,
        "orders": 2,
        "gmv_fen": 20_000,
    }
    status, risks = await call(
        client, community.staff, "GET", f"/insights/risk?community_id={community.id}"
    )
    assert status == 200, risks
    by_subject = {r["subject_id"]: r for r in risks}
    assert set(by_subject) == {item["id"], spare["id"], str(seller.id)}
    found = by_subject[item["id"]]
    assert found["subject_id"] == item["id"]
    assert found["name"] == item["title"]
    assert (found["orders"], found["refunds"], found["low_ratings"], found["reports"]) == (
        2,
        1,
        1,
        1,
    )
    # 3 (report) + 2 (refund) + 2 (low rating), each with its reason.
    assert found["score"] == 7
    assert found["level"] == "medium"
    assert set(found["reasons"]) == {"1 次举报", "1 次退款，退款率 50 %", "1 次差评（≤2 星）"}
    assert by_subject[spare["id"]]["reasons"] == ["1 次取消"]
    assert by_subject[spare["id"]]["level"] == "low"
    seller_risk = by_subject[str(seller.id)]
    assert (seller_risk["subject_kind"], seller_risk["cancellations"]) == ("seller", 1)
    assert seller_risk["score"] == 8
    assert seller_risk["level"] == "high"


async def test_the_roll_up_adds_views_favourites_searches_and_messages_once(
    client: Client, core: Core, clock: ManualClock, community: CommunityWorld
) -> None:
    viewer, seller, other = community.residents
    blocks = await listing(client, seller)
    console = await listing(client, seller, title="Switch 游戏机", category="game_console")
    for _ in range(3):
        assert (await call(client, viewer, "POST", f"/listings/{blocks['id']}/views"))[0] == 204
    assert (await call(client, other, "POST", f"/listings/{console['id']}/views"))[0] == 204
    assert (await call(client, viewer, "PUT", f"/listings/{blocks['id']}/favourite"))[0] == 204
    assert (await call(client, other, "PUT", f"/listings/{blocks['id']}/favourite"))[0] == 204
    assert (await call(client, viewer, "GET", "/search?q=想买乐高积木"))[0] == 200
    community_id = uuid.UUID(community.id)
    # Chat messages reach PostgreSQL through the channel archive; two archived messages.
    for seq in (1, 2):
        await core.pool.execute(
            """INSERT INTO channel_events (community_id, seq, type, user_id, data, created_at)
               VALUES ($1, $2, 'chat.message', $3, '{"text": "hi"}', $4)""",
            community_id,
            seq,
            viewer.id,
            clock.now(),
        )

    # A neighbour reports the first message (customer service's queue; its author's risk).
    await core.moderation.report(other.id, community_id, 1, "广告刷屏")

    # Too fresh: a row younger than the settle time waits for the next run. Archived messages
    # need no settling (a community's archive is written in sequence order).
    fresh = await core.insights.roll_up()
    assert (await activity(core, community.id, "building_blocks"))["views"] == 0
    assert fresh["messages"] == 2

    clock.advance(120)
    first = await core.insights.roll_up()
    assert first["views"] == 4
    expected = {"views": 3, "favourites": 2, "searches": 1, "orders": 0, "gmv_fen": 0}
    assert await activity(core, community.id, "building_blocks") == expected
    assert (await activity(core, community.id, "game_console"))["views"] == 1
    # Again, by the worker's job and directly: nothing is counted twice.
    await core.jobs.enqueue(ROLL_UP_INSIGHTS, job_id=f"roll-{uuid.uuid4()}")
    await run_worker(core.settings, core)
    again = await core.insights.roll_up()
    assert again["views"] == 0
    assert again["messages"] == 0
    assert await activity(core, community.id, "building_blocks") == expected
    messages = await core.pool.fetchval(
        "SELECT sum(messages) FROM insight_community_hours WHERE community_id = $1", community_id
    )
    assert messages == 2
    reported = await core.pool.fetch(
        "SELECT subject_kind, subject_id, reported_messages FROM insight_risk_days"
    )
    assert [tuple(r) for r in reported] == [("seller", viewer.id, 1)]

    # New rows after the marks are added on top, once even by two runs at the same time.
    assert (await call(client, other, "POST", f"/listings/{blocks['id']}/views"))[0] == 204
    clock.advance(120)
    await asyncio.gather(core.insights.roll_up(), core.insights.roll_up())
    assert (await activity(core, community.id, "building_blocks"))["views"] == 4

    # Hotness: blocks (4 views, 2 favourites, 1 search) ahead of the console (1 view).
    status, hot = await call(
        client, community.staff, "GET", f"/insights/hotness?community_id={community.id}"
    )
    assert status == 200, hot
    assert [h["category"] for h in hot] == ["building_blocks", "game_console"]
    assert hot[0]["name"] == "积木"
    assert hot[0]["views"] == 4


async def test_hotness_decays_with_age(core: Core, community: CommunityWorld) -> None:
    now = core.clock.now().replace(minute=0, second=0, microsecond=0)
    community_id = uuid.UUID(community.id)
    # Ten views four weeks ago weigh 10 × 0.5⁴ ≈ 0.6: less than three views today.
    await core.insights.store.bump_activity(
        core.pool, community_id, "doll", now - timedelta(days=27), views=10
    )
    await core.insights.store.bump_activity(core.pool, community_id, "plush", now, views=3)
    admin = Principal(community.admin.id, uuid.uuid4(), PlatformRole.ADMIN)
    hot = await core.insights.hotness(admin, community_id=community_id)
    assert [h["category"] for h in hot] == ["plush", "doll"]
    assert hot[1]["views"] == 10
    assert 0.5 < hot[1]["score"] < 0.8


async def test_effect_of_a_live_stream_and_a_group_buy(
    client: Client,
    core: Core,
    settings: Settings,
    clock: ManualClock,
    community: CommunityWorld,
    make_account: MakeAccount,
    approve_merchant: Any,
    webhook_target: None,
) -> None:
    _on_the_hour(clock)
    buyer, seller, _ = community.residents
    await signed_in_again(core, buyer, seller, community.staff)
    community_id = uuid.UUID(community.id)
    # Before: one paid order in the hour before the stream.
    first = await order(client, buyer, (await listing(client, seller))["id"])
    await pay_order(client, core, settings, buyer, first)
    status, announced = await call(
        client,
        community.staff,
        "POST",
        f"/communities/{community.id}/live/announcements",
        {"title": "周末乐高直播", "starts_at": (clock.now() + timedelta(hours=1)).isoformat()},
    )
    assert status == 201, announced
    clock.advance(3600 + 600)
    await signed_in_again(core, buyer, seller, community.staff)
    # During: a new resident, two paid orders, three messages.
    newcomer = await make_account("新邻居")
    await core.communities.request_to_join(
        Principal(newcomer.id, uuid.uuid4()), community_id, None, None
    )
    from lago_core.security.roles import MemberStatus

    await core.communities.decide(
        Principal(community.staff.id, uuid.uuid4()),
        community_id,
        newcomer.id,
        MemberStatus.VERIFIED,
        None,
    )
    for title in ("乐高 A", "乐高 B"):
        placed = await order(client, buyer, (await listing(client, seller, title=title))["id"])
        await pay_order(client, core, settings, buyer, placed)
    for seq in (1, 2, 3):
        await core.pool.execute(
            """INSERT INTO channel_events (community_id, seq, type, user_id, data, created_at)
               VALUES ($1, $2, 'chat.message', $3, '{"text": "来了"}', $4)""",
            community_id,
            seq,
            buyer.id,
            clock.now(),
        )
    clock.advance(120)
    await core.insights.roll_up()

    status, effect = await call(
        client,
        community.staff,
        "GET",
        f"/insights/effect?kind=live&id={announced['id']}",
    )
    assert status == 200, effect
    assert effect["title"] == "周末乐高直播"
    before, during = effect["before"], effect["during"]
    assert (before["orders"], before["gmv_fen"], before["members_joined"]) == (1, 10_000, 0)
    assert (during["orders"], during["gmv_fen"]) == (2, 20_000)
    assert (during["members_joined"], during["messages"]) == (1, 3)
    assert effect["change_percent"]["orders"] == 100
    assert effect["change_percent"]["messages"] is None  # nothing before to compare with
    # A resident of the community reads no effects; an unknown kind is a 400.
    assert (await call(client, buyer, "GET", f"/insights/effect?kind=live&id={announced['id']}"))[
        0
    ] == 403
    status, body = await call(
        client, community.staff, "GET", f"/insights/effect?kind=poll&id={announced['id']}"
    )
    assert (status, body["error"]["code"]) == (422, "invalid_kind")

    # A group buy: the window is the group's life; its merchant reads the effect too.
    owner = await make_account("店主")
    merchant_id, item_id = await merchant_with_item(core, approve_merchant, owner, community)
    offer = await campaign(client, owner, merchant_id, item_id, community)
    group_id = uuid.uuid4()
    started = clock.now() - timedelta(minutes=10)
    # Groups are formed by the channel actor; this is the row it writes when one is started.
    async with core.pool.acquire() as conn:
        await core.groupbuys.store.insert_group(
            conn,
            {
                "id": group_id,
                "campaign_id": uuid.UUID(offer["id"]),
                "community_id": community_id,
                "leader_id": buyer.id,
                "min_members": 3,
                "max_members": 5,
                "expires_at": started + timedelta(hours=1),
                "created_at": started,
            },
        )
    status, effect = await call(
        client, owner, "GET", f"/insights/effect?kind=group_buy&id={group_id}"
    )
    assert status == 200, effect
    assert effect["during"]["orders"] == 2
    assert effect["before"]["orders"] == 1
    stranger = await make_account("别家店主")
    assert (await call(client, stranger, "GET", f"/insights/effect?kind=group_buy&id={group_id}"))[
        0
    ] == 403


async def test_weekly_suggestions_are_pushed_once_a_week(
    client: Client,
    core: Core,
    settings: Settings,
    clock: ManualClock,
    community: CommunityWorld,
    make_account: MakeAccount,
    approve_merchant: Any,
    webhook_target: None,
) -> None:
    buyer, _, _ = community.residents
    owner = await make_account("店主")
    merchant_id = await merchant_of(core, approve_merchant, owner)
    # The merchant's order is refunded this week: a rising refund rate.
    item = await listing(client, owner, merchant_id=str(merchant_id))
    placed = await order(client, buyer, item["id"])
    await pay_order(client, core, settings, buyer, placed)
    assert (await act(client, buyer, placed, "request-refund"))[0] == 200
    assert (await act(client, owner, placed, "reject"))[0] == 200

    await core.jobs.enqueue(WEEKLY_SUGGESTIONS, job_id=f"weekly-{uuid.uuid4()}")
    await run_worker(settings, core)
    assert await core.insights.weekly_suggestions() == {"communities": 0, "merchants": 0}

    async def told(account: Account) -> list[Any]:
        return list(
            await core.pool.fetch(
                "SELECT * FROM notifications WHERE user_id = $1 AND kind = 'insight_suggestions'",
                account.id,
            )
        )

    assert len(await told(community.staff)) == 1
    to_owner = await told(owner)
    assert len(to_owner) == 1
    assert "退款率上升（0 % → 100 %）" in to_owner[0]["body"]
    status, shown = await call(
        client, owner, "GET", f"/merchants/{merchant_id}/insights/suggestions"
    )
    assert status == 200, shown
    kinds = [i["kind"] for i in shown["items"]]
    assert kinds[0] == "refunds_rising"
    assert "best_slot" in kinds
    assert "建议安排直播" in shown["items"][-1]["text"]
    status, shown = await call(
        client, community.staff, "GET", f"/insights/suggestions?community_id={community.id}"
    )
    assert status == 200
    assert shown["items"][0]["kind"] == "best_slot"
    # Not for residents, nor another merchant's people.
    assert (await call(client, buyer, "GET", f"/insights/suggestions?community_id={community.id}"))[
        0
    ] == 403
    assert (await call(client, buyer, "GET", f"/merchants/{merchant_id}/insights/suggestions"))[
        0
    ] == 403

    # Next week is a new key: told again, once.
    clock.advance(7 * 86400)
    assert (await core.insights.weekly_suggestions())["communities"] == 1
    assert len(await told(community.staff)) == 2


def test_suppression_merges_small_groups_and_their_complement() -> None:
    assert suppress([("A", 9)]).total is None  # nine people: nothing at all
    assert suppress([("A", 10)]).shown == [("A", 10)]
    # A small group goes to 其他 …
    s = suppress([("A", 12), ("B", 10), ("C", 11), ("D", 12)])
    assert s.shown == [("A", 12), ("D", 12), ("C", 11), ("B", 10)]
    assert s.other == 0
    # … and when 其他 would hold fewer than ten (total − shown = 3 gives C away), the smallest
    # shown group joins it.
    s = suppress([("A", 12), ("B", 11), ("C", 3)])
    assert s.shown == [("A", 12)]
    assert s.other == 14
    assert s.total == 26
    s = suppress([("A", 5), ("B", 6)])
    assert s.shown == []
    assert s.other == 11
    assert area_of("上海市浦东新区张杨路 1 号") == "上海市浦东新区"
    assert area_of("四川省成都市武侯区玉林路") == "成都市武侯区"
    assert area_of("翠湖路 8 号") == "未知地区"
    assert risk_reasons(RiskCounts(orders=4, refunds=1, reports=3)) == [
        "3 次举报",
        "1 次退款，退款率 25 %",
    ]
    assert NO_COMMUNITY.int == 0


async def test_portrait_shows_no_group_under_ten_and_demographics_only_by_consent(
    client: Client,
    core: Core,
    settings: Settings,
    community: CommunityWorld,
    make_account: MakeAccount,
    approve_merchant: Any,
    webhook_target: None,
) -> None:
    owner = await make_account("店主")
    merchant_id = await merchant_of(core, approve_merchant, owner)
    buyers = await bulk_residents(core, community.id, 10)
    items = [
        await listing(client, owner, merchant_id=str(merchant_id), title=f"积木 {i}")
        for i in range(10)
    ]

    async def buy(index: int) -> None:
        placed = await order(client, buyers[index], items[index]["id"])
        status, payment = await call(
            client, buyers[index], "GET", f"/payments/{placed['payment_id']}"
        )
        assert status == 200, payment
        assert (await pay(client, payment)).status == 200

    # Consent is explicit: no consent, no fields.
    status, body = await call(
        client, buyers[0], "PUT", "/me/demographics", {"gender": "female", "consent": False}
    )
    assert (status, body["error"]["code"]) == (422, "consent_required")
    status, body = await call(client, buyers[0], "GET", "/me/demographics")
    assert (status, body["given"]) == (200, False)
    for b in buyers:
        status, body = await call(
            client,
            b,
            "PUT",
            "/me/demographics",
            {"gender": "female", "birth_year": 1990, "consent": True},
        )
        assert status == 200
        assert body["given"] is True

    for i in range(9):
        await buy(i)
    await run_worker(settings, core)
    path = f"/merchants/{merchant_id}/insights/portrait?days=30"
    status, portrait = await call(client, owner, "GET", path)
    assert status == 200, portrait
    # Nine buyers: nothing is shown at all.
    assert portrait["buyers"] is None
    assert portrait["by_community"] == []
    assert portrait["by_gender"] == []
    assert portrait["repeat_rate_percent"] is None
    assert portrait["new_buyers"] is None

    await buy(9)
    await run_worker(settings, core)
    status, portrait = await call(client, owner, "GET", path)
    assert portrait["buyers"] == 10
    assert portrait["by_community"] == [{"label": "翠湖花园", "count": 10}]
    assert portrait["by_area"] == [{"label": "未知地区", "count": 10}]
    assert (portrait["new_buyers"], portrait["returning_buyers"]) == (10, 0)
    assert portrait["repeat_rate_percent"] == 0
    assert portrait["by_gender"] == [{"label": "female", "count": 10}]
    assert len(portrait["by_age"]) == 1
    assert portrait["by_age"][0]["count"] == 10

    # One buyer withdraws consent: nine left who gave a gender, so no gender group is shown,
    # while the ten buyers still are.
    assert (await call(client, buyers[3], "DELETE", "/me/demographics"))[0] == 204
    status, portrait = await call(client, owner, "GET", path)
    assert portrait["buyers"] == 10
    assert portrait["by_gender"] == []
    assert portrait["by_age"] == []

    # Another merchant's owner, and a resident, read nothing; an admin reads it.
    stranger = await make_account("别家")
    assert (await call(client, stranger, "GET", path))[0] == 403
    assert (await call(client, community.residents[0], "GET", path))[0] == 403
    assert (await call(client, community.admin, "GET", path))[0] == 200
    status, body = await call(
        client, owner, "GET", f"/merchants/{merchant_id}/insights/portrait?days=0"
    )
    assert status == 422


async def test_who_reads_community_insights(
    client: Client, core: Core, community: CommunityWorld, make_account: MakeAccount
) -> None:
    resident = community.residents[0]
    path = f"/insights/hotness?community_id={community.id}"
    assert (await call(client, community.staff, "GET", path))[0] == 200
    assert (await call(client, community.admin, "GET", path))[0] == 200
    service = await make_account("客服", PlatformRole.CUSTOMER_SERVICE)
    assert (await call(client, service, "GET", path))[0] == 200
    assert (await call(client, service, "GET", "/insights/risk"))[0] == 200
    assert (await call(client, resident, "GET", path))[0] == 403
    assert (await call(client, resident, "GET", "/insights/risk"))[0] == 403
    # Staff of another company's community cannot read this one.
    other_staff = await make_account("别的物业")
    admin = Principal(community.admin.id, uuid.uuid4(), PlatformRole.ADMIN)
    company = await core.communities.create_company(admin, f"物业{uuid.uuid4().hex[:6]}")
    await core.communities.add_company_staff(admin, company["id"], other_staff.id)
    assert (await call(client, other_staff, "GET", path))[0] == 403
    assert (await call(client, other_staff, "GET", "/insights/hotness"))[0] == 403
    # Their own (empty) scope is fine once they staff a community.
    from decimal import Decimal

    await core.communities.create(
        admin,
        "碧水苑",
        f"上海市浦东新区{uuid.uuid4().hex[:4]}",
        Decimal("31.2"),
        Decimal("121.5"),
        company["id"],
    )
    status, hot = await call(client, other_staff, "GET", "/insights/hotness")
    assert (status, hot) == (200, [])


async def test_the_portrait_hides_a_small_community_and_its_complement(
    core: Core, community: CommunityWorld, make_account: MakeAccount, approve_merchant: Any
) -> None:
    """Twelve buyers from one community, eleven from another, three from a third: the three go to
    其他, and since 其他 = 3 would let anyone compute them as total − 12 − 11, the eleven join
    them."""
    owner = await make_account("店主")
    merchant_id = await merchant_of(core, approve_merchant, owner)
    admin = Principal(community.admin.id, uuid.uuid4(), PlatformRole.ADMIN)
    from decimal import Decimal

    names = {"翠湖花园": uuid.UUID(community.id)}
    for name in ("碧水苑", "金桂园"):
        row = await core.communities.create(
            admin,
            name,
            f"上海市浦东新区{uuid.uuid4().hex[:6]}",
            Decimal("31.2"),
            Decimal("121.5"),
            None,
        )
        names[name] = row["id"]
    # The rows the order hooks write for each paid order.
    for name, count in (("翠湖花园", 12), ("碧水苑", 11), ("金桂园", 3)):
        for buyer in await bulk_residents(core, str(names[name]), count):
            await core.insights.store.add_buyer(
                core.pool, merchant_id, buyer.id, names[name], 5_000, core.clock.now()
            )
    portrait = await core.insights.portrait(Principal(owner.id, uuid.uuid4()), merchant_id, 30)
    assert portrait["buyers"] == 26
    assert portrait["by_community"] == [
        {"label": "翠湖花园", "count": 12},
        {"label": "其他", "count": 14},
    ]
    # By area: 14 in 上海市浦东新区, 12 in an address that names no city.
    assert portrait["by_area"] == [
        {"label": "上海市浦东新区", "count": 14},
        {"label": "未知地区", "count": 12},
    ]


async def test_effect_of_a_community_event(
    client: Client,
    core: Core,
    settings: Settings,
    clock: ManualClock,
    community: CommunityWorld,
    webhook_target: None,
) -> None:
    _on_the_hour(clock)
    buyer, seller, _ = community.residents
    await signed_in_again(core, buyer, seller, community.staff)
    first = await order(client, buyer, (await listing(client, seller))["id"])
    await pay_order(client, core, settings, buyer, first)
    start = clock.now() + timedelta(hours=1)
    status, event = await call(
        client,
        community.staff,
        "POST",
        f"/communities/{community.id}/events",
        {
            "title": "玩具回收节",
            "place": "小区中心广场",
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=2)).isoformat(),
            "capacity": 20,
            "publish": True,
        },
    )
    assert status == 201, event
    clock.advance(3600 + 600)
    await signed_in_again(core, buyer, seller, community.staff)
    for title in ("乐高 A", "乐高 B", "乐高 C"):
        placed = await order(client, buyer, (await listing(client, seller, title=title))["id"])
        await pay_order(client, core, settings, buyer, placed)
    clock.advance(120)
    await core.insights.roll_up()

    status, effect = await call(
        client, community.staff, "GET", f"/insights/effect?kind=event&id={event['id']}"
    )
    assert status == 200, effect
    assert effect["title"] == "玩具回收节"
    assert (effect["before"]["orders"], effect["during"]["orders"]) == (1, 3)
    # A draft never ran: it has no effect to read.
    status, draft = await call(
        client,
        community.staff,
        "POST",
        f"/communities/{community.id}/events",
        {
            "title": "租赁日",
            "place": "会所",
            "starts_at": (clock.now() + timedelta(days=2)).isoformat(),
            "ends_at": (clock.now() + timedelta(days=2, hours=2)).isoformat(),
            "capacity": 20,
        },
    )
    assert status == 201, draft
    assert (
        await call(client, community.staff, "GET", f"/insights/effect?kind=event&id={draft['id']}")
    )[0] == 404
