"""Recommendations on the demo data (``lago seed-demo``) plus two more communities: one 1 km
away, one 40 km away. The own community ranks first, the neighbour follows, the far one is out;
a cold start says so; what a resident rented before is not recommended again; history moves
what a resident looked at and favourited up, with the reason."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from aiohttp.test_utils import TestClient

from lago_cli.demo import COMMUNITY, DEMO_ACCOUNTS, seed
from lago_core.container import Core
from lago_core.listings.service import Category, Condition, ListingDraft, ListingKind
from lago_core.security.roles import MemberStatus, PlatformRole, Principal
from lago_core.settings import Settings

from .test_orders import call, pay_order
from .test_payments import webhook_target

Client = TestClient[Any, Any]
__all__ = ["webhook_target"]


class Demo:
    def __init__(self, client: Client) -> None:
        self.client = client
        self.tokens: dict[str, Any] = {}

    async def login(self, key: str) -> Any:
        from .conftest import Account

        phone = DEMO_ACCOUNTS[key][0]
        response = await self.client.post(
            "/api/v1/auth/login", json={"phone": phone, "password": "lago-demo-2026"}
        )
        body = await response.json()
        assert response.status == 200, body
        me = await (
            await self.client.get(
                "/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"}
            )
        ).json()
        return Account(uuid.UUID(me["id"]), phone, "", body["access_token"], body["refresh_token"])


async def _community_with_listing(
    core: Core, admin: Principal, name: str, lat: str, lng: str, title: str, brand: str | None
) -> None:
    row = await core.communities.create(
        admin, name, f"{name}路 1 号", Decimal(lat), Decimal(lng), None
    )
    seller_view = await core.identity.create_user(
        f"+86137{uuid.uuid4().int % 10**8:08d}", "correct horse battery", "邻居", None
    )
    seller = Principal(seller_view.id, uuid.uuid4())
    await core.communities.request_to_join(seller, row["id"], None, None)
    await core.communities.decide(admin, row["id"], seller.user_id, MemberStatus.VERIFIED, None)
    await core.listings.create(
        seller,
        ListingDraft(
            title=title,
            description="邻居闲置",
            category=Category.BUILDING_BLOCKS,
            condition=Condition.GOOD,
            kind=ListingKind.SALE,
            brand=brand,
            price_fen=12_000,
        ),
    )


async def test_recommendations_on_demo_data(
    client: Client, core: Core, settings: Settings, make_account: Any, webhook_target: None
) -> None:
    await seed(settings)
    demo = Demo(client)
    admin_id = (await core.identity.user_by_phone(DEMO_ACCOUNTS["admin"][0])).id  # type: ignore[union-attr]
    admin = Principal(admin_id, uuid.uuid4(), PlatformRole.ADMIN)
    _, _, lat, lng = COMMUNITY
    # About 1.1 km north-east, and about 40 km away.
    await _community_with_listing(
        core,
        admin,
        "翠湖北苑",
        str(lat + Decimal("0.008")),
        str(lng + Decimal("0.008")),
        "乐高 得宝 大颗粒",
        "LEGO",
    )
    await _community_with_listing(
        core, admin, "远方花园", str(lat + Decimal("0.36")), str(lng), "远方的积木", None
    )

    carol = await demo.login("carol")
    status, recs = await call(client, carol, "GET", "/recommendations?limit=50")
    assert status == 200
    assert recs["cold_start"] is True
    items = recs["items"]
    titles = [r["listing"]["title"] for r in items]
    assert "远方的积木" not in titles
    assert titles[-1] == "乐高 得宝 大颗粒"  # the neighbour comes after every own-community item
    assert items[-1]["reasons"][0]["code"] == "nearby"
    assert 1_000 < items[-1]["distance_m"] < 1_300
    assert all(r["reasons"][0]["code"] == "own_community" for r in items[:-1])
    assert all(any(x["code"] == "cold_start" for x in r["reasons"]) for r in items)
    assert not any(r["listing"]["seller_id"] == str(carol.id) for r in items)  # not her own

    # Carol rents alice's Switch for a weekend; it comes back and is listed again — but it is
    # not recommended to her again.
    switch = next(r["listing"] for r in items if "Switch" in r["listing"]["title"])
    status, placed = await call(
        client,
        carol,
        "POST",
        "/orders",
        {"listing_id": switch["id"], "days": 2, "fulfilment": "face_to_face"},
    )
    assert status == 201, placed
    await pay_order(client, core, settings, carol, placed)
    alice = await demo.login("alice")
    for step in ("pick-up", "return", "complete"):
        status, moved = await call(client, alice, "POST", f"/orders/{placed['id']}/{step}", {})
        assert status == 200, moved
    assert moved["status"] == "completed"
    _, again = await call(client, alice, "GET", f"/listings/{switch['id']}")
    assert again["status"] == "active"
    status, recs = await call(client, carol, "GET", "/recommendations?limit=50")
    assert switch["id"] not in [r["listing"]["id"] for r in recs["items"]]
    assert recs["cold_start"] is False  # the rental is history now
    # Bob sees it: he has not rented it.
    bob = await demo.login("bob")
    _, bobs = await call(client, bob, "GET", "/recommendations?limit=50")
    assert switch["id"] in [r["listing"]["id"] for r in bobs["items"]]

    # Bob looks at and favourites LEGO: LEGO in his community ranks first, saying why.
    lego = next(r["listing"] for r in bobs["items"] if r["listing"]["brand"] == "LEGO")
    assert (
        await client.post(f"/api/v1/listings/{lego['id']}/views", headers=bob.headers)
    ).status == 204
    assert (
        await client.put(f"/api/v1/listings/{lego['id']}/favourite", headers=bob.headers)
    ).status == 204
    _, favs = await call(client, bob, "GET", "/me/favourites")
    assert favs == {"listing_ids": [lego["id"]]}
    _, bobs = await call(client, bob, "GET", "/recommendations?limit=50")
    top = bobs["items"][0]
    assert top["listing"]["id"] == lego["id"]
    history = next(x for x in top["reasons"] if x["code"] == "history")
    assert "收藏过" in history["text"]
    assert "LEGO" in history["text"]
    assert (
        await client.delete(f"/api/v1/listings/{lego['id']}/favourite", headers=bob.headers)
    ).status == 204
    _, favs = await call(client, bob, "GET", "/me/favourites")
    assert favs == {"listing_ids": []}
    # A listing one may not see cannot be viewed or favourited.
    stranger = await make_account("外人")
    status, _ = await call(client, stranger, "PUT", f"/listings/{uuid.uuid4()}/favourite")
    assert status == 404
