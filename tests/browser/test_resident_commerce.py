"""Residents trading in a real browser: plain-Chinese search with removable intent chips, publishing
a listing with a photo, ordering it, paying on the sandbox cashier and following the order's steps
— with axe-core on each main screen."""

from __future__ import annotations

import dataclasses
import io
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from PIL import Image
from playwright.async_api import BrowserContext, Page, expect

from lago_core.container import Core
from lago_core.listings import Category, Condition, ListingDraft, ListingKind
from lago_core.security.roles import PlatformRole, Principal
from lago_rt.devices import LockerSim

from ..conftest import Account, CommunityWorld
from ..test_lockers import subscribed
from ..test_payments import WEBHOOK, run_worker
from .conftest import WebStack, screenshot, serious_accessibility_violations, signed_in_page

NewContext = Callable[..., Awaitable[BrowserContext]]


def _as(account: Account) -> Principal:
    return Principal(account.id, uuid.uuid4())


async def _lego(core: Core, seller: Account, title: str, price_fen: int) -> None:
    draft = ListingDraft(
        title=title,
        description="",
        category=Category.BUILDING_BLOCKS,
        condition=Condition.LIKE_NEW,
        kind=ListingKind.SALE,
        brand="LEGO",
        price_fen=price_fen,
    )
    await core.listings.create(_as(seller), draft)


async def _accessible(page: Page, name: str) -> None:
    assert await serious_accessibility_violations(page) == [], name
    await screenshot(page, name)


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 80, 20)).save(out, format="PNG")
    return out.getvalue()


async def test_search_in_chinese_shows_removable_intent_chips(
    web: WebStack, core: Core, community: CommunityWorld, new_context: NewContext
) -> None:
    buyer, seller, _ = community.residents
    await _lego(core, seller, "乐高 城市警察局", 15_000)
    await _lego(core, seller, "乐高 千年隼", 90_000)
    page = await signed_in_page(new_context, buyer)

    await page.goto("/")
    await expect(page.get_by_role("heading", name="翠湖花园")).to_be_visible()
    latest = page.get_by_role("region", name="最新发布")
    await expect(latest.get_by_role("link")).to_have_count(2)
    await expect(page.get_by_role("region", name="为你推荐")).to_contain_text("来自你所在的小区")
    await _accessible(page, "resident-home")

    await page.get_by_role("searchbox", name="搜索闲置").fill("两百以内的乐高")
    await page.get_by_role("button", name="搜索", exact=True).click()
    chips = page.get_by_role("list", name="理解为")
    await expect(chips.get_by_role("listitem")).to_have_text(["买", "LEGO×", "积木×", "≤ ¥200.00×"])
    results = page.get_by_role("list", name="搜索结果")
    await expect(results.get_by_role("link")).to_have_count(1)
    await expect(results.get_by_role("link")).to_contain_text("乐高 城市警察局")
    await _accessible(page, "resident-search")

    await page.get_by_role("button", name="移除条件：≤ ¥200.00").click()
    await expect(chips.get_by_role("listitem")).to_have_text(["买", "LEGO×", "积木×"])
    await expect(results.get_by_role("link")).to_have_count(2)
    await expect(results).to_contain_text("乐高 千年隼")
    assert "without=price" in page.url

    # Nothing fits: the nearest listings are shown, and said to be only that.
    await page.get_by_role("searchbox", name="搜索闲置").fill("二手洗衣机")
    await page.get_by_role("button", name="搜索", exact=True).click()
    await expect(page.get_by_role("status")).to_have_text(re.compile("没有找到完全符合的闲置"))
    await expect(page.get_by_text(re.compile(r"^找到 \d+ 件$"))).to_have_count(0)


async def test_publish_order_pay_and_follow_the_steps(
    web: WebStack, core: Core, community: CommunityWorld, new_context: NewContext
) -> None:
    buyer, seller, _ = community.residents
    # The sandbox's webhook goes to this test's REST server (its port is known only now).
    core.settings = dataclasses.replace(core.settings, sandbox_webhook_url=web.url + WEBHOOK)

    # The seller publishes a listing with a photo.
    sell = await signed_in_page(new_context, seller)
    await sell.goto("/publish")
    await expect(sell.get_by_role("heading", name="发布闲置")).to_be_visible()
    await sell.get_by_role("button", name="发布").click()
    await expect(sell.get_by_text("请填写标题（60 字以内）")).to_be_visible()
    await sell.get_by_label("标题").fill("乐高 机械组 跑车")
    await sell.get_by_label("分类").select_option(label="积木")
    await sell.get_by_label("价格（元）").fill("150.5")
    await sell.get_by_label("添加照片").set_input_files(
        [{"name": "car.png", "mimeType": "image/png", "buffer": _png()}]
    )
    await expect(sell.get_by_role("img", name="第 1 张，共 1 张")).to_be_visible()
    await sell.get_by_label("添加照片").set_input_files(
        [{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello"}]
    )
    await expect(sell.get_by_role("alert")).to_have_text("「notes.txt」不是 JPG、PNG 或 WebP 图片")
    await _accessible(sell, "resident-publish")
    await sell.get_by_role("button", name="发布").click()
    await expect(sell.get_by_role("heading", name="乐高 机械组 跑车")).to_be_visible()
    photo = sell.get_by_role("img", name=re.compile("乐高 机械组 跑车，第 1 张"))
    await expect(photo).to_be_visible()
    await expect(sell.get_by_text("这是你发布的闲置 · 在售")).to_be_visible()
    listing_url = sell.url
    listing_id = listing_url.rsplit("/", 1)[1]
    row = await core.pool.fetchrow(
        "SELECT price_fen, cardinality(images) AS n FROM listings WHERE id = $1",
        uuid.UUID(listing_id),
    )
    assert (row["price_fen"], row["n"]) == (15_050, 1)

    # Another resident orders it and pays on the cashier.
    buy = await signed_in_page(new_context, buyer)
    await buy.goto(f"/listings/{listing_id}")
    await expect(buy.get_by_text("暂无评价")).to_be_visible()
    await expect(buy.get_by_role("radio", name="当面交易")).to_be_checked()
    await _accessible(buy, "resident-listing")
    await buy.get_by_role("button", name="☆ 收藏").click()
    await expect(buy.get_by_role("button", name="★ 已收藏")).to_be_visible()
    await buy.get_by_role("button", name="立即购买").click()
    await expect(buy.get_by_role("heading", name="收银台")).to_be_visible()
    pay = buy.get_by_role("button", name="确认支付 ¥150.50")
    await expect(pay).to_be_enabled()
    await _accessible(buy, "resident-cashier")
    async with buy.expect_response(lambda r: "/sandbox/intents/" in r.url) as paid:
        await pay.click()
    assert (await paid.value).ok
    await expect(buy.get_by_text("支付处理中，请稍候…")).to_be_visible()
    await run_worker(web.settings, core)  # delivers the webhook: the capture marks the order paid
    await expect(buy.get_by_text("支付成功")).to_be_visible()
    await buy.get_by_role("link", name="查看订单").click()
    await expect(buy.get_by_role("heading", name="订单详情")).to_be_visible()
    await expect(buy.locator(".badge")).to_have_text("已支付")
    timeline = buy.get_by_role("region", name="订单进度")
    await expect(timeline.locator("[aria-current=step]")).to_have_text("交付")
    await _accessible(buy, "resident-order")
    order_url = buy.url

    # The seller hands it over from their own order page; the buyer confirms and rates.
    await sell.goto("/orders?role=seller")
    await sell.get_by_role("link", name="乐高 机械组 跑车").click()
    await expect(sell.get_by_text("买家已支付，请尽快交付")).to_be_visible()
    await sell.get_by_role("button", name="我已交付").click()
    await expect(sell.locator(".badge")).to_have_text("已交付")

    await buy.goto("/orders")
    await expect(buy.get_by_role("link", name="乐高 机械组 跑车")).to_be_visible()
    await _accessible(buy, "resident-orders")
    await buy.goto(order_url)
    buy.once("dialog", lambda dialog: dialog.accept())
    await buy.get_by_role("button", name="确认收货").click()
    await expect(buy.locator(".badge")).to_have_text("已完成")
    await buy.get_by_role("radio", name="4 星").check()
    await buy.get_by_label("评价内容（选填）").fill("成色很好")
    await buy.get_by_role("button", name="提交评价").click()
    await expect(buy.get_by_text("（已评价）")).to_be_visible()

    status = await core.pool.fetchval(
        "SELECT status FROM orders WHERE listing_id = $1", uuid.UUID(listing_id)
    )
    assert status == "completed"
    await sell.goto(listing_url)
    await expect(sell.get_by_text("4.0 分 · 1 条评价")).to_be_visible()


async def test_a_pending_resident_sees_the_verification_state_and_joins(
    web: WebStack, core: Core, community: CommunityWorld, new_context: NewContext, make_account: Any
) -> None:
    newcomer = await make_account("新邻居")
    page = await signed_in_page(new_context, newcomer)
    await page.goto("/")
    await expect(page.get_by_text("还没有加入小区")).to_be_visible()
    await page.get_by_role("link", name="加入小区").click()
    await page.get_by_role("searchbox", name="搜索小区名称或地址").fill("翠湖")
    await page.get_by_role("button", name="搜索", exact=True).click()
    await page.get_by_role("button", name="申请加入").click()
    await page.get_by_label("楼栋门牌（选填，如 3-1-402）").fill("3-1-402")
    await page.get_by_role("button", name="提交申请").click()
    await expect(page.get_by_text("待验证")).to_be_visible()
    await _accessible(page, "resident-communities")
    await page.get_by_role("link", name="首页").click()
    await expect(page.get_by_text("「翠湖花园」的住户认证审核中")).to_be_visible()
    await page.get_by_role("link", name="我的").click()
    await expect(page.get_by_role("listitem").filter(has_text="翠湖花园")).to_contain_text("待验证")
    await _accessible(page, "resident-me")


async def test_a_rental_picked_up_and_returned_at_a_locker(
    web: WebStack, core: Core, community: CommunityWorld, new_context: NewContext
) -> None:
    renter, owner, _ = community.residents
    core.settings = dataclasses.replace(core.settings, sandbox_webhook_url=web.url + WEBHOOK)
    # A locker on the test's real-time node, driven by the simulator (it closes its doors itself).
    admin = Principal(community.admin.id, uuid.uuid4(), PlatformRole.ADMIN)
    slots = [(1, "S"), (2, "S")]
    locker, secret = await core.lockers.register(
        admin, uuid.UUID(community.id), "1号柜", "3栋大堂", slots
    )
    sim = LockerSim(web.rt_url, str(locker["id"]), secret, slots)
    await sim.connect()
    try:
        await subscribed(core, web.settings)
        await sim.report()
        draft = ListingDraft(
            title="Switch 周末出租",
            description="",
            category=Category.GAME_CONSOLE,
            condition=Condition.GOOD,
            kind=ListingKind.RENT,
            rent_per_day_fen=2_000,
            deposit_fen=30_000,
        )
        item = await core.listings.create(_as(owner), draft)
        deposit = await core.lockers.start_deposit(_as(owner), locker["id"], item["id"], "S")
        await core.lockers.open_with_code(_as(owner), locker["id"], deposit.code)
        await sim.wait_until(lambda: len(sim.acks) == 1)

        page = await signed_in_page(new_context, renter)
        await page.goto(f"/listings/{item['id']}")
        await expect(page.get_by_text("押金 ¥300.00", exact=True)).to_be_visible()
        await page.get_by_role("radio", name="自提（含智能柜）").check()
        await page.get_by_label("租期（天）").fill("0")
        await expect(page.get_by_text("租期为 1–365 天")).to_be_visible()
        await expect(page.get_by_role("button", name="我要租")).to_be_disabled()
        await page.get_by_label("租期（天）").fill("3")
        # The checkout preview's breakdown: the rent, the deposit (never discounted), the total.
        breakdown = page.get_by_role("region", name="优惠券").get_by_label("应付")
        await expect(breakdown).to_contain_text("租金¥60.00")
        await expect(breakdown).to_contain_text("押金（不参与优惠）¥300.00")
        await expect(page.get_by_test_id("pay-total")).to_have_text("¥360.00")
        await page.get_by_role("button", name="我要租").click()
        pay = page.get_by_role("button", name="确认支付 ¥360.00")
        async with page.expect_response(lambda r: "/sandbox/intents/" in r.url):
            await pay.click()
        await run_worker(web.settings, core)
        await page.get_by_role("link", name="查看订单").click()
        await expect(page.locator(".badge")).to_have_text("已支付")

        await page.get_by_role("button", name="获取取件码").click()
        await expect(page.locator(".locker-code .code")).to_have_text(
            re.compile(r"^取件码：\d{6}$")
        )
        await page.get_by_role("button", name="我在柜前，开柜取件").click()
        await expect(page.locator(".badge")).to_have_text("租用中")
        await expect(page.get_by_text("应还时间")).to_be_visible()
        await _accessible(page, "resident-rental")

        await page.get_by_label("选择智能柜").select_option(label="1号柜 3栋大堂")
        await page.get_by_role("button", name="获取归还码").click()
        await page.get_by_role("button", name="我在柜前，开柜归还").click()
        await expect(page.locator(".badge")).to_have_text("已完成")
        steps = page.get_by_role("region", name="订单进度").get_by_role("listitem")
        await expect(steps).to_have_count(5)
        await expect(steps.locator(".dot")).to_have_count(5)
        assert await page.locator(".timeline .step.done").count() == 5
    finally:
        await sim.close()


async def test_a_failed_payment_is_cancelled_and_ordered_again(
    web: WebStack, core: Core, community: CommunityWorld, new_context: NewContext
) -> None:
    buyer, seller, _ = community.residents
    await _lego(core, seller, "乐高 得宝 小火车", 8_000)
    page = await signed_in_page(new_context, buyer)
    await page.goto("/search?q=乐高")
    await page.get_by_role("link", name=re.compile("乐高 得宝 小火车")).click()
    await page.get_by_role("button", name="立即购买").click()
    await page.get_by_role("button", name="模拟支付失败").click()
    await expect(page.get_by_role("alert")).to_contain_text("支付未成功")
    await expect(page.get_by_role("button", name="确认支付 ¥80.00")).to_be_disabled()
    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="取消订单").click()
    await expect(page.get_by_role("status")).to_contain_text("乐高 得宝 小火车 · 已取消")

    await page.get_by_role("link", name="查看订单").click()
    await expect(page.locator(".badge")).to_have_text("已取消")
    steps = page.get_by_role("region", name="订单进度").get_by_role("listitem")
    await expect(steps).to_have_text([re.compile("^下单"), re.compile("^已取消")])
    await page.get_by_role("link", name="乐高 得宝 小火车").click()
    await page.get_by_role("button", name="立即购买").click()
    await expect(page.get_by_role("button", name="确认支付 ¥80.00")).to_be_enabled()


async def test_a_seller_withdraws_a_listing(
    web: WebStack, core: Core, community: CommunityWorld, new_context: NewContext
) -> None:
    seller = community.residents[1]
    await _lego(core, seller, "乐高 好朋友 咖啡馆", 6_000)
    page = await signed_in_page(new_context, seller)
    await page.goto("/me")
    await expect(page.get_by_role("listitem").filter(has_text="翠湖花园")).to_contain_text("已验证")
    await page.get_by_role("link", name="我的发布").click()
    mine = page.get_by_role("listitem").filter(has_text="乐高 好朋友 咖啡馆")
    await expect(mine).to_contain_text("在售")
    page.once("dialog", lambda dialog: dialog.dismiss())
    await mine.get_by_role("button", name="下架").click()
    await expect(mine).to_contain_text("在售")
    page.once("dialog", lambda dialog: dialog.accept())
    await mine.get_by_role("button", name="下架").click()
    await expect(mine).to_contain_text("已下架")
    await expect(mine.get_by_role("button", name="下架")).to_have_count(0)
    status = await core.pool.fetchval(
        "SELECT status FROM listings WHERE title = $1", "乐高 好朋友 咖啡馆"
    )
    assert status == "withdrawn"
