"""Listings: publishing each kind, money rules, community visibility, search, permissions, images."""

from __future__ import annotations

import dataclasses
import io
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient
from PIL import Image

from lago_core.clock import ManualClock
from lago_core.container import Core, build_core
from lago_core.security.roles import PlatformRole
from lago_core.settings import Settings
from lago_rest.app import create_app

from .conftest import Account
from .test_merchants import create_community, create_merchant

Client = TestClient[Any, Any]

SALE = {
    "title": "乐高 42115 兰博基尼",
    "description": "盒子说明书齐全,九成新",
    "category": "building_blocks",
    "brand": "LEGO",
    "condition": "like_new",
    "kind": "sale",
    "price_fen": 150_000,
}
RENT = {
    "title": "Nintendo Switch OLED 出租",
    "description": "带两个手柄,按天出租",
    "category": "game_console",
    "brand": "Nintendo",
    "condition": "good",
    "kind": "rent",
    "rent_per_day_fen": 2_000,
    "deposit_fen": 100_000,
}
CONSIGNMENT = {
    "title": "芭比梦想豪宅",
    "category": "doll",
    "condition": "fair",
    "kind": "consignment",
    "price_fen": 30_000,
}


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (8, 8), noise: bool = False) -> bytes:
    if noise:  # incompressible, for size limits
        image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    else:
        image = Image.new("RGB", size, (200, 30, 30))
    buf = io.BytesIO()
    image.save(buf, fmt)
    return buf.getvalue()


def same_pixels(a: bytes, b: bytes) -> bool:
    with Image.open(io.BytesIO(a)) as first, Image.open(io.BytesIO(b)) as second:
        return first.format == second.format and first.tobytes() == second.tobytes()


def upload_form(data: bytes, content_type: str, filename: str = "photo.png") -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("user", "test")  # wx.uploadFile's formData travels as extra parts
    form.add_field("file", data, filename=filename, content_type=content_type)
    return form


async def publish(
    client: Client, who: Account, body: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    resp = await client.post("/api/v1/listings", json={**body, **extra}, headers=who.headers)
    assert resp.status == 201, await resp.text()
    listing: dict[str, Any] = await resp.json()
    return listing


async def search(client: Client, who: Account, **params: Any) -> tuple[int, Any]:
    resp = await client.get(
        "/api/v1/listings", params={k: str(v) for k, v in params.items()}, headers=who.headers
    )
    return resp.status, await resp.json()


async def titles(client: Client, who: Account, **params: Any) -> list[str]:
    status, body = await search(client, who, **params)
    assert status == 200, body
    return [item["title"] for item in body["items"]]


def stored_files(core: Core) -> list[str]:
    """Listing images on disk (merchant documents, also stored there, are not counted)."""
    return sorted(
        p.name for p in Path(core.settings.storage_dir).iterdir() if p.name.startswith("li_")
    )


async def count_listings(core: Core) -> int:
    count: int = await core.pool.fetchval("SELECT count(*) FROM listings")
    return count


@pytest.fixture
async def world(client: Client, make_account: Any, approve_merchant: Any) -> dict[str, Any]:
    """Communities A and B with a verified resident each, an admin, and merchant M serving B."""
    admin: Account = await make_account("管理员", PlatformRole.ADMIN)
    out: dict[str, Any] = {"admin": admin}
    for key, name in (("a", "翠湖花园"), ("b", "望京花园")):
        cid = await create_community(client, admin, name)
        resident: Account = await make_account(f"{name}住户")
        asked = await client.post(
            f"/api/v1/communities/{cid}/join-requests", json={}, headers=resident.headers
        )
        assert asked.status == 201
        verified = await client.post(
            f"/api/v1/communities/{cid}/members/{resident.id}/verify", headers=admin.headers
        )
        assert verified.status == 200, await verified.text()
        out[key] = cid
        out[f"resident_{key}"] = resident
    owner: Account = await make_account("店主")
    staff: Account = await make_account("店员")
    mid = await create_merchant(client, owner)
    await approve_merchant(owner, mid)
    await client.post(
        f"/api/v1/merchants/{mid}/staff", json={"user_id": str(staff.id)}, headers=owner.headers
    )
    bound = await client.put(
        f"/api/v1/merchants/{mid}/communities/{out['b']}", headers=admin.headers
    )
    assert bound.status == 204
    out.update(merchant=mid, owner=owner, staff=staff)
    return out


# --- publishing and money -------------------------------------------------------------------------


async def test_publish_each_kind(client: Client, world: dict[str, Any]) -> None:
    resident: Account = world["resident_a"]
    sale = await publish(client, resident, SALE)
    assert sale["price_fen"] == 150_000
    assert sale["rent_per_day_fen"] is None
    assert sale["status"] == "active"
    assert sale["seller_id"] == str(resident.id)
    assert sale["merchant_id"] is None
    assert sale["images"] == []
    rent = await publish(client, resident, RENT)
    assert (rent["rent_per_day_fen"], rent["deposit_fen"], rent["price_fen"]) == (
        2_000,
        100_000,
        None,
    )
    consignment = await publish(client, world["staff"], CONSIGNMENT, merchant_id=world["merchant"])
    assert consignment["merchant_id"] == world["merchant"]
    assert consignment["seller_id"] == str(world["staff"].id)
    # A rental may ask no deposit at all.
    free = await publish(client, resident, {**RENT, "title": "无押金", "deposit_fen": 0})
    assert free["deposit_fen"] == 0

    got = await client.get(f"/api/v1/listings/{sale['id']}", headers=world["admin"].headers)
    assert (await got.json())["title"] == SALE["title"]
    # Another community's resident does not see it (the market rule of search, issue 16 #14).
    elsewhere = await client.get(
        f"/api/v1/listings/{sale['id']}", headers=world["resident_b"].headers
    )
    assert elsewhere.status == 404
    mine = await client.get("/api/v1/me/listings", headers=resident.headers)
    assert {i["id"] for i in (await mine.json())["items"]} == {free["id"], rent["id"], sale["id"]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**SALE, "price_fen": 12.5}, "price_fen"),
        ({**SALE, "price_fen": 1250.0}, "price_fen"),  # a float, even a whole one
        ({**SALE, "price_fen": "1250"}, "price_fen"),
        ({**SALE, "price_fen": True}, "price_fen"),
        ({**SALE, "price_fen": -100}, "price_fen"),
        ({**SALE, "price_fen": 0}, "price_fen"),
        ({**RENT, "deposit_fen": -1}, "deposit_fen"),
        ({**RENT, "rent_per_day_fen": 0}, "rent_per_day_fen"),
        ({k: v for k, v in RENT.items() if k != "deposit_fen"}, "deposit_fen"),
        ({k: v for k, v in SALE.items() if k != "price_fen"}, "price_fen"),
        ({**SALE, "rent_per_day_fen": 100}, "rent_per_day_fen"),
        ({**SALE, "deposit_fen": 100}, "deposit_fen"),
        ({**RENT, "price_fen": 100}, "price_fen"),
    ],
)
async def test_money_is_checked(
    client: Client, core: Core, make_account: Any, body: dict[str, Any], field: str
) -> None:
    seller: Account = await make_account()
    resp = await client.post("/api/v1/listings", json=body, headers=seller.headers)
    assert resp.status == 422, await resp.text()
    error = (await resp.json())["error"]
    assert error["code"] in ("invalid_input", "invalid_price")
    assert field in {d["field"] for d in error["details"]}
    assert await count_listings(core) == 0


@pytest.mark.parametrize(
    "body",
    [
        {**SALE, "seller_id": "00000000-0000-0000-0000-000000000001"},
        {**SALE, "status": "sold"},
        {**SALE, "category": "spaceship"},
        {**SALE, "condition": "九成新"},
        {**SALE, "kind": "swap"},
        {**SALE, "title": 123},
        {**SALE, "title": ""},
        {**SALE, "merchant_id": "not-a-uuid"},
        {**SALE, "images": ["x.png"]},
    ],
)
async def test_unknown_fields_and_wrong_types(
    client: Client, core: Core, make_account: Any, body: dict[str, Any]
) -> None:
    seller: Account = await make_account()
    resp = await client.post("/api/v1/listings", json=body, headers=seller.headers)
    assert resp.status == 422
    assert (await resp.json())["error"]["code"] == "invalid_input"
    assert await count_listings(core) == 0


async def test_patch_validation_writes_nothing(
    client: Client, core: Core, world: dict[str, Any]
) -> None:
    seller: Account = world["resident_a"]
    listing = await publish(client, seller, SALE)
    url = f"/api/v1/listings/{listing['id']}"
    for body in (
        {"price_fen": 99.5},
        {"status": "sold"},
        {"title": None},
        {"kind": "rent"},  # a rental needs its own prices, and no sale price
        {"kind": "rent", "price_fen": None, "rent_per_day_fen": 500},  # ... and a deposit
    ):
        resp = await client.patch(url, json=body, headers=seller.headers)
        assert resp.status == 422, body
        assert "error" in await resp.json()
    row = await core.pool.fetchrow("SELECT kind, price_fen, title FROM listings")
    assert dict(row) == {"kind": "sale", "price_fen": 150_000, "title": SALE["title"]}

    changed = await client.patch(
        url,
        json={
            "kind": "rent",
            "price_fen": None,
            "rent_per_day_fen": 500,
            "deposit_fen": 0,
            "brand": None,
        },
        headers=seller.headers,
    )
    assert changed.status == 200, await changed.text()
    body = await changed.json()
    assert (body["kind"], body["price_fen"], body["rent_per_day_fen"], body["brand"]) == (
        "rent",
        None,
        500,
        None,
    )


# --- visibility and search ------------------------------------------------------------------------


async def test_visibility_follows_membership_and_service(
    client: Client, make_account: Any, world: dict[str, Any]
) -> None:
    a, b = world["a"], world["b"]
    await publish(client, world["resident_a"], SALE)
    await publish(client, world["owner"], RENT, merchant_id=world["merchant"])
    assert await titles(client, world["resident_a"], community_id=a) == [SALE["title"]]
    assert await titles(client, world["resident_b"], community_id=b) == [RENT["title"]]
    # Without community_id: every community the caller belongs to; admins see everything.
    assert await titles(client, world["resident_b"]) == [RENT["title"]]
    assert len(await titles(client, world["admin"])) == 2
    assert len(await titles(client, world["admin"], community_id=a)) == 1

    # A pending resident's listing is not visible, and a pending resident may not search.
    pending: Account = await make_account("待审核")
    await client.post(f"/api/v1/communities/{a}/join-requests", json={}, headers=pending.headers)
    await publish(client, pending, CONSIGNMENT)
    assert await titles(client, world["resident_a"], community_id=a) == [SALE["title"]]
    status, body = await search(client, pending, community_id=a)
    assert status == 403
    assert body["error"]["code"] == "not_a_member"
    assert await titles(client, pending) == []

    # Visibility is computed when searching: the merchant starts serving A, and A sees its listing.
    await client.put(
        f"/api/v1/merchants/{world['merchant']}/communities/{a}", headers=world["admin"].headers
    )
    assert set(await titles(client, world["resident_a"], community_id=a)) == {
        SALE["title"],
        RENT["title"],
    }


async def test_search_filters_and_text(client: Client, world: dict[str, Any]) -> None:
    seller: Account = world["resident_a"]
    a = world["a"]
    await publish(client, seller, SALE)  # 乐高, 1500.00
    await publish(client, seller, RENT)  # Switch, 20.00 a day
    await publish(
        client,
        seller,
        {
            **SALE,
            "title": "塞尔达传说 卡带",
            "category": "video_game",
            "brand": None,
            "description": "switch 游戏",
            "price_fen": 20_000,
        },
    )
    await publish(
        client,
        seller,
        {
            **SALE,
            "title": "100%_纯棉玩偶",
            "category": "plush",
            "brand": None,
            "description": "",
            "price_fen": 5_000,
        },
    )

    assert await titles(client, seller, community_id=a, q="乐高") == [SALE["title"]]
    assert await titles(client, seller, community_id=a, q="lego") == [SALE["title"]]  # brand
    assert set(await titles(client, seller, community_id=a, q="SWITCH")) == {
        RENT["title"],
        "塞尔达传说 卡带",
    }
    # The user's % and _ are literal characters, not wildcards.
    assert await titles(client, seller, community_id=a, q="0%_") == ["100%_纯棉玩偶"]
    assert await titles(client, seller, community_id=a, q="%") == ["100%_纯棉玩偶"]
    assert await titles(client, seller, community_id=a, category="game_console") == [RENT["title"]]
    assert await titles(client, seller, community_id=a, kind="rent") == [RENT["title"]]
    # The price filter reads the daily rent of a rental.
    assert set(await titles(client, seller, community_id=a, max_price_fen=5_000)) == {
        RENT["title"],
        "100%_纯棉玩偶",
    }
    assert await titles(
        client, seller, community_id=a, min_price_fen=10_000, max_price_fen=100_000
    ) == ["塞尔达传说 卡带"]
    assert await titles(client, seller, community_id=a, q="switch", kind="sale") == [
        "塞尔达传说 卡带"
    ]

    for params in (
        {"min_price_fen": "12.5"},
        {"category": "spaceship"},
        {"limit": "0"},
        {"min_price_fen": "500", "max_price_fen": "100"},
        {"cursor": "!!"},
        {"colour": "red"},
    ):
        status, body = await search(client, seller, **{"community_id": a, **params})
        assert status == 422, params
        assert "error" in body
    status, body = await search(client, seller, community_id="x")
    assert status == 422


async def test_pagination_has_no_duplicates(
    client: Client, world: dict[str, Any], clock: ManualClock
) -> None:
    seller: Account = world["resident_a"]
    created = []
    for i in range(7):
        created.append((await publish(client, seller, {**SALE, "title": f"积木 {i}"}))["id"])
        if i % 3 == 0:
            clock.advance(1)  # some share a timestamp, some do not: the id breaks ties
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"community_id": world["a"], "limit": 3}
        if cursor:
            params["cursor"] = cursor
        status, body = await search(client, seller, **params)
        assert status == 200
        seen.extend(item["id"] for item in body["items"])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert len(seen) == len(set(seen)) == 7
    assert set(seen) == set(created)
    mine = await client.get("/api/v1/me/listings", params={"limit": "4"}, headers=seller.headers)
    first = await mine.json()
    rest = await client.get(
        "/api/v1/me/listings", params={"cursor": first["next_cursor"]}, headers=seller.headers
    )
    assert [i["id"] for i in first["items"]] + [
        i["id"] for i in (await rest.json())["items"]
    ] == seen


# --- permissions ----------------------------------------------------------------------------------


async def test_edit_permission_matrix(
    client: Client, make_account: Any, world: dict[str, Any], approve_merchant: Any
) -> None:
    own = await publish(client, world["resident_a"], SALE)
    by_owner = await publish(client, world["owner"], RENT, merchant_id=world["merchant"])
    other_owner: Account = await make_account("别家店主")
    other_mid = await create_merchant(client, other_owner, "别家玩具店")
    await approve_merchant(other_owner, other_mid)
    other = await publish(client, other_owner, CONSIGNMENT, merchant_id=other_mid)

    async def patch(listing: dict[str, Any], who: Account) -> int:
        resp = await client.patch(
            f"/api/v1/listings/{listing['id']}",
            json={"title": f"改 by {who.id}"},
            headers=who.headers,
        )
        return resp.status

    # A resident edits their own listing, not another's.
    assert await patch(own, world["resident_a"]) == 200
    assert await patch(own, world["resident_b"]) == 403
    # A merchant's staff edits the merchant's listings (whoever typed them in) ...
    assert await patch(by_owner, world["staff"]) == 200
    assert await patch(by_owner, world["owner"]) == 200
    # ... but not another merchant's, nor a resident's; the other owner cannot touch ours.
    assert await patch(other, world["staff"]) == 403
    assert await patch(other, world["owner"]) == 403
    assert await patch(by_owner, other_owner) == 403
    assert await patch(own, world["staff"]) == 403
    # Publishing as a merchant needs a role in it.
    resp = await client.post(
        "/api/v1/listings", json={**SALE, "merchant_id": other_mid}, headers=world["staff"].headers
    )
    assert resp.status == 403
    # Admins moderate: they may withdraw, not edit.
    assert await patch(own, world["admin"]) == 403
    withdrawn = await client.post(
        f"/api/v1/listings/{own['id']}/withdraw", headers=world["admin"].headers
    )
    assert (await withdrawn.json())["status"] == "withdrawn"
    # Others may not withdraw.
    denied = await client.post(
        f"/api/v1/listings/{other['id']}/withdraw", headers=world["staff"].headers
    )
    assert denied.status == 403


async def test_withdrawn_listing_hidden(client: Client, world: dict[str, Any]) -> None:
    seller: Account = world["resident_a"]
    listing = await publish(client, seller, SALE)
    url = f"/api/v1/listings/{listing['id']}"
    assert (await client.post(f"{url}/withdraw", headers=seller.headers)).status == 200
    assert (
        await client.post(f"{url}/withdraw", headers=seller.headers)
    ).status == 200  # idempotent
    assert (await client.get(url, headers=seller.headers)).status == 200
    assert (await client.get(url, headers=world["admin"].headers)).status == 200
    hidden = await client.get(url, headers=world["resident_b"].headers)
    assert hidden.status == 404
    assert (await hidden.json())["error"]["code"] == "not_found"
    assert await titles(client, seller, community_id=world["a"]) == []
    edit = await client.patch(url, json={"title": "复活"}, headers=seller.headers)
    assert (await edit.json())["error"]["code"] == "listing_not_active"
    assert (await client.get(url)).status == 401


# --- images ---------------------------------------------------------------------------------------


async def test_upload_and_delete_images(client: Client, core: Core, world: dict[str, Any]) -> None:
    seller: Account = world["resident_a"]
    listing = await publish(client, seller, SALE)
    url = f"/api/v1/listings/{listing['id']}/images"
    png = image_bytes("PNG")
    resp = await client.post(url, data=upload_form(png, "image/png"), headers=seller.headers)
    assert resp.status == 201, await resp.text()
    images = (await resp.json())["images"]
    assert len(images) == 1
    assert images[0]["key"].endswith(".png")
    served = await client.get(images[0]["url"])
    assert served.status == 200
    assert served.content_type == "image/png"
    # Stored re-encoded (lago_core.uploads.clean_image): the same pixels, not the same bytes.
    assert same_pixels(await served.read(), png)

    # A JPEG declared only as octet-stream and misnamed .png: the content decides the extension.
    jpeg = image_bytes("JPEG")
    resp = await client.post(
        url, data=upload_form(jpeg, "application/octet-stream", "x.png"), headers=seller.headers
    )
    assert resp.status == 201, await resp.text()
    images = (await resp.json())["images"]
    assert images[1]["key"].endswith(".jpg")
    webp = await client.post(
        url, data=upload_form(image_bytes("WEBP"), "image/webp"), headers=seller.headers
    )
    assert (await webp.json())["images"][2]["key"].endswith(".webp")

    # Others may not add images.
    stranger = await client.post(
        url, data=upload_form(png, "image/png"), headers=world["resident_b"].headers
    )
    assert stranger.status == 403

    # Delete by position, then by key; the stored file goes too.
    assert len(stored_files(core)) == 3
    first_key = images[0]["key"]
    by_index = await client.delete(f"{url}/0", headers=seller.headers)
    assert by_index.status == 200
    assert first_key not in [i["key"] for i in (await by_index.json())["images"]]
    assert first_key not in stored_files(core)
    jpg_key = images[1]["key"]
    by_key = await client.delete(f"{url}/{jpg_key}", headers=seller.headers)
    (remaining,) = (await by_key.json())["images"]
    assert remaining["key"].endswith(".webp")
    assert (await client.delete(f"{url}/{jpg_key}", headers=seller.headers)).status == 404
    assert (await client.delete(f"{url}/7", headers=seller.headers)).status == 404


async def test_at_most_nine_images(client: Client, world: dict[str, Any]) -> None:
    seller: Account = world["resident_a"]
    listing = await publish(client, seller, SALE)
    url = f"/api/v1/listings/{listing['id']}/images"
    for _ in range(9):
        resp = await client.post(
            url, data=upload_form(image_bytes(), "image/png"), headers=seller.headers
        )
        assert resp.status == 201
    tenth = await client.post(
        url, data=upload_form(image_bytes(), "image/png"), headers=seller.headers
    )
    assert tenth.status == 409
    assert (await tenth.json())["error"]["code"] == "too_many_images"


@pytest.mark.parametrize(
    ("data", "content_type", "status", "code"),
    [
        (b"hello, I am text\n", "image/png", 415, "not_an_image"),
        (image_bytes("PNG")[:-20], "image/png", 422, "invalid_image"),
        (image_bytes("GIF"), "image/gif", 415, "unsupported_media_type"),
        (image_bytes("GIF"), "image/png", 415, "unsupported_image_type"),
        (image_bytes("PNG"), "text/plain", 415, "unsupported_media_type"),
    ],
    ids=["text-as-png", "truncated-png", "gif", "gif-as-png", "png-as-text"],
)
async def test_uploads_that_are_not_allowed_images(
    client: Client,
    core: Core,
    world: dict[str, Any],
    data: bytes,
    content_type: str,
    status: int,
    code: str,
) -> None:
    seller: Account = world["resident_a"]
    listing = await publish(client, seller, SALE)
    resp = await client.post(
        f"/api/v1/listings/{listing['id']}/images",
        data=upload_form(data, content_type, "photo.jpg"),
        headers=seller.headers,
    )
    assert resp.status == status, await resp.text()
    assert (await resp.json())["error"]["code"] == code
    assert await core.pool.fetchval("SELECT images FROM listings") == []
    assert stored_files(core) == []


async def test_upload_needs_a_file_part(client: Client, world: dict[str, Any]) -> None:
    seller: Account = world["resident_a"]
    listing = await publish(client, seller, SALE)
    url = f"/api/v1/listings/{listing['id']}/images"
    form = aiohttp.FormData()
    form.add_field("image", image_bytes(), filename="a.png", content_type="image/png")
    resp = await client.post(url, data=form, headers=seller.headers)
    assert (await resp.json())["error"]["code"] == "missing_file"
    raw = await client.post(
        url, data=image_bytes(), headers={**seller.headers, "Content-Type": "image/png"}
    )
    assert raw.status == 415


@pytest.fixture
async def small_upload_client(
    settings: Settings,
    clock: ManualClock,
    aiohttp_client: Callable[..., Awaitable[Client]],
) -> AsyncIterator[tuple[Client, Core]]:
    """An app whose uploads are limited to 1 KiB (below what Settings.from_env accepts)."""
    small = dataclasses.replace(settings, max_upload_bytes=1024)
    core = await build_core(small, clock=clock)
    yield await aiohttp_client(create_app(small, core=core)), core
    await core.close()


async def test_oversized_upload_refused(
    small_upload_client: tuple[Client, Core], make_account: Any
) -> None:
    client, core = small_upload_client
    seller: Account = await make_account()
    listing = await publish(client, seller, SALE)
    url = f"/api/v1/listings/{listing['id']}/images"
    big = image_bytes("PNG", (64, 64), noise=True)
    assert len(big) > 1024
    resp = await client.post(url, data=upload_form(big, "image/png"), headers=seller.headers)
    assert resp.status == 413
    error = (await resp.json())["error"]
    assert error["code"] == "payload_too_large"
    assert error["details"] == {"max_bytes": 1024}
    # Far over the limit: refused from Content-Length before the body is read.
    huge = await client.post(
        url, data=upload_form(b"\0" * (200 << 10), "image/png"), headers=seller.headers
    )
    assert huge.status == 413
    assert await core.pool.fetchval("SELECT images FROM listings") == []
    small_ok = await client.post(
        url, data=upload_form(image_bytes(), "image/png"), headers=seller.headers
    )
    assert small_ok.status == 201


async def test_openapi_documents_the_upload(client: Client) -> None:
    doc = await (await client.get("/api/v1/openapi.json")).json()
    upload = doc["paths"]["/api/v1/listings/{listing_id}/images"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    search_params = {p["name"] for p in doc["paths"]["/api/v1/listings"]["get"]["parameters"]}
    assert {
        "community_id",
        "category",
        "kind",
        "min_price_fen",
        "max_price_fen",
        "q",
        "cursor",
    } <= search_params


@pytest.mark.parametrize(
    ("kind", "price", "rent", "deposit"),
    [
        ("sale", None, None, None),
        ("sale", 100, 10, None),
        ("consignment", -5, None, None),
        ("rent", None, 10, None),
        ("rent", 100, 10, 0),
        ("rent", None, 0, 0),
    ],
)
async def test_database_refuses_money_that_does_not_fit_the_kind(
    core: Core,
    make_account: Any,
    kind: str,
    price: int | None,
    rent: int | None,
    deposit: int | None,
) -> None:
    """The table's CHECK holds even for code that bypasses the service."""
    seller: Account = await make_account()
    with pytest.raises(asyncpg.CheckViolationError):
        await core.pool.execute(
            """INSERT INTO listings (seller_id, title, category, condition, kind,
                                     price_fen, rent_per_day_fen, deposit_fen)
               VALUES ($1, 't', 'toy', 'good', $2, $3, $4, $5)""",
            seller.id,
            kind,
            price,
            rent,
            deposit,
        )


async def test_unapproved_merchant_cannot_publish(
    client: Client, make_account: Any, core: Core
) -> None:
    owner: Account = await make_account("新店主")
    mid = await create_merchant(client, owner, "还没审核的店")
    refused = await client.post(
        "/api/v1/listings", json={**CONSIGNMENT, "merchant_id": mid}, headers=owner.headers
    )
    assert refused.status == 403
    assert (await refused.json())["error"]["code"] == "merchant_not_approved"
    assert await count_listings(core) == 0
