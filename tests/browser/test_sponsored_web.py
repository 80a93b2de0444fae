"""Sponsored slots (广告曝光) in a real browser: an admin sells a slot in the console (brand,
campaign, card, schedule, community); a host goes live; a resident watching the stream sees the
sponsored card and clicks it; the console's report shows 1 impression and 1 click — with
axe-core on each new screen."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from playwright.async_api import BrowserContext, Page, expect

from lago_core.container import Core
from lago_rt.app import RT_NODE

from ..conftest import CommunityWorld
from ..rt_client import ChannelClient
from .conftest import WebStack, screenshot, serious_accessibility_violations, signed_in_page

NewContext = Callable[..., Awaitable[BrowserContext]]


@pytest.fixture
async def clients() -> AsyncIterator[list[ChannelClient]]:
    made: list[ChannelClient] = []
    yield made
    for client in made:
        await client.close()


async def _accessible(page: Page, name: str) -> None:
    assert await serious_accessibility_violations(page) == [], name
    await screenshot(page, name)


async def test_admin_sells_a_slot_a_viewer_sees_and_clicks_it(
    web: WebStack,
    core: Core,
    community: CommunityWorld,
    new_context: NewContext,
    clients: list[ChannelClient],
) -> None:
    brand = f"乐高{uuid.uuid4().hex[:4]}"
    admin = await signed_in_page(new_context, community.admin, mobile=False)
    await admin.goto("/console/sponsored")
    form = admin.get_by_role("form", name="新建投放")
    await form.get_by_label("品牌名称").fill(brand)
    await form.get_by_label("投放名称").fill("暑期新品")
    await form.get_by_label("售价（元）").fill("5000")
    await form.get_by_label("卡片标题").fill("乐高城市系列 新品上市")
    await form.get_by_label("点击跳转（https 链接或站内路径，如 /coupons）").fill("/coupons")
    await form.get_by_label("翠湖花园").check()
    await _accessible(admin, "sponsored-console")
    await form.get_by_role("button", name="创建投放").click()
    await expect(admin.get_by_role("status").filter(has_text="投放已创建")).to_be_visible()
    await expect(admin.get_by_text(f"{brand} · 暑期新品")).to_be_visible()

    # The host goes live (a socket client: the card needs no media).
    host = await ChannelClient(web.rt_url, community.staff.access_token).connect()
    clients.append(host)
    assert (await host.join(community.id))["ok"]
    started = await host.call("live:start", {"community_id": community.id, "title": "周末亲子活动"})
    assert started["ok"], started

    resident = await signed_in_page(new_context, community.residents[0])
    await resident.goto(f"/live/{community.id}")
    await expect(resident.get_by_role("heading", name="周末亲子活动")).to_be_visible()
    # The channel's owner shows due slots on its heartbeat.
    await web.rt.app[RT_NODE].host.tick_all()
    card = resident.get_by_role("complementary", name=f"赞助：{brand}")
    await expect(card.get_by_text("乐高城市系列 新品上市")).to_be_visible()
    await _accessible(resident, "sponsored-live-card")
    await card.get_by_role("button", name="了解详情").click()
    await expect(resident).to_have_url(f"{web.url}/coupons")

    await admin.reload()
    await admin.get_by_role("button", name="效果报表").click()
    table = admin.get_by_role("table", name="效果报表：暑期新品")
    row = table.get_by_role("row").nth(1)
    cells = row.get_by_role("cell")
    await expect(cells.nth(0)).to_have_text("翠湖花园")
    await expect(cells.nth(2)).to_have_text("1")  # shows
    await expect(cells.nth(3)).to_have_text("1")  # impressions
    await expect(cells.nth(4)).to_have_text("1")  # unique viewers
    await expect(cells.nth(5)).to_have_text("1")  # clicks
    await expect(cells.nth(6)).to_have_text("100.0%")
    await _accessible(admin, "sponsored-report")
    assert await admin.get_by_role("link", name="导出 CSV").get_attribute("href") is not None
