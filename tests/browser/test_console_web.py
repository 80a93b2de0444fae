"""The staff console in a real browser: property staff verify residents, moderate the channel, watch a
locker live and open a slot for maintenance, run a lottery draw; a platform admin approves a
merchant and manages companies and communities; customer service takes a conversation over and
the resident receives the reply. Each page is checked with axe."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from playwright.async_api import BrowserContext, Page, expect

from lago_core.container import Core
from lago_core.merchants.rules import DocumentKind
from lago_core.push import push_channel
from lago_core.security.roles import PlatformRole, Principal
from lago_core.settings import Settings
from lago_rt.app import RT_NODE
from lago_rt.devices import LockerSim

from ..conftest import LICENCE_PDF, Account, CommunityWorld, company_registration
from ..rt_client import ChannelClient
from ..waiting import until
from .conftest import WebStack, screenshot, serious_accessibility_violations, signed_in_page

NewContext = Callable[..., Awaitable[BrowserContext]]
MakeAccount = Callable[..., Awaitable[Account]]


def as_user(account: Account, role: PlatformRole | None = None) -> Principal:
    return Principal(user_id=account.id, session_id=uuid.uuid4(), platform_role=role)


async def console(new_context: NewContext, account: Account, path: str) -> Page:
    """A desktop page signed in as ``account`` on the console ``path``."""
    page = await signed_in_page(new_context, account, mobile=False)
    await page.goto(path)
    return page


async def no_serious_violations(page: Page) -> None:
    assert await serious_accessibility_violations(page) == []


async def api(
    web: WebStack, account: Account, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.request(
            method, f"{web.url}/api/v1{path}", json=body, headers=account.headers
        ) as response,
    ):
        return response.status, await response.json(content_type=None)


@pytest.fixture
async def sockets() -> AsyncIterator[list[ChannelClient | LockerSim]]:
    made: list[ChannelClient | LockerSim] = []
    yield made
    for client in made:
        await client.close()


async def test_staff_verify_a_pending_resident(
    web: WebStack,
    core: Core,
    community: CommunityWorld,
    make_account: MakeAccount,
    new_context: NewContext,
) -> None:
    newcomer = await make_account("陈阿姨")
    await core.communities.request_to_join(
        as_user(newcomer), uuid.UUID(community.id), "5-2-301", "新搬来的"
    )
    other = await make_account("赵先生")
    await core.communities.request_to_join(as_user(other), uuid.UUID(community.id), None, None)

    page = await console(new_context, community.staff, "/console")
    await expect(page).to_have_url(f"{web.url}/console/residents")
    await expect(page.get_by_role("cell", name="5-2-301")).to_be_visible()
    # A resident cannot read the pending list: the API refuses, not only the interface.
    status, _ = await api(
        web, community.residents[0], "GET", f"/communities/{community.id}/members?status=pending"
    )
    assert status == 403
    await no_serious_violations(page)
    await screenshot(page, "console-residents")

    await page.get_by_role("button", name="通过 陈阿姨").click()
    await expect(page.get_by_role("status")).to_have_text("已通过 陈阿姨 的认证")
    await expect(page.get_by_role("cell", name="陈阿姨")).to_have_count(0)
    status, mine = await api(web, newcomer, "GET", "/me/communities")
    assert status == 200
    assert [(c["id"], c["status"]) for c in mine] == [(community.id, "verified")]

    # Rejecting asks for a reason first.
    await page.get_by_role("button", name="拒绝 赵先生").click()
    dialog = page.get_by_role("dialog", name="拒绝 赵先生 的申请")
    await dialog.get_by_role("button", name="确认拒绝").click()
    await expect(dialog.get_by_text("请填写原因")).to_be_visible()
    await dialog.get_by_label("拒绝原因（住户可见）").fill("查无此户")
    await dialog.get_by_role("button", name="确认拒绝").click()
    await expect(page.get_by_text("没有待审核的申请")).to_be_visible()
    _, theirs = await api(web, other, "GET", "/me/communities")
    assert theirs[0]["status"] == "rejected"


async def subscribed(core: Core, settings: Settings) -> None:
    """Door commands go through Redis pub/sub: wait until the node listens."""
    channel = push_channel(settings)

    async def listening() -> bool:
        return int((await core.redis.pubsub_numsub(channel))[0][1]) >= 1

    await until(listening, within=10)


async def test_staff_watch_a_locker_live_and_open_a_slot_for_maintenance(
    web: WebStack,
    core: Core,
    community: CommunityWorld,
    new_context: NewContext,
    sockets: list[Any],
) -> None:
    status, made = await api(
        web,
        community.admin,
        "POST",
        "/lockers",
        {
            "community_id": community.id,
            "name": "1号柜",
            "location": "3栋大堂",
            "slots": [{"slot_no": 1, "size": "S"}, {"slot_no": 2, "size": "M"}],
        },
    )
    assert status == 201, made
    locker_id = made["locker"]["locker_id"]
    sim = LockerSim(web.rt_url, locker_id, made["device_secret"], [(1, "S"), (2, "M")])
    sockets.append(sim)
    await sim.connect()
    await subscribed(core, web.settings)
    await sim.report()

    page = await console(new_context, community.staff, "/console/lockers")
    slot1 = page.locator('[data-slot="1"]')
    await expect(page.get_by_role("heading", name="1号柜")).to_be_visible()
    await expect(page.locator("[data-locker] .badge").first).to_have_text("在线")
    await expect(slot1.locator('[data-field="occupied"]')).to_have_text("空")
    await expect(page.get_by_text("实时连接正常")).to_be_visible()
    await no_serious_violations(page)

    # The device reports a toy in slot 1 and its door open: the page follows without a reload.
    sim.slots[1].occupied = True
    sim.slots[1].door = "open"
    await sim.report()
    await expect(slot1.locator('[data-field="occupied"]')).to_have_text("有物品")
    await expect(slot1.locator('[data-field="door"]')).to_have_text("门开")
    await expect(page.get_by_text("可用 1/2 格")).to_be_visible()
    await screenshot(page, "console-lockers")

    await page.get_by_role("button", name="检修开门 1号柜 2 号格").click()
    dialog = page.get_by_role("dialog", name="检修开门：1号柜 2 号格")
    await dialog.get_by_label("检修原因（记入日志）").fill("门锁异响")
    await dialog.get_by_role("button", name="确认开门").click()
    await expect(page.get_by_role("status").filter(has_text="已发送开门指令")).to_have_text(
        "已发送开门指令：2 号格"
    )
    await sim.wait_until(lambda: len(sim.acks) == 1)
    assert sim.slots[2].opens == 1
    row = await core.pool.fetchrow(
        "SELECT actor_id, data FROM locker_events WHERE type = 'maintenance_requested'"
    )
    assert row["actor_id"] == community.staff.id
    assert row["data"] == {"reason": "门锁异响"}


async def submitted_merchant(core: Core, owner: Account, name: str) -> uuid.UUID:
    as_owner = as_user(owner)
    merchant = await core.merchants.create(as_owner, name)
    mid = merchant["id"]
    await core.merchants.update_registration(as_owner, mid, company_registration())
    await core.merchants.add_document(
        as_owner, mid, DocumentKind.BUSINESS_LICENCE, LICENCE_PDF, "application/pdf"
    )
    await core.merchants.submit(as_owner, mid)
    return uuid.UUID(str(mid))


async def test_admin_approves_a_merchant_application(
    web: WebStack, core: Core, make_account: MakeAccount, new_context: NewContext
) -> None:
    admin = await make_account("平台审核", PlatformRole.ADMIN)
    owner = await make_account("王小明")
    mid = await submitted_merchant(core, owner, "小明玩具")

    page = await console(new_context, admin, "/console")
    await expect(page).to_have_url(f"{web.url}/console/merchants")
    await page.get_by_role("button", name="查看资料：小明玩具").click()
    await expect(page.get_by_text("成都小明玩具有限公司").last).to_be_visible()
    licence = page.get_by_role("link", name="查看营业执照")
    await expect(licence).to_be_visible()
    href = await licence.get_attribute("href")
    assert href
    document = await page.request.get(href)
    assert document.ok
    assert (await document.body()).startswith(b"%PDF")
    await no_serious_violations(page)
    await screenshot(page, "console-merchants")

    await page.get_by_role("button", name="通过 小明玩具").click()
    await expect(page.get_by_role("status")).to_have_text("已通过 小明玩具")
    await expect(page.get_by_text("没有待审核的商家")).to_be_visible()
    status, registration = await api(web, owner, "GET", f"/merchants/{mid}/registration")
    assert (status, registration["status"]) == (200, "approved")


async def test_admin_manages_companies_and_communities(
    web: WebStack, core: Core, make_account: MakeAccount, new_context: NewContext
) -> None:
    admin = await make_account("平台管理员", PlatformRole.ADMIN)
    future_staff = await make_account("物业老周")
    page = await console(new_context, admin, "/console/communities")
    await page.get_by_label("公司名称").fill("安居物业")
    await page.get_by_role("button", name="创建").first.click()
    await expect(page.get_by_role("button", name="管理 安居物业 的人员")).to_be_visible()

    await page.get_by_role("button", name="管理 安居物业 的人员").click()
    await page.get_by_label("手机号").fill(future_staff.phone)
    await page.get_by_role("button", name="添加物业人员：安居物业").click()
    await expect(page.get_by_role("button", name="移除 物业老周")).to_be_visible()

    form = page.get_by_role("form", name="新建小区")
    await form.get_by_label("小区名称").fill("安居苑")
    await form.get_by_label("地址").fill("成都市高新区天府大道 100 号")
    await form.get_by_label("纬度").fill("200")
    await form.get_by_label("经度").fill("104.06")
    await form.get_by_label("物业公司").select_option(label="安居物业")
    await form.get_by_role("button", name="创建").click()
    await expect(form.get_by_text("纬度应在 -90 到 90 之间")).to_be_visible()
    await form.get_by_label("纬度").fill("30.55")
    await form.get_by_role("button", name="创建").click()
    await expect(page.get_by_role("cell", name="安居苑")).to_be_visible()
    await expect(
        page.get_by_role("row", name="安居苑").get_by_role("cell", name="安居物业")
    ).to_be_visible()
    await no_serious_violations(page)
    await screenshot(page, "console-communities")

    # The new staff member is property staff of the new community now.
    rows = await core.pool.fetch(
        "SELECT latitude, property_company_id FROM communities WHERE name = '安居苑'"
    )
    assert [r["latitude"] for r in rows] == [Decimal("30.550000")]
    _, theirs = await api(web, future_staff, "GET", "/me/communities")
    assert [(c["name"], c["role"]) for c in theirs] == [("安居苑", "property_staff")]

    await page.get_by_role("button", name="移除 物业老周").click()
    await page.get_by_role("dialog").get_by_role("button", name="移除 物业老周").click()
    await expect(page.get_by_text("还没有物业人员")).to_be_visible()


async def test_customer_service_takes_over_and_the_resident_receives_the_reply(
    web: WebStack,
    core: Core,
    community: CommunityWorld,
    make_account: MakeAccount,
    new_context: NewContext,
    sockets: list[Any],
) -> None:
    agent = await make_account("客服小美", PlatformRole.CUSTOMER_SERVICE)
    resident = community.residents[0]
    conversation, _ = await core.ai.support.start(as_user(resident), None)
    await core.ai.support.request_human(as_user(resident), conversation["id"])
    phone = ChannelClient(web.rt_url, resident.access_token)
    phone.on_push("support:message")
    sockets.append(phone)
    await phone.connect()

    page = await console(new_context, agent, "/console")
    await expect(page).to_have_url(f"{web.url}/console/support")
    await expect(page.get_by_text("实时连接正常")).to_be_visible()
    item = page.locator(f'[data-conversation="{conversation["id"]}"]')
    await expect(item.get_by_text("等待人工")).to_be_visible()
    await item.get_by_role("button").click()
    await expect(page.get_by_text("已转接人工客服，请稍候")).to_be_visible()
    await no_serious_violations(page)

    await page.get_by_role("button", name="接入会话").click()
    await expect(item.get_by_text("由我接待")).to_be_visible()
    await page.get_by_label("回复内容").fill("您好，押金已为您查询，三个工作日内退回。")
    await page.get_by_role("button", name="发送").click()
    await expect(page.get_by_text("您好，押金已为您查询，三个工作日内退回。")).to_be_visible()

    def replied() -> bool:
        return any(
            data["message"]["role"] == "agent"
            and data["message"]["body"] == "您好，押金已为您查询，三个工作日内退回。"
            for _, data in phone.pushes
        )

    await phone.wait_until(replied)
    # The resident answers; the agent's open conversation shows it without a reload.
    status, _ = await api(
        web,
        resident,
        "POST",
        f"/support/conversations/{conversation['id']}/messages",
        {"text": "好的，谢谢"},
    )
    assert status == 201
    await expect(page.get_by_text("好的，谢谢")).to_be_visible()
    await screenshot(page, "console-support")

    await page.get_by_role("button", name="结束会话").click()
    await page.get_by_role("dialog").get_by_role("button", name="结束会话").click()
    await expect(page.get_by_role("heading", name="已结束")).to_be_visible()


async def test_staff_run_a_lottery_draw_and_verify_it(
    web: WebStack, community: CommunityWorld, new_context: NewContext
) -> None:
    page = await console(new_context, community.staff, "/console/draws")
    await expect(page.get_by_text("还没有抽奖")).to_be_visible()
    await page.get_by_role("button", name="开始抽奖").click()
    await expect(page.get_by_text("请填写奖品")).to_be_visible()
    await page.get_by_label("奖品").fill("乐高积木一套")
    await page.get_by_label("中奖人数").fill("2")
    await page.get_by_role("button", name="开始抽奖").click()
    draw = page.locator("[data-draw]").first
    await expect(draw.get_by_text("进行中")).to_be_visible()
    await no_serious_violations(page)

    await page.get_by_role("button", name="立即开奖：乐高积木一套").click()
    winners = page.get_by_role("list", name="乐高积木一套 中奖名单")
    await expect(winners.get_by_role("listitem")).to_have_count(2)
    names = set(await winners.get_by_role("listitem").all_inner_texts())
    assert names <= {"王阿姨", "张先生", "刘女士"}
    await expect(draw.get_by_text("参与 3 人")).to_be_visible()
    await screenshot(page, "console-draws")

    await page.get_by_role("link", name="验证这次抽奖").click()
    await expect(page.get_by_text("验证通过：这次抽奖无法被操纵")).to_be_visible()
    await expect(page.get_by_text("✓ 中奖名单可复算")).to_be_visible()
    await no_serious_violations(page)


async def test_staff_moderate_the_channel(
    web: WebStack, community: CommunityWorld, new_context: NewContext, sockets: list[Any]
) -> None:
    alice, bob, _ = community.residents
    ca = ChannelClient(web.rt_url, alice.access_token)
    cb = ChannelClient(web.rt_url, bob.access_token)
    sockets.extend([ca, cb])
    await ca.connect()
    await cb.connect()
    await ca.join(community.id)
    await cb.join(community.id)
    sent = await ca.send(community.id, "加我微信买便宜货")
    await cb.call(
        "chat:report", {"community_id": community.id, "seq": sent["seq"], "reason": "广告"}
    )
    # Archive the message now (the node flushes every heartbeat) so the queue shows its text.
    await web.rt.app[RT_NODE].host.tick_all()

    page = await console(new_context, community.staff, "/console/moderation")
    report = page.locator(".console-report")
    await expect(report.get_by_text("广告")).to_be_visible()
    message = page.locator(f'[data-seq="{sent["seq"]}"]')
    await expect(message.get_by_text("加我微信买便宜货")).to_be_visible()
    await no_serious_violations(page)
    await screenshot(page, "console-moderation")

    await message.get_by_role("button", name="禁言 王阿姨").click()
    dialog = page.get_by_role("dialog", name="禁言 王阿姨")
    await dialog.get_by_label("禁言时长").select_option("10")
    await dialog.get_by_label("原因").fill("发广告")
    await dialog.get_by_role("button", name="确认禁言").click()
    await expect(page.get_by_role("button", name="解除禁言 王阿姨").first).to_be_visible()
    refused = await ca.call(
        "chat:send", {"community_id": community.id, "client_msg_id": "m-2", "text": "再发一次"}
    )
    assert refused["error"]["code"] == "muted"

    await report.get_by_role("button", name="删除该消息").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("删除原因").fill("广告")
    await dialog.get_by_role("button", name="删除该消息").click()
    await expect(page.get_by_text("没有待处理的举报")).to_be_visible()
    await expect(message).to_have_count(0)
    await cb.wait_until(
        lambda: (
            sent["seq"] in [e["data"].get("seq") for e in cb.events if e["type"] == "chat.deleted"]
        )
    )

    await page.get_by_role("button", name="解除禁言 王阿姨").first.click()
    await expect(page.get_by_role("status").filter(has_text="已解除禁言")).to_be_visible()
    again = await ca.call(
        "chat:send", {"community_id": community.id, "client_msg_id": "m-3", "text": "抱歉"}
    )
    assert again["ok"] is True


async def test_the_console_shows_only_what_the_roles_allow(
    web: WebStack, community: CommunityWorld, make_account: MakeAccount, new_context: NewContext
) -> None:
    page = await console(new_context, community.residents[0], "/console")
    await expect(page.get_by_text("您的账号没有控制台权限")).to_be_visible()
    await expect(page.get_by_role("link", name="商家审核")).to_have_count(0)
    await no_serious_violations(page)
    # Hidden is not the check: the API refuses the resident too.
    status, _ = await api(web, community.residents[0], "GET", "/admin/merchants")
    assert status == 403
    staff = await console(new_context, community.staff, "/console")
    nav = staff.get_by_role("navigation")
    await expect(nav.get_by_role("link", name="居民审核")).to_be_visible()
    await expect(nav.get_by_role("link", name="商家审核")).to_have_count(0)
    await expect(nav.get_by_role("link", name="客服")).to_have_count(0)
    service = await make_account("客服", PlatformRole.CUSTOMER_SERVICE)
    agent = await console(new_context, service, "/console")
    nav = agent.get_by_role("navigation")
    await expect(nav.get_by_role("link", name="客服")).to_be_visible()
    await expect(nav.get_by_role("link", name="频道管理")).to_be_visible()
    await expect(nav.get_by_role("link", name="居民审核")).to_have_count(0)
    # Customer service may not decide on residents, whatever the address bar says.
    resident = community.residents[0]
    status, _ = await api(
        web, service, "POST", f"/communities/{community.id}/members/{resident.id}/reject", {}
    )
    assert status == 403
