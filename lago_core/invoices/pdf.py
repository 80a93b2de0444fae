"""The invoice document Lago generates: a one-page PDF (fpdf2) with a CJK font embedded.

fpdf2 is maintained, pure Python and embeds a subset of an OpenType font, CFF outlines and
collections (.ttc) included — which the Noto CJK fonts that fonts-noto-cjk installs are.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fpdf import FPDF

from lago_core.errors import Unavailable

__all__ = ["DEFAULT_FONT", "InvoiceDocument", "render_invoice", "yuan"]

# fonts-noto-cjk (scripts/ensure-chromium installs it); face 2 of the collection is Simplified
# Chinese. LAGO_INVOICE_FONT names another file ("path" or "path#face").
DEFAULT_FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc#2"


@dataclass(frozen=True, slots=True)
class InvoiceDocument:
    number: str
    issuer: str
    issuer_tax_id: str | None
    buyer_title: str
    buyer_tax_id: str | None
    item: str
    amount_fen: int
    issued_at: datetime


def yuan(fen: int) -> str:
    return f"¥{fen // 100:,}.{fen % 100:02d}"


def _render(doc: InvoiceDocument, font: str) -> bytes:
    path, _, face = font.partition("#")
    if not Path(path).is_file():
        raise Unavailable(
            "the invoice font is not installed (fonts-noto-cjk or LAGO_INVOICE_FONT)",
            code="invoice_font_missing",
        )
    # A5 landscape, in millimetres (given as a size: the named A5 warns on fpdf2 2.8.5+).
    pdf = FPDF(unit="mm", format=(210, 148))
    pdf.set_title(f"发票 {doc.number}")
    pdf.set_creator("Lago")
    pdf.add_page()
    pdf.add_font("cjk", fname=path, collection_font_number=int(face or 0))
    pdf.set_font("cjk", size=18)
    pdf.cell(0, 12, "发 票", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=10)
    pdf.cell(0, 6, f"发票号码 No. {doc.number}", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 6, f"开票日期 {doc.issued_at:%Y-%m-%d}", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    rows = [
        ("购买方", doc.buyer_title),
        ("购买方税号", doc.buyer_tax_id or "—"),
        ("销售方", doc.issuer),
        ("销售方税号", doc.issuer_tax_id or "—"),
        ("项目", doc.item),
        ("金额（含税）", yuan(doc.amount_fen)),
    ]
    pdf.set_font("cjk", size=12)
    for label, value in rows:
        pdf.cell(45, 9, label, border=1)
        pdf.cell(0, 9, value, border=1, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("cjk", size=9)
    pdf.multi_cell(0, 5, "本发票由 Lago 社区平台生成。", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


async def render_invoice(doc: InvoiceDocument, font: str = DEFAULT_FONT) -> bytes:
    """The PDF's bytes; rendered in a thread (parsing the font and laying out is CPU work)."""
    return await asyncio.to_thread(_render, doc, font)
