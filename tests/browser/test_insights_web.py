"""AI operations in a real browser (issue 21, items 4 and 5): a merchant reads 数据洞察 (the
week's suggestions, hotness of its categories, the portrait of its buyers, risk) and sees the
suggestions on its dashboard; property staff read 社区洞察 (hotness, the risk list with reasons,
the effect of a live stream); a resident gives optional profile fields only with consent — with
axe-core on each screen."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from playwright.async_api import BrowserContext, Page, expect

from lago_core.container import Core
from lago_core.insights.rules import business_day
from lago_core.listings import Category, Condition, ListingDraft, ListingKind
from lago_core.security.roles import Principal

from ..conftest import Account, CommunityWorld
from ..groupbuy_support import bulk_residents
from ..test_orders import merchant_of
from .conftest import WebStack, screenshot, serious_accessibility_violations, signed_in_page

NewContext = Callable[..., Awaitable[BrowserContext]]
MakeAccount = Callable[..., Awaitable[Account]]


async def _accessible(page: Page, name: str) -> None:
    assert await serious_accessibility_violations(page) == [], name
    await screenshot(page, name)


async def _activity(core: Core, community_id: uuid.UUID, listing_id: uuid.UUID) -> None:
    """A few weeks of activity in the aggregates, as the hooks and the roll-up leave them."""
    store = core.insights.store
    hour = core.clock.now().replace(minute=0, second=0, microsecond=0)
    await store.bump_activity(core.pool, community_id, "building_blocks", hour, views=40)
    await store.bump_activity(
        core.pool, community_id, "building_blocks", hour, orders=3, gmv_fen=45_000
    )
    await store.bump_activity(core.pool, community_id, "game_console", hour, views=12)
    await store.bump_activity(
        core.pool, community_id, "building_blocks", hour - timedelta(days=8), views=10
    )
    day = business_day(core.clock.now())
    await store.bump_risk(
        core.pool, "listing", listing_id, community_id, day, orders=4, refunds=2, reports=2
    )


async def test_merchant_reads_insights_and_its_dashboard_suggestions(
    web: WebStack,
    core: Core,
    community: CommunityWorld,
    new_context: NewContext,
    make_account: MakeAccount,
    approve_merchant: Any,
) -> None:
    owner = await make_account("店主")
    merchant_id = await merchant_of(core, approve_merchant, owner)
    community_id = uuid.UUID(community.id)
    item = await core.listings.create(
        Principal(owner.id, uuid.uuid4()),
        ListingDraft(
            title="乐高 城市系列 警察局",
            description="",
            category=Category.BUILDING_BLOCKS,
            condition=Condition.LIKE_NEW,
            kind=ListingKind.SALE,
            price_fen=15_000,
            merchant_id=merchant_id,
        ),
    )
    await _activity(core, community_id, item["id"])
    # Twelve buyers, ten of whom chose to give their gender.
    buyers = await bulk_residents(core, community.id, 12)
    for i, buyer in enumerate(buyers):
        await core.insights.store.add_buyer(
            core.pool, merchant_id, buyer.id, community_id, 15_000, core.clock.now()
        )
        if i < 10:
            await core.insights.store.set_demographics(buyer.id, "female", 1992, core.clock.now())
    await core.insights.weekly_suggestions()

    page = await signed_in_page(new_context, owner, mobile=False)
    await page.goto("/merchant")
    tips = page.get_by_role("region", name="本周运营建议")
    await expect(tips.get_by_text("建议安排直播或拼团")).to_be_visible()
    await _accessible(page, "insights-merchant-dashboard")

    await page.get_by_role("link", name="数据洞察").click()
    await expect(page.get_by_role("heading", name="数据洞察", level=1)).to_be_visible()
    hot = page.get_by_role("region", name="品类热度（近 28 天）")
    await expect(hot.get_by_role("row").nth(1)).to_contain_text("积木")
    portrait = page.get_by_role("region", name="用户画像")
    await expect(portrait.get_by_text("翠湖花园")).to_be_visible()
    await expect(portrait.get_by_text("女")).to_be_visible()
    risk = page.get_by_role("region", name="投诉风险（近 30 天）")
    await expect(risk.get_by_text("2 次退款，退款率 50 %，2 次举报")).to_be_visible()
    await _accessible(page, "insights-merchant")


async def test_property_staff_read_community_insights_and_an_effect(
    web: WebStack,
    core: Core,
    community: CommunityWorld,
    new_context: NewContext,
) -> None:
    community_id = uuid.UUID(community.id)
    seller = community.residents[1]
    item = await core.listings.create(
        Principal(seller.id, uuid.uuid4()),
        ListingDraft(
            title="Switch 游戏机",
            description="",
            category=Category.GAME_CONSOLE,
            condition=Condition.GOOD,
            kind=ListingKind.SALE,
            price_fen=120_000,
        ),
    )
    await _activity(core, community_id, item["id"])
    await core.insights.weekly_suggestions()
    announced = await core.live.announce(
        Principal(community.staff.id, uuid.uuid4()),
        community_id,
        "周末乐高直播",
        "",
        core.clock.now() + timedelta(minutes=5),
    )

    page = await signed_in_page(new_context, community.staff, mobile=False)
    await page.goto("/console/insights")
    await expect(page.get_by_role("heading", name="社区洞察", level=1)).to_be_visible()
    await expect(
        page.get_by_role("region", name="本周运营建议").get_by_text("热度最高")
    ).to_be_visible()
    risk = page.get_by_role("region", name="投诉风险（近 30 天）")
    await expect(risk.get_by_text("Switch 游戏机")).to_be_visible()
    await expect(risk.get_by_text("高风险")).to_be_visible()
    effect = page.get_by_role("region", name="活动效果（前后对比）")
    await effect.get_by_label("类型").select_option("live")
    await effect.get_by_label("编号").fill(str(announced["id"]))
    await effect.get_by_role("button", name="查看效果").click()
    await expect(effect.get_by_role("table", name="周末乐高直播")).to_be_visible()
    await expect(effect.get_by_role("row", name="订单")).to_be_visible()
    await _accessible(page, "insights-console")


async def test_a_resident_gives_profile_fields_only_with_consent(
    web: WebStack, core: Core, community: CommunityWorld, new_context: NewContext
) -> None:
    resident = community.residents[0]
    page = await signed_in_page(new_context, resident)
    await page.goto("/me")
    await page.get_by_role("link", name="画像资料（可选）").click()
    await expect(page.get_by_role("heading", name="画像资料")).to_be_visible()
    await expect(page.get_by_text("尚未提供（默认不提供）")).to_be_visible()
    await page.get_by_label("性别").select_option("female")
    await page.get_by_label("出生年份").fill("1990")
    save = page.get_by_role("button", name="保存")
    await expect(save).to_be_disabled()  # no consent, no saving
    await page.get_by_label("我同意将以上资料以匿名汇总的方式用于商家的用户画像").check()
    await save.click()
    await expect(page.get_by_role("status").filter(has_text="已保存")).to_be_visible()
    await _accessible(page, "insights-resident-profile")
    row = await core.insights.store.demographics(resident.id)
    assert row is not None
    assert (row["gender"], row["birth_year"]) == ("female", 1990)

    await page.get_by_role("button", name="撤回同意并删除资料").click()
    await expect(page.get_by_role("status").filter(has_text="已删除")).to_be_visible()
    assert await core.insights.store.demographics(resident.id) is None
