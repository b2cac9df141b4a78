"""The receipt of one confirmed payment as PDF bytes (fpdf2: pure Python, maintained, no system
libraries). Uncompressed content streams, so the text (amounts, reference) stays greppable in
the file, at a few hundred bytes' cost. Core fonts are Latin-1: other characters become "?"."""

from __future__ import annotations

from dataclasses import dataclass

from fpdf import FPDF

__all__ = ["Receipt", "receipt_pdf"]


@dataclass(frozen=True)
class Receipt:
    hospital: str
    patient: str
    invoice: str
    lines: list[tuple[str, str]]  # (description, amount with currency)
    amount: str  # paid, with currency, e.g. "64.20 EUR"
    date: str
    reference: str  # the payment's provider reference (a Stripe PaymentIntent id, a desk key)
    method: str


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


def receipt_pdf(receipt: Receipt) -> bytes:
    pdf = FPDF()
    pdf.set_compression(False)
    pdf.add_page()
    pdf.set_font("helvetica", "B", 16)
    pdf.cell(0, 10, _latin1(receipt.hospital), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", "", 11)
    for label, value in (("Payment receipt", ""), ("Patient", receipt.patient), ("Invoice", receipt.invoice),
                         ("Date", receipt.date), ("Payment reference", receipt.reference),
                         ("Method", receipt.method)):
        pdf.cell(0, 7, _latin1(f"{label}: {value}" if value else label), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    for description, amount in receipt.lines:
        pdf.cell(140, 7, _latin1(description))
        pdf.cell(0, 7, _latin1(amount), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", "B", 12)
    pdf.cell(140, 9, "Amount paid")
    pdf.cell(0, 9, _latin1(receipt.amount), align="R", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
