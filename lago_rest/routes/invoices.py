"""Invoices (发票): buyers ask merchants, merchants ask the platform; issuers upload or generate
the PDF; both sides download it. Permissions live in :class:`lago_core.invoices.InvoiceService`."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from aiohttp import web
from pydantic import Field

from lago_core.invoices.service import MAX_PDF_BYTES
from lago_core.security.roles import Principal
from lago_rest.api import Api
from lago_rest.context import Services
from lago_rest.routes.moneyout import Month
from lago_rest.schemas import Schema
from lago_rest.uploads import read_file_part

api = Api()
TAGS = ("invoices",)


class InvoiceRequestIn(Schema):
    title_kind: Literal["personal", "company"] = Field(description="个人 or 单位 (company)")
    title: str = Field(min_length=1, max_length=100, description="发票抬头")
    tax_id: str | None = Field(
        default=None,
        max_length=30,
        description="税号: a company's 统一社会信用代码 (required for a company, none for a person)",
    )
    email: str | None = Field(default=None, max_length=254)


class FeeInvoiceIn(InvoiceRequestIn):
    month: Month


class Invoice(Schema):
    id: UUID
    kind: Literal["platform_fee", "order"]
    requester_id: UUID
    merchant_id: UUID = Field(description="fees: the merchant that asks; order: the issuer")
    merchant_name: str
    order_id: UUID | None
    month: str | None
    title_kind: Literal["personal", "company"]
    title: str
    tax_id: str | None
    email: str | None
    amount_fen: int
    status: Literal["requested", "issued", "rejected"]
    reject_reason: str | None
    has_document: bool
    generated: bool | None = Field(description="true: Lago generated the PDF; false: uploaded")
    decided_at: datetime | None
    created_at: datetime


class KindQuery(Schema):
    kind: Literal["platform_fee", "order"] | None = None


class StatusQuery(Schema):
    status: Literal["requested", "issued", "rejected"] | None = None


class RejectIn(Schema):
    reason: str = Field(min_length=1, max_length=200)


def _out(row: Any) -> Invoice:
    # The storage key and the decider stay inside: the document is reached through its endpoint.
    return Invoice.model_validate({k: row[k] for k in Invoice.model_fields})


@api.post("/orders/{order_id}/invoice", status=201, tags=TAGS)
async def request_order_invoice(
    order_id: UUID, body: InvoiceRequestIn, user: Principal, svc: Services
) -> Invoice:
    """The buyer asks the order's merchant for an invoice over what they paid. 409
    ``invoice_already_requested`` (until a rejection), ``order_not_invoiceable``,
    ``invoice_not_offered`` (a resident seller)."""
    return _out(
        await svc.invoices.request_for_order(
            user,
            order_id,
            title_kind=body.title_kind,
            title=body.title,
            tax_id=body.tax_id,
            email=body.email,
        )
    )


@api.post("/merchants/{merchant_id}/fee-invoices", status=201, tags=TAGS)
async def request_fee_invoice(
    merchant_id: UUID, body: FeeInvoiceIn, user: Principal, svc: Services
) -> Invoice:
    """The merchant (owner or staff) asks the platform for an invoice over a past month's fees."""
    return _out(
        await svc.invoices.request_for_fees(
            user,
            merchant_id,
            body.month,
            title_kind=body.title_kind,
            title=body.title,
            tax_id=body.tax_id,
            email=body.email,
        )
    )


@api.get("/merchants/{merchant_id}/invoices", tags=TAGS)
async def merchant_invoices(
    merchant_id: UUID, query: KindQuery, user: Principal, svc: Services
) -> list[Invoice]:
    """Buyers' requests to the merchant (``order``) and its own fee invoices (``platform_fee``)."""
    return [_out(r) for r in await svc.invoices.of_merchant(user, merchant_id, query.kind)]


@api.get("/me/invoices", tags=TAGS)
async def my_invoices(user: Principal, svc: Services) -> list[Invoice]:
    """The invoices the caller asked for, newest first."""
    return [_out(r) for r in await svc.invoices.mine(user)]


@api.get("/invoices", tags=TAGS)
async def fee_invoice_queue(query: StatusQuery, user: Principal, svc: Services) -> list[Invoice]:
    """Admins: merchants' fee-invoice requests, oldest first."""
    return [_out(r) for r in await svc.invoices.fee_queue(user, query.status)]


@api.get("/invoices/{invoice_id}", tags=TAGS)
async def get_invoice(invoice_id: UUID, user: Principal, svc: Services) -> Invoice:
    return _out(await svc.invoices.get(user, invoice_id))


@api.post("/invoices/{invoice_id}/issue", tags=TAGS)
async def issue_invoice(invoice_id: UUID, user: Principal, svc: Services) -> Invoice:
    """Issue with a PDF Lago generates (the merchant's people for an order's invoice, admins
    for a fee invoice). 409 ``invoice_decided``."""
    return _out(await svc.invoices.issue(user, invoice_id))


@api.post("/invoices/{invoice_id}/document", tags=TAGS, raw_body="multipart/form-data")
async def upload_invoice(
    invoice_id: UUID, request: web.Request, user: Principal, svc: Services
) -> Invoice:
    """Issue with the issuer's own PDF, in a multipart part named ``file`` (at most 5 MiB)."""
    await svc.invoices.get(user, invoice_id)  # strangers: 404 before reading an upload
    data, _ = await read_file_part(request, MAX_PDF_BYTES, "invoice")
    return _out(await svc.invoices.issue(user, invoice_id, data))


@api.post("/invoices/{invoice_id}/reject", tags=TAGS)
async def reject_invoice(
    invoice_id: UUID, body: RejectIn, user: Principal, svc: Services
) -> Invoice:
    return _out(await svc.invoices.reject(user, invoice_id, body.reason))


@api.get("/invoices/{invoice_id}/document", tags=TAGS)
async def download_invoice(invoice_id: UUID, user: Principal, svc: Services) -> web.Response:
    """The issued PDF: the requester's side and the issuer's side only."""
    name, data = await svc.invoices.document(user, invoice_id)
    return web.Response(
        body=data,
        content_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "private, no-store",
        },
    )
