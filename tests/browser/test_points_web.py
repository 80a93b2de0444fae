"""Points in a real browser (issue 18): a resident checks in, earns by publishing a listing,
redeems a gift for a pickup code and reads the history; the invitation code on the Me page and
the sign-up screen's invitation field; an admin adds a product in the console and changes it, and
offers a platform coupon; property staff hand a gift over by its pickup code — with axe-core on
each screen."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable

from playwright.async_api import BrowserContext, Page, expect

from lago_core.container import Core
from lago_core.coupons import TemplateSpec
from lago_core.points import ProductSpec, RuleName
from lago_core.security.roles import PlatformRole, Principal

from ..conftest import CommunityWorld
from .conftest import (
    WebStack,
    last_sms_code,
    screenshot,
    serious_accessibility_violations,
    signed_in_page,
)

NewContext = Callable[..., Awaitable[BrowserContext]]


async def _accessible(page: Page, name: str) -> None:
    assert await serious_accessibility_violations(page) == [], name
    await screenshot(page, name)


async def test_check_in_earn_redeem_a_gift_and_read_the_history(
    web: WebStack, core: Core, community: CommunityWorld, new_context: NewContext
) -> None:
    resident = community.residents[0]
    now = core.clock.now()
    await core.points.catalogue.store.insert_product(
        {
            "id": uuid.uuid4(),
            "kind": "gift",
            "name": "保温杯",
            "description": "500ml",
            "points_cost": 10,
            "stock": 2,
            "pickup": "locker",
            "created_at": now,
            "updated_at": now,
        }
    )
    page = await signed_in_page(new_context, resident)
    await page.goto("/me")
    code = await core.points.invitations.code_of(resident.id)
    await expect(page.get_by_test_id("invite-code")).to_have_text(code)
    await _accessible(page, "resident-me-invitation")
    await page.get_by_role("link", name="我的积分").click()
    await expect(page.get_by_role("heading", name="我的积分")).to_be_visible()
    balance = page.get_by_test_id("points-balance")
    await expect(balance).to_have_text(re.compile(r"^0"))
    await expect(page.get_by_text("还没有积分记录")).to_be_visible()

    await page.get_by_role("button", name="签到").click()
    await expect(page.get_by_role("status").filter(has_text="签到成功 +5")).to_be_visible()
    await expect(balance).to_have_text(re.compile(r"^5"))
    await expect(page.get_by_role("button", name="今日已签到")).to_be_disabled()
    # Not enough points for the gift yet.
    await expect(page.get_by_role("button", name="兑换 保温杯")).to_be_disabled()

    # Publishing a listing earns 5 more.
    await page.goto("/publish")
    await page.get_by_label("标题").fill("乐高 机械组 跑车")
    await page.get_by_label("分类").select_option(label="积木")
    await page.get_by_label("价格（元）").fill("150")
    await page.get_by_role("button", name="发布").click()
    await expect(page.get_by_role("heading", name="乐高 机械组 跑车")).to_be_visible()
    await page.goto("/me/points")
    await expect(balance).to_have_text(re.compile(r"^10"))
    await expect(page.locator(".points-today li", has_text="发布动态")).to_contain_text("5 / 15")
    await _accessible(page, "resident-points")

    await page.get_by_role("button", name="兑换 保温杯").click()
    dialog = page.get_by_role("dialog", name="确认兑换")
    await expect(dialog).to_contain_text("用 10 积分兑换「保温杯」？")
    await dialog.get_by_role("button", name="确认").click()
    done = page.get_by_role("dialog", name="兑换成功")
    await expect(done).to_contain_text("取货码")
    await expect(done).to_contain_text("玩具柜自提")
    shown = await done.locator(".pickup-code").inner_text()
    await _accessible(page, "resident-points-redeemed")
    await done.get_by_role("button", name="关闭").click()
    await expect(balance).to_have_text(re.compile(r"^0"))
    await expect(page.get_by_text(shown)).to_be_visible()  # among my redemptions
    history = page.get_by_role("list", name="积分明细")
    await expect(history.get_by_role("listitem")).to_have_count(3)
    await expect(history.get_by_role("listitem").first).to_contain_text("积分兑换")
    await expect(history.get_by_role("listitem").first).to_contain_text("-10")

    row = await core.pool.fetchrow(
        "SELECT pickup_code, points, status FROM points_redemptions WHERE user_id = $1",
        resident.id,
    )
    assert (row["pickup_code"], row["points"], row["status"]) == (shown, 10, "awaiting_pickup")
    assert await core.pool.fetchval("SELECT stock FROM points_products WHERE name = '保温杯'") == 1


async def test_signing_up_with_a_neighbours_invitation_code(
    web: WebStack, core: Core, community: CommunityWorld, new_context: NewContext
) -> None:
    inviter = community.residents[1]
    code = await core.points.invitations.code_of(inviter.id)
    context = await new_context()
    page = await context.new_page()
    await page.goto(f"/signup?invite={code}")
    await expect(page.get_by_label("邀请码（选填）")).to_have_value(code)
    await _accessible(page, "resident-signup-invite")
    phone = "13700005555"
    await page.get_by_label("手机号").fill(phone)
    await page.get_by_role("button", name=re.compile("获取验证码")).click()
    await expect(page.get_by_role("status")).to_be_visible()
    await page.get_by_label("短信验证码").fill(last_sms_code(core, phone))
    await page.get_by_label("昵称").fill("新邻居")
    await page.get_by_label("密码").fill("a long password")
    await page.get_by_role("button", name="注册").click()
    await expect(page).to_have_url(re.compile(r"/$"))
    invited = await core.pool.fetchval(
        """SELECT i.inviter_id FROM points_invitations i JOIN users u ON u.id = i.invitee_id
           WHERE u.phone = '+8613700005555'"""
    )
    assert invited == inviter.id


async def test_an_admin_adds_a_product_and_changes_its_stock(
    web: WebStack, core: Core, community: CommunityWorld, new_context: NewContext
) -> None:
    page = await signed_in_page(new_context, community.admin, mobile=False)
    await page.goto("/console/points")
    await expect(page.get_by_role("heading", name="积分商品")).to_be_visible()
    form = page.get_by_role("form", name="新增商品")
    await form.get_by_label("名称").fill("毛巾")
    await form.get_by_label("所需积分").fill("300")
    await form.get_by_label("库存").fill("20")
    await form.get_by_label("取货方式").select_option(label="商家处自提")
    await form.get_by_role("button", name="新增商品").click()
    await expect(page.get_by_role("status")).to_have_text("已新增")
    row = page.get_by_role("row", name=re.compile("毛巾"))
    await expect(row).to_contain_text("实物礼品")
    await _accessible(page, "console-points-products")
    await row.get_by_label("库存 毛巾").fill("5")
    await row.get_by_role("button", name="保存").click()
    await expect(page.get_by_role("status")).to_have_text("已保存")
    await row.get_by_role("button", name="下架").click()
    # Off the shelf once the list is read again: the button then offers to put it back.
    await expect(row.get_by_role("button", name="上架")).to_be_visible()
    product = await core.pool.fetchrow(
        "SELECT kind, points_cost, stock, pickup, status FROM points_products WHERE name = '毛巾'"
    )
    assert dict(product) == {
        "kind": "gift",
        "points_cost": 300,
        "stock": 5,
        "pickup": "merchant",
        "status": "inactive",
    }


async def test_property_staff_hand_a_gift_over_by_its_pickup_code(
    web: WebStack, core: Core, community: CommunityWorld, new_context: NewContext
) -> None:
    resident = community.residents[0]
    product = await core.points.catalogue.create(
        Principal(community.admin.id, uuid.uuid4(), PlatformRole.ADMIN),
        ProductSpec("gift", "乐高钥匙扣", "", 10, 3, "locker", None),
    )
    await core.points.service.earn(resident.id, RuleName.SPENDING, "spending:order:web", amount=10)
    redeemed = await core.points.catalogue.redeem(
        Principal(resident.id, uuid.uuid4()), product["id"], "gift-web"
    )
    code = str(redeemed["pickup_code"])

    page = await signed_in_page(new_context, community.staff, mobile=False)
    await page.goto("/console")
    await page.get_by_role("link", name="礼品核销").click()
    await expect(page.get_by_role("heading", name="积分礼品核销")).to_be_visible()
    form = page.get_by_role("form", name="积分礼品核销")
    await form.get_by_label("取货码").fill("ABCDEFGHJK" if code != "ABCDEFGHJK" else "BCDEFGHJKL")
    await form.get_by_role("button", name="查询").click()
    await expect(page.get_by_role("alert")).to_have_text("没有待取的礼品使用这个取货码")
    await form.get_by_label("取货码").fill(code.lower())
    await form.get_by_role("button", name="查询").click()
    gift = page.get_by_role("region", name="礼品")
    await expect(gift).to_contain_text("乐高钥匙扣")
    await expect(gift).to_contain_text(resident.phone[-4:])
    await expect(gift).to_contain_text("待取货")
    await _accessible(page, "console-gift-pickup")
    await gift.get_by_role("button", name="确认交付").click()
    await expect(page.get_by_role("status")).to_have_text("「乐高钥匙扣」已交付")
    status = await core.pool.fetchval(
        "SELECT status FROM points_redemptions WHERE pickup_code = $1", code
    )
    assert status == "picked_up"

    mine = await signed_in_page(new_context, resident)
    await mine.goto("/me/points")
    await expect(mine.get_by_text(code)).to_be_visible()
    await expect(mine.get_by_text("已取货")).to_be_visible()


async def test_an_admin_offers_a_platform_coupon_for_points(
    web: WebStack, core: Core, community: CommunityWorld, new_context: NewContext
) -> None:
    await core.coupons.create_template(
        Principal(community.admin.id, uuid.uuid4(), PlatformRole.ADMIN),
        TemplateSpec(name="满50减5", kind="amount_off", valid_days=30, amount_off_fen=500),
    )
    page = await signed_in_page(new_context, community.admin, mobile=False)
    await page.goto("/console/points")
    form = page.get_by_role("form", name="新增商品")
    await form.get_by_label("类型").select_option(label="优惠券")
    await form.get_by_label("名称").fill("满50减5 兑换券")
    await form.get_by_label("所需积分").fill("200")
    await form.get_by_label("平台优惠券模板").select_option(label="满50减5")
    await form.get_by_role("button", name="新增商品").click()
    await expect(page.get_by_role("status")).to_have_text("已新增")
    await expect(page.get_by_role("row", name=re.compile("满50减5 兑换券"))).to_contain_text(
        "优惠券"
    )
    template = await core.pool.fetchval(
        """SELECT t.name FROM points_products p JOIN coupon_templates t
            ON t.id = p.coupon_template_id WHERE p.name = '满50减5 兑换券'"""
    )
    assert template == "满50减5"
