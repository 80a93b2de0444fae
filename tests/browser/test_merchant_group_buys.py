"""Group buys in the merchant back office (a real browser): the merchant offers a campaign through
the form (checked as it is sent), residents form and pay a group over the real-time node and the
sandbox, the group's orders arrive live on the open 拼团订单 page, where the merchant confirms one
and refunds another with a reason; the campaign is ended after a confirmation; axe finds nothing
serious on either page."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import aiohttp
import pytest
from playwright.async_api import BrowserContext, expect

from lago_core.container import Core

from ..conftest import Account, CommunityWorld
from ..groupbuy_support import merchant_with_item
from ..rt_client import ChannelClient
from ..test_payments import WEBHOOK, run_worker
from .conftest import WebStack, screenshot, serious_accessibility_violations, signed_in_page

NewContext = Callable[..., Awaitable[BrowserContext]]


@pytest.fixture(autouse=True)
def patient_expect() -> Iterator[None]:
    """Pushes cross Redis, the real-time node and the browser on a shared 2-core machine."""
    expect.set_options(timeout=10_000)
    yield
    expect.set_options(timeout=5_000)


@pytest.fixture
async def clients() -> AsyncIterator[list[ChannelClient]]:
    made: list[ChannelClient] = []
    yield made
    for client in made:
        await client.close()


async def pay_seat(web: WebStack, core: Core, who: Account, group_id: str) -> None:
    """The resident pays their seat through the sandbox; the worker delivers the webhook."""
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{web.url}/api/v1/group-buys/{group_id}/pay",
            headers={**who.headers, "Idempotency-Key": f"seat-{who.id}"},
        ) as response:
            payment = await response.json()
            assert response.status == 201, payment
        async with session.post(
            f"{web.url}/api/v1/sandbox/intents/{payment['provider_intent_id']}/pay",
            json={"client_secret": payment["client_secret"], "outcome": "succeed"},
        ) as response:
            assert response.status == 200, await response.text()
    await run_worker(web.settings, core)


async def test_a_campaign_made_in_the_ui_fills_and_its_orders_are_worked_live(
    web: WebStack,
    new_context: NewContext,
    community: CommunityWorld,
    core: Core,
    make_account: Callable[..., Awaitable[Account]],
    approve_merchant: Any,
    clients: list[ChannelClient],
) -> None:
    core.settings = dataclasses.replace(core.settings, sandbox_webhook_url=web.url + WEBHOOK)
    owner = await make_account("乐高店老板")
    merchant_id, item_id = await merchant_with_item(core, approve_merchant, owner, community)
    page = await signed_in_page(new_context, owner, mobile=False)

    # --- 拼团活动: none yet; the form checks what it sends ---
    await page.goto("/merchant/group-buys")
    await expect(page.get_by_role("heading", name="拼团活动", level=1)).to_be_visible()
    await expect(page.get_by_text("还没有拼团活动")).to_be_visible()
    await page.get_by_role("button", name="发起拼团活动").click()
    form = page.get_by_role("form", name="新拼团活动")
    await form.get_by_role("button", name="发布活动").click()
    await expect(form.get_by_text("请填写活动名称")).to_be_visible()
    await expect(form.get_by_text("请选择拼团商品")).to_be_visible()
    await expect(form.get_by_label("活动名称")).to_be_focused()
    assert await serious_accessibility_violations(page) == []
    await form.get_by_label("活动名称").fill("乐高课两人团")
    await form.get_by_label("拼团商品").select_option(f"item:{item_id}")
    # The item's price becomes the original price; a group price above it is refused here.
    await expect(form.get_by_label("原价（元）")).to_have_value("200.00")
    await form.get_by_label("拼团价（元）").fill("250")
    await form.get_by_label("最少成团人数").fill("2")
    await form.get_by_label("每团最多人数").fill("1")
    await form.get_by_role("button", name="发布活动").click()
    await expect(form.get_by_text("拼团价须低于原价")).to_be_visible()
    await expect(form.get_by_text("每团最多人数须在 2–100 之间")).to_be_visible()
    await form.get_by_label("拼团价（元）").fill("99.5")
    await form.get_by_label("每团最多人数").fill("3")
    name = await core.pool.fetchval(
        "SELECT name FROM communities WHERE id = $1", uuid.UUID(community.id)
    )
    await expect(form.get_by_role("checkbox", name=name)).to_be_checked()
    await form.get_by_role("button", name="发布活动").click()
    await expect(
        page.get_by_role("status").filter(has_text="已发布「乐高课两人团」")
    ).to_be_visible()
    row = page.get_by_role("row").filter(has_text="乐高课两人团")
    await expect(row.get_by_text("进行中")).to_be_visible()
    await expect(row.get_by_text("¥99.50")).to_be_visible()
    await expect(row.get_by_text("2–3 人")).to_be_visible()
    [made] = await core.pool.fetch(
        "SELECT id, group_price_fen, original_price_fen, min_members, max_members, item_id "
        "FROM group_buy_campaigns WHERE merchant_id = $1",
        merchant_id,
    )
    assert (made["group_price_fen"], made["original_price_fen"]) == (9_950, 20_000)
    assert (made["min_members"], made["max_members"], made["item_id"]) == (2, 3, item_id)
    await screenshot(page, "merchant-group-buy-campaigns")
    assert await serious_accessibility_violations(page) == []

    # --- 拼团订单: open and live before the group forms ---
    await page.get_by_role("link", name="拼团订单").click()
    await expect(page.get_by_role("heading", name="拼团订单", level=1)).to_be_visible()
    await expect(page.get_by_text("暂无拼团订单")).to_be_visible()
    await expect(page.get_by_role("status").filter(has_text="订单实时推送已连接")).to_be_visible()

    # Two residents form the group in their channel and pay their seats.
    wang, li, _ = community.residents
    sockets = []
    for who in (wang, li):
        client = await ChannelClient(web.rt_url, who.access_token).connect()
        clients.append(client)
        assert (await client.join(community.id))["ok"]
        sockets.append(client)
    started = await sockets[0].call(
        "groupbuy:start",
        {
            "community_id": community.id,
            "campaign_id": str(made["id"]),
            "request_id": str(uuid.uuid4()),
        },
    )
    assert started["ok"], started
    group_id = started["group"]["group_id"]
    joined = await sockets[1].call(
        "groupbuy:join", {"community_id": community.id, "group_id": group_id}
    )
    assert joined["ok"], joined
    for who in (wang, li):
        await pay_seat(web, core, who, group_id)

    # Both orders arrive without a reload, marked new.
    rows = page.get_by_role("row").filter(has_text="乐高课两人团")
    await expect(rows).to_have_count(2)
    await expect(rows.get_by_text("新", exact=True)).to_have_count(2)
    await expect(rows.get_by_text("已支付，待确认")).to_have_count(2)
    orders = await core.pool.fetch(
        "SELECT id FROM group_buy_orders WHERE merchant_id = $1 ORDER BY id", merchant_id
    )
    first, second = (page.locator(f'tr[data-order-id="{o["id"]}"]') for o in orders)

    await first.get_by_role("button", name="接单").click()
    await expect(first.get_by_text("已接单")).to_be_visible()
    await expect(first.get_by_role("button", name="已交付")).to_be_visible()
    await expect(first.get_by_text("新", exact=True)).to_have_count(0)

    # A refund needs a reason the buyer is told.
    await second.get_by_role("button", name="退款").click()
    dialog = page.get_by_role("dialog", name="为拼团订单退款")
    await dialog.get_by_role("button", name="确认退款").click()
    await expect(dialog.get_by_text("请填写原因")).to_be_visible()
    assert await serious_accessibility_violations(page) == []
    await dialog.get_by_label("原因（告知买家，最多 200 字）").fill("老师请假，无法开课")
    await dialog.get_by_role("button", name="确认退款").click()
    await expect(dialog).to_have_count(0)
    await expect(second.get_by_text("已退款")).to_be_visible()
    await expect(second.get_by_text("原因：老师请假，无法开课")).to_be_visible()
    statuses = await core.pool.fetch(
        "SELECT status FROM group_buy_orders WHERE merchant_id = $1 ORDER BY id", merchant_id
    )
    assert [s["status"] for s in statuses] == ["confirmed", "refunded"]

    # The status filter asks the API for one status.
    await page.get_by_role("button", name="已接单", exact=True).click()
    await expect(rows).to_have_count(1)
    await expect(page.locator(f'tr[data-order-id="{orders[0]["id"]}"]')).to_be_visible()
    await page.get_by_role("button", name="全部", exact=True).click()
    await expect(rows).to_have_count(2)
    await screenshot(page, "merchant-group-buy-orders")
    assert await serious_accessibility_violations(page) == []

    # --- ending the campaign asks first ---
    await page.get_by_role("link", name="拼团活动").click()
    await row.get_by_role("button", name="结束活动：乐高课两人团").click()
    confirm = page.get_by_role("dialog", name="结束拼团活动")
    await confirm.get_by_role("button", name="取消").click()
    await expect(row.get_by_text("进行中")).to_be_visible()
    await row.get_by_role("button", name="结束活动：乐高课两人团").click()
    await confirm.get_by_role("button", name="确认结束").click()
    await expect(row.get_by_text("已结束")).to_be_visible()
    await expect(row.get_by_role("button")).to_have_count(0)
    status = await core.pool.fetchval(
        "SELECT status FROM group_buy_campaigns WHERE id = $1", made["id"]
    )
    assert status == "ended"
