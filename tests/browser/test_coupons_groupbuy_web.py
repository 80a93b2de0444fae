"""A group-buy seat paid with a coupon in a real browser (issue 18): the channel's cashier asks the
checkout preview for the seat, preselects the resident's merchant coupon, sends it with the
payment and the payment asks the discounted amount; the coupon is used once the provider's
webhook captured it."""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from playwright.async_api import BrowserContext, expect

from lago_core.container import Core
from lago_core.groupbuys import CampaignSpec
from lago_core.security.roles import Principal

from ..conftest import Account, CommunityWorld
from ..groupbuy_support import merchant_with_item
from ..test_payments import WEBHOOK, run_worker
from .conftest import WebStack, serious_accessibility_violations, signed_in_page
from .test_coupons_web import accessible, api

NewContext = Callable[..., Awaitable[BrowserContext]]


@pytest.fixture(autouse=True)
def patient_expect() -> Iterator[None]:
    expect.set_options(timeout=10_000)
    yield
    expect.set_options(timeout=5_000)


async def test_a_seat_is_paid_with_the_preselected_merchant_coupon(
    web: WebStack,
    new_context: NewContext,
    community: CommunityWorld,
    core: Core,
    make_account: Callable[..., Awaitable[Account]],
    approve_merchant: Any,
) -> None:
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
    template = await api(
        web,
        owner,
        "POST",
        "/coupon-templates",
        {
            "name": "拼团立减10元",
            "kind": "amount_off",
            "amount_off_fen": 1_000,
            "merchant_id": str(merchant_id),
            "budget_fen": 5_000,
            "valid_days": 7,
        },
    )
    wang = community.residents[0]
    coupon = await api(web, wang, "POST", f"/coupon-templates/{template['id']}/claim")

    page = await signed_in_page(new_context, wang)
    await page.goto("/channel?view=groupbuys")
    await page.get_by_role("button", name="发起拼团：乐高课两人团").click()
    group = page.get_by_role("listitem").filter(has_text="拼团中")
    await expect(group.get_by_text("已占座，待支付")).to_be_visible()
    await group.get_by_role("button", name="支付座位").click()

    cashier = page.get_by_role("dialog", name="收银台")
    picker = cashier.get_by_role("region", name="优惠券")
    await expect(picker.get_by_role("radio", name=re.compile("拼团立减10元"))).to_be_checked()
    await expect(picker.get_by_text("商家优惠")).to_be_visible()
    await expect(picker.get_by_test_id("pay-total")).to_have_text("¥89.00")
    assert await serious_accessibility_violations(page) == []
    await accessible(page, "coupons-groupbuy-cashier")
    async with page.expect_request(lambda r: r.url.endswith("/pay")) as sent:
        await cashier.get_by_role("button", name="去支付").click()
    assert (await sent.value).post_data_json == {"coupon_ids": [coupon["id"]]}
    await expect(cashier.get_by_text("¥89.00")).to_be_visible()
    await expect(cashier.get_by_text("−¥10.00")).to_be_visible()
    await cashier.get_by_role("button", name="确认支付").click()
    await expect(cashier.get_by_text("支付处理中")).to_be_visible()
    await run_worker(web.settings, core)
    await expect(cashier.get_by_text("支付成功")).to_be_visible()

    held = await core.pool.fetchrow(
        "SELECT status, holder_type, discount_fen FROM user_coupons WHERE id = $1",
        uuid.UUID(coupon["id"]),
    )
    assert (held["status"], held["holder_type"], held["discount_fen"]) == (
        "used",
        "group_buy_seat",
        1_000,
    )
    paid = await core.pool.fetchrow(
        "SELECT amount_fen, merchant_discount_fen FROM payments"
        " WHERE reference_type = 'group_buy_seat' AND status = 'captured'"
    )
    assert (paid["amount_fen"], paid["merchant_discount_fen"]) == (8_900, 1_000)
