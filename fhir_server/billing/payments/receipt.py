"""Storing the receipt of a confirmed payment: a Binary (application/pdf, securityContext = the
patient, so the patient may download it) and a DocumentReference (subject = the patient, type
``receipt``, context.related = the PaymentReconciliation) in the payment's transaction. A patient
lists theirs with ``GET /fhir/DocumentReference?patient=[id]&type=http://fhir-server.example.org/CodeSystem/billing-document|receipt``
(R4 PaymentReconciliation has no patient search parameter; the DocumentReference is the index).
"""

from __future__ import annotations

import base64
from typing import Any

from ...errors import Gone, NotFound
from ...resources import repository
from ...scheduling.writes import Writes, content
from ..pricing import definition_for_code
from .receipt_pdf import Receipt, receipt_pdf

__all__ = ["store_receipt", "RECEIPT_TYPE"]

RECEIPT_SYSTEM = "http://fhir-server.example.org/CodeSystem/billing-document"
RECEIPT_TYPE = {"coding": [{"system": RECEIPT_SYSTEM, "code": "receipt", "display": "Payment receipt"}]}


async def _read(writes: Writes, reference: str) -> dict[str, Any] | None:
    kind, _, rid = reference.partition("/")
    try:
        return content(await repository.read(writes.conn, kind, rid))
    except (NotFound, Gone):  # a dangling reference names itself on the receipt
        return None


def _name(patient: dict[str, Any] | None, fallback: str) -> str:
    for name in (patient or {}).get("name") or []:
        text = name.get("text") or " ".join([*(name.get("given") or []), name.get("family") or ""]).strip()
        if text:
            return str(text)
    return fallback


async def _charge_label(writes: Writes, reference: str) -> str:
    """The charge's own text or display, else its price list entry's title, else its code."""
    code = (await _read(writes, reference) or {}).get("code") or {}
    coding = (code.get("coding") or [{}])[0]
    if code.get("text") or coding.get("display"):
        return str(code.get("text") or coding.get("display"))
    definition = await definition_for_code(writes.conn, code)
    return str((definition or {}).get("title") or coding.get("code") or reference)


async def _lines(writes: Writes, invoice: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for line in invoice.get("lineItem") or []:
        amount = next((c.get("amount") for c in line.get("priceComponent") or [] if c.get("amount")), None) or {}
        label = (line.get("chargeItemCodeableConcept") or {}).get("text") or ""
        reference = (line.get("chargeItemReference") or {}).get("reference")
        if reference:
            label = await _charge_label(writes, reference)
        out.append((label, f"{float(amount.get('value', 0)):.2f} {amount.get('currency', '')}"))
    return out


async def store_receipt(writes: Writes, hospital: str, invoice: dict[str, Any], reconciliation: dict[str, Any],
                        reference: str, method: str) -> dict[str, Any]:
    subject = (invoice.get("subject") or {}).get("reference") or ""
    patient = await _read(writes, subject) if subject.startswith("Patient/") else None
    paid = reconciliation["paymentAmount"]
    pdf = receipt_pdf(Receipt(hospital, _name(patient, subject or "unknown"), f"Invoice/{invoice['id']}",
                              await _lines(writes, invoice), f"{float(paid['value']):.2f} {paid['currency']}",
                              reconciliation["created"][:10], reference, method))
    binary: dict[str, Any] = {"resourceType": "Binary", "contentType": "application/pdf",
                              "data": base64.b64encode(pdf).decode()}
    if subject:
        binary["securityContext"] = {"reference": subject}
    stored = await writes.create("Binary", binary, on_behalf=True)
    document: dict[str, Any] = {
        "resourceType": "DocumentReference", "status": "current", "type": RECEIPT_TYPE,
        "date": reconciliation["created"], "description": f"Receipt for Invoice/{invoice['id']}",
        "content": [{"attachment": {"contentType": "application/pdf", "url": f"Binary/{stored['id']}",
                                    "size": len(pdf), "title": "receipt.pdf"}}],
        "context": {"related": [{"reference": f"PaymentReconciliation/{reconciliation['id']}"},
                                {"reference": f"Invoice/{invoice['id']}"}]}}
    if subject:
        document["subject"] = {"reference": subject}
    return await writes.create("DocumentReference", document, on_behalf=True)
