"""Money out in a real browser (issue 19 items 4–6): a merchant adds a bank account (and sees it
masked), withdraws the money settlement made available and sees it paid; a buyer asks for an
invoice on their order, the merchant issues it, and the buyer downloads the PDF. axe on each
screen; screenshots for docs/screenshots/money-out-*.png."""

from __future__ import annotations

import io
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from playwright.async_api import BrowserContext, expect
from pypdf import PdfReader

from lago_core.clock import ManualClock
from lago_core.container import Core
from lago_core.settings import Settings
from lago_core.settlement.service import SETTLEMENT_DELAY

from ..conftest import Account, CommunityWorld
from ..test_orders import Client, merchant_of
from ..test_payments import assert_ledger_sound, run_worker, webhook_target
from ..test_settlement import completed_sale, handed_over_sale, settle_by_worker
from .conftest import WebStack, screenshot, serious_accessibility_violations, signed_in_page

MakeAccount = Callable[..., Awaitable[Account]]
NewContext = Callable[..., Awaitable[BrowserContext]]
__all__ = ["webhook_target"]
ACCOUNT_NUMBER = "6222021234567890123"


async def test_withdraw_and_invoice_in_the_browser(
    web: WebStack,
    new_context: NewContext,
    approve_merchant: Any,
    client: Client,
    core: Core,
    settings: Settings,
    clock: ManualClock,
    community: CommunityWorld,
    make_account: MakeAccount,
    webhook_target: None,
) -> None:
    buyer = community.residents[0]
    owner = await make_account("店主")
    merchant = await merchant_of(core, approve_merchant, owner)
    # A ¥100 sale settled (T+7: ¥90 available), and a second one handed over, to invoice.
    await completed_sale(client, core, settings, buyer, owner, merchant)
    ahead = SETTLEMENT_DELAY.total_seconds() + 60
    clock.advance(ahead)
    await settle_by_worker(core, settings)
    clock.advance(-ahead)  # back to when sessions are valid
    second = await handed_over_sale(client, core, settings, buyer, owner, merchant, 4_560)

    # --- the merchant's 提现 page ---------------------------------------------------------------
    page = await signed_in_page(new_context, owner, mobile=False)
    await page.goto("/merchant/withdraw")
    await expect(page.get_by_role("heading", name="提现", level=1)).to_be_visible()
    await expect(page.get_by_test_id("available")).to_have_text("¥90.00")
    await expect(page.get_by_text("还没有银行账户，请先添加。")).to_be_visible()
    await page.get_by_role("button", name="保存银行账户").click()
    await page.get_by_label("户名").fill("王小明")
    await page.get_by_label("开户行").fill("招商银行成都分行")
    await page.get_by_label("银行卡号").fill(ACCOUNT_NUMBER)
    await page.get_by_role("button", name="保存银行账户").click()
    account = page.get_by_test_id("bank-account")
    await expect(account).to_contain_text("**** 0123")
    await expect(account).to_contain_text("王**")
    await expect(account).not_to_contain_text(ACCOUNT_NUMBER)
    stored = await core.pool.fetchval(
        "SELECT ciphertext FROM merchant_bank_accounts WHERE merchant_id = $1", merchant
    )
    assert ACCOUNT_NUMBER.encode() not in bytes(stored)

    await page.get_by_label("提现金额（元）").fill("90")
    await page.get_by_role("button", name="提现", exact=True).click()
    await expect(page.get_by_role("status").filter(has_text="提现申请已提交")).to_be_visible()
    await expect(page.get_by_test_id("available")).to_have_text("¥0.00")
    await expect(page.get_by_role("cell", name="处理中")).to_be_visible()
    await run_worker(settings, core)  # the payout is submitted, paid, and its webhook applied
    await page.get_by_role("button", name="刷新").click()
    await expect(page.get_by_role("cell", name="已到账")).to_be_visible()
    assert (
        await core.pool.fetchval("SELECT status FROM withdrawals WHERE merchant_id = $1", merchant)
        == "paid"
    )
    await assert_ledger_sound(core)
    assert await serious_accessibility_violations(page) == []
    await screenshot(page, "money-out-withdraw")

    await page.get_by_role("link", name="收入明细").click()
    await expect(page.get_by_role("heading", name="收入明细", level=1)).to_be_visible()
    await expect(page.get_by_role("cell", name="已提现")).to_be_visible()
    assert await serious_accessibility_violations(page) == []
    await screenshot(page, "money-out-income")

    # --- the buyer asks for an invoice -----------------------------------------------------------
    phone = await signed_in_page(new_context, buyer)
    await phone.goto(f"/orders/{second['id']}")
    panel = phone.get_by_role("region", name="发票")
    await expect(panel).to_be_visible()
    await panel.get_by_label("发票抬头").fill("王阿姨")
    await panel.get_by_role("button", name="申请开票").click()
    await expect(panel).to_contain_text("已申请，等待商家开具")
    assert await serious_accessibility_violations(phone) == []
    await screenshot(phone, "money-out-invoice-request")

    # --- the merchant issues it from the back office ---------------------------------------------
    await page.get_by_role("link", name="发票").click()
    await expect(page.get_by_role("heading", name="发票", level=1)).to_be_visible()
    await page.get_by_role("button", name=f"生成并开具 订单 {second['id'][:8]}").click()
    await expect(page.get_by_role("link", name="下载 PDF")).to_be_visible()
    assert await serious_accessibility_violations(page) == []
    await screenshot(page, "money-out-invoices")

    # --- the buyer downloads the PDF -------------------------------------------------------------
    await phone.reload()
    link = phone.get_by_role("link", name="下载发票 PDF")
    await expect(link).to_be_visible()
    async with phone.expect_download() as info:
        await link.click()
    download = await info.value
    path = await download.path()
    data = path.read_bytes()
    assert data.startswith(b"%PDF-")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    assert "¥45.60" in text.replace("\x00", "").replace(" ", "")
    invoice = await core.pool.fetchrow("SELECT status, order_id FROM invoices")
    assert (invoice["status"], invoice["order_id"]) == ("issued", uuid.UUID(second["id"]))

    # --- the property company's statement in the console -----------------------------------------
    staff = await signed_in_page(new_context, community.staff, mobile=False)
    await staff.goto("/console/statements")
    await expect(staff.get_by_role("heading", name="物业分成对账", level=1)).to_be_visible()
    assert await serious_accessibility_violations(staff) == []
    await screenshot(staff, "money-out-property-statements")
