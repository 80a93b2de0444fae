"""Buyer–seller conversations (私信) in a real browser: the buyer taps 私信卖家 on a listing, the
seller — in another browser context — sees the unread badge rise live, opens the conversation
and answers; both threads update without a reload, the read state shows; an image is sent;
customer service sees the conversation only once it is reported; a merchant's staff answers from
the back office; a page whose connection dropped recovers what it missed. axe-core on each
screen."""

from __future__ import annotations

import io
import re
from collections.abc import Awaitable, Callable
from typing import Any

from PIL import Image
from playwright.async_api import BrowserContext, Page, expect

from lago_core.security.roles import PlatformRole

from ..conftest import Account, CommunityWorld
from .conftest import WebStack, screenshot, serious_accessibility_violations, signed_in_page
from .test_merchant_back_office import api, approved_store

MakeAccount = Callable[..., Awaitable[Account]]
NewContext = Callable[..., Awaitable[BrowserContext]]
LISTING = {
    "title": "乐高 城市系列 消防局",
    "description": "盒子齐全",
    "category": "building_blocks",
    "condition": "like_new",
    "kind": "sale",
    "price_fen": 29_900,
}


async def _accessible(page: Page, name: str) -> None:
    assert await serious_accessibility_violations(page) == [], name
    await screenshot(page, name)


def thread(page: Page) -> Any:
    return page.get_by_role("region", name="消息记录")


def messages_link(page: Page) -> Any:
    return page.get_by_role("link", name=re.compile(r"^私信"))


async def test_buyer_and_seller_chat_live_with_unread_badge_and_read_state(
    web: WebStack,
    community: CommunityWorld,
    new_context: NewContext,
    make_account: MakeAccount,
) -> None:
    seller, buyer, _ = community.residents
    listing = await api(web, seller, "POST", "/listings", LISTING)

    seller_page = await signed_in_page(new_context, seller)
    await seller_page.goto("/messages")
    await expect(seller_page.get_by_text("还没有私信")).to_be_visible()
    await expect(messages_link(seller_page)).to_have_accessible_name("私信")

    buyer_page = await signed_in_page(new_context, buyer)
    await buyer_page.goto(f"/listings/{listing['id']}")
    await buyer_page.get_by_role("button", name="私信卖家").click()
    await expect(buyer_page).to_have_url(re.compile(r"/messages/[0-9a-f-]{36}$"))
    await expect(buyer_page.get_by_role("status").filter(has_text="实时连接正常")).to_be_visible()
    await buyer_page.get_by_label("输入消息").fill("你好，还在吗？可以小区门口看货吗")
    await buyer_page.get_by_role("button", name="发送", exact=True).click()
    await expect(thread(buyer_page).get_by_text("你好，还在吗？可以小区门口看货吗")).to_be_visible()
    await expect(thread(buyer_page).get_by_text("未读", exact=True)).to_be_visible()

    # The seller's list and badge rise without a reload.
    await expect(messages_link(seller_page)).to_have_accessible_name("私信，1 条未读")
    row = seller_page.get_by_role("link", name=re.compile("买家"))
    await expect(row).to_contain_text("你好，还在吗？")
    await expect(row.get_by_test_id("conversation-unread")).to_contain_text("1")
    await _accessible(seller_page, "conversations-list-unread")

    await row.click()
    await expect(
        thread(seller_page).get_by_text("你好，还在吗？可以小区门口看货吗")
    ).to_be_visible()
    # Opening it read it: the badge goes, and the buyer sees 已读.
    await expect(messages_link(seller_page)).to_have_accessible_name("私信")
    await expect(thread(buyer_page).get_by_text("已读", exact=True)).to_be_visible()

    await seller_page.get_by_label("输入消息").fill("在的，晚上七点南门见")
    await seller_page.keyboard.press("Enter")
    await expect(thread(buyer_page).get_by_text("在的，晚上七点南门见")).to_be_visible()
    await expect(thread(seller_page).get_by_text("已读", exact=True)).to_be_visible()

    # An image from the buyer reaches the seller live.
    png = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 140, 90)).save(png, "PNG")
    await buyer_page.get_by_label("发送图片").set_input_files(
        {"name": "box.png", "mimeType": "image/png", "buffer": png.getvalue()}
    )
    await expect(seller_page.get_by_role("img", name=re.compile("发送的图片"))).to_be_visible()
    await _accessible(buyer_page, "conversation-buyer")
    await _accessible(seller_page, "conversation-seller")

    # Reported: customer service can now read it, read-only, in the console.
    await buyer_page.get_by_role("button", name="举报").click()
    await buyer_page.get_by_label("原因").select_option("要求站外交易或转账")
    await buyer_page.get_by_role("button", name="提交").click()
    await expect(buyer_page.get_by_text("已提交，客服会查看这段对话。")).to_be_visible()

    agent = await make_account("客服小美", PlatformRole.CUSTOMER_SERVICE)
    console = await signed_in_page(new_context, agent, mobile=False)
    await console.goto("/console/conversations")
    await console.get_by_role("button", name=f"查看对话：{LISTING['title']}").click()
    await expect(thread(console).get_by_text("在的，晚上七点南门见")).to_be_visible()
    await expect(console.get_by_role("note").filter(has_text="客服只读")).to_be_visible()
    await expect(console.get_by_label("输入消息")).to_have_count(0)
    await _accessible(console, "console-conversation-cases")
    await console.get_by_role("button", name="标记已处理").click()
    await expect(console.get_by_text("没有待处理的私信举报或求助")).to_be_visible()

    # Blocking stops the conversation for both sides.
    seller_page.on("dialog", lambda dialog: dialog.accept())
    await seller_page.get_by_role("button", name="拉黑对方").click()
    await expect(seller_page.get_by_text("你已拉黑对方")).to_be_visible()
    await buyer_page.reload()
    await expect(buyer_page.get_by_text("对方已将你拉黑")).to_be_visible()


async def test_merchant_staff_answer_buyers_in_the_back_office(
    web: WebStack,
    community: CommunityWorld,
    new_context: NewContext,
    make_account: MakeAccount,
    approve_merchant: Any,
) -> None:
    owner = await make_account("店主")
    buyer = community.residents[0]
    merchant_id = await approved_store(web, approve_merchant, owner, community)
    listing = await api(
        web, owner, "POST", "/listings", {**LISTING, "merchant_id": str(merchant_id)}
    )
    opened = await api(web, buyer, "POST", f"/listings/{listing['id']}/conversation")

    office = await signed_in_page(new_context, owner, mobile=False)
    await office.goto("/merchant/conversations")
    row = office.get_by_role("link", name=re.compile("^买家 "))
    await expect(row).to_contain_text("还没有消息")

    buyer_page = await signed_in_page(new_context, buyer)
    await buyer_page.goto(f"/messages/{opened['id']}")
    await buyer_page.get_by_label("输入消息").fill("请问可以开发票吗？")
    await buyer_page.get_by_role("button", name="发送", exact=True).click()

    await expect(row.get_by_test_id("conversation-unread")).to_contain_text("1")
    await row.click()
    await expect(thread(office).get_by_text("请问可以开发票吗？")).to_be_visible()
    await office.get_by_label("输入消息").fill("可以，下单后在订单里申请")
    await office.get_by_role("button", name="发送", exact=True).click()
    await expect(thread(buyer_page).get_by_text("可以，下单后在订单里申请")).to_be_visible()
    await _accessible(office, "merchant-conversations")


async def test_a_dropped_connection_recovers_what_was_missed(
    web: WebStack, community: CommunityWorld, new_context: NewContext
) -> None:
    seller, buyer, _ = community.residents
    listing = await api(web, seller, "POST", "/listings", LISTING)
    opened = await api(web, buyer, "POST", f"/listings/{listing['id']}/conversation")
    cid = opened["id"]
    seller_page = await signed_in_page(new_context, seller)
    await seller_page.goto(f"/messages/{cid}")
    online = seller_page.get_by_role("status").filter(has_text="实时连接正常")
    await expect(online).to_be_visible()

    await seller_page.context.set_offline(True)
    await expect(seller_page.get_by_role("status").filter(has_text="连接已断开")).to_be_visible()
    for i, text in enumerate(("还在吗？", "我今晚能来看", "带现金")):
        await api(
            web,
            buyer,
            "POST",
            f"/conversations/{cid}/messages",
            {"client_msg_id": f"offline-{i}", "text": text},
        )
    await expect(thread(seller_page).get_by_text("带现金")).to_have_count(0)
    await seller_page.context.set_offline(False)
    # socket.io's reconnection backs off up to 5 s between attempts.
    await expect(online).to_be_visible(timeout=15_000)
    # Recovered from the last seq held, in order, once each.
    items = thread(seller_page).get_by_role("listitem")
    await expect(items).to_have_count(3)
    await expect(items.nth(0)).to_contain_text("还在吗？")
    await expect(items.nth(2)).to_contain_text("带现金")
