"""Invoices (发票): buyers ask merchants, merchants ask the platform; the issuer uploads its own
PDF or has Lago generate one (read back here: a real PDF with the amounts); states, title and
tax-id rules, and who may see and download what — over REST."""

from __future__ import annotations

import asyncio
import io
import uuid
from datetime import timedelta
from typing import Any

import aiohttp
from pypdf import PdfReader

from lago_core.clock import ManualClock
from lago_core.container import Core
from lago_core.security.roles import PlatformRole, Principal
from lago_core.settings import Settings
from lago_core.settlement.service import business_day

from .conftest import LICENCE_PDF, Account, CommunityWorld, valid_credit_code
from .test_orders import API, Client, call, merchant_of
from .test_payments import assert_ledger_sound, webhook_target
from .test_settlement import completed_sale

__all__ = ["webhook_target"]


def pdf_text(data: bytes) -> str:
    """The PDF's text, as a reader finds it (CJK glyphs may come with spaces between)."""
    reader = PdfReader(io.BytesIO(data))
    text = "".join(p.extract_text() for p in reader.pages)
    # The CID font's two-byte codes come back with NULs and spaces between glyphs.
    return text.replace("\x00", "").replace(" ", "")


def pdf_form(data: bytes) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("file", io.BytesIO(data), filename="invoice.pdf", content_type="application/pdf")
    return form


async def download(client: Client, account: Account, invoice_id: str) -> tuple[int, bytes]:
    response = await client.get(f"{API}/invoices/{invoice_id}/document", headers=account.headers)
    return response.status, await response.read()


async def test_a_buyer_asks_the_merchant_which_issues_and_both_download(
    approve_merchant: Any,
    client: Client,
    core: Core,
    settings: Settings,
    community: CommunityWorld,
    make_account: Any,
    webhook_target: None,
) -> None:
    buyer, neighbour = community.residents[0], community.residents[1]
    owner, staff = await make_account("店主"), await make_account("店员")
    other_owner = await make_account("别家店主")
    admin = await make_account("管理员", PlatformRole.ADMIN)
    merchant = await merchant_of(core, approve_merchant, owner, staff)
    await merchant_of(core, approve_merchant, other_owner)
    first = await completed_sale(client, core, settings, buyer, owner, merchant, 12_345)
    path = f"/orders/{first['id']}/invoice"
    code = valid_credit_code()

    # Title and tax-id rules, with clear codes.
    for body, status, expected in (
        ({"title_kind": "company", "title": "成都某公司"}, 422, "tax_id_required"),
        (
            {
                "title_kind": "company",
                "title": "成都某公司",
                "tax_id": code[:-1] + ("1" if code[-1] == "0" else "0"),
            },
            422,
            None,
        ),
        ({"title_kind": "personal", "title": "王阿姨", "tax_id": code}, 422, "tax_id_not_allowed"),
        ({"title_kind": "personal", "title": "王\n阿姨"}, 422, "invalid_title"),
        ({"title_kind": "personal", "title": "王阿姨", "email": "nope"}, 422, "invalid_email"),
        ({"title_kind": "team", "title": "王阿姨"}, 422, "invalid_input"),
    ):
        got, data = await call(client, buyer, "POST", path, body)
        assert got == status, (body, data)
        if expected is not None:
            assert data["error"]["code"] == expected, data
    # Only the buyer asks; a stranger is told there is no such order.
    body = {"title_kind": "company", "title": "成都小明科技有限公司", "tax_id": code.lower()}
    assert (await call(client, neighbour, "POST", path, body))[0] == 404
    status, invoice = await call(client, buyer, "POST", path, body)
    assert status == 201, invoice
    assert (invoice["status"], invoice["amount_fen"], invoice["tax_id"]) == (
        "requested",
        12_345,
        code,
    )
    status, data = await call(client, buyer, "POST", path, body)
    assert (status, data["error"]["code"]) == (409, "invoice_already_requested")

    # The merchant's people see the request; others do not.
    status, listed = await call(client, staff, "GET", f"/merchants/{merchant}/invoices?kind=order")
    assert (status, [i["id"] for i in listed]) == (200, [invoice["id"]])
    assert (await call(client, other_owner, "GET", f"/merchants/{merchant}/invoices"))[0] == 403
    for stranger in (neighbour, other_owner, admin):
        assert (await call(client, stranger, "GET", f"/invoices/{invoice['id']}"))[0] == 404
        status, data = await call(client, stranger, "POST", f"/invoices/{invoice['id']}/issue")
        assert status == 404, data
    # Not issued yet: nothing to download.
    assert (await download(client, buyer, invoice["id"]))[0] == 409
    # The buyer cannot issue their own request.
    status, data = await call(client, buyer, "POST", f"/invoices/{invoice['id']}/issue")
    assert status == 403, data

    # Lago generates it — two issuers at once: one wins, the other is told, one file is kept.
    results = await asyncio.gather(
        call(client, staff, "POST", f"/invoices/{invoice['id']}/issue"),
        call(client, owner, "POST", f"/invoices/{invoice['id']}/issue"),
    )
    assert sorted(s for s, _ in results) == [200, 409], results
    issued = next(body for s, body in results if s == 200)
    assert (issued["status"], issued["generated"]) == ("issued", True), issued
    kept = list((settings.storage_dir / "invoices" / invoice["id"]).iterdir())
    assert len(kept) == 1
    status, data = await call(
        client, owner, "POST", f"/invoices/{invoice['id']}/reject", {"reason": "迟了"}
    )
    assert (status, data["error"]["code"]) == (409, "invoice_decided")

    # Both sides download the same real PDF, with the amount, the title and the tax id in it.
    status, pdf = await download(client, buyer, invoice["id"])
    assert status == 200
    assert pdf.startswith(b"%PDF-")
    assert b"%%EOF" in pdf[-1024:]
    text = pdf_text(pdf)
    assert "¥123.45" in text
    assert code in text
    assert "成都小明科技有限公司" in text
    assert (await download(client, owner, invoice["id"])) == (200, pdf)
    for stranger in (neighbour, other_owner, admin):
        assert (await download(client, stranger, invoice["id"]))[0] == 404
    status, mine = await call(client, buyer, "GET", "/me/invoices")
    assert [(i["id"], i["status"]) for i in mine] == [(invoice["id"], "issued")]
    notices = await core.pool.fetch(
        "SELECT kind FROM notifications WHERE user_id = $1 AND kind LIKE 'invoice%'", buyer.id
    )
    assert [n["kind"] for n in notices] == ["invoice_issued"]

    # Another order: rejected with a reason, asked again, issued with the merchant's own PDF.
    second = await completed_sale(client, core, settings, buyer, owner, merchant, 5_000)
    body = {"title_kind": "personal", "title": "王阿姨"}
    status, asked = await call(client, buyer, "POST", f"/orders/{second['id']}/invoice", body)
    assert status == 201, asked
    status, data = await call(
        client, owner, "POST", f"/invoices/{asked['id']}/reject", {"reason": " "}
    )
    assert status == 422, data
    status, rejected = await call(
        client, owner, "POST", f"/invoices/{asked['id']}/reject", {"reason": "抬头请写全名"}
    )
    assert (status, rejected["status"], rejected["reject_reason"]) == (
        200,
        "rejected",
        "抬头请写全名",
    )
    status, again = await call(
        client,
        buyer,
        "POST",
        f"/orders/{second['id']}/invoice",
        {"title_kind": "personal", "title": "王小花"},
    )
    assert status == 201, again
    url = f"{API}/invoices/{again['id']}/document"
    response = await client.post(url, data=pdf_form(b"not a pdf"), headers=owner.headers)
    assert (response.status, (await response.json())["error"]["code"]) == (422, "not_a_pdf")
    response = await client.post(url, data=pdf_form(LICENCE_PDF), headers=owner.headers)
    uploaded = await response.json()
    assert (response.status, uploaded["status"], uploaded["generated"]) == (200, "issued", False)
    assert await download(client, buyer, again["id"]) == (200, LICENCE_PDF)
    await assert_ledger_sound(core)


async def test_a_merchant_asks_the_platform_for_its_fee_invoice(
    approve_merchant: Any,
    client: Client,
    core: Core,
    settings: Settings,
    clock: ManualClock,
    community: CommunityWorld,
    make_account: Any,
    webhook_target: None,
) -> None:
    owner, staff, other_owner = (
        await make_account("店主"),
        await make_account("店员"),
        await make_account("别家店主"),
    )
    admin = await make_account("管理员", PlatformRole.ADMIN)
    merchant = await merchant_of(core, approve_merchant, owner, staff)
    await merchant_of(core, approve_merchant, other_owner)
    await completed_sale(client, core, settings, community.residents[0], owner, merchant)
    month = business_day(clock.now()).strftime("%Y-%m")
    body = {
        "month": month,
        "title_kind": "company",
        "title": "成都小明玩具有限公司",
        "tax_id": valid_credit_code(),
    }
    path = f"/merchants/{merchant}/fee-invoices"
    status, data = await call(client, owner, "POST", path, body)
    assert (status, data["error"]["code"]) == (422, "month_not_over")
    assert (await call(client, other_owner, "POST", path, body))[0] == 403

    # Next month (through the service: tokens cannot be issued in the future), then back.
    ahead = timedelta(days=32).total_seconds()
    clock.advance(ahead)
    requested = await core.invoices.request_for_fees(
        Principal(staff.id, uuid.uuid4()),
        merchant,
        month,
        title_kind="company",
        title=body["title"],
        tax_id=body["tax_id"],
        email="finance@example.com",
    )
    clock.advance(-ahead)
    assert requested["amount_fen"] == 1_000  # 10 % of ¥100, the property share inside it
    empty_month = "2020-01"
    status, data = await call(client, owner, "POST", path, body | {"month": empty_month})
    assert (status, data["error"]["code"]) == (409, "nothing_to_invoice")

    # The admins' queue; only admins issue.
    status, queue = await call(client, admin, "GET", "/invoices?status=requested")
    assert (status, [i["id"] for i in queue]) == (200, [str(requested["id"])])
    assert (await call(client, owner, "GET", "/invoices"))[0] == 403
    status, data = await call(client, owner, "POST", f"/invoices/{requested['id']}/issue")
    assert status == 403, data
    status, issued = await call(client, admin, "POST", f"/invoices/{requested['id']}/issue")
    assert (status, issued["status"]) == (200, "issued"), issued
    # The merchant's people (the requester's side) and admins download it; nobody else.
    status, pdf = await download(client, owner, str(requested["id"]))
    assert status == 200
    text = pdf_text(pdf)
    for expected in ("¥10.00", body["tax_id"], month):
        assert expected in text
    assert (await download(client, admin, str(requested["id"])))[0] == 200
    assert (await download(client, other_owner, str(requested["id"])))[0] == 404
    assert (await download(client, community.residents[0], str(requested["id"])))[0] == 404
    status, listed = await call(
        client, staff, "GET", f"/merchants/{merchant}/invoices?kind=platform_fee"
    )
    assert [i["status"] for i in listed] == ["issued"]
