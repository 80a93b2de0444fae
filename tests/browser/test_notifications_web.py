"""The notification centre in a real browser (issue 19 item 7): the merchant's bell counts a paid
order live while the back office is open and the list shows it; an admin's announcement to a
community reaches a resident of it (and not a resident elsewhere); marking read lowers the count."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from playwright.async_api import BrowserContext, Page, expect

from ..conftest import Account, CommunityWorld
from ..test_payments import WEBHOOK, run_worker
from .conftest import WebStack, screenshot, serious_accessibility_violations, signed_in_page
from .test_merchant_back_office import api, approved_store

MakeAccount = Callable[..., Awaitable[Account]]
NewContext = Callable[..., Awaitable[BrowserContext]]
BELL = re.compile(r"^消息通知")


def bell(page: Page) -> Any:
    return page.get_by_role("link", name=BELL)


async def unread(web: WebStack, account: Account) -> int:
    count: int = (await api(web, account, "GET", "/me/notifications/unread-count"))["unread"]
    return count


async def test_a_paid_order_rings_the_merchants_bell_live(
    new_context: NewContext,
    web: WebStack,
    make_account: MakeAccount,
    approve_merchant: Any,
    community: CommunityWorld,
) -> None:
    owner = await make_account("店主")
    buyer = community.residents[0]
    merchant_id = await approved_store(web, approve_merchant, owner, community)
    listing = await api(
        web,
        owner,
        "POST",
        "/listings",
        {
            "title": "任天堂 Switch 续航版",
            "category": "game_console",
            "condition": "like_new",
            "kind": "sale",
            "price_fen": 129_900,
            "merchant_id": str(merchant_id),
        },
    )
    web.core.settings = dataclasses.replace(
        web.core.settings, sandbox_webhook_url=f"{web.url}{WEBHOOK}"
    )
    # The approval itself was the owner's first notification.
    assert await unread(web, owner) == 1

    page = await signed_in_page(new_context, owner, mobile=False)
    await page.goto("/merchant/orders")
    await expect(page.get_by_role("status").filter(has_text="订单实时推送已连接")).to_be_visible()
    await expect(bell(page)).to_have_accessible_name("消息通知，1 条未读")
    await expect(bell(page).get_by_test_id("bell-count")).to_have_text("1")

    # The resident orders and pays; the merchant's bell counts both, without a reload.
    placed = await api(
        web, buyer, "POST", "/orders", {"listing_id": listing["id"], "fulfilment": "face_to_face"}
    )
    await expect(bell(page).get_by_test_id("bell-count")).to_have_text("2")
    payment = await api(web, buyer, "GET", f"/payments/{placed['payment_id']}")
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{web.url}/api/v1/sandbox/intents/{payment['provider_intent_id']}/pay",
            json={"client_secret": payment["client_secret"], "outcome": "succeed"},
        ) as paid,
    ):
        assert paid.status == 200, await paid.text()
    await run_worker(web.settings, web.core)  # the webhook; the capture's notification job
    await expect(bell(page).get_by_test_id("bell-count")).to_have_text("3")
    await expect(bell(page)).to_have_accessible_name("消息通知，3 条未读")

    # The list shows it; marking it read lowers the count.
    await bell(page).click()
    paid_item = page.locator("li.notification", has_text="新的已支付订单")
    await expect(paid_item).to_contain_text("任天堂 Switch 续航版")
    await expect(paid_item).to_contain_text("¥1299.00")
    await expect(page.get_by_test_id("unread-summary")).to_have_text("3 条未读")
    assert await serious_accessibility_violations(page) == []
    await screenshot(page, "notifications-merchant")
    await paid_item.get_by_role("button", name="标为已读：新的已支付订单").click()
    await expect(bell(page).get_by_test_id("bell-count")).to_have_text("2")
    await expect(paid_item.get_by_role("button")).to_have_count(0)
    assert await unread(web, owner) == 2
    # The SMS of the paid order went to the store's contact phone.
    sms = await web.core.pool.fetchval(
        """SELECT count(*) FROM notification_deliveries d JOIN notifications n
               ON n.id = d.notification_id
           WHERE n.user_id = $1 AND n.kind = 'order_paid' AND d.status = 'sent'""",
        owner.id,
    )
    assert sms == 1


async def test_an_announcement_reaches_a_resident_of_the_community(
    new_context: NewContext,
    web: WebStack,
    make_account: MakeAccount,
    community: CommunityWorld,
) -> None:
    resident = community.residents[1]
    stranger = community.outsider
    home = await signed_in_page(new_context, resident)
    await home.goto("/")
    await expect(bell(home)).to_have_accessible_name("消息通知")
    await expect(bell(home).get_by_test_id("bell-count")).to_have_count(0)

    admin = await signed_in_page(new_context, community.admin, mobile=False)
    await admin.goto("/console/announcements")
    await expect(admin.get_by_role("heading", name="发布平台公告")).to_be_visible()
    await expect(admin.get_by_text("还没有发布过公告")).to_be_visible()
    await admin.get_by_label("标题").fill("周六停水通知")
    await admin.get_by_label("内容").fill("本周六 9:00–12:00 小区停水，请提前储水。")
    await admin.get_by_role("radio", name="指定小区的住户").check()
    await admin.get_by_role("combobox", name=re.compile("^小区")).select_option(label="翠湖花园")
    assert await serious_accessibility_violations(admin) == []
    await admin.get_by_role("button", name="发布").click()
    await expect(admin.get_by_role("status").filter(has_text="已发布")).to_be_visible()
    await run_worker(web.settings, web.core)  # the fan-out job
    await admin.reload()
    row = admin.get_by_role("row", name=re.compile("周六停水通知"))
    await expect(row).to_contain_text("翠湖花园")
    await expect(row).to_contain_text("3 人")
    await screenshot(admin, "notifications-console-announcement")

    # The resident's bell rises live; the list shows it; reading all clears the badge.
    await expect(bell(home).get_by_test_id("bell-count")).to_have_text("1")
    await bell(home).click()
    item = home.locator("li.notification", has_text="周六停水通知")
    await expect(item).to_contain_text("本周六 9:00–12:00 小区停水")
    await expect(item).to_contain_text("平台公告")
    assert await serious_accessibility_violations(home) == []
    await screenshot(home, "notifications-resident")
    await home.get_by_role("button", name="全部标为已读").click()
    await expect(bell(home).get_by_test_id("bell-count")).to_have_count(0)
    await expect(home.get_by_test_id("unread-summary")).to_have_text("没有未读通知")
    assert await unread(web, resident) == 0
    # Not a member of the community: told nothing.
    assert await unread(web, stranger) == 0
    assert (await api(web, stranger, "GET", "/me/notifications"))["items"] == []
