"""Memberships and virtual numbers in a real browser (issue 19 items 1–3): a resident at the
non-member listing cap subscribes to membership through the 会员 page and the sandbox sign page,
sees the member status, and can publish again; a buyer asks to call a seller without a plan (the
platform's guidance), an admin grants the seller's first month in the console, and the buyer
then gets a virtual number; the seller sees the plan and its use."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from playwright.async_api import BrowserContext, expect

from ..conftest import Account, CommunityWorld
from ..test_payments import WEBHOOK, run_worker
from .conftest import WebStack, screenshot, serious_accessibility_violations, signed_in_page
from .test_merchant_back_office import api

MakeAccount = Callable[..., Awaitable[Account]]
NewContext = Callable[..., Awaitable[BrowserContext]]
LISTING = {
    "title": "乐高 城市系列 消防站",
    "description": "九成新，零件齐全",
    "category": "building_blocks",
    "condition": "like_new",
    "kind": "sale",
    "price_fen": 19_900,
}


async def publish(web: WebStack, account: Account, title: str) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{web.url}/api/v1/listings", json=LISTING | {"title": title}, headers=account.headers
        ) as response,
    ):
        return response.status, await response.json()


async def test_a_resident_subscribes_to_membership_and_the_cap_is_lifted(
    new_context: NewContext, web: WebStack, community: CommunityWorld
) -> None:
    resident = community.residents[0]
    web.core.settings = dataclasses.replace(
        web.core.settings, sandbox_webhook_url=f"{web.url}{WEBHOOK}"
    )
    cap = web.settings.listing_cap_non_member
    first = None
    for i in range(cap):
        status, made = await publish(web, resident, f"玩具 {i}")
        assert status == 201
        first = first or made
    assert first is not None
    status, refused = await publish(web, resident, "第十一件")
    assert status == 409
    assert refused["error"]["code"] == "listing_cap_reached"
    # Withdrawn, its place taken: putting it back on the market is refused, in words.
    await api(web, resident, "POST", f"/listings/{first['id']}/withdraw")
    assert (await publish(web, resident, "第十件"))[0] == 201

    page = await signed_in_page(new_context, resident)
    await page.goto(f"/listings/{first['id']}")
    await page.get_by_role("button", name="重新上架").click()
    await expect(page.get_by_role("alert")).to_contain_text("非会员最多同时在售 10 件闲置")
    await page.goto("/me")
    await page.get_by_role("link", name="来购会员").click()
    await expect(page.get_by_role("heading", name="会员权益")).to_be_visible()
    await expect(page.get_by_text("¥15.00/月")).to_be_visible()
    assert await serious_accessibility_violations(page) == []
    await screenshot(page, "subscriptions-membership-offer")

    await page.get_by_role("button", name="开通会员").click()
    await expect(page.get_by_role("heading", name="签约代扣（沙箱）")).to_be_visible()
    await expect(page.get_by_text("来购会员")).to_be_visible()
    assert await serious_accessibility_violations(page) == []
    await screenshot(page, "subscriptions-sign")
    await page.get_by_role("button", name="同意并签约").click()
    await expect(page.get_by_role("status")).to_contain_text("签约成功")
    # The provider's webhooks: agreement.signed, then the first charge's outcome.
    await run_worker(web.settings, web.core)
    await expect(page.get_by_role("status")).to_contain_text("开通成功")
    await page.get_by_role("link", name="返回").click()
    status_card = page.get_by_role("status").filter(has_text="会员状态")
    await expect(status_card).to_contain_text("会员生效中")
    await expect(status_card).to_contain_text("自动续费")
    assert await serious_accessibility_violations(page) == []
    await screenshot(page, "subscriptions-membership-active")

    # Members have no cap: the withdrawn listing goes back up, and an eleventh with it.
    await page.goto(f"/listings/{first['id']}")
    await page.get_by_role("button", name="重新上架").click()
    await expect(page.get_by_role("button", name="下架")).to_be_visible()
    status, listed = await publish(web, resident, "第十二件")
    assert status == 201, listed
    subs = await api(web, resident, "GET", "/me/subscriptions")
    assert subs[0]["status"] == "active"
    assert subs[0]["member_benefits"] is True
    assert await web.core.ledger.check() == []


async def test_a_buyer_asks_to_call_a_seller_with_and_without_a_plan(
    new_context: NewContext, web: WebStack, community: CommunityWorld
) -> None:
    seller, buyer = community.residents[0], community.residents[1]
    status, listing = await publish(web, seller, "任天堂 Switch 健身环")
    assert status == 201

    buyer_page = await signed_in_page(new_context, buyer)
    await buyer_page.goto(f"/listings/{listing['id']}")
    await buyer_page.get_by_role("button", name="电话联系卖家").click()
    guidance = buyer_page.get_by_role("status").filter(has_text="平台提示")
    await expect(guidance).to_contain_text("当面")
    await expect(buyer_page.get_by_role("link", name=re.compile("拨打虚拟号"))).to_have_count(0)
    assert await serious_accessibility_violations(buyer_page) == []
    await screenshot(buyer_page, "subscriptions-call-guidance")

    # The platform pays the seller's first month, from the console.
    admin_page = await signed_in_page(new_context, community.admin, mobile=False)
    await admin_page.goto("/console/virtual-numbers")
    await admin_page.get_by_label("卖家手机号").fill(seller.phone)
    await admin_page.get_by_label("套餐").select_option("vn_basic")
    await admin_page.get_by_role("button", name="赠送首月").click()
    await expect(admin_page.get_by_role("status")).to_contain_text("虚拟号·普通卖家")
    assert await serious_accessibility_violations(admin_page) == []
    await screenshot(admin_page, "subscriptions-console-grant")

    await buyer_page.reload()
    await buyer_page.get_by_role("button", name="电话联系卖家").click()
    number = buyer_page.get_by_role("link", name=re.compile(r"拨打虚拟号 \+86170"))
    await expect(number).to_be_visible()
    await expect(buyer_page.get_by_text("仅限你与卖家通话")).to_be_visible()
    assert await serious_accessibility_violations(buyer_page) == []
    await screenshot(buyer_page, "subscriptions-call-number")
    bound = await web.core.pool.fetchval(
        "SELECT number FROM virtual_number_bindings WHERE buyer_id = $1 AND seller_id = $2",
        buyer.id,
        seller.id,
    )
    assert (await number.get_attribute("href")) == f"tel:{bound}"

    # The seller sees the plan and this month's use.
    seller_page = await signed_in_page(new_context, seller)
    await seller_page.goto("/me/virtual-number")
    current = seller_page.get_by_role("status").filter(has_text="当前套餐")
    await expect(current).to_contain_text("虚拟号·普通卖家")
    await expect(current).to_contain_text("首月由平台赠送")
    await expect(seller_page.get_by_text("已接入 1/30 位买家")).to_be_visible()
    assert await serious_accessibility_violations(seller_page) == []
    await screenshot(seller_page, "subscriptions-virtual-number")
    assert await web.core.ledger.check() == []
