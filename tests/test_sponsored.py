"""Sponsored slots in live channels (广告曝光) with a real real-time node and a live stream
running: admins sell a slot, the channel shows it to viewers as a ``sponsor.show`` event once per
stream, impressions and clicks count each viewer once whatever the replays, the brand's report
and CSV; outsiders and non-admins refused; bad input refused."""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from lago_core.container import Core
from lago_core.security.roles import PlatformRole, Principal
from lago_core.settings import Settings
from lago_rt.app import RT_NODE, RtNode, create_rt_app
from lago_rt.runtime import Command

from .conftest import Account, CommunityWorld
from .node_server import NodeServer
from .rt_client import ChannelClient
from .test_orders import call

Client = TestClient[Any, Any]


@pytest.fixture
async def node(settings: Settings, core: Core, node_server: Any) -> tuple[str, RtNode]:
    live = replace(settings, live_ice_addresses=("127.0.0.1",))
    server: NodeServer = await node_server(create_rt_app(live, core=core))
    return f"http://127.0.0.1:{server.port}", server.app[RT_NODE]


async def joined(
    clients: list[ChannelClient], url: str, account: Account, cid: str
) -> ChannelClient:
    client = await ChannelClient(url, account.access_token).connect()
    clients.append(client)
    reply = await client.join(cid)
    assert reply["ok"], reply
    return client


async def new_campaign(
    client: Client, admin: Account, price_fen: int, *, name: str = "c", brand: str = "b"
) -> dict[str, Any]:
    """A sponsored campaign of a brand of its own (``brand`` and a random suffix)."""
    status, made = await call(
        client, admin, "POST", "/sponsored/brands", {"name": f"{brand}{uuid.uuid4().hex[:6]}"}
    )
    assert status == 201, made
    status, campaign = await call(
        client,
        admin,
        "POST",
        "/sponsored/campaigns",
        {"brand_id": made["id"], "name": name, "price_fen": price_fen},
    )
    assert status == 201, campaign
    return dict(campaign)


async def sell_slot(
    client: Client, core: Core, admin: Account, community_ids: list[str], **slot: Any
) -> dict[str, Any]:
    campaign = await new_campaign(client, admin, 500_000, name="暑期新品", brand="乐高")
    status, creative = await call(
        client,
        admin,
        "POST",
        f"/sponsored/campaigns/{campaign['id']}/creatives",
        {"title": "乐高城市系列 新品上市", "link_url": "https://www.lego.com/zh-cn"},
    )
    assert status == 201, creative
    now = core.clock.now()
    body = {
        "creative_id": creative["id"],
        "starts_at": (now - timedelta(minutes=5)).isoformat(),
        "ends_at": (now + timedelta(hours=2)).isoformat(),
        "community_ids": community_ids,
        "duration_s": 30,
    } | slot
    status, sold = await call(
        client, admin, "POST", f"/sponsored/campaigns/{campaign['id']}/slots", body
    )
    assert status == 201, sold
    return {"campaign": campaign, "creative": creative, "slot": sold}


def shows(member: ChannelClient) -> list[dict[str, Any]]:
    return [e for e in member.events if e["type"] == "sponsor.show"]


async def test_viewers_see_the_slot_once_and_counts_are_unique(
    client: Client,
    core: Core,
    node: tuple[str, RtNode],
    community: CommunityWorld,
    clients: list[ChannelClient],
) -> None:
    url, rt = node
    cid = community.id
    admin = community.admin
    other = await core.communities.create(
        Principal(admin.id, uuid.uuid4(), PlatformRole.ADMIN),
        "别的小区",
        f"别处{uuid.uuid4().hex[:6]}",
        Decimal("31.2"),
        Decimal("121.4"),
        None,
    )
    sold = await sell_slot(client, core, admin, [cid])
    elsewhere = await sell_slot(client, core, admin, [str(other["id"])])
    slot_id = sold["slot"]["id"]

    host = await joined(clients, url, community.staff, cid)
    viewers = [await joined(clients, url, r, cid) for r in community.residents[:2]]
    # No stream: nothing is shown.
    await rt.host.tick_all()
    reply = await host.call("live:start", {"community_id": cid, "title": "周末亲子活动"})
    assert reply["ok"], reply
    session_id = reply["session"]["session_id"]
    await rt.host.tick_all()
    for viewer in viewers:
        await viewer.wait_until(lambda v=viewer: len(shows(v)) == 1)  # type: ignore[misc]
        event = shows(viewer)[0]["data"]
        assert event["slot_id"] == slot_id
        assert event["session_id"] == session_id
        assert (event["title"], event["link_url"], event["duration_s"]) == (
            "乐高城市系列 新品上市",
            "https://www.lego.com/zh-cn",
            30,
        )
    # Once per stream: further heartbeats show nothing more; the other community's slot never.
    await rt.host.tick_all()
    await rt.host.tick_all()
    assert all(len(shows(v)) == 1 for v in viewers)
    assert all(e["data"]["slot_id"] != elsewhere["slot"]["id"] for v in viewers for e in shows(v))
    # A member joining mid-showing gets the card in the snapshot.
    late = await ChannelClient(url, community.residents[2].access_token).connect()
    clients.append(late)
    snapshot = await late.join(cid)
    assert [s["slot_id"] for s in snapshot["snapshot"]["sponsored"]["showing"]] == [slot_id], (
        snapshot
    )
    state = await rt.host.call(cid, Command("channel.snapshot"))
    assert state["sponsored"]["showing"][0]["slot_id"] == slot_id

    seen = {"session_id": session_id}
    a, b, c = community.residents
    for account in (a, b, a, a):  # a's replays never count twice
        status, body = await call(
            client, account, "POST", f"/sponsored/slots/{slot_id}/impressions", seen
        )
        assert status == 200, body
    status, body = await call(client, a, "POST", f"/sponsored/slots/{slot_id}/impressions", seen)
    assert body == {"counted": False}
    for _ in range(3):
        status, body = await call(client, b, "POST", f"/sponsored/slots/{slot_id}/clicks", seen)
        assert status == 200
    # A click without a reported impression is one (c's card was seen when clicked).
    status, body = await call(client, c, "POST", f"/sponsored/slots/{slot_id}/clicks", seen)
    assert body == {"counted": True}

    status, report = await call(
        client, admin, "GET", f"/sponsored/campaigns/{sold['campaign']['id']}/report"
    )
    assert status == 200, report
    (line,) = report["lines"]
    assert (line["shows"], line["impressions"], line["unique_viewers"], line["clicks"]) == (
        1,
        3,
        3,
        2,
    )
    assert line["ctr"] == round(2 / 3, 4)
    response = await client.get(
        f"/api/v1/sponsored/campaigns/{sold['campaign']['id']}/report.csv", headers=admin.headers
    )
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO((await response.read()).decode("utf-8-sig"))))
    assert [(r["impressions"], r["unique_viewers"], r["clicks"], r["ctr"]) for r in rows] == [
        ("3", "3", "2", "0.6667")
    ]

    # A new stream shows the slot again (a new showing).
    assert (await host.call("live:stop", {"community_id": cid, "session_id": session_id}))["ok"]
    reply = await host.call("live:start", {"community_id": cid, "title": "第二场"})
    await rt.host.tick_all()
    await viewers[0].wait_until(lambda: len(shows(viewers[0])) == 2)
    assert shows(viewers[0])[1]["data"]["session_id"] == reply["session"]["session_id"]


async def test_outsiders_non_admins_and_bad_input(
    client: Client,
    core: Core,
    node: tuple[str, RtNode],
    community: CommunityWorld,
    clients: list[ChannelClient],
) -> None:
    url, rt = node
    cid = community.id
    admin, resident = community.admin, community.residents[0]
    # Selling is for admins only.
    status, body = await call(client, resident, "POST", "/sponsored/brands", {"name": "某品牌"})
    assert status == 403, body
    assert (await call(client, community.staff, "GET", "/sponsored/campaigns"))[0] == 403
    sold = await sell_slot(client, core, admin, [cid])
    campaign_id, slot_id = sold["campaign"]["id"], sold["slot"]["id"]
    assert (await call(client, resident, "GET", f"/sponsored/campaigns/{campaign_id}/report"))[
        0
    ] == 403
    host = await joined(clients, url, community.staff, cid)
    viewer = await joined(clients, url, resident, cid)
    reply = await host.call("live:start", {"community_id": cid, "title": "直播"})
    session_id = reply["session"]["session_id"]
    await rt.host.tick_all()
    await viewer.wait_until(lambda: len(shows(viewer)) == 1)

    # An outsider, an unknown showing, a session the slot was not shown in: nothing counted.
    seen = {"session_id": session_id}
    status, body = await call(
        client, community.outsider, "POST", f"/sponsored/slots/{slot_id}/impressions", seen
    )
    assert status == 404, body
    status, body = await call(
        client, resident, "POST", f"/sponsored/slots/{uuid.uuid4()}/impressions", seen
    )
    assert status == 404
    status, body = await call(
        client, resident, "POST", f"/sponsored/slots/{slot_id}/clicks", {"session_id": "nope"}
    )
    assert status == 404
    for bad in (
        {},
        {"session_id": ""},
        {"session_id": "x" * 101},
        {"session_id": "a\x00"},
        {"session_id": 5},
        {"session_id": "s", "more": 1},
    ):
        status, body = await call(
            client, resident, "POST", f"/sponsored/slots/{slot_id}/impressions", bad
        )
        assert status == 422, (bad, body)
    status, report = await call(client, admin, "GET", f"/sponsored/campaigns/{campaign_id}/report")
    assert report["lines"][0]["impressions"] == 0

    # Bad input when selling.
    now = core.clock.now()
    base = {
        "creative_id": sold["creative"]["id"],
        "starts_at": now.isoformat(),
        "ends_at": (now + timedelta(hours=1)).isoformat(),
        "community_ids": [cid],
    }
    for bad_slot in (
        base | {"ends_at": (now - timedelta(hours=1)).isoformat()},
        base | {"starts_at": "2026-01-01T00:00:00"},  # no time zone
        base | {"community_ids": []},
        base | {"community_ids": [str(uuid.uuid4())]},
        base | {"duration_s": 2},
        base | {"creative_id": str(uuid.uuid4())},
        base | {"ends_at": (now + timedelta(days=400)).isoformat()},
    ):
        status, body = await call(
            client, admin, "POST", f"/sponsored/campaigns/{campaign_id}/slots", bad_slot
        )
        assert 400 <= status < 500, (bad_slot, body)
    for bad_creative in (
        {"title": "", "link_url": "https://a.b"},
        {"title": "t", "link_url": "javascript:alert(1)"},
        {"title": "t", "link_url": "//evil.example"},
        {"title": "t" * 41, "link_url": "/coupons"},
    ):
        status, body = await call(
            client, admin, "POST", f"/sponsored/campaigns/{campaign_id}/creatives", bad_creative
        )
        assert status == 422, (bad_creative, body)
    status, body = await call(
        client,
        admin,
        "POST",
        "/sponsored/campaigns",
        {"brand_id": str(uuid.uuid4()), "name": "x", "price_fen": 1},
    )
    assert status == 404
    status, body = await call(
        client,
        admin,
        "POST",
        "/sponsored/campaigns",
        {"brand_id": sold["campaign"]["brand_id"], "name": "x", "price_fen": -1},
    )
    assert status == 422
    status, body = await call(
        client, admin, "POST", "/sponsored/brands", {"name": sold["campaign"]["brand_name"]}
    )
    assert (status, body["error"]["code"]) == (409, "brand_exists")
    # A cancelled slot is not shown in the next stream.
    assert (await call(client, admin, "POST", f"/sponsored/slots/{slot_id}/cancel"))[0] == 204
    assert (await host.call("live:stop", {"community_id": cid, "session_id": session_id}))["ok"]
    assert (await host.call("live:start", {"community_id": cid, "title": "再来"}))["ok"]
    await rt.host.tick_all()
    assert len(shows(viewer)) == 1


async def test_reports_are_rate_limited(client: Client, community: CommunityWorld) -> None:
    resident = community.residents[0]
    statuses = []
    for _ in range(61):
        status, _ = await call(
            client,
            resident,
            "POST",
            f"/sponsored/slots/{uuid.uuid4()}/impressions",
            {"session_id": "s"},
        )
        statuses.append(status)
    assert statuses[:60] == [404] * 60
    assert statuses[60] == 429
