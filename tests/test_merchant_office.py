"""The merchant back office: registration and review, documents, settings, catalogue and stock."""

from __future__ import annotations

import asyncio
import io
import uuid
from typing import Any
from uuid import UUID

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient
from PIL import Image

from lago_core.container import Core
from lago_core.errors import Conflict, InvalidInput, PayloadTooLarge, UnsupportedMediaType
from lago_core.merchants import check_credit_code, credit_code_check_char
from lago_core.merchants.rules import CREDIT_CODE_CHARSET, check_opening_hours
from lago_core.security.roles import PlatformRole, Principal
from lago_core.uploads import identify_document

from .conftest import Account, company_registration, valid_credit_code
from .test_merchants import create_community, create_merchant

Client = TestClient[Any, Any]

# A sample code printed in guides to GB 32100-2015; its check character is 3.
PUBLISHED_CODE = "91350100M000100Y43"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 120, 30)).save(buf, "PNG")
    return buf.getvalue()


def form(data: bytes, content_type: str, filename: str = "licence.pdf") -> aiohttp.FormData:
    f = aiohttp.FormData()
    # A file object, not bytes: aiohttp refuses to serialise multi-megabyte bytes in a form.
    f.add_field("file", io.BytesIO(data), filename=filename, content_type=content_type)
    return f


def principal(account: Account, role: PlatformRole | None = None) -> Principal:
    return Principal(user_id=account.id, session_id=uuid.uuid4(), platform_role=role)


async def register_and_submit(client: Client, owner: Account, name: str = "小明玩具店") -> str:
    mid = await create_merchant(client, owner, name)
    resp = await client.patch(
        f"/api/v1/merchants/{mid}/registration", json=company_registration(), headers=owner.headers
    )
    assert resp.status == 200, await resp.text()
    resp = await client.post(
        f"/api/v1/merchants/{mid}/documents?kind=business_licence",
        data=form(PDF, "application/pdf"),
        headers=owner.headers,
    )
    assert resp.status == 201, await resp.text()
    resp = await client.post(f"/api/v1/merchants/{mid}/submit", headers=owner.headers)
    assert resp.status == 200, await resp.text()
    return mid


async def approved_merchant(client: Client, owner: Account, admin: Account) -> str:
    mid = await register_and_submit(client, owner)
    resp = await client.post(f"/api/v1/merchants/{mid}/approve", headers=admin.headers)
    assert resp.status == 200, await resp.text()
    return mid


# --- the unified social credit code --------------------------------------------------------------


def test_credit_code_check_character() -> None:
    assert credit_code_check_char(PUBLISHED_CODE[:17]) == "3"
    assert check_credit_code(PUBLISHED_CODE) == PUBLISHED_CODE
    # Canonical form: upper case, spaces removed.
    assert check_credit_code(" 91350100m000100y43 ") == PUBLISHED_CODE
    assert check_credit_code("9135 0100 M000 100Y 43") == PUBLISHED_CODE
    for _ in range(200):
        code = valid_credit_code()
        assert check_credit_code(code) == code
    # A weighted sum ≡ 0 (mod 31) gives check value 31, which the standard writes as "0".
    body = next(
        b
        for b in ("91110108" + f"{n:09d}" for n in range(10_000))
        if credit_code_check_char(b) == "0"
    )
    assert check_credit_code(body + "0") == body + "0"


@pytest.mark.parametrize(
    "code",
    [
        "91350100M000100Y44",  # wrong check character
        "91350100M000100Y4",  # 17 characters
        "91350100M000100Y433",  # 19 characters
        "91350100M000100YI3",  # I is not in the character set
        "9135010OM000100Y43",  # O in the (digits-only) division code
        "91350100M000100Y4S",  # S is not in the character set
        "",
    ],
)
def test_invalid_credit_codes_are_refused(code: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        check_credit_code(code)
    assert exc.value.code == "invalid_credit_code"


def test_every_single_character_typo_is_caught() -> None:
    # Weighted mod-31 with weights coprime to 31 detects any single substitution.
    for position in range(18):
        for c in CREDIT_CODE_CHARSET:
            if c == PUBLISHED_CODE[position] or (2 <= position < 8 and not c.isdigit()):
                continue
            typo = PUBLISHED_CODE[:position] + c + PUBLISHED_CODE[position + 1 :]
            with pytest.raises(InvalidInput):
                check_credit_code(typo)


def test_document_identification() -> None:
    assert identify_document(PDF, len(PDF)) == ("application/pdf", ".pdf")
    assert identify_document(png(), 1 << 20) == ("image/png", ".png")
    with pytest.raises(PayloadTooLarge):
        identify_document(PDF, len(PDF) - 1)
    with pytest.raises(InvalidInput):
        identify_document(b"%PDF-1.7\n" + b"x" * 2000, 1 << 20)  # no %%EOF: truncated
    with pytest.raises(UnsupportedMediaType):
        identify_document(b"GIF89a" + b"\0" * 100, 1 << 20)


def test_opening_hours() -> None:
    assert check_opening_hours({"mon": [("13:00", "24:00"), ("00:00", "12:00")], "sun": []}) == {
        "mon": [["00:00", "12:00"], ["13:00", "24:00"]]
    }
    for bad in (
        {"mon": [("09:00", "09:00")]},  # empty
        {"mon": [("22:00", "02:00")]},  # past midnight: two ranges on two days instead
        {"mon": [("09:00", "12:00"), ("11:00", "13:00")]},  # overlapping
        {"mon": [("9:00", "12:00")]},
        {"mon": [("24:00", "24:00")]},
        {"mon": [("09:60", "12:00")]},
        {"funday": [("09:00", "12:00")]},
        {"mon": [("00:00", "01:00")] * 5},
    ):
        with pytest.raises(InvalidInput):
            check_opening_hours(bad)


# --- registration and the review state machine ---------------------------------------------------


async def test_registration_review_and_resubmission(
    client: Client, core: Core, make_account: Any
) -> None:
    owner: Account = await make_account("店主")
    admin: Account = await make_account("审核员", PlatformRole.ADMIN)
    mid = await create_merchant(client, owner)
    base = f"/api/v1/merchants/{mid}"
    got = await client.get(f"{base}/registration", headers=owner.headers)
    assert (await got.json())["status"] == "draft"

    # Nothing to submit yet, then no licence: refused, still a draft.
    incomplete = await client.post(f"{base}/submit", headers=owner.headers)
    assert incomplete.status == 422
    assert (await incomplete.json())["error"]["code"] == "registration_incomplete"
    bad_code = await client.patch(
        f"{base}/registration",
        json={"credit_code": "91350100M000100Y44"},
        headers=owner.headers,
    )
    assert (await bad_code.json())["error"]["code"] == "invalid_credit_code"
    body = company_registration(PUBLISHED_CODE.lower())
    patched = await client.patch(f"{base}/registration", json=body, headers=owner.headers)
    data = await patched.json()
    assert data["credit_code"] == PUBLISHED_CODE
    assert data["contact_phone"] == "+8613800138000"
    no_licence = await client.post(f"{base}/submit", headers=owner.headers)
    assert (await no_licence.json())["error"]["code"] == "business_licence_missing"
    await client.post(
        f"{base}/documents?kind=business_licence",
        data=form(PDF, "application/pdf"),
        headers=owner.headers,
    )
    # The same company cannot register twice.
    other = await create_merchant(client, owner, "第二家")
    taken = await client.patch(
        f"/api/v1/merchants/{other}/registration",
        json={"credit_code": PUBLISHED_CODE},
        headers=owner.headers,
    )
    assert taken.status == 409
    assert (await taken.json())["error"]["code"] == "credit_code_taken"

    submitted = await client.post(f"{base}/submit", headers=owner.headers)
    assert (await submitted.json())["status"] == "submitted"
    assert not await core.merchants.is_approved(UUID(mid))
    queue = await client.get("/api/v1/admin/merchants", headers=admin.headers)
    assert [m["id"] for m in await queue.json()] == [mid]
    assert (await client.get("/api/v1/admin/merchants", headers=owner.headers)).status == 403

    # Under review the registration is frozen, and only admins decide.
    frozen = await client.patch(
        f"{base}/registration", json={"address": "别处"}, headers=owner.headers
    )
    assert frozen.status == 409
    assert (await frozen.json())["error"]["code"] == "invalid_transition"
    assert (await client.post(f"{base}/submit", headers=owner.headers)).status == 409
    assert (await client.post(f"{base}/approve", headers=owner.headers)).status == 403
    no_reason = await client.post(f"{base}/reject", json={"reason": "  "}, headers=admin.headers)
    assert no_reason.status == 422
    assert (await client.post(f"{base}/reject", json={}, headers=admin.headers)).status == 422

    rejected = await client.post(
        f"{base}/reject", json={"reason": "营业执照模糊"}, headers=admin.headers
    )
    data = await rejected.json()
    assert (data["status"], data["rejection_reason"]) == ("rejected", "营业执照模糊")
    # Rejected: no decision until resubmitted.
    for action in ("approve", "reject"):
        again = await client.post(
            f"{base}/{action}",
            json={"reason": "x"} if action == "reject" else None,
            headers=admin.headers,
        )
        assert again.status == 409, action
        assert (await again.json())["error"]["details"]["status"] == "rejected"

    fixed = await client.patch(
        f"{base}/registration", json={"address": "成都市锦江区春熙路 1 号"}, headers=owner.headers
    )
    assert fixed.status == 200
    resubmitted = await client.post(f"{base}/submit", headers=owner.headers)
    data = await resubmitted.json()
    assert (data["status"], data["rejection_reason"]) == ("resubmitted", None)
    approved = await client.post(f"{base}/approve", headers=admin.headers)
    assert (await approved.json())["status"] == "approved"
    assert await core.merchants.is_approved(UUID(mid))

    # Approved is final here: no resubmission, no edits, no second decision.
    assert (await client.post(f"{base}/submit", headers=owner.headers)).status == 409
    assert (await client.post(f"{base}/approve", headers=admin.headers)).status == 409
    rej = await client.post(f"{base}/reject", json={"reason": "x"}, headers=admin.headers)
    assert rej.status == 409
    edit = await client.patch(f"{base}/registration", json={"address": "x"}, headers=owner.headers)
    assert edit.status == 409

    log = await (await client.get(f"{base}/reviews", headers=owner.headers)).json()
    assert [(e["action"], e["from_status"], e["to_status"], e["reason"]) for e in log] == [
        ("submit", "draft", "submitted", None),
        ("reject", "submitted", "rejected", "营业执照模糊"),
        ("resubmit", "rejected", "resubmitted", None),
        ("approve", "resubmitted", "approved", None),
    ]
    assert [e["actor_name"] for e in log] == ["店主", "审核员", "店主", "审核员"]
    assert all(e["created_at"] for e in log)


async def test_concurrent_decisions_take_effect_once(
    client: Client, core: Core, make_account: Any
) -> None:
    owner: Account = await make_account("店主")
    admin: Account = await make_account("审核员", PlatformRole.ADMIN)
    mid = UUID(await register_and_submit(client, owner))
    as_admin = principal(admin, PlatformRole.ADMIN)
    results = await asyncio.gather(
        *(core.merchants.approve(as_admin, mid) for _ in range(5)),
        *(core.merchants.reject(as_admin, mid, "重复") for _ in range(5)),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(isinstance(r, Conflict) for r in results if isinstance(r, BaseException))
    decisions = await core.pool.fetchval(
        "SELECT count(*) FROM merchant_reviews WHERE merchant_id = $1 AND action <> 'submit'", mid
    )
    assert decisions == 1


# --- qualification documents ---------------------------------------------------------------------


async def test_document_upload_checks(
    client: Client, core: Core, make_account: Any, settings: Any
) -> None:
    owner: Account = await make_account("店主")
    staff: Account = await make_account("店员")
    admin: Account = await make_account("审核员", PlatformRole.ADMIN)
    stranger: Account = await make_account("路人")
    mid = await create_merchant(client, owner)
    await core.merchants.add_staff(principal(owner), UUID(mid), staff.id)
    url = f"/api/v1/merchants/{mid}/documents"

    pdf = await client.post(
        f"{url}?kind=business_licence", data=form(PDF, "application/pdf"), headers=owner.headers
    )
    assert pdf.status == 201, await pdf.text()
    doc = await pdf.json()
    assert doc["content_type"] == "application/pdf"
    assert doc["url"].endswith(".pdf")
    image = await client.post(
        f"{url}?kind=food_permit",
        data=form(png(), "application/octet-stream", "permit.bin"),
        headers=owner.headers,
    )
    assert image.status == 201
    assert (await image.json())["content_type"] == "image/png"

    refused = {
        "no kind": (url, form(PDF, "application/pdf"), 422, "invalid_input"),
        "unknown kind": (f"{url}?kind=diploma", form(PDF, "application/pdf"), 422, None),
        "declared text": (
            f"{url}?kind=other_permit",
            form(PDF, "text/plain"),
            415,
            "unsupported_media_type",
        ),
        "not a document": (
            f"{url}?kind=other_permit",
            form(b"<html>hello</html>", "application/pdf"),
            415,
            "unsupported_document_type",
        ),
        "truncated pdf": (
            f"{url}?kind=other_permit",
            form(PDF[:-7], "application/pdf"),
            422,
            "invalid_pdf",
        ),
        "too large": (
            f"{url}?kind=other_permit",
            form(b"%PDF-" + b"0" * settings.max_upload_bytes + b"%%EOF", "application/pdf"),
            413,
            "payload_too_large",
        ),
    }
    for case, (target, data, status, code) in refused.items():
        resp = await client.post(target, data=data, headers=owner.headers)
        assert resp.status == status, (case, await resp.text())
        if code is not None:
            assert (await resp.json())["error"]["code"] == code, case
    as_json = await client.post(f"{url}?kind=other_permit", json={}, headers=owner.headers)
    assert as_json.status == 415
    for who in (staff, stranger, admin):
        resp = await client.post(
            f"{url}?kind=other_permit", data=form(PDF, "application/pdf"), headers=who.headers
        )
        assert resp.status == 403, who

    # Refused uploads leave nothing behind, in the database or in storage.
    stored = sorted(p.name for p in settings.storage_dir.iterdir() if not p.name.startswith("."))
    rows = await core.pool.fetch("SELECT storage_key FROM merchant_documents")
    assert stored == sorted(r["storage_key"] for r in rows)
    assert len(rows) == 2

    for who, status in ((owner, 200), (staff, 200), (admin, 200), (stranger, 403)):
        resp = await client.get(url, headers=who.headers)
        assert resp.status == status
    listed = await (await client.get(url, headers=admin.headers)).json()
    assert sorted(d["kind"] for d in listed) == ["business_licence", "food_permit"]

    # Documents are frozen under review, like the registration.
    await client.patch(
        f"/api/v1/merchants/{mid}/registration", json=company_registration(), headers=owner.headers
    )
    assert (
        await client.post(f"/api/v1/merchants/{mid}/submit", headers=owner.headers)
    ).status == 200
    late = await client.post(
        f"{url}?kind=other_permit", data=form(PDF, "application/pdf"), headers=owner.headers
    )
    assert late.status == 409
    gone = await client.delete(f"{url}/{doc['id']}", headers=owner.headers)
    assert gone.status == 409
    await client.post(
        f"/api/v1/merchants/{mid}/reject", json={"reason": "换清晰的"}, headers=admin.headers
    )
    assert (await client.delete(f"{url}/{doc['id']}", headers=staff.headers)).status == 403
    assert (await client.delete(f"{url}/{doc['id']}", headers=owner.headers)).status == 204
    assert (await client.delete(f"{url}/{doc['id']}", headers=owner.headers)).status == 404
    assert not (settings.storage_dir / doc["url"].rsplit("/", 1)[1]).exists()


# --- catalogue and stock -------------------------------------------------------------------------


async def test_concurrent_reservations_never_oversell(
    client: Client, core: Core, make_account: Any
) -> None:
    owner: Account = await make_account("店主")
    admin: Account = await make_account("审核员", PlatformRole.ADMIN)
    mid = UUID(await approved_merchant(client, owner, admin))
    item = await core.merchants.create_item(
        principal(owner), mid, "乐高 42115", "product", 1999_00, 5
    )

    results = await asyncio.gather(
        *(core.merchants.reserve_stock(item["id"], 1) for _ in range(20)), return_exceptions=True
    )
    won = [r for r in results if isinstance(r, int)]
    lost = [r for r in results if isinstance(r, BaseException)]
    assert len(won) == 5
    assert sorted(won) == [0, 1, 2, 3, 4]
    assert len(lost) == 15
    assert all(isinstance(e, Conflict) and e.code == "out_of_stock" for e in lost)
    assert (await core.merchants.item(item["id"]))["stock"] == 0

    assert await core.merchants.release_stock(item["id"], 2) == 2
    with pytest.raises(Conflict) as exc:
        await core.merchants.reserve_stock(item["id"], 3)
    assert exc.value.details == {"requested": 3, "available": 2}
    with pytest.raises(InvalidInput):
        await core.merchants.reserve_stock(item["id"], 0)
    # Inside the caller's transaction: rolled back with it.
    async with core.pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        assert await core.merchants.reserve_stock(item["id"], 2, conn=conn) == 0
        await tx.rollback()
    assert (await core.merchants.item(item["id"]))["stock"] == 2

    # Off sale: nothing to reserve, but stock can still come back.
    await core.merchants.update_item(principal(owner), mid, item["id"], {"active": False})
    with pytest.raises(Conflict) as exc:
        await core.merchants.reserve_stock(item["id"], 1)
    assert exc.value.code == "item_inactive"
    # The database refuses negative stock even to a statement without the guard.
    with pytest.raises(asyncpg.CheckViolationError):
        await core.pool.execute(
            "UPDATE merchant_items SET stock = stock - 3 WHERE id = $1", item["id"]
        )


async def test_unapproved_merchants_cannot_sell(
    client: Client, core: Core, make_account: Any
) -> None:
    owner: Account = await make_account("店主")
    mid = UUID(await create_merchant(client, owner))
    item = await core.merchants.create_item(principal(owner), mid, "上门清洁", "service", 50_00, 3)
    with pytest.raises(Conflict) as exc:
        await core.merchants.reserve_stock(item["id"], 1)
    assert exc.value.code == "merchant_not_approved"
    assert (await core.merchants.item(item["id"]))["stock"] == 3


async def test_catalogue_over_rest(client: Client, make_account: Any) -> None:
    owner: Account = await make_account("店主")
    staff: Account = await make_account("店员")
    admin: Account = await make_account("审核员", PlatformRole.ADMIN)
    stranger: Account = await make_account("路人")
    mid = await create_merchant(client, owner)
    await client.post(
        f"/api/v1/merchants/{mid}/staff", json={"user_id": str(staff.id)}, headers=owner.headers
    )
    url = f"/api/v1/merchants/{mid}/items"
    body = {"name": "钟点保洁", "kind": "service", "price_fen": 5000, "stock": 10}
    made = await client.post(url, json=body, headers=staff.headers)
    assert made.status == 201
    item = await made.json()
    for bad in (
        {**body, "price_fen": 50.0},
        {**body, "price_fen": 0},
        {**body, "stock": -1},
        {**body, "kind": "rental"},
        {**body, "merchant_id": mid},
    ):
        assert (await client.post(url, json=bad, headers=owner.headers)).status == 422, bad
    stock = f"{url}/{item['id']}/stock"
    assert (await (await client.post(stock, json={"delta": -4}, headers=staff.headers)).json())[
        "stock"
    ] == 6
    below = await client.post(stock, json={"delta": -7}, headers=owner.headers)
    assert below.status == 409
    assert (await below.json())["error"]["code"] == "insufficient_stock"
    assert (await client.post(stock, json={"delta": 1}, headers=stranger.headers)).status == 403
    off = await client.patch(f"{url}/{item['id']}", json={"active": False}, headers=owner.headers)
    assert (await off.json())["active"] is False
    await client.post(url, json={**body, "name": "深度保洁"}, headers=owner.headers)
    other = await create_merchant(client, stranger, "别家")
    elsewhere = await client.patch(
        f"/api/v1/merchants/{other}/items/{item['id']}",
        json={"name": "x"},
        headers=stranger.headers,
    )
    assert elsewhere.status == 404

    # Not approved: outsiders see nothing; then only active items.
    assert (await client.get(url, headers=stranger.headers)).status == 404
    assert len(await (await client.get(url, headers=staff.headers)).json()) == 2
    await approve_existing(client, owner, admin, mid)
    public = await (await client.get(url, headers=stranger.headers)).json()
    assert [i["name"] for i in public] == ["深度保洁"]
    assert len(await (await client.get(url, headers=admin.headers)).json()) == 2


async def approve_existing(client: Client, owner: Account, admin: Account, mid: str) -> None:
    await client.patch(
        f"/api/v1/merchants/{mid}/registration", json=company_registration(), headers=owner.headers
    )
    await client.post(
        f"/api/v1/merchants/{mid}/documents?kind=business_licence",
        data=form(PDF, "application/pdf"),
        headers=owner.headers,
    )
    assert (
        await client.post(f"/api/v1/merchants/{mid}/submit", headers=owner.headers)
    ).status == 200
    assert (
        await client.post(f"/api/v1/merchants/{mid}/approve", headers=admin.headers)
    ).status == 200


# --- store settings ------------------------------------------------------------------------------


async def test_store_settings(client: Client, make_account: Any, settings: Any) -> None:
    owner: Account = await make_account("店主")
    staff: Account = await make_account("店员")
    admin: Account = await make_account("审核员", PlatformRole.ADMIN)
    mid = await create_merchant(client, owner)
    await client.post(
        f"/api/v1/merchants/{mid}/staff", json={"user_id": str(staff.id)}, headers=owner.headers
    )
    cid = await create_community(client, admin, "玉林小区")
    url = f"/api/v1/merchants/{mid}/settings"
    hours = {"mon": [["13:00", "18:00"], ["09:00", "12:00"]], "sat": [["10:00", "24:00"]]}
    ok = await client.patch(
        url,
        json={"description": "二手玩具回收与租赁", "opening_hours": hours},
        headers=owner.headers,
    )
    data = await ok.json()
    assert data["opening_hours"] == {
        "mon": [["09:00", "12:00"], ["13:00", "18:00"]],
        "sat": [["10:00", "24:00"]],
    }
    assert data["description"] == "二手玩具回收与租赁"
    for bad in (
        {"opening_hours": {"mon": [["18:00", "09:00"]]}},
        {"opening_hours": {"mon": [["09:00", "12:00"], ["11:00", "13:00"]]}},
        {"opening_hours": {"holiday": [["09:00", "12:00"]]}},
        {"opening_hours": {"mon": [["9am", "12:00"]]}},
        {"logo_key": "x"},
    ):
        assert (await client.patch(url, json=bad, headers=owner.headers)).status == 422, bad
    assert (await client.patch(url, json={"description": "x"}, headers=staff.headers)).status == 403

    # The service area waits for approval, then replaces the communities served.
    early = await client.patch(url, json={"community_ids": [cid]}, headers=owner.headers)
    assert early.status == 409
    assert (await early.json())["error"]["code"] == "not_approved"
    await approve_existing(client, owner, admin, mid)
    area = await client.patch(url, json={"community_ids": [cid, cid]}, headers=owner.headers)
    assert (await area.json())["community_ids"] == [cid]
    missing = await client.patch(
        url, json={"community_ids": [str(uuid.uuid4())]}, headers=owner.headers
    )
    assert missing.status == 404
    cleared = await client.patch(url, json={"community_ids": []}, headers=owner.headers)
    got = await cleared.json()
    assert got["community_ids"] == []
    assert got["description"] == "二手玩具回收与租赁"

    logo = f"/api/v1/merchants/{mid}/logo"
    first = await client.put(logo, data=form(png(), "image/png", "a.png"), headers=owner.headers)
    first_url = (await first.json())["logo_url"]
    assert first_url.endswith(".png")
    second = await client.put(logo, data=form(png(), "image/png", "b.png"), headers=owner.headers)
    assert (await second.json())["logo_url"] != first_url
    # The replaced logo is deleted.
    assert not (settings.storage_dir / first_url.rsplit("/", 1)[1]).exists()
    assert (
        await client.put(logo, data=form(PDF, "application/pdf"), headers=owner.headers)
    ).status == 415
    assert (
        await client.put(logo, data=form(png(), "image/png"), headers=staff.headers)
    ).status == 403


# --- who may do what -----------------------------------------------------------------------------


async def test_permissions_matrix(client: Client, make_account: Any) -> None:
    owner: Account = await make_account("店主")
    staff: Account = await make_account("店员")
    admin: Account = await make_account("审核员", PlatformRole.ADMIN)
    stranger: Account = await make_account("路人")
    mid = await create_merchant(client, owner)
    await client.post(
        f"/api/v1/merchants/{mid}/staff", json={"user_id": str(staff.id)}, headers=owner.headers
    )
    base = f"/api/v1/merchants/{mid}"
    item = {"name": "积木", "kind": "product", "price_fen": 100, "stock": 1}
    # (method, path, json) -> expected status for owner, staff, admin, stranger.
    matrix: list[tuple[str, str, Any, tuple[int, int, int, int]]] = [
        ("GET", "", None, (200, 200, 200, 404)),
        ("GET", "/registration", None, (200, 200, 200, 403)),
        ("PATCH", "/registration", {"address": "某处"}, (200, 403, 403, 403)),
        ("GET", "/reviews", None, (200, 200, 200, 403)),
        ("GET", "/documents", None, (200, 200, 200, 403)),
        ("GET", "/staff", None, (200, 200, 200, 403)),
        ("POST", "/staff", {"user_id": str(stranger.id)}, (204, 403, 403, 403)),
        ("PATCH", "/settings", {"description": "店"}, (200, 403, 403, 403)),
        ("POST", "/items", item, (201, 201, 403, 403)),
        ("GET", "/items", None, (200, 200, 200, 404)),
        ("POST", "/approve", None, (403, 403, 409, 403)),
        ("POST", "/reject", {"reason": "不行"}, (403, 403, 409, 403)),
        ("POST", "/submit", None, (422, 403, 403, 403)),
    ]
    who = (owner, staff, admin, stranger)
    for method, path, body, expected in matrix:
        for account, status in zip(who, expected, strict=True):
            if path == "/staff" and method == "POST" and account is owner:
                continue  # would make the stranger staff; checked last
            resp = await client.request(method, base + path, json=body, headers=account.headers)
            assert resp.status == status, (method, path, account.phone, await resp.text())
    assert (await client.get(base)).status == 401
    hire = await client.post(
        f"{base}/staff", json={"user_id": str(stranger.id)}, headers=owner.headers
    )
    assert hire.status == 204
    # Now a member, the former stranger sees the unapproved merchant.
    assert (await client.get(base, headers=stranger.headers)).status == 200
