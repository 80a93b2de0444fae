"""The community channel in a real browser (issue 17 items 2, 6 and 7): residents chat live and a
resident cut off recovers every missed message once and in order; a group buy fills live in two
browsers and a seat is paid through the sandbox; a lottery is entered, drawn live and verified;
customer service answers and hands over to a person; a channel with 1,000 members and 500
messages stays free of long tasks when a message arrives; axe finds nothing serious."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Locator, Page, expect

from lago_core.container import Core
from lago_core.groupbuys import CampaignSpec
from lago_core.push import user_room
from lago_core.security.roles import PlatformRole, Principal
from lago_rt.app import RT_NODE

from ..conftest import Account, CommunityWorld
from ..groupbuy_support import bulk_residents, merchant_with_item
from ..rt_client import ChannelClient
from ..test_payments import WEBHOOK, run_worker
from ..waiting import until
from .conftest import WebStack, screenshot, serious_accessibility_violations, signed_in_page
from .test_resident_orders_live import _sale

NewContext = Callable[..., Awaitable[BrowserContext]]


@pytest.fixture(autouse=True)
def patient_expect() -> Iterator[None]:
    """Live updates cross Redis, the real-time node and the browser on a shared 2-core machine:
    wait up to 10 s for them (Playwright's default is 5 s)."""
    expect.set_options(timeout=10_000)
    yield
    expect.set_options(timeout=5_000)


@pytest.fixture
async def clients() -> AsyncIterator[list[ChannelClient]]:
    made: list[ChannelClient] = []
    yield made
    for client in made:
        await client.close()


async def member(
    clients: list[ChannelClient], web: WebStack, token: str, community_id: str
) -> ChannelClient:
    """A socket.io client (not a browser) joined to the channel."""
    client = await ChannelClient(web.rt_url, token).connect()
    clients.append(client)
    joined = await client.join(community_id)
    assert joined["ok"], joined
    return client


def chat(page: Page) -> Locator:
    return page.get_by_role("list", name="聊天消息")


async def say(page: Page, text: str) -> None:
    await page.get_by_label("输入消息").fill(text)
    await page.get_by_role("button", name="发送", exact=True).click()


async def cut_off(web: WebStack, page: Page, account: Account) -> None:
    """The resident's network goes away: the browser is offline and the server drops its
    connections (a TCP reset, as when a phone leaves the Wi-Fi), so nothing reaches the page
    until it reconnects by itself once back online."""
    node = web.rt.app[RT_NODE]
    room = user_room(account.id)
    await page.context.set_offline(True)
    for socket in list(node.server.hub.members(room).values()):
        socket.conn.cut("test: the resident's network went away")
    await until(lambda: not node.server.hub.members(room), within=5)
    await expect(page.get_by_role("status").filter(has_text="连接已断开")).to_be_visible()


async def no_serious_violations(page: Page) -> None:
    assert await serious_accessibility_violations(page) == []


async def test_two_residents_chat_live_and_a_cut_off_one_recovers_every_missed_message(
    web: WebStack, new_context: NewContext, community: CommunityWorld
) -> None:
    wang, li, _ = community.residents
    a = await signed_in_page(new_context, wang)
    b = await signed_in_page(new_context, li)
    await a.goto("/channel")
    await b.goto("/channel")
    await expect(a.get_by_role("button", name="2 人在线")).to_be_visible()
    await expect(b.get_by_role("button", name="2 人在线")).to_be_visible()
    await a.get_by_role("button", name="2 人在线").click()
    online = a.get_by_role("list", name="在线成员")
    await expect(online.get_by_role("listitem")).to_have_count(2)
    await expect(online.get_by_text("张先生")).to_be_visible()
    await a.get_by_role("button", name="收起").click()

    await say(b, "大家好，有人要乐高吗？")
    await expect(chat(a).get_by_text("大家好，有人要乐高吗？")).to_be_visible()
    await say(a, "我要！")
    await expect(chat(b).get_by_text("我要！")).to_be_visible()
    await expect(chat(a).get_by_text("发送中")).to_have_count(0)

    # A's network goes away; nothing reaches A until it reconnects.
    await cut_off(web, a, wang)
    await expect(b.get_by_role("button", name="1 人在线")).to_be_visible()

    # Written while offline: shown as sending, delivered after the reconnect.
    await say(a, "我刚才掉线了")
    await expect(chat(a).get_by_text("发送中")).to_be_visible()
    missed = [f"错过的消息 {n}" for n in range(1, 6)]
    for text in missed:
        await say(b, text)
    await expect(chat(b).get_by_text(missed[-1])).to_be_visible()
    await expect(chat(b).get_by_text("发送中")).to_have_count(0)
    await expect(chat(a).get_by_text(missed[0])).to_have_count(0)

    await a.context.set_offline(False)
    await expect(a.get_by_role("status").filter(has_text="已重新连接")).to_be_visible(
        timeout=15_000
    )
    await expect(chat(a).get_by_text(missed[-1])).to_be_visible()
    await expect(chat(b).get_by_text("我刚才掉线了")).to_be_visible()
    await expect(chat(a).get_by_text("发送中")).to_have_count(0)
    expected = ["大家好，有人要乐高吗？", "我要！", *missed, "我刚才掉线了"]
    assert await chat(a).locator(".text").all_text_contents() == expected
    assert await chat(b).locator(".text").all_text_contents() == expected
    await expect(a.get_by_role("button", name="2 人在线")).to_be_visible()

    await screenshot(a, "channel-chat")
    await no_serious_violations(a)


async def test_history_paging_reports_mutes_and_deleted_messages(
    web: WebStack,
    new_context: NewContext,
    community: CommunityWorld,
    clients: list[ChannelClient],
) -> None:
    wang, li, zhao = community.residents
    # Three senders: one connection may send 30 messages in a burst (docs/protocol.md, limits).
    for n, who in enumerate((li, zhao, community.staff)):
        sender = await member(clients, web, who.access_token, community.id)
        for m in range(n * 20 + 1, n * 20 + 21):
            sent = await sender.send(community.id, f"旧消息 {m}")
            assert sent["ok"], sent
    page = await signed_in_page(new_context, wang)
    await page.goto("/channel")
    await expect(chat(page).get_by_text("旧消息 60")).to_be_visible()
    await expect(chat(page).get_by_text("旧消息 10", exact=True)).to_have_count(0)
    await page.get_by_role("button", name="加载更早的消息").click()
    await expect(page.get_by_text("没有更早的消息了")).to_be_visible()
    texts = await chat(page).locator(".text").all_text_contents()
    assert texts == [f"旧消息 {n}" for n in range(1, 61)]

    # A report goes to moderation.
    await chat(page).locator("li", has_text="旧消息 60").get_by_role("button", name="举报").click()
    dialog = page.get_by_role("dialog", name="举报这条消息")
    await dialog.get_by_label("举报原因").select_option("广告")
    await dialog.get_by_role("button", name="提交举报").click()
    await expect(dialog.get_by_text("已举报")).to_be_visible()
    reports = await web.core.pool.fetch("SELECT reason FROM message_reports")
    assert [r["reason"] for r in reports] == ["广告"]
    await dialog.get_by_role("button", name="关闭").click()

    # Staff delete a message: it disappears; staff mute the resident: the notice shows.
    staff = await member(clients, web, community.staff.access_token, community.id)
    seq = await web.core.pool.fetchval(
        "SELECT seq FROM channel_events WHERE data->>'text' = '旧消息 59'"
    )
    deleted = await staff.call(
        "chat:delete", {"community_id": community.id, "seq": seq, "reason": "广告"}
    )
    assert deleted["ok"], deleted
    await expect(chat(page).get_by_text("旧消息 59")).to_have_count(0)
    muted = await staff.call(
        "chat:mute",
        {"community_id": community.id, "user_id": str(wang.id), "minutes": 60, "reason": "刷屏"},
    )
    assert muted["ok"], muted
    await expect(page.get_by_role("alert").filter(has_text="你已被禁言")).to_be_visible()
    await expect(page.get_by_label("输入消息")).to_be_disabled()


async def test_a_message_refused_while_muted_is_resent_by_hand_after_the_unmute(
    web: WebStack,
    new_context: NewContext,
    community: CommunityWorld,
    clients: list[ChannelClient],
) -> None:
    wang = community.residents[0]
    page = await signed_in_page(new_context, wang)
    await page.goto("/channel")
    staff = await member(clients, web, community.staff.access_token, community.id)
    await expect(page.get_by_role("button", name="2 人在线")).to_be_visible()

    # Written offline, while staff mute the writer: the resend after the reconnect is refused.
    await cut_off(web, page, wang)
    await say(page, "周末谁要乐高？")
    muted = await staff.call(
        "chat:mute",
        {"community_id": community.id, "user_id": str(wang.id), "minutes": 60, "reason": "刷屏"},
    )
    assert muted["ok"], muted
    await page.context.set_offline(False)
    await expect(page.get_by_role("alert").filter(has_text="你已被禁言")).to_be_visible()
    await expect(chat(page).get_by_text("发送失败：你已被禁言")).to_be_visible()
    await expect(page.get_by_label("输入消息")).to_be_disabled()

    unmuted = await staff.call(
        "chat:unmute", {"community_id": community.id, "user_id": str(wang.id)}
    )
    assert unmuted["ok"], unmuted
    await expect(page.get_by_label("输入消息")).to_be_enabled()
    await chat(page).get_by_role("button", name="重发").click()
    await expect(chat(page).get_by_text("发送失败")).to_have_count(0)
    await expect(chat(page).get_by_text("发送中")).to_have_count(0)
    await expect(chat(page).get_by_text("周末谁要乐高？")).to_have_count(1)
    await staff.wait_until(
        lambda: any(
            e["type"] == "chat.message" and e["data"]["text"] == "周末谁要乐高？"
            for e in staff.events
        )
    )
    stored = await web.core.pool.fetchval(
        "SELECT count(*) FROM channel_events WHERE data->>'text' = '周末谁要乐高？'"
    )
    assert stored == 1


async def test_a_group_buy_fills_live_in_two_browsers_and_seats_are_paid(
    web: WebStack,
    new_context: NewContext,
    community: CommunityWorld,
    core: Core,
    make_account: Callable[..., Awaitable[Account]],
    approve_merchant: Any,
) -> None:
    # The sandbox's webhook goes to this test's REST server; the worker delivers it.
    core.settings = dataclasses.replace(core.settings, sandbox_webhook_url=web.url + WEBHOOK)
    owner = await make_account("乐高店老板")
    merchant_id, item_id = await merchant_with_item(core, approve_merchant, owner, community)
    await core.groupbuys.create_campaign(
        Principal(owner.id, uuid.uuid4()),
        CampaignSpec(
            merchant_id=merchant_id,
            item_id=item_id,
            title="乐高课两人团",
            group_price_fen=9_900,
            original_price_fen=15_000,
            min_members=2,
            max_members=3,
            community_ids=[uuid.UUID(community.id)],
        ),
    )
    wang, li, _ = community.residents
    a = await signed_in_page(new_context, wang)
    b = await signed_in_page(new_context, li)
    await a.goto("/channel?view=groupbuys")
    await b.goto("/channel?view=groupbuys")
    await expect(b.get_by_text("暂时没有进行中的团")).to_be_visible()

    await a.get_by_role("button", name="发起拼团：乐高课两人团").click()
    group_a = a.get_by_role("listitem").filter(has_text="拼团中")
    group_b = b.get_by_role("listitem").filter(has_text="拼团中")
    await expect(group_a.get_by_text("1/3 人")).to_be_visible()
    await expect(group_b.get_by_text("1/3 人")).to_be_visible()
    await expect(group_a.get_by_text("已占座，待支付")).to_be_visible()

    await b.get_by_role("button", name="参团：乐高课两人团").click()
    await expect(group_b.get_by_text("2/3 人")).to_be_visible()
    await expect(group_a.get_by_text("2/3 人")).to_be_visible()
    await screenshot(b, "channel-groupbuys")
    await no_serious_violations(b)

    # B's first try fails at the provider; the second is paid.
    await group_b.get_by_role("button", name="支付座位").click()
    cashier = b.get_by_role("dialog", name="收银台")
    await expect(cashier.get_by_text("¥99.00")).to_be_visible()
    await no_serious_violations(b)
    await cashier.get_by_role("button", name="模拟支付失败").click()
    await expect(cashier.get_by_text("支付处理中")).to_be_visible()
    await run_worker(web.settings, core)
    await expect(cashier.get_by_text("支付失败，可以重新支付")).to_be_visible()
    await cashier.get_by_role("button", name="支付座位").click()
    await cashier.get_by_role("button", name="确认支付").click()
    await expect(cashier.get_by_text("支付处理中")).to_be_visible()
    await run_worker(web.settings, core)
    await expect(cashier.get_by_text("支付成功")).to_be_visible()
    await cashier.get_by_role("button", name="关闭").click()
    await expect(group_a.get_by_text("已付 1 人")).to_be_visible()
    await expect(group_b.get_by_text("已支付")).to_be_visible()

    # A pays: the group reaches its minimum and succeeds, live in both browsers.
    await group_a.get_by_role("button", name="支付座位").click()
    cashier = a.get_by_role("dialog", name="收银台")
    await cashier.get_by_role("button", name="确认支付").click()
    await expect(cashier.get_by_text("支付处理中")).to_be_visible()
    await run_worker(web.settings, core)
    await expect(cashier.get_by_text("支付成功")).to_be_visible()
    await cashier.get_by_role("button", name="关闭").click()
    done_a = a.get_by_role("listitem").filter(has_text="乐高课两人团")
    done_b = b.get_by_role("listitem").filter(has_text="乐高课两人团").first
    await expect(done_a.get_by_text("已成团")).to_be_visible()
    await expect(done_b.get_by_text("已成团")).to_be_visible()
    await expect(done_a.get_by_text("拼团成功")).to_be_visible()
    orders = await core.pool.fetch("SELECT buyer_id FROM group_buy_orders")
    assert sorted(r["buyer_id"] for r in orders) == sorted([wang.id, li.id])


async def test_lottery_entry_live_result_and_the_verify_page(
    web: WebStack,
    new_context: NewContext,
    community: CommunityWorld,
    clients: list[ChannelClient],
) -> None:
    wang, li, _ = community.residents
    a = await signed_in_page(new_context, wang)
    b = await signed_in_page(new_context, li)
    await a.goto("/channel?view=lottery")
    await b.goto("/channel?view=lottery")
    await expect(a.get_by_text("暂时没有抽奖")).to_be_visible()
    staff = await member(clients, web, community.staff.access_token, community.id)
    opened = await staff.call(
        "lottery:open",
        {
            "community_id": community.id,
            "prize": "乐高城市系列一套",
            "winner_count": 1,
            "eligibility": "keyword",
            "keyword": "乐高",
            "countdown_s": 600,
        },
    )
    assert opened["ok"], opened
    draw_id = opened["draw"]["id"]
    await expect(a.get_by_role("heading", name="奖品：乐高城市系列一套")).to_be_visible()
    await a.get_by_role("button", name="发送口令参与").click()
    await expect(a.get_by_text("已参与")).to_be_visible()
    await expect(b.get_by_role("button", name="发送口令参与")).to_be_visible()

    drawn = await staff.call("lottery:draw", {"community_id": community.id, "draw_id": draw_id})
    assert drawn["ok"], drawn
    await expect(a.get_by_text("恭喜你中奖了！")).to_be_visible()
    await expect(b.get_by_text("很遗憾，这次没有中奖")).to_be_visible()
    await expect(a.get_by_text("共 1 人参与")).to_be_visible()
    await screenshot(a, "channel-lottery")
    await no_serious_violations(a)

    await b.get_by_role("link", name="验证这次抽奖").click()
    await expect(b.get_by_role("heading", name="抽奖验证")).to_be_visible()
    await expect(b.get_by_text("验证通过：这次抽奖公正可查")).to_be_visible()
    for check in ("seed_matches_commitment", "entries_hash_matches", "winners_match"):
        await expect(b.locator(f"td[data-check={check}]")).to_have_text("通过")
    seed = await web.core.pool.fetchval(
        "SELECT seed FROM lottery_draws WHERE id = $1", uuid.UUID(draw_id)
    )
    await expect(b.get_by_text(seed)).to_be_visible()
    await screenshot(b, "lottery-verify")
    await no_serious_violations(b)


async def test_customer_service_answers_and_hands_over_to_a_person(
    web: WebStack,
    new_context: NewContext,
    community: CommunityWorld,
    core: Core,
    make_account: Callable[..., Awaitable[Account]],
) -> None:
    resident = community.residents[0]
    page = await signed_in_page(new_context, resident)
    await page.goto("/support")
    await expect(page.get_by_role("heading", name="客服")).to_be_visible()
    await no_serious_violations(page)
    await page.get_by_label("输入你的问题").fill("你好")
    await page.get_by_role("button", name="开始咨询").click()
    await expect(page.get_by_text("智能客服为你服务")).to_be_visible()
    await expect(page.get_by_text("智能客服正在回复")).to_be_visible()
    await run_worker(web.settings, core)  # the agent answers in a job; the reply is pushed
    replies = page.get_by_role("list", name="客服消息").locator("li.assistant")
    await expect(replies).to_have_count(1)
    await expect(replies.first).to_contain_text("来购智能客服")

    # The agent's state: the order in question, and a pending action with its two buttons.
    listing_id = await _sale(core, community.residents[1], "乐高 好朋友 咖啡馆")
    await core.orders.create(Principal(resident.id, uuid.uuid4()), listing_id, None, "face_to_face")
    await page.get_by_label("输入你的问题").fill("帮我取消订单")
    await page.get_by_role("button", name="发送").click()
    asked = page.get_by_role("list", name="客服消息").locator("li.user")
    await expect(asked.last).to_contain_text("帮我取消订单")
    await run_worker(web.settings, core)
    state = page.get_by_role("complementary", name="当前咨询")
    await expect(state).to_contain_text("待确认：取消订单「乐高 好朋友 咖啡馆」")
    await expect(state).to_contain_text("正在咨询的订单：「乐高 好朋友 咖啡馆」")
    await state.get_by_role("button", name="算了").click()
    await expect(asked.last).to_contain_text("算了")
    await run_worker(web.settings, core)
    await expect(replies.last).to_contain_text("不取消了")
    await expect(state.get_by_role("button", name="确认")).to_have_count(0)

    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.get_by_role("button", name="转人工").click()
    await expect(page.get_by_text("正在为你转接人工客服")).to_be_visible()
    await expect(page.get_by_text("已转接人工客服，请稍候")).to_be_visible()

    agent = await make_account("客服小王", PlatformRole.CUSTOMER_SERVICE)
    as_agent = Principal(agent.id, uuid.uuid4(), PlatformRole.CUSTOMER_SERVICE)
    conversation_id = (await core.ai.support.mine(Principal(resident.id, uuid.uuid4()), 1))[0]["id"]
    await core.ai.support.take(as_agent, conversation_id)
    await expect(page.get_by_role("status").filter(has_text="人工客服已接入")).to_be_visible()
    await core.ai.support.post(
        as_agent, conversation_id, "您好，我是客服小王，请问有什么可以帮您？"
    )
    await expect(page.get_by_text("我是客服小王")).to_be_visible()
    await expect(page.get_by_role("button", name="转人工")).to_have_count(0)
    await screenshot(page, "support")
    await no_serious_violations(page)


LONG_TASKS = """
window.__longTasks = [];
const record = (entries) => {
  for (const entry of entries) window.__longTasks.push({start: entry.startTime, duration: entry.duration});
};
window.__longTaskObserver = new PerformanceObserver((list) => record(list.getEntries()));
window.__longTaskObserver.observe({type: "longtask", buffered: true});
window.__longTasksSince = (mark) => {
  record(window.__longTaskObserver.takeRecords());
  return window.__longTasks.filter((task) => task.start >= mark);
};
"""

# window.__painted resolves, in the page, once the message list has grown and the frame after it
# has painted. Watching from inside the page keeps Playwright's own queries (which run on the page's main
# thread and over 500 rows make long tasks of their own) out of the measured time.
WATCH_NEXT_MESSAGE = """
() => {
  window.__painted = new Promise((done) => {
    const list = document.querySelector("ol.messages");
    const before = list.children.length;
    new MutationObserver((_, observer) => {
      if (list.children.length <= before) return;
      observer.disconnect();
      requestAnimationFrame(() => setTimeout(done, 0));
    }).observe(list, {childList: true});
  });
}
"""


async def test_a_busy_channel_takes_a_new_message_without_long_tasks(
    web: WebStack,
    new_context: NewContext,
    community: CommunityWorld,
    core: Core,
    clients: list[ChannelClient],
) -> None:
    neighbours = await bulk_residents(core, community.id, 1_000)
    senders = [await member(clients, web, n.access_token, community.id) for n in neighbours[:20]]

    async def chatter(client: ChannelClient, start: int) -> None:
        for n in range(25):
            sent = await client.send(community.id, f"第 {start + n} 条：周末一起拼乐高吗？")
            assert sent["ok"], sent

    await asyncio.gather(*(chatter(c, i * 25) for i, c in enumerate(senders)))

    page = await signed_in_page(new_context, community.residents[0])
    await page.context.add_init_script(LONG_TASKS)
    await page.goto("/channel")
    await expect(chat(page).locator("li")).to_have_count(50)
    older = page.get_by_role("button", name="加载更早的消息")
    for _ in range(20):
        if not await older.count():
            break
        await older.click()
        await expect(page.get_by_role("button", name="正在加载…")).to_have_count(0)
    await expect(page.get_by_text("没有更早的消息了")).to_be_visible()
    await expect(chat(page).locator("li")).to_have_count(500)

    # Measured at the machine's own speed: with Chromium's 4x CPU throttling (a mid-range phone)
    # it passes on a quiet machine, but under the shared test machine's load (load average ~10
    # on 2 cores) a GC or a descheduled task went over 50 ms now and then.
    # The observer really watches (a browser without long-task timing would pass vacuously).
    assert await page.evaluate("PerformanceObserver.supportedEntryTypes.includes('longtask')")
    mark = await page.evaluate("performance.now()")
    await page.evaluate(WATCH_NEXT_MESSAGE)
    sent = await senders[0].send(community.id, "新消息：乐高到货了")
    assert sent["ok"], sent
    await page.evaluate("window.__painted")
    long_tasks = await page.evaluate("(mark) => window.__longTasksSince(mark)", mark)
    assert long_tasks == [], long_tasks
    await expect(chat(page).locator("li").last).to_contain_text("新消息：乐高到货了")
    await expect(chat(page).locator("li")).to_have_count(501)
    await screenshot(page, "channel-busy")
