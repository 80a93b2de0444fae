"""GET /search?without=: the same words searched again without the parts of the intent the user
removed (the web app's chips), and bad values refused."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from .conftest import CommunityWorld

Client = TestClient[Any, Any]
API = "/api/v1"


async def _listing(client: Client, seller: Any, **fields: Any) -> None:
    body = {"category": "building_blocks", "condition": "like_new", "kind": "sale"} | fields
    response = await client.post(f"{API}/listings", json=body, headers=seller.headers)
    assert response.status == 201, await response.text()


async def _search(client: Client, who: Any, path: str) -> tuple[int, Any]:
    response = await client.get(f"{API}{path}", headers=who.headers)
    return response.status, await response.json()


async def test_removing_a_constraint_searches_again_without_it(
    client: Client, community: CommunityWorld
) -> None:
    buyer, seller, _ = community.residents
    await _listing(client, seller, title="乐高 城市警察局", brand="LEGO", price_fen=15_000)
    await _listing(client, seller, title="乐高 千年隼", brand="LEGO", price_fen=90_000)
    await _listing(client, seller, title="拼装积木 城堡", price_fen=5_000)

    status, found = await _search(client, buyer, "/search?q=两百以内的乐高")
    assert status == 200, found
    assert (found["intent"]["brand"], found["intent"]["price_max_fen"]) == ("LEGO", 20_000)
    assert [h["listing"]["title"] for h in found["items"]] == ["乐高 城市警察局"]

    status, found = await _search(client, buyer, "/search?q=两百以内的乐高&without=price")
    assert status == 200, found
    assert found["intent"]["price_max_fen"] is None
    assert found["intent"]["brand"] == "LEGO"
    assert {h["listing"]["title"] for h in found["items"]} == {"乐高 城市警察局", "乐高 千年隼"}

    # Without the brand too, any building blocks are found (the category remains).
    status, found = await _search(client, buyer, "/search?q=两百以内的乐高&without=price,brand")
    assert status == 200, found
    assert (found["intent"]["brand"], found["intent"]["category"]) == (None, "building_blocks")
    assert len(found["items"]) == 3


async def test_unknown_parts_are_refused(client: Client, community: CommunityWorld) -> None:
    buyer = community.residents[0]
    for bad in ("intent", "price,", "price,,brand", "x" * 101, "seller_id"):
        status, body = await _search(client, buyer, f"/search?q=乐高&without={bad}")
        assert status == 422, (bad, body)
