"""The new features attacked the way outside testers do (conversations, events, swaps, sponsored
slots, insights): one test per class of defect found, each failing before its fix."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp.test_utils import TestClient

from lago_core.container import Core

from .conftest import CommunityWorld
from .test_orders import call, listing

Client = TestClient[Any, Any]


async def test_a_link_a_browser_reads_as_another_site_is_refused(
    client: Client, core: Core, community: CommunityWorld
) -> None:
    """Class: a sponsored link that passes as "a path of the app" but that browsers resolve to
    another host (WHATWG parsing reads "\\" as "/" and drops tabs and newlines), an open
    redirect shown to every viewer of a stream."""
    admin = community.admin
    status, brand = await call(
        client, admin, "POST", "/sponsored/brands", {"name": f"b{uuid.uuid4().hex[:6]}"}
    )
    assert status == 201, brand
    status, campaign = await call(
        client,
        admin,
        "POST",
        "/sponsored/campaigns",
        {"brand_id": brand["id"], "name": "c", "price_fen": 100},
    )
    assert status == 201, campaign
    path = f"/sponsored/campaigns/{campaign['id']}/creatives"
    for bad in (
        "/\\evil.example",
        "/\\/evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r/evil.example",
        "https://evil.example\\@www.lego.com/",
        "/coupons\x01",
    ):
        status, body = await call(client, admin, "POST", path, {"title": "t", "link_url": bad})
        assert (status, body["error"]["code"]) == (422, "invalid_link"), (bad, body)
    for good in ("/coupons", "/listings/abc?x=1#y", "https://www.lego.com/zh-cn"):
        status, body = await call(client, admin, "POST", path, {"title": "t", "link_url": good})
        assert status == 201, (good, body)
    creatives = await core.pool.fetchval(
        "SELECT count(*) FROM sponsor_creatives WHERE campaign_id = $1",
        uuid.UUID(campaign["id"]),
    )
    assert creatives == 3


async def test_reports_that_raise_a_sellers_risk_are_rate_limited(
    client: Client, community: CommunityWorld
) -> None:
    """Class: a write that raises a third party's complaint risk without a per-account rate
    limit (conversation reports and sponsored reports had one; listing reports did not)."""
    seller, reporter, _ = community.residents
    item = await listing(client, seller)
    statuses = []
    for n in range(21):
        status, _ = await call(
            client, reporter, "POST", f"/listings/{item['id']}/reports", {"reason": f"r{n}"}
        )
        statuses.append(status)
    assert statuses[:20] == [200] * 20
    assert statuses[20] == 429
