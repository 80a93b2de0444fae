"""Weekend events in a real browser (issue 20 item 2): property staff create an event in the
console, a resident signs up on the phone and sees the QR ticket, staff check the resident in by
pasting the ticket on the scanner page (a second scan is refused with who and when), and the
resident sees 已签到 and the activity points — with axe-core on each screen."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import timedelta

from playwright.async_api import BrowserContext, Page, expect

from lago_core.container import Core

from ..conftest import CommunityWorld
from .conftest import WebStack, screenshot, serious_accessibility_violations, signed_in_page

NewContext = Callable[..., Awaitable[BrowserContext]]


async def _accessible(page: Page, name: str) -> None:
    assert await serious_accessibility_violations(page) == [], name
    await screenshot(page, name)


async def _local_input(page: Page, core: Core, minutes: int) -> str:
    """A datetime-local value in the browser's own time zone, ``minutes`` after the server's now."""
    instant = core.clock.now() + timedelta(minutes=minutes)
    value: str = await page.evaluate(
        """(ms) => {
            const d = new Date(ms), pad = (n) => String(n).padStart(2, "0");
            return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}` +
                   `T${pad(d.getHours())}:${pad(d.getMinutes())}`;
        }""",
        instant.timestamp() * 1000,
    )
    return value


async def test_staff_create_a_resident_signs_up_and_is_checked_in_by_the_ticket(
    web: WebStack, core: Core, community: CommunityWorld, new_context: NewContext
) -> None:
    resident = community.residents[0]

    # Property staff create and publish the event in the console.
    staff = await signed_in_page(new_context, community.staff, mobile=False)
    await staff.goto("/console")
    await staff.get_by_role("link", name="社区活动").click()
    await expect(staff.get_by_role("heading", name="社区活动")).to_be_visible()
    form = staff.get_by_role("form", name="新建活动")
    await form.get_by_label("活动名称", exact=True).fill("玩具回收节")
    await form.get_by_label("地点", exact=True).fill("中心广场")
    await form.get_by_label("活动安排", exact=True).fill("10:00 开场\n10:30 旧玩具换积分")
    await form.get_by_label("开始时间", exact=True).fill(await _local_input(staff, core, 60))
    await form.get_by_label("结束时间", exact=True).fill(await _local_input(staff, core, 180))
    await form.get_by_label("名额", exact=True).fill("20")
    await form.get_by_role("button", name="新建活动").click()
    await expect(form.get_by_role("status")).to_have_text("活动已创建")
    row = staff.get_by_role("row").filter(has_text="玩具回收节")
    await expect(row).to_contain_text("报名中")
    await expect(row).to_contain_text("已报名 0/20")
    await _accessible(staff, "console-events")

    # The resident finds it, signs up and sees the QR ticket.
    phone = await signed_in_page(new_context, resident)
    await phone.goto("/me")
    await phone.get_by_role("link", name="社区活动").click()
    await expect(phone.get_by_role("link", name=re.compile("玩具回收节"))).to_contain_text(
        "剩余 20 / 20"
    )
    await _accessible(phone, "resident-events")
    await phone.get_by_role("link", name=re.compile("玩具回收节")).click()
    await expect(phone.get_by_role("heading", name="玩具回收节")).to_be_visible()
    await expect(phone.get_by_text("剩余 20 / 20")).to_be_visible()
    await phone.get_by_role("button", name="报名").click()
    await expect(phone.get_by_text("已报名", exact=True)).to_be_visible()
    await expect(phone.get_by_role("img", name="签到二维码")).to_be_visible()
    await expect(phone.get_by_text("剩余 19 / 20")).to_be_visible()
    await _accessible(phone, "resident-event-ticket")
    await phone.get_by_text("无法扫码？显示签到码").click()
    token = (await phone.get_by_test_id("event-ticket").inner_text()).strip()
    assert token.startswith("LE1.")

    # Staff see the registration and check the resident in by pasting the ticket.
    await row.get_by_role("link", name="管理：玩具回收节").click()
    await expect(staff.get_by_role("heading", name="玩具回收节")).to_be_visible()
    await expect(staff.get_by_role("cell", name="王阿姨")).to_be_visible()
    # An edit sends only what changed: two more seats.
    edit = staff.get_by_role("form", name="编辑活动")
    await edit.get_by_label("名额", exact=True).fill("22")
    await edit.get_by_role("button", name="保存").click()
    await expect(staff.get_by_text("已报名 1/22")).to_be_visible()
    await _accessible(staff, "console-event")
    await staff.get_by_role("link", name="扫码签到").click()
    await expect(staff.get_by_role("heading", name=re.compile("扫码签到"))).to_be_visible()
    scanner = staff.get_by_role("form", name="扫码签到")
    await scanner.get_by_label("签到码").fill("LE1.forged")
    await scanner.get_by_role("button", name="签到").click()
    await expect(staff.get_by_role("alert")).to_have_text("签到码无效")
    await scanner.get_by_label("签到码").fill(token)
    await scanner.get_by_role("button", name="签到").click()
    await expect(staff.get_by_role("status")).to_have_text(
        re.compile(r"王阿姨 签到成功，\+\d+ 积分")
    )
    await _accessible(staff, "console-event-check-in")
    await scanner.get_by_label("签到码").fill(token)
    await scanner.get_by_role("button", name="签到").click()
    await expect(staff.get_by_role("status")).to_have_text(
        re.compile(r"王阿姨 已于 .* 签到（物业小李 操作）")
    )

    # The resident sees 已签到, and the points for taking part.
    await phone.reload()
    await expect(phone.get_by_role("status").filter(has_text="已签到")).to_be_visible()
    await expect(phone.get_by_role("img", name="签到二维码")).to_have_count(0)
    await _accessible(phone, "resident-event-checked-in")
    await phone.get_by_role("link", name="查看我的积分").click()
    await expect(phone.get_by_role("heading", name="我的积分")).to_be_visible()
    await expect(phone.get_by_text("参加活动").first).to_be_visible()
    credited = await core.pool.fetchval(
        "SELECT delta FROM points_journal WHERE user_id = $1 AND source_key LIKE 'activity:event:%'",
        resident.id,
    )
    assert credited
    assert credited > 0
    await expect(phone.get_by_test_id("points-balance")).to_have_text(re.compile(rf"^{credited}"))
