"""Swaps (置换) in a real browser: the owner opens a listing to swaps; a neighbour sees 可置换 and
offers one of their own listings with a difference; the owner accepts in 我的置换; the proposer
pays the difference on the sandbox cashier; both confirm the exchange and rate each other — with
axe-core on each new screen."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Awaitable, Callable

from playwright.async_api import BrowserContext, Page, expect

from lago_core.container import Core
from lago_core.listings import Category, Condition, ListingDraft, ListingKind
from lago_core.security.roles import Principal

from ..conftest import CommunityWorld
from ..test_payments import WEBHOOK, run_worker
from .conftest import WebStack, screenshot, serious_accessibility_violations, signed_in_page

NewContext = Callable[..., Awaitable[BrowserContext]]


async def _accessible(page: Page, name: str) -> None:
    assert await serious_accessibility_violations(page) == [], name
    await screenshot(page, name)


async def _listing(core: Core, seller_id: uuid.UUID, title: str, price_fen: int) -> uuid.UUID:
    row = await core.listings.create(
        Principal(seller_id, uuid.uuid4()),
        ListingDraft(
            title=title,
            description="",
            category=Category.BUILDING_BLOCKS,
            condition=Condition.LIKE_NEW,
            kind=ListingKind.SALE,
            price_fen=price_fen,
        ),
    )
    return uuid.UUID(str(row["id"]))


async def test_offer_accept_pay_confirm_and_rate(
    web: WebStack, core: Core, community: CommunityWorld, new_context: NewContext
) -> None:
    core.settings = dataclasses.replace(core.settings, sandbox_webhook_url=web.url + WEBHOOK)
    owner_account, proposer_account, _ = community.residents
    wanted = await _listing(core, owner_account.id, "任天堂 Switch 游戏机", 80_000)
    await _listing(core, proposer_account.id, "乐高 机械组 42115", 60_000)

    owner = await signed_in_page(new_context, owner_account)
    await owner.goto(f"/listings/{wanted}")
    toggle = owner.get_by_label("开放置换（邻居可用闲置与你交换）")
    await toggle.click()
    await expect(toggle).to_be_checked()
    await _accessible(owner, "swaps-open-listing")

    proposer = await signed_in_page(new_context, proposer_account)
    await proposer.goto(f"/listings/{wanted}")
    await expect(proposer.get_by_text("可置换", exact=True)).to_be_visible()
    sheet = proposer.get_by_role("form", name="提出置换")
    await expect(sheet.get_by_label("用我的闲置交换")).to_have_value(
        # The only one of the proposer's listings is preselected.
        str(
            await core.pool.fetchval(
                "SELECT id FROM listings WHERE seller_id = $1", proposer_account.id
            )
        )
    )
    await sheet.get_by_label("差价（元，可不填）").fill("200")
    await sheet.get_by_label("我补给对方").check()
    await sheet.get_by_label("留言（可选）").fill("成色很好")
    await _accessible(proposer, "swaps-offer-sheet")
    await sheet.get_by_role("button", name="提出置换").click()
    await expect(proposer.get_by_role("heading", name="我的置换")).to_be_visible()
    await expect(proposer.get_by_text("待回应")).to_be_visible()

    await owner.goto("/me/swaps")
    card = owner.get_by_role("listitem", name="用：乐高 机械组 42115")
    await expect(card.get_by_text("对方补差价 ¥200.00")).to_be_visible()
    await _accessible(owner, "swaps-inbox")
    await card.get_by_role("button", name="接受").click()
    await expect(card.get_by_text("已接受，待交换")).to_be_visible()

    # The proposer's list follows the push (or the reconnect's read); they pay the difference.
    await proposer.get_by_role("button", name="支付差价").click()
    await expect(proposer.get_by_role("heading", name="支付差价")).to_be_visible()
    await _accessible(proposer, "swaps-cashier")
    await proposer.get_by_role("button", name="确认支付 ¥200.00（沙盒）").click()
    await expect(proposer.get_by_role("status").filter(has_text="正在等待支付结果")).to_be_visible()
    await run_worker(web.settings, core)  # delivers the webhook: the capture marks the swap paid
    await expect(proposer.get_by_text("差价已支付")).to_be_visible()
    await proposer.get_by_role("link", name="返回我的置换").click()
    await proposer.get_by_role("button", name="发出的").click()
    mine = proposer.get_by_role("listitem", name="想要：任天堂 Switch 游戏机")
    await mine.get_by_role("button", name="确认已当面交换").click()
    await expect(mine.get_by_text("你已确认交换，等待对方确认")).to_be_visible()

    await owner.reload()
    card = owner.get_by_role("listitem", name="用：乐高 机械组 42115")
    await expect(card.get_by_text("对方已确认交换")).to_be_visible()
    await card.get_by_role("button", name="确认已当面交换").click()
    await expect(card.get_by_text("已完成")).to_be_visible()
    await card.get_by_label("评价内容（可选）").fill("爽快")
    await card.get_by_role("button", name="提交评价").click()
    await expect(card.get_by_text("已评价")).to_be_visible()
    await _accessible(owner, "swaps-completed")

    await proposer.reload()
    mine = proposer.get_by_role("listitem", name="想要：任天堂 Switch 游戏机")
    await mine.get_by_role("button", name="提交评价").click()
    await expect(mine.get_by_text("已评价")).to_be_visible()
    rep = await core.orders.reputation(proposer_account.id)
    assert rep.rating_count == 1
    await owner.goto(f"/listings/{wanted}")
    await expect(owner.get_by_text("已置换")).to_be_visible()
