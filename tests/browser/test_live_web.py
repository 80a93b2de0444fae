"""Live streams in the browser (issue 17, items 2, 4 and 6): a staff member goes live from the
console with Chromium's fake camera, a resident's phone plays the stream through the node's
aiortc relay — frames decoded and still coming — and sees the listing the staff pins, live."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from playwright.async_api import BrowserContext, Dialog, Page, expect
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from lago_core.container import Core
from lago_core.listings.service import Category, Condition, ListingDraft, ListingKind
from lago_core.security.roles import Principal
from lago_core.settings import Settings

from ..conftest import Account, CommunityWorld
from .conftest import WebStack, screenshot, serious_accessibility_violations, signed_in_page

# A frame count that only a running decoder reaches: the fake camera sends about 30 a second.
MORE_FRAMES = 15


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The node's ICE gathers on loopback only (the browser reaches it there, as in
    tests/test_live.py); set before the servers are built from these settings."""
    return replace(settings, live_ice_addresses=("127.0.0.1",))


async def _listing(core: Core, seller: Account, title: str) -> str:
    row = await core.listings.create(
        Principal(seller.id, uuid.uuid4()),
        ListingDraft(
            title=title,
            description="九成新，带两个手柄",
            category=Category.GAME_CONSOLE,
            condition=Condition.GOOD,
            kind=ListingKind.SALE,
            brand="任天堂",
            price_fen=150_000,
        ),
    )
    return str(row["id"])


async def _wait_for_picture(page: Page) -> None:
    """Until the resident's player has decoded a frame. The bound is generous for a loaded CI
    machine (it passes in about a second otherwise); a timeout says what the player showed."""
    try:
        await page.wait_for_function(
            "() => document.querySelector('video.live-video')?.videoWidth > 0", timeout=30_000
        )
    except PlaywrightTimeoutError:
        shown = await page.locator(".live-player").inner_text()
        raise AssertionError(f"no frame decoded; the player shows: {shown!r}") from None


async def _decoded_frames(page: Page) -> int:
    frames: int = await page.locator("video.live-video").evaluate(
        "v => v.getVideoPlaybackQuality().totalVideoFrames"
    )
    return frames


async def test_staff_goes_live_and_a_resident_watches_and_sees_pins(
    new_context: Callable[..., Awaitable[BrowserContext]],
    web: WebStack,
    community: CommunityWorld,
) -> None:
    listing_id = await _listing(web.core, community.residents[1], "Switch 健身环大冒险")

    # A resident has the stream page open on a phone before anything is on.
    resident = await signed_in_page(new_context, community.residents[0])
    await resident.goto(f"/live/{community.id}")
    await expect(resident.get_by_text("现在没有直播")).to_be_visible()
    await expect(resident.get_by_text("暂无直播预告")).to_be_visible()
    assert await serious_accessibility_violations(resident) == []

    # The staff member opens the studio and announces the stream: the resident sees it at once.
    staff = await signed_in_page(new_context, community.staff, mobile=False)
    await staff.goto("/console/live")
    await expect(staff.get_by_role("heading", name="直播", exact=True)).to_be_visible()
    await staff.get_by_label("预告标题").fill("周末 Switch 体验会")
    starts = datetime.now() + timedelta(days=1)
    await staff.get_by_label("开播时间").fill(starts.strftime("%Y-%m-%dT%H:%M"))
    await staff.get_by_role("button", name="发布预告").click()
    await expect(
        resident.get_by_role("listitem").filter(has_text="周末 Switch 体验会")
    ).to_be_visible()

    # The camera goes on and the stream starts.
    await staff.get_by_role("button", name="打开摄像头和麦克风").click()
    await expect(staff.get_by_role("button", name="打开摄像头和麦克风")).to_have_count(0)
    # An empty title is refused before anything is sent.
    await staff.get_by_role("button", name="开始直播").click()
    await expect(staff.get_by_text("请填写直播标题（1–100 字）")).to_be_visible()
    await staff.get_by_label("直播标题").fill("周末 Switch 体验会")
    assert await serious_accessibility_violations(staff) == []
    await staff.get_by_role("button", name="开始直播").click()
    on_air = staff.get_by_role("status").filter(has_text="直播中")
    await expect(on_air).to_be_visible(timeout=15_000)

    # The resident's page opens the stream as it starts: the relay's picture is decoded, and
    # keeps coming.
    await expect(resident.get_by_role("heading", name="周末 Switch 体验会")).to_be_visible()
    video = resident.locator("video.live-video")
    await expect(video).to_have_attribute("playsinline", "")
    await expect(video).to_have_js_property("muted", True)
    await _wait_for_picture(resident)
    seen = await _decoded_frames(resident)
    await resident.wait_for_function(
        f"() => document.querySelector('video.live-video')"
        f".getVideoPlaybackQuality().totalVideoFrames >= {seen + MORE_FRAMES}",
        timeout=10_000,
    )
    await expect(resident.get_by_text("1 人在看")).to_be_visible()
    await expect(staff.get_by_text("观看人数：1")).to_be_visible()

    # Sound is the viewer's choice.
    await resident.get_by_role("button", name="打开声音").click()
    await expect(video).to_have_js_property("muted", False)
    await expect(resident.get_by_role("button", name="静音")).to_be_visible()

    # The staff pins the listing; the resident's card appears at once and opens the listing.
    await expect(staff.get_by_text("没有进行中的拼团")).to_be_visible()
    await staff.get_by_role("checkbox", name="Switch 健身环大冒险").check()
    await staff.get_by_role("button", name="更新置顶").click()
    card = resident.get_by_role("link", name="Switch 健身环大冒险")
    await expect(card).to_be_visible()
    await expect(card).to_have_attribute("href", f"/listings/{listing_id}")
    await expect(card).to_contain_text("¥1500.00")
    await expect(card).to_contain_text("查看并下单")
    await expect(staff.get_by_role("region", name="置顶商品").get_by_role("link")).to_contain_text(
        "Switch 健身环大冒险"
    )
    assert await serious_accessibility_violations(staff) == []
    # Chat beside the picture is the channel's chat.
    await resident.get_by_label("聊天内容").fill("看起来不错！")
    await resident.get_by_role("button", name="发送").click()
    await expect(resident.get_by_role("list", name="直播聊天")).to_contain_text("看起来不错！")
    assert await serious_accessibility_violations(resident) == []
    await screenshot(resident, "resident-live")
    await screenshot(staff, "console-live")

    # The card opens the listing to order it; leaving the page stops watching.
    await card.click()
    await expect(resident).to_have_url(f"{web.url}/listings/{listing_id}")
    await expect(resident.get_by_role("heading", name="Switch 健身环大冒险")).to_be_visible()
    await expect(staff.get_by_text("观看人数：0")).to_be_visible()

    # Back on the stream page, the resident watches again (a new peer connection).
    await resident.go_back()
    await expect(staff.get_by_text("观看人数：1")).to_be_visible(timeout=15_000)
    await _wait_for_picture(resident)

    # A neighbour in the channel is shown that the stream is on, with the way to it.
    neighbour = await signed_in_page(new_context, community.residents[2])
    await neighbour.goto("/channel")
    banner = neighbour.get_by_role("link", name="去观看")
    await expect(banner).to_have_attribute("href", f"/live/{community.id}")
    await expect(banner).to_contain_text("周末 Switch 体验会")

    # Stopping (after a confirmation) ends it for the resident, who is told why.
    async def accept(dialog: Dialog) -> None:
        await dialog.accept()

    staff.once("dialog", accept)
    await staff.get_by_role("button", name="结束直播").click()
    await expect(staff.get_by_role("button", name="开始直播")).to_be_visible()
    await expect(resident.get_by_text("主播结束了直播")).to_be_visible()
    await expect(resident.locator("video.live-video")).to_have_count(0)
    await expect(banner).to_have_count(0)


async def test_staff_grants_and_revokes_a_residents_right_to_go_live(
    new_context: Callable[..., Awaitable[BrowserContext]],
    web: WebStack,
    community: CommunityWorld,
) -> None:
    granted = community.residents[2]
    as_resident = Principal(granted.id, uuid.uuid4())
    community_id = uuid.UUID(community.id)
    staff = await signed_in_page(new_context, community.staff, mobile=False)
    await staff.goto("/console/live")
    grants = staff.get_by_role("region", name="直播授权")
    await expect(grants.get_by_text("还没有授权的居民")).to_be_visible()
    await grants.get_by_label("选择居民").select_option(label="刘女士")
    await grants.get_by_role("button", name="授权", exact=True).click()
    await expect(grants.get_by_role("listitem").filter(has_text="刘女士")).to_be_visible()
    assert await web.core.live.host_role(as_resident, community_id) is not None

    # Revoking asks first; dismissing keeps the grant, accepting withdraws it.
    async def dismiss(dialog: Dialog) -> None:
        await dialog.dismiss()

    async def accept(dialog: Dialog) -> None:
        await dialog.accept()

    staff.once("dialog", dismiss)
    await grants.get_by_role("button", name="撤销").click()
    await expect(grants.get_by_role("listitem").filter(has_text="刘女士")).to_be_visible()
    staff.once("dialog", accept)
    await grants.get_by_role("button", name="撤销").click()
    await expect(grants.get_by_text("还没有授权的居民")).to_be_visible()
    assert await web.core.live.host_role(as_resident, community_id) is None
