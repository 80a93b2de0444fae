"""The merchant back office in a real browser (issue 17, item 3): the registration wizard end to end
with the credit code checked as it is typed, an order paid by a resident arriving on the open
orders page within a second (badge and all) and confirmed there, and axe on every main screen."""

from __future__ import annotations

import dataclasses
import io
import re
import secrets
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from PIL import Image
from playwright.async_api import BrowserContext, Page, expect

from lago_core.errors import InvalidInput
from lago_core.merchants.rules import (
    CREDIT_CODE_CHARSET,
    check_credit_code,
    credit_code_check_char,
)
from lago_core.security.roles import PlatformRole, Principal

from ..conftest import Account, CommunityWorld, valid_credit_code
from ..test_payments import WEBHOOK, run_worker
from .conftest import WebStack, screenshot, serious_accessibility_violations, signed_in_page

# The 订单 link (its name grows a count of new orders); not 拼团订单.
ORDERS_LINK = re.compile(r"^订单")
MakeAccount = Callable[..., Awaitable[Account]]
NewContext = Callable[..., Awaitable[BrowserContext]]


async def api(web: WebStack, account: Account, method: str, path: str, body: Any = None) -> Any:
    """A REST call as ``account`` (what another person's client would send)."""
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            method, f"{web.url}/api/v1{path}", json=body, headers=account.headers
        ) as response,
    ):
        data = await response.json() if response.status != 204 else None
        assert response.status < 300, (method, path, response.status, data)
        return data


def png(width: int = 120, height: int = 80) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (230, 120, 40)).save(out, "PNG")
    return out.getvalue()


def random_codes(count: int) -> list[str]:
    """Well-formed codes with a random 18th character (about 1 in 31 is valid) and valid ones."""
    codes = []
    for i in range(count):
        body = valid_credit_code()[:17]
        last = credit_code_check_char(body) if i % 3 == 0 else secrets.choice(CREDIT_CODE_CHARSET)
        codes.append(body + last)
    return codes


def wrong_check_digit(code: str) -> str:
    other = next(c for c in CREDIT_CODE_CHARSET if c != code[17])
    return code[:17] + other


async def approved_store(
    web: WebStack, approve: Any, owner: Account, community: CommunityWorld
) -> uuid.UUID:
    """An approved merchant serving the test's community (so its residents may order)."""
    row = await web.core.merchants.create(Principal(owner.id, uuid.uuid4()), "小明玩具铺")
    await approve(owner, row["id"])
    admin = Principal(community.admin.id, uuid.uuid4(), PlatformRole.ADMIN)
    await web.core.merchants.bind_community(admin, row["id"], uuid.UUID(community.id))
    return uuid.UUID(str(row["id"]))


async def test_the_registration_wizard_end_to_end(
    new_context: NewContext, web: WebStack, make_account: MakeAccount
) -> None:
    owner = await make_account("王小明")
    admin = await make_account("审核员", PlatformRole.ADMIN)
    page = await signed_in_page(new_context, owner, mobile=False)
    await page.goto("/merchant")
    await expect(page.get_by_role("heading", name="你还没有商家账号")).to_be_visible()
    await page.get_by_role("link", name="申请入驻").click()

    # Step 1: company information; an empty field is named before anything is sent.
    await page.get_by_role("button", name="下一步").click()
    await expect(page.get_by_text("请填写此项").first).to_be_visible()
    assert await serious_accessibility_violations(page) == []
    await page.get_by_label("店铺名称").fill("小明玩具铺")
    await page.get_by_label("公司名称（与营业执照一致）").fill("成都小明玩具有限公司")
    await page.get_by_label("法定代表人").fill("王小明")
    await page.get_by_label("联系人手机").fill("138 0013 8000")
    await page.get_by_label("经营地址").fill("成都市武侯区玉林路 8 号")
    await page.get_by_label("经营范围").fill("玩具、游戏机销售与租赁")
    await screenshot(page, "merchant-wizard")
    await page.get_by_role("button", name="下一步").click()

    # Step 2: the credit code, checked as it is typed (GB 32100-2015's check character).
    code_input = page.get_by_role("textbox", name="统一社会信用代码")
    message = page.get_by_test_id("credit-code-message")
    code = valid_credit_code()
    await code_input.fill(code[:10])
    await expect(message).to_have_text("还需输入 8 位（共 18 位）")
    await code_input.fill(wrong_check_digit(code))
    await expect(message).to_have_text("校验位不正确，请核对是否输错")
    await expect(code_input).to_have_attribute("aria-invalid", "true")
    # The page's check (TypeScript) agrees with the backend's on random codes, right or wrong.
    for candidate in random_codes(24):
        await code_input.fill(candidate)
        try:
            check_credit_code(candidate)
            verdict = "校验通过"
        except InvalidInput:
            verdict = "校验位不正确，请核对是否输错"
        await expect(message).to_have_text(verdict)
    await code_input.fill(code.lower())  # lower case is the same code
    await expect(message).to_have_text("校验通过")
    await page.get_by_role("button", name="下一步").click()

    # Step 3: the licence; a wrong file type is refused with a sentence, an image is previewed.
    slot = page.locator("fieldset", has_text="营业执照（必传）")
    await page.get_by_role("button", name="下一步").click()
    await expect(slot.get_by_text("请先上传营业执照")).to_be_visible()
    licence = slot.get_by_label("营业执照（必传）")
    await licence.set_input_files(
        {"name": "licence.txt", "mimeType": "text/plain", "buffer": b"not a licence"}
    )
    await expect(slot.get_by_text("只支持 PDF、JPG、PNG 或 WebP 文件")).to_be_visible()
    await licence.set_input_files({"name": "licence.png", "mimeType": "image/png", "buffer": png()})
    await expect(slot.get_by_role("img", name="预览：licence.png")).to_be_visible()
    assert await serious_accessibility_violations(page) == []
    await slot.get_by_role("button", name="上传").click()
    await expect(slot.get_by_text("已上传")).to_be_visible()
    await page.get_by_role("button", name="下一步").click()

    # Step 4: review and submit.
    await expect(page.get_by_text(code.upper())).to_be_visible()
    await page.get_by_role("button", name="提交审核").click()
    status = page.get_by_test_id("review-status")
    await expect(status.get_by_text("审核中", exact=True)).to_be_visible()
    assert await serious_accessibility_violations(page) == []

    # A platform admin approves it over the API; the merchant sees it approved.
    (mine,) = await api(web, owner, "GET", "/me/merchants")
    registration = await api(web, owner, "GET", f"/merchants/{mine['id']}/registration")
    assert (registration["credit_code"], registration["status"]) == (code.upper(), "submitted")
    await api(web, admin, "POST", f"/merchants/{mine['id']}/approve")
    await page.get_by_role("button", name="刷新状态").click()
    await expect(status.get_by_text("已通过", exact=True)).to_be_visible()
    await expect(status.get_by_text("审核已通过，店铺已开通。")).to_be_visible()
    await expect(page.get_by_role("note")).to_have_count(0)  # the "not approved" banner is gone
    await screenshot(page, "merchant-review-status")


async def test_a_rejected_registration_is_corrected_and_resubmitted(
    new_context: NewContext, web: WebStack, make_account: MakeAccount, approve_merchant: Any
) -> None:
    owner = await make_account("王小明")
    admin = await make_account("审核员", PlatformRole.ADMIN)
    row = await web.core.merchants.create(Principal(owner.id, uuid.uuid4()), "小明玩具铺")
    merchant_id = row["id"]
    # Filled in and submitted over the API (the wizard is the test above), then rejected.
    await api(
        web,
        owner,
        "PATCH",
        f"/merchants/{merchant_id}/registration",
        {
            "legal_name": "成都小明玩具有限公司",
            "credit_code": valid_credit_code(),
            "legal_representative": "王小明",
            "contact_phone": "13800138000",
            "address": "成都市武侯区玉林路 8 号",
            "business_scope": "玩具销售",
        },
    )
    async with aiohttp.ClientSession() as session:
        form = aiohttp.FormData()
        form.add_field("file", png(), filename="licence.png", content_type="image/png")
        async with session.post(
            f"{web.url}/api/v1/merchants/{merchant_id}/documents?kind=business_licence",
            data=form,
            headers=owner.headers,
        ) as response:
            assert response.status == 201, await response.text()
    await api(web, owner, "POST", f"/merchants/{merchant_id}/submit")
    await api(web, admin, "POST", f"/merchants/{merchant_id}/reject", {"reason": "营业执照模糊"})

    page = await signed_in_page(new_context, owner, mobile=False)
    await page.goto("/merchant/registration")
    status = page.get_by_test_id("review-status")
    await expect(status.get_by_text("原因：营业执照模糊")).to_be_visible()
    await page.get_by_role("button", name="修改后重新提交").click()
    await expect(page.get_by_label("经营范围")).to_have_value("玩具销售")
    await page.get_by_label("经营范围").fill("玩具、游戏机销售与租赁")
    await page.get_by_role("button", name="下一步").click()
    await expect(page.get_by_test_id("credit-code-message")).to_have_text("校验通过")
    await page.get_by_role("button", name="下一步").click()
    await page.get_by_role("button", name="下一步").click()
    await page.get_by_role("button", name="重新提交审核").click()
    await expect(status.get_by_text("重新提交，审核中")).to_be_visible()
    registration = await api(web, owner, "GET", f"/merchants/{merchant_id}/registration")
    assert registration["status"] == "resubmitted"
    assert registration["business_scope"] == "玩具、游戏机销售与租赁"


async def test_a_paid_order_arrives_live_and_is_confirmed(
    new_context: NewContext,
    web: WebStack,
    make_account: MakeAccount,
    approve_merchant: Any,
    community: CommunityWorld,
) -> None:
    owner = await make_account("店主")
    buyer = community.residents[0]
    merchant_id = await approved_store(web, approve_merchant, owner, community)
    listing = await api(
        web,
        owner,
        "POST",
        "/listings",
        {
            "title": "任天堂 Switch 续航版",
            "category": "game_console",
            "condition": "like_new",
            "kind": "sale",
            "price_fen": 129_900,
            "merchant_id": str(merchant_id),
        },
    )
    # The sandbox delivers its webhook to this stack's REST process.
    web.core.settings = dataclasses.replace(
        web.core.settings, sandbox_webhook_url=f"{web.url}{WEBHOOK}"
    )

    page = await signed_in_page(new_context, owner, mobile=False)
    # The chime plays through Web Audio with no gesture on the page: it must never throw.
    page_errors: list[Any] = []
    page.on("pageerror", lambda error: page_errors.append(error))
    await page.goto("/merchant/orders")
    await expect(page.get_by_role("status").filter(has_text="订单实时推送已连接")).to_be_visible()
    await expect(page.get_by_text("暂无订单")).to_be_visible()
    badge = page.get_by_role("link", name=ORDERS_LINK).get_by_test_id("orders-badge")
    await expect(badge).to_have_count(0)

    # A resident orders: the row appears without a reload, marked new, and the badge counts it.
    placed = await api(
        web, buyer, "POST", "/orders", {"listing_id": listing["id"], "fulfilment": "face_to_face"}
    )
    row = page.locator(f"tr[data-order-id='{placed['id']}']")
    await expect(row.get_by_text("待支付")).to_be_visible()
    await expect(badge).to_contain_text("1 条新订单提醒")

    # The resident pays on the sandbox; the capture reaches the open page within a second.
    payment = await api(web, buyer, "GET", f"/payments/{placed['payment_id']}")
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{web.url}/api/v1/sandbox/intents/{payment['provider_intent_id']}/pay",
            json={"client_secret": payment["client_secret"], "outcome": "succeed"},
        ) as paid,
    ):
        assert paid.status == 200, await paid.text()
    await run_worker(web.settings, web.core)  # delivers the webhook; the capture pushes order:paid
    await expect(row.get_by_text("已支付，待确认")).to_be_visible(timeout=1000)
    await expect(row.get_by_text("新", exact=True)).to_be_visible()
    await expect(badge).to_be_visible()
    await expect(page.get_by_text("¥1299.00")).to_be_visible()
    await row.get_by_role("button", name="详情").click()
    await expect(row.get_by_text("当面交易")).to_be_visible()
    await screenshot(page, "merchant-orders")

    # The merchant accepts it in the page.
    await row.get_by_role("button", name="接单：任天堂 Switch 续航版").click()
    await expect(row.get_by_text("已接单")).to_be_visible()
    await expect(badge).to_have_count(0)
    order = await api(web, buyer, "GET", f"/orders/{placed['id']}")
    assert order["status"] == "confirmed"

    # The dashboard counts the paid order today, in the trend and among this month's best sellers.
    await page.get_by_role("link", name="经营概况").click()
    today = page.locator(".kpi", has_text="今日订单")
    await expect(today).to_contain_text("1")
    await expect(page.locator(".kpi", has_text="今日收入")).to_contain_text("¥1299.00")
    await expect(
        page.get_by_role("img", name="本月热销前 1 名条形图，第一名：任天堂 Switch 续航版 ¥1299.00")
    ).to_be_visible()
    await expect(page.get_by_role("img", name="共 1 单", exact=False)).to_be_visible()
    assert await serious_accessibility_violations(page) == []
    await screenshot(page, "merchant-dashboard")
    await page.get_by_role("link", name=ORDERS_LINK).click()

    # The buyer asks for the money back: the request arrives live; granting it refunds the order.
    await api(web, buyer, "POST", f"/orders/{placed['id']}/request-refund")
    await expect(row.get_by_text("申请退款")).to_be_visible()
    await expect(badge).to_contain_text("1 条新订单提醒")
    await row.get_by_role("button", name="同意退款：任天堂 Switch 续航版").click()
    dialog = page.get_by_role("dialog", name="同意退款")
    await dialog.get_by_label("原因（告知买家）").fill("已与买家协商一致")
    assert await serious_accessibility_violations(page) == []
    await dialog.get_by_role("button", name="同意退款").click()
    await expect(row.get_by_text("已退款")).to_be_visible()
    await expect(row.get_by_text("原因：已与买家协商一致")).to_be_visible()
    await expect(badge).to_have_count(0)
    order = await api(web, buyer, "GET", f"/orders/{placed['id']}")
    assert (order["status"], order["reject_reason"]) == ("refunded", "已与买家协商一致")
    assert page_errors == []


async def test_every_back_office_screen_passes_axe(
    new_context: NewContext,
    web: WebStack,
    make_account: MakeAccount,
    approve_merchant: Any,
    community: CommunityWorld,
) -> None:
    owner = await make_account("店主")
    merchant_id = await approved_store(web, approve_merchant, owner, community)
    await api(
        web,
        owner,
        "POST",
        f"/merchants/{merchant_id}/items",
        {"name": "上门清洗游戏机", "kind": "service", "price_fen": 8_800, "stock": 5},
    )
    # A second store, still a draft: the owner picks which one to open.
    await web.core.merchants.create(Principal(owner.id, uuid.uuid4()), "小明二店")
    page: Page = await signed_in_page(new_context, owner, mobile=False)

    await page.goto("/merchant")
    await expect(page.get_by_role("heading", name="选择店铺")).to_be_visible()
    assert await serious_accessibility_violations(page) == []
    await page.get_by_role("button", name="进入 小明玩具铺").click()
    await expect(page.get_by_role("heading", name="经营概况")).to_be_visible()
    await expect(
        page.get_by_role("img", name="近 30 天订单与收入趋势图", exact=False)
    ).to_be_visible()
    assert await serious_accessibility_violations(page) == []

    await page.get_by_role("link", name=ORDERS_LINK).click()
    await expect(page.get_by_text("暂无订单")).to_be_visible()
    assert await serious_accessibility_violations(page) == []

    await page.get_by_role("link", name="商品").click()
    await expect(page.get_by_role("cell", name="上门清洗游戏机", exact=True)).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept("99.5"))
    await page.get_by_role("button", name="改价：上门清洗游戏机").click()
    await expect(page.get_by_text("¥99.50")).to_be_visible()
    # The store publishes a rental with a photo; it is listed as on offer.
    await page.get_by_role("button", name="发布闲置").click()
    form = page.get_by_role("form", name="以店铺名义发布")
    await form.get_by_label("标题").fill("乐高 42115 兰博基尼")
    await form.get_by_label("品类").select_option("building_blocks")
    await form.get_by_label("方式").select_option("rent")
    await form.get_by_label("日租金（元）").fill("12.5")
    await form.get_by_label("押金（元）").fill("300")
    await form.get_by_label("照片（选传）").set_input_files(
        {"name": "lego.png", "mimeType": "image/png", "buffer": png()}
    )
    assert await serious_accessibility_violations(page) == []
    await form.get_by_role("button", name="发布闲置").click()
    listed = page.get_by_role("row", name="乐高 42115 兰博基尼", exact=False)
    await expect(listed.get_by_text("出租")).to_be_visible()
    await expect(listed.get_by_text("¥12.50")).to_be_visible()
    (published,) = (await api(web, owner, "GET", f"/merchants/{merchant_id}/listings"))["items"]
    assert (published["rent_per_day_fen"], published["deposit_fen"]) == (1250, 30_000)
    assert len(published["images"]) == 1
    stock = page.get_by_label("「上门清洗游戏机」库存变动数量")
    await stock.fill("3")
    await page.get_by_role("button", name="入库").click()
    await expect(page.get_by_test_id("stock")).to_have_text("8")
    assert await serious_accessibility_violations(page) == []
    await screenshot(page, "merchant-catalogue")

    await page.get_by_role("link", name="结算").click()
    await expect(page.get_by_text("本月没有结算记录。")).to_be_visible()
    assert await serious_accessibility_violations(page) == []
    await screenshot(page, "merchant-statements")

    await page.get_by_role("link", name="店铺设置").click()
    await page.locator("input[type='file']").set_input_files(
        {"name": "logo.png", "mimeType": "image/png", "buffer": png(96, 96)}
    )
    await page.get_by_role("button", name="上传标志").click()
    await expect(page.get_by_role("img", name="店铺标志")).to_be_visible()
    await page.get_by_label("周一 营业").check()
    await page.get_by_role("button", name="保存设置").first.click()
    await expect(page.get_by_text("已保存")).to_be_visible()
    assert await serious_accessibility_violations(page) == []
    await screenshot(page, "merchant-settings")
    profile = await api(web, owner, "GET", f"/merchants/{merchant_id}")
    assert profile["opening_hours"] == {"mon": [["09:00", "18:00"]]}

    await page.goto("/merchant/apply")
    await expect(page.get_by_role("heading", name="商家入驻申请")).to_be_visible()
    assert await serious_accessibility_violations(page) == []
