"""Communities, property staff and resident verification, with the permission matrix."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from lago_core.security.roles import PlatformRole

from .conftest import Account

Client = TestClient[Any, Any]


@pytest.fixture
async def world(client: Client, make_account: Any) -> dict[str, Any]:
    """Two communities, each with its own property company and staff member."""
    admin: Account = await make_account("管理员", PlatformRole.ADMIN)
    out: dict[str, Any] = {"admin": admin}
    for key, (name, lat) in {"a": ("翠湖花园", "39.99"), "b": ("望京花园", "40.00")}.items():
        company = await client.post(
            "/api/v1/property-companies", json={"name": f"{name}物业"}, headers=admin.headers
        )
        assert company.status == 201, await company.text()
        company_id = (await company.json())["id"]
        staff: Account = await make_account(f"{name}物业员工")
        added = await client.post(
            f"/api/v1/property-companies/{company_id}/staff",
            json={"user_id": str(staff.id)},
            headers=admin.headers,
        )
        assert added.status == 204
        community = await client.post(
            "/api/v1/communities",
            json={
                "name": name,
                "address": f"{name}路 1 号",
                "latitude": lat,
                "longitude": "116.31",
                "property_company_id": company_id,
            },
            headers=admin.headers,
        )
        assert community.status == 201, await community.text()
        out[key] = {"id": (await community.json())["id"], "staff": staff, "company": company_id}
    return out


async def test_resident_joins_and_staff_verifies(
    client: Client, make_account: Any, world: dict[str, Any]
) -> None:
    resident: Account = await make_account("住户")
    cid = world["a"]["id"]
    asked = await client.post(
        f"/api/v1/communities/{cid}/join-requests",
        json={"unit": "3-1-402"},
        headers=resident.headers,
    )
    assert asked.status == 201
    assert (await asked.json())["status"] == "pending"

    pending = await client.get(
        f"/api/v1/communities/{cid}/members?status=pending", headers=world["a"]["staff"].headers
    )
    assert [m["user_id"] for m in (await pending.json())["items"]] == [str(resident.id)]

    verified = await client.post(
        f"/api/v1/communities/{cid}/members/{resident.id}/verify",
        headers=world["a"]["staff"].headers,
    )
    assert verified.status == 200
    assert (await verified.json())["status"] == "verified"
    again = await client.post(
        f"/api/v1/communities/{cid}/members/{resident.id}/verify",
        headers=world["a"]["staff"].headers,
    )
    assert again.status == 409

    mine = await (await client.get("/api/v1/me/communities", headers=resident.headers)).json()
    assert [(c["id"], c["role"], c["status"]) for c in mine] == [(cid, "resident", "verified")]

    members = await (
        await client.get(f"/api/v1/communities/{cid}/members", headers=resident.headers)
    ).json()
    roles = {(m["user_id"], m["role"]) for m in members["items"]}
    assert (str(resident.id), "resident") in roles
    assert (str(world["a"]["staff"].id), "property_staff") in roles


async def test_rejected_resident_may_ask_again(
    client: Client, make_account: Any, world: dict[str, Any]
) -> None:
    resident: Account = await make_account()
    cid = world["a"]["id"]
    staff = world["a"]["staff"]
    await client.post(f"/api/v1/communities/{cid}/join-requests", json={}, headers=resident.headers)
    rejected = await client.post(
        f"/api/v1/communities/{cid}/members/{resident.id}/reject",
        json={"reason": "查无此户"},
        headers=staff.headers,
    )
    assert (await rejected.json())["reason"] == "查无此户"
    again = await client.post(
        f"/api/v1/communities/{cid}/join-requests", json={}, headers=resident.headers
    )
    assert (await again.json())["status"] == "pending"


async def test_permission_matrix(client: Client, make_account: Any, world: dict[str, Any]) -> None:
    resident: Account = await make_account("住户")
    other: Account = await make_account("另一位住户")
    a, b = world["a"], world["b"]
    await client.post(
        f"/api/v1/communities/{a['id']}/join-requests", json={}, headers=resident.headers
    )
    await client.post(
        f"/api/v1/communities/{a['id']}/join-requests", json={}, headers=other.headers
    )

    # A resident cannot verify members, not even in their own community.
    denied = await client.post(
        f"/api/v1/communities/{a['id']}/members/{other.id}/verify", headers=resident.headers
    )
    assert denied.status == 403
    assert (await denied.json())["error"]["code"] == "forbidden"
    # Property staff of community B cannot act in community A.
    foreign = await client.post(
        f"/api/v1/communities/{a['id']}/members/{other.id}/verify", headers=b["staff"].headers
    )
    assert foreign.status == 403
    # Only admins create communities and companies.
    for headers in (resident.headers, a["staff"].headers):
        made = await client.post(
            "/api/v1/communities",
            json={"name": "x", "address": "y", "latitude": "1", "longitude": "2"},
            headers=headers,
        )
        assert made.status == 403
    # An unverified resident cannot list members; pending ones stay invisible to residents.
    listing = await client.get(f"/api/v1/communities/{a['id']}/members", headers=resident.headers)
    assert listing.status == 403
    # Nothing changed.
    state = await client.get(
        f"/api/v1/communities/{a['id']}/members?status=pending", headers=a["staff"].headers
    )
    assert len((await state.json())["items"]) == 2
    # The admin may verify anywhere.
    ok = await client.post(
        f"/api/v1/communities/{a['id']}/members/{other.id}/verify", headers=world["admin"].headers
    )
    assert ok.status == 200
    # Company staff lists are for admins and the company's own staff.
    staff_list = await client.get(
        f"/api/v1/property-companies/{a['company']}/staff", headers=b["staff"].headers
    )
    assert staff_list.status == 403
    own = await client.get(
        f"/api/v1/property-companies/{a['company']}/staff", headers=a["staff"].headers
    )
    assert own.status == 200


async def test_community_search_and_pages(client: Client, world: dict[str, Any]) -> None:
    admin = world["admin"]
    for i in range(5):
        made = await client.post(
            "/api/v1/communities",
            json={
                "name": f"测试小区{i}",
                "address": f"路{i}",
                "latitude": "31.23",
                "longitude": "121.47",
            },
            headers=admin.headers,
        )
        assert made.status == 201
    seen: list[str] = []
    cursor = None
    while True:
        url = "/api/v1/communities?q=测试&limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = await (await client.get(url, headers=admin.headers)).json()
        seen += [c["name"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"测试小区{i}" for i in range(5)]
    # GeoHash prefix: Shanghai cells start with "wtw", Beijing's with "wx4".
    shanghai = await (
        await client.get("/api/v1/communities?near=wtw&limit=100", headers=admin.headers)
    ).json()
    assert {c["name"] for c in shanghai["items"]} == set(seen)
    duplicate = await client.post(
        "/api/v1/communities",
        json={"name": "测试小区0", "address": "路0", "latitude": "31.23", "longitude": "121.47"},
        headers=admin.headers,
    )
    assert duplicate.status == 409


async def test_geohash_follows_a_move(client: Client, world: dict[str, Any]) -> None:
    admin = world["admin"]
    cid = world["a"]["id"]
    before = await (await client.get(f"/api/v1/communities/{cid}", headers=admin.headers)).json()
    moved = await client.patch(
        f"/api/v1/communities/{cid}",
        json={"latitude": "31.23", "longitude": "121.47"},
        headers=admin.headers,
    )
    after = await moved.json()
    assert before["geohash"].startswith("wx4")
    assert after["geohash"].startswith("wtw")


async def test_admins_list_companies_and_add_staff_by_phone(
    client: Client, make_account: Any, world: dict[str, Any]
) -> None:
    admin: Account = world["admin"]
    listed = await client.get("/api/v1/property-companies", headers=admin.headers)
    assert listed.status == 200
    companies = await listed.json()
    assert [c["name"] for c in companies] == ["望京花园物业", "翠湖花园物业"]
    assert [c["community_count"] for c in companies] == [1, 1]
    staff: Account = world["a"]["staff"]
    assert (await client.get("/api/v1/property-companies", headers=staff.headers)).status == 403

    newcomer: Account = await make_account("新物业")
    company = world["a"]["company"]
    path = f"/api/v1/property-companies/{company}/staff"
    # Others may not use the phone book, whether the number exists or not.
    for phone in (newcomer.phone, "+8613900000000"):
        probe = await client.post(path, json={"phone": phone}, headers=staff.headers)
        assert probe.status == 403
    missing = await client.post(path, json={"phone": "+8613900000000"}, headers=admin.headers)
    assert (missing.status, (await missing.json())["error"]["code"]) == (404, "user_not_found")
    both = await client.post(
        path, json={"phone": newcomer.phone, "user_id": str(newcomer.id)}, headers=admin.headers
    )
    assert both.status == 422
    added = await client.post(path, json={"phone": newcomer.phone}, headers=admin.headers)
    assert added.status == 204
    staff_list = await (await client.get(path, headers=admin.headers)).json()
    assert str(newcomer.id) in {s["user_id"] for s in staff_list}


async def test_property_staff_work_their_own_communitys_reports(
    client: Client, core: Any, make_account: Any, world: dict[str, Any]
) -> None:
    from uuid import UUID

    reporter: Account = await make_account("举报人")
    a, b = UUID(world["a"]["id"]), UUID(world["b"]["id"])
    report_a = await core.moderation.report(reporter.id, a, 5, "广告")
    report_b = await core.moderation.report(reporter.id, b, 7, "刷屏")
    staff_a: Account = world["a"]["staff"]

    async def listed(community: UUID | None, who: Account) -> tuple[int, Any]:
        query = f"?community_id={community}" if community else ""
        got = await client.get(f"/api/v1/moderation/reports{query}", headers=who.headers)
        return got.status, await got.json()

    assert (await listed(None, staff_a))[0] == 403  # all communities: not for property staff
    assert (await listed(b, staff_a))[0] == 403
    status, page = await listed(a, staff_a)
    assert status == 200
    assert [r["id"] for r in page["items"]] == [str(report_a)]
    assert (await listed(a, reporter))[0] == 403

    close = "/api/v1/moderation/reports/{}/close"
    other = await client.post(
        close.format(report_b), json={"status": "dismissed"}, headers=staff_a.headers
    )
    assert other.status == 403
    done = await client.post(
        close.format(report_a), json={"status": "resolved"}, headers=staff_a.headers
    )
    assert done.status == 204
    assert (await listed(a, staff_a))[1]["items"] == []
    # Admins still see every community's queue.
    status, page = await listed(None, world["admin"])
    assert [r["id"] for r in page["items"]] == [str(report_b)]
