"""Merchants: the owner, staff management, communities served, and who may see what."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from aiohttp.test_utils import TestClient

from lago_core.container import Core
from lago_core.security.roles import MerchantRole, PlatformRole

from .conftest import Account

Client = TestClient[Any, Any]


async def create_merchant(client: Client, owner: Account, name: str = "小明玩具店") -> str:
    resp = await client.post("/api/v1/merchants", json={"name": name}, headers=owner.headers)
    assert resp.status == 201, await resp.text()
    merchant_id: str = (await resp.json())["id"]
    return merchant_id


async def create_community(client: Client, admin: Account, name: str) -> str:
    resp = await client.post(
        "/api/v1/communities",
        json={"name": name, "address": f"{name}路 8 号", "latitude": "31.2", "longitude": "121.4"},
        headers=admin.headers,
    )
    assert resp.status == 201, await resp.text()
    community_id: str = (await resp.json())["id"]
    return community_id


async def test_owner_manages_staff(client: Client, core: Core, make_account: Any) -> None:
    owner: Account = await make_account("店主")
    staff: Account = await make_account("店员")
    stranger: Account = await make_account("路人")
    mid = await create_merchant(client, owner)
    assert await core.merchants.role_of(owner.id, UUID(mid)) is MerchantRole.OWNER

    url = f"/api/v1/merchants/{mid}/staff"
    by_stranger = await client.post(
        url, json={"user_id": str(stranger.id)}, headers=stranger.headers
    )
    assert by_stranger.status == 403
    added = await client.post(url, json={"user_id": str(staff.id)}, headers=owner.headers)
    assert added.status == 204
    assert await core.merchants.role_of(staff.id, UUID(mid)) is MerchantRole.STAFF
    # Staff may look but not hire.
    by_staff = await client.post(url, json={"user_id": str(stranger.id)}, headers=staff.headers)
    assert by_staff.status == 403
    listed = await client.get(url, headers=staff.headers)
    assert [(m["display_name"], m["role"]) for m in await listed.json()] == [
        ("店主", "owner"),
        ("店员", "staff"),
    ]
    assert (await client.get(url, headers=stranger.headers)).status == 403

    mine = await client.get("/api/v1/me/merchants", headers=staff.headers)
    assert [(m["id"], m["role"]) for m in await mine.json()] == [(mid, "staff")]

    # The owner cannot be removed as staff or re-added as staff; unknown users are 404.
    assert (await client.delete(f"{url}/{owner.id}", headers=owner.headers)).status == 404
    self_add = await client.post(url, json={"user_id": str(owner.id)}, headers=owner.headers)
    assert (await self_add.json())["error"]["code"] == "already_owner"
    ghost = await client.post(
        url, json={"user_id": "00000000-0000-0000-0000-000000000001"}, headers=owner.headers
    )
    assert ghost.status == 404
    removed = await client.delete(f"{url}/{staff.id}", headers=owner.headers)
    assert removed.status == 204
    assert await core.merchants.role_of(staff.id, UUID(mid)) is None


async def test_admin_binds_communities(client: Client, make_account: Any) -> None:
    admin: Account = await make_account("管理员", PlatformRole.ADMIN)
    owner: Account = await make_account("店主")
    mid = await create_merchant(client, owner)
    cid = await create_community(client, admin, "静安小区")
    url = f"/api/v1/merchants/{mid}/communities/{cid}"

    assert (await client.put(url, headers=owner.headers)).status == 403
    assert (await client.put(url, headers=admin.headers)).status == 204
    assert (await client.put(url, headers=admin.headers)).status == 204  # idempotent
    got = await client.get(f"/api/v1/merchants/{mid}", headers=owner.headers)
    assert (await got.json())["community_ids"] == [cid]
    # Admins see any merchant's staff.
    assert (await client.get(f"/api/v1/merchants/{mid}/staff", headers=admin.headers)).status == 200

    assert (await client.delete(url, headers=admin.headers)).status == 204
    assert (await client.delete(url, headers=admin.headers)).status == 404
    missing = f"/api/v1/merchants/{mid}/communities/00000000-0000-0000-0000-000000000001"
    assert (await client.put(missing, headers=admin.headers)).status == 404


async def test_merchant_input_is_validated(client: Client, core: Core, make_account: Any) -> None:
    owner: Account = await make_account()
    for body in ({"name": ""}, {"name": "店", "owner_id": str(owner.id)}, {"name": 5}):
        resp = await client.post("/api/v1/merchants", json=body, headers=owner.headers)
        assert resp.status == 422, body
        assert (await resp.json())["error"]["code"] == "invalid_input"
    assert await core.pool.fetchval("SELECT count(*) FROM merchants") == 0
    assert (await client.post("/api/v1/merchants", json={"name": "店"})).status == 401
