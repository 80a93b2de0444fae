"""Invoices (发票): requests, decisions and the PDF document (docs/money.md "Invoices")."""

from lago_core.invoices.pdf import InvoiceDocument, render_invoice
from lago_core.invoices.service import InvoiceService
from lago_core.invoices.store import InvoiceStore

__all__ = ["InvoiceDocument", "InvoiceService", "InvoiceStore", "render_invoice"]
