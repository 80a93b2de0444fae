"""The resident's order page and order list follow the other side live (issue 17): the payment
webhook and the seller's hand-over show up without a reload, over `order:updated` on `/`."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Awaitable, Callable

import aiohttp
from playwright.async_api import BrowserContext, Page, WebSocket, WebSocketRoute, expect

from lago_core.container import Core
from lago_core.listings import Category, Condition, ListingDraft, ListingKind
from lago_core.orders import Action
from lago_core.security.roles import Principal

from ..conftest import Account, CommunityWorld
from ..test_payments import WEBHOOK, run_worker
from .conftest import WebStack, serious_accessibility_violations, signed_in_page

NewContext = Callable[..., Awaitable[BrowserContext]]
LIVE_MS = 2_000  # what "live" means here: the other side's move shows within two seconds


def _as(account: Account) -> Principal:
    return Principal(account.id, uuid.uuid4())


async def _sale(core: Core, seller: Account, title: str) -> uuid.UUID:
    listing = await core.listings.create(
        _as(seller),
        ListingDraft(
            title=title,
            description="",
            category=Category.BUILDING_BLOCKS,
            condition=Condition.LIKE_NEW,
            kind=ListingKind.SALE,
            brand="LEGO",
            price_fen=9_900,
        ),
    )
    return uuid.UUID(str(listing["id"]))


async def open_live(page: Page, path: str) -> None:
    """Open ``path`` and wait until its socket on `/` is connected (Socket.IO's connect
    acknowledgement), so what follows reaches it as a push rather than by the read on connect."""
    connected = asyncio.Event()

    def watch(socket: WebSocket) -> None:
        def frame(payload: str | bytes) -> None:
            if isinstance(payload, str) and payload.startswith("40"):
                connected.set()

        socket.on("framereceived", frame)

    page.on("websocket", watch)
    await page.goto(path)
    async with asyncio.timeout(10):
        await connected.wait()


async def test_the_buyer_sees_payment_and_hand_over_without_reloading(
    web: WebStack, core: Core, community: CommunityWorld, new_context: NewContext
) -> None:
    buyer, seller, _ = community.residents
    core.settings = dataclasses.replace(core.settings, sandbox_webhook_url=web.url + WEBHOOK)
    listing_id = await _sale(core, seller, "乐高 好朋友 咖啡馆")
    placed = await core.orders.create(_as(buyer), listing_id, None, "face_to_face")

    # The seller watches their order list, the buyer the order itself; neither reloads.
    sell = await signed_in_page(new_context, seller)
    await open_live(sell, "/orders?role=seller")
    row = sell.get_by_role("listitem").filter(has_text="乐高 好朋友 咖啡馆")
    await expect(row.locator(".badge")).to_have_text("待支付")
    buy = await signed_in_page(new_context, buyer)
    await open_live(buy, f"/orders/{placed['id']}")
    badge = buy.locator(".badge")
    await expect(badge).to_have_text("待支付")
    notice = buy.get_by_role("status").filter(has_text="订单状态已更新")
    await expect(notice).to_have_count(0)
    await buy.evaluate("window.stillTheSamePage = true")

    # Paid elsewhere: the provider's webhook (delivered by the worker) captures the payment.
    async with aiohttp.ClientSession(web.url) as http:
        async with http.get(
            f"/api/v1/payments/{placed['payment_id']}", headers=buyer.headers
        ) as response:
            assert response.status == 200
            payment = await response.json()
        async with http.post(
            f"/api/v1/sandbox/intents/{payment['provider_intent_id']}/pay",
            json={"client_secret": payment["client_secret"], "outcome": "succeed"},
        ) as response:
            assert response.status == 200
    await run_worker(web.settings, core)
    await expect(badge).to_have_text("已支付", timeout=LIVE_MS)
    await expect(row.locator(".badge")).to_have_text("已支付", timeout=LIVE_MS)

    # The seller hands it over (through the API, as from their phone).
    await core.orders.act(_as(seller), placed["id"], Action.HAND_OVER)
    await expect(badge).to_have_text("已交付", timeout=LIVE_MS)
    timeline = buy.get_by_role("region", name="订单进度")
    await expect(timeline.locator("[aria-current=step]")).to_have_text("完成", timeout=LIVE_MS)
    await expect(notice).to_be_visible(timeout=LIVE_MS)
    await expect(buy.get_by_role("button", name="确认收货")).to_be_visible()
    await expect(row.locator(".badge")).to_have_text("已交付", timeout=LIVE_MS)
    assert await buy.evaluate("window.stillTheSamePage") is True
    assert await serious_accessibility_violations(buy) == []
    # The notice is brief: it goes again by itself.
    await expect(notice).to_have_count(0, timeout=10_000)


async def test_after_a_reconnect_the_order_page_reads_what_it_missed(
    web: WebStack, core: Core, community: CommunityWorld, new_context: NewContext
) -> None:
    """The socket drops, the order changes meanwhile (its push reaches nobody), and the page
    reads the order again once the socket is back."""
    buyer, seller, _ = community.residents
    placed = await core.orders.create(
        _as(buyer), await _sale(core, seller, "乐高 城市 消防局"), None, "face_to_face"
    )
    buy = await signed_in_page(new_context, buyer)
    connected = asyncio.Event()
    sockets: list[WebSocketRoute] = []
    back = asyncio.Event()  # the network is back: sockets reach the node again

    async def network(page_side: WebSocketRoute) -> None:
        if sockets and not back.is_set():
            await page_side.close()  # still offline: the client keeps retrying
            return
        sockets.append(page_side)
        node_side = page_side.connect_to_server()

        def to_page(message: str | bytes) -> None:
            if isinstance(message, str) and message.startswith("40"):
                connected.set()
            page_side.send(message)

        node_side.on_message(to_page)
        page_side.on_message(node_side.send)

    await buy.route_web_socket("**/socket.io/**", network)
    await buy.goto(f"/orders/{placed['id']}")
    async with asyncio.timeout(10):
        await connected.wait()
    badge = buy.locator(".badge")
    await expect(badge).to_have_text("待支付")
    await buy.evaluate("window.stillTheSamePage = true")

    await sockets[0].close()
    await core.orders.act(_as(buyer), placed["id"], Action.CANCEL)
    await expect(badge).to_have_text("待支付")  # the push was lost
    connected.clear()
    back.set()
    async with asyncio.timeout(10):
        await connected.wait()
    await expect(badge).to_have_text("已取消")
    assert await buy.evaluate("window.stillTheSamePage") is True
