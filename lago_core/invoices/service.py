"""Invoices (发票): merchants ask the platform for an invoice over a month's fees, buyers ask a
merchant for one over an order; the issuer uploads its own PDF or has Lago generate one, kept
in storage and downloadable by the requester's side and the issuer's side only.

docs/money.md "Invoices" describes the states and who may do what.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
from prometheus_client import Counter

from lago_core.clock import Clock
from lago_core.errors import Conflict, Forbidden, InvalidInput, NotFound
from lago_core.invoices.pdf import InvoiceDocument, render_invoice
from lago_core.invoices.store import InvoiceStore
from lago_core.logging import get_logger
from lago_core.merchants import MerchantService
from lago_core.merchants.rules import check_credit_code, check_email
from lago_core.moneyout.service import month_bounds
from lago_core.notifications import Notice, NotificationService
from lago_core.security.roles import Principal
from lago_core.storage import Storage, discard

__all__ = ["MAX_PDF_BYTES", "InvoiceService"]

log = get_logger(__name__)
NOTICE_FAILURES = Counter(
    "lago_invoice_notice_failures_total", "invoice decisions whose notice could not be written"
)
MAX_PDF_BYTES = 5 << 20
PLATFORM_NAME = "Lago 社区平台"
# Paid and on its way (a refund pending or done: not until it is settled either way).
_INVOICEABLE = frozenset(
    {"paid", "confirmed", "handed_over", "delivered", "picked_up", "returned", "completed"}
)


def _title(value: str) -> str:
    value = value.strip()
    if not value or len(value) > 100 or "\x00" in value or re.search(r"[\r\n\t]", value):
        raise InvalidInput("the title is 1–100 characters on one line", code="invalid_title")
    return value


class InvoiceService:
    def __init__(
        self,
        store: InvoiceStore,
        *,
        merchants: MerchantService,
        storage: Storage,
        notifications: NotificationService,
        clock: Clock,
        font: str,
    ) -> None:
        self.store = store
        self._merchants = merchants
        self._storage = storage
        self._notifications = notifications
        self._clock = clock
        self._font = font

    # --- requests --------------------------------------------------------------------------------

    async def request_for_order(
        self,
        actor: Principal,
        order_id: UUID,
        *,
        title_kind: str,
        title: str,
        tax_id: str | None,
        email: str | None,
    ) -> asyncpg.Record:
        """The order's buyer asks its merchant for an invoice over what they paid."""
        order = await self.store.order_for_invoice(order_id)
        if order is None or order["buyer_id"] != actor.user_id:
            raise NotFound("order not found")
        if order["merchant_id"] is None:
            raise Conflict("only merchants issue invoices", code="invoice_not_offered")
        if (
            order["status"] not in _INVOICEABLE
            or order["payment_status"] != "captured"
            or order["paid_fen"] <= 0
        ):
            raise Conflict("only a paid order can be invoiced", code="order_not_invoiceable")
        return await self._insert(
            actor,
            {"kind": "order", "merchant_id": order["merchant_id"], "order_id": order_id},
            order["paid_fen"],
            title_kind,
            title,
            tax_id,
            email,
        )

    async def request_for_fees(
        self,
        actor: Principal,
        merchant_id: UUID,
        month: str,
        *,
        title_kind: str,
        title: str,
        tax_id: str | None,
        email: str | None,
    ) -> asyncpg.Record:
        """A merchant's owner or staff asks the platform for an invoice over a month's fees
        (the month must be over: its fees no longer change, except by refunds)."""
        await self._merchants.require_member(actor, merchant_id)
        first, start, end = month_bounds(month)
        if end > self._clock.now():
            raise InvalidInput("a month is invoiced once it has ended", code="month_not_over")
        amount = await self.store.fees_of(merchant_id, start, end)
        if amount <= 0:
            raise Conflict("no fees were charged that month", code="nothing_to_invoice")
        return await self._insert(
            actor,
            {"kind": "platform_fee", "merchant_id": merchant_id, "month": first},
            amount,
            title_kind,
            title,
            tax_id,
            email,
        )

    async def _insert(
        self,
        actor: Principal,
        what: dict[str, Any],
        amount_fen: int,
        title_kind: str,
        title: str,
        tax_id: str | None,
        email: str | None,
    ) -> asyncpg.Record:
        if title_kind == "company":
            if not tax_id:
                raise InvalidInput("a company title needs its tax id", code="tax_id_required")
            # The 税号 of a company is its unified social credit code (GB 32100-2015).
            tax_id = check_credit_code(tax_id)
        elif title_kind == "personal":
            if tax_id:
                raise InvalidInput("a personal title has no tax id", code="tax_id_not_allowed")
            tax_id = None
        else:
            raise InvalidInput("title_kind is personal or company", code="invalid_title_kind")
        try:
            return await self.store.insert(
                what
                | {
                    "id": uuid4(),
                    "requester_id": actor.user_id,
                    "title_kind": title_kind,
                    "title": _title(title),
                    "tax_id": tax_id,
                    "email": check_email(email) if email else None,
                    "amount_fen": amount_fen,
                    "created_at": self._clock.now(),
                }
            )
        except asyncpg.UniqueViolationError:
            raise Conflict(
                "an invoice was already requested for this", code="invoice_already_requested"
            ) from None

    # --- reading ---------------------------------------------------------------------------------

    async def get(self, actor: Principal, invoice_id: UUID) -> asyncpg.Record:
        row = await self.store.get(invoice_id)
        if row is None or not await self._may_read(actor, row):
            raise NotFound("invoice not found")
        return row

    async def of_merchant(
        self, actor: Principal, merchant_id: UUID, kind: str | None
    ) -> list[asyncpg.Record]:
        if actor.is_admin:
            await self._merchants.get(merchant_id)
        else:
            await self._merchants.require_member(actor, merchant_id)
        return await self.store.of_merchant(merchant_id, kind)

    async def mine(self, actor: Principal) -> list[asyncpg.Record]:
        return await self.store.of_requester(actor.user_id)

    async def fee_queue(self, actor: Principal, status: str | None) -> list[asyncpg.Record]:
        if not actor.is_admin:
            raise Forbidden("the fee-invoice queue is for admins")
        return await self.store.fee_queue(status)

    async def document(self, actor: Principal, invoice_id: UUID) -> tuple[str, bytes]:
        """(file name, PDF) for the requester's side and the issuer's side only."""
        row = await self.get(actor, invoice_id)
        if row["document_key"] is None:
            raise Conflict("the invoice is not issued", code="invoice_not_issued")
        return f"invoice-{str(row['id'])[:8]}.pdf", await self._storage.get(row["document_key"])

    async def _may_read(self, actor: Principal, row: asyncpg.Record) -> bool:
        if row["requester_id"] == actor.user_id:
            return True
        if row["kind"] == "platform_fee":
            # Asked by the merchant (any of its people), issued by the platform (its admins).
            return actor.is_admin or await self._is_member(actor, row["merchant_id"])
        # A buyer's invoice: the buyer, and the merchant that issues it.
        return await self._is_member(actor, row["merchant_id"])

    async def _is_member(self, actor: Principal, merchant_id: UUID) -> bool:
        try:
            await self._merchants.require_member(actor, merchant_id)
        except (Forbidden, NotFound):
            return False
        return True

    # --- issuing ---------------------------------------------------------------------------------

    async def _require_issuer(self, actor: Principal, row: asyncpg.Record) -> None:
        if row["kind"] == "platform_fee":
            if not actor.is_admin:
                raise Forbidden("the platform's invoices are issued by its admins")
        else:
            await self._merchants.require_member(actor, row["merchant_id"])

    async def _pending(self, actor: Principal, invoice_id: UUID) -> asyncpg.Record:
        row = await self.get(actor, invoice_id)
        await self._require_issuer(actor, row)
        if row["status"] != "requested":
            raise Conflict(f"the invoice is {row['status']}", code="invoice_decided")
        return row

    async def issue(
        self, actor: Principal, invoice_id: UUID, upload: bytes | None = None
    ) -> asyncpg.Record:
        """Issue with the issuer's own PDF (``upload``) or one Lago generates."""
        row = await self._pending(actor, invoice_id)
        if upload is not None:
            if len(upload) > MAX_PDF_BYTES:
                raise InvalidInput("the PDF is larger than 5 MiB", code="file_too_large")
            if not upload.startswith(b"%PDF-"):
                raise InvalidInput("upload the invoice as a PDF", code="not_a_pdf")
            data = upload
        else:
            data = await render_invoice(await self._document_of(row), self._font)
        # A key of its own per attempt: two issuers racing never overwrite the winner's file.
        key = f"invoices/{row['id']}/{uuid4().hex}.pdf"
        await self._storage.put(key, data, "application/pdf")
        decided = await self.store.decide(
            row["id"],
            "issued",
            actor.user_id,
            self._clock.now(),
            document_key=key,
            generated=upload is None,
        )
        if decided is None:
            await discard(self._storage, key)
            raise Conflict("the invoice was decided meanwhile", code="invoice_decided")
        await self._tell(decided)
        log.info("invoices.issued", invoice_id=str(row["id"]), generated=upload is None)
        return decided

    async def reject(self, actor: Principal, invoice_id: UUID, reason: str) -> asyncpg.Record:
        row = await self._pending(actor, invoice_id)
        reason = reason.strip()
        if not reason or len(reason) > 200 or "\x00" in reason:
            raise InvalidInput("a reason of 1–200 characters", code="invalid_reason")
        decided = await self.store.decide(
            row["id"], "rejected", actor.user_id, self._clock.now(), reason=reason
        )
        if decided is None:
            raise Conflict("the invoice was decided meanwhile", code="invoice_decided")
        await self._tell(decided)
        return decided

    async def _document_of(self, row: asyncpg.Record) -> InvoiceDocument:
        merchant = await self.store.merchant_tax(row["merchant_id"])
        assert merchant is not None
        if row["kind"] == "platform_fee":
            issuer, issuer_tax = PLATFORM_NAME, None
            item = f"平台服务费（佣金）{row['month']}"
        else:
            issuer = merchant["legal_name"] or merchant["name"]
            issuer_tax = merchant["credit_code"]
            order = await self.store.order_for_invoice(row["order_id"])
            item = f"订单 {str(row['order_id'])[:8]}：{order['listing_title'] if order else ''}"
        return InvoiceDocument(
            number=row["id"].hex[:16].upper(),
            issuer=issuer,
            issuer_tax_id=issuer_tax,
            buyer_title=row["title"],
            buyer_tax_id=row["tax_id"],
            item=item,
            amount_fen=row["amount_fen"],
            issued_at=self._clock.now() + timedelta(hours=8),  # the date in China
        )

    async def _tell(self, row: asyncpg.Record) -> None:
        issued = row["status"] == "issued"
        notice = Notice(
            "invoice_issued" if issued else "invoice_rejected",
            f"invoice:{row['id']}:{row['status']}",
            "发票已开具" if issued else "发票申请被拒绝",
            "您申请的发票已开具，可以下载" if issued else f"原因：{row['reject_reason']}",
            {"invoice_id": str(row["id"])},
        )
        try:
            await self._notifications.notify([row["requester_id"]], notice)
        except (asyncpg.PostgresError, OSError, ConnectionError):
            # The decision stands; the requester sees it in the invoice list.
            NOTICE_FAILURES.inc()
            log.warning("invoices.notice_failed", invoice_id=str(row["id"]), exc_info=True)
