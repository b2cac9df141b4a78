"""Recording one confirmed payment of an Invoice, in the caller's transaction.

The Invoice is row-locked (payments of one Invoice serialise), must be ``issued`` and the amount
in its currency and at most what is still owed (its patient responsibility, else totalGross,
minus the payments recorded). Written: the ``billing_payment`` row (unique per provider
reference: a confirmation seen twice records once), a PaymentReconciliation (detail.request = the
Invoice) and a PaymentNotice (payment = that reconciliation); when the payments reach the
patient's share the Invoice becomes ``balanced``
through the ordinary write path (its rule runs). The receipt PDF (``receipt.py``) is stored too.
http://hl7.org/fhir/R4/paymentreconciliation.html, http://hl7.org/fhir/R4/paymentnotice.html
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ...errors import Unprocessable
from ...fhir.datetimes import format_instant
from ...resources import repository
from ...scheduling.writes import Writes, content
from ..money import amount_of, money
from ..patient_share import PATIENT_SHARE
from .receipt import store_receipt

__all__ = ["Payment", "record_payment", "owed"]

PAYMENT_TYPE = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/payment-type", "code": "payment"}]}


@dataclass(frozen=True)
class Payment:
    invoice_id: str
    amount: Decimal
    currency: str
    provider: str  # "desk"
    provider_ref: str  # unique per provider: a receipt number, a provider's payment id
    method: str  # cash | card


def _share(invoice: dict[str, Any]) -> tuple[Decimal, str]:
    for extension in invoice.get("extension") or []:
        if extension.get("url") == PATIENT_SHARE:
            return amount_of(extension.get("valueMoney"), f"Invoice/{invoice['id']} patient responsibility")
    return amount_of(invoice.get("totalGross"), f"Invoice/{invoice['id']}.totalGross")


async def owed(writes: Writes, invoice: dict[str, Any]) -> tuple[Decimal, str]:
    share, currency = _share(invoice)
    cur = await writes.conn.execute("SELECT coalesce(sum(amount), 0) FROM billing_payment"
                                    " WHERE invoice_id = %s AND status = 'succeeded'", (invoice["id"],))
    row = await cur.fetchone()
    return share - Decimal(row[0] if row else 0), currency


def _reconciliation(payment: Payment, when: str) -> dict[str, Any]:
    amount = money(payment.amount, payment.currency)
    return {"resourceType": "PaymentReconciliation", "status": "active", "created": when, "paymentDate": when[:10],
            "paymentAmount": amount, "outcome": "complete",
            "paymentIdentifier": {"system": f"urn:fhir-server:payment:{payment.provider}",
                                  "value": payment.provider_ref},
            "disposition": f"{payment.method} payment of Invoice/{payment.invoice_id}",
            "detail": [{"type": PAYMENT_TYPE, "request": {"reference": f"Invoice/{payment.invoice_id}"},
                        "date": when[:10], "amount": amount}]}


async def record_payment(writes: Writes, payment: Payment, hospital: str) -> dict[str, Any]:
    invoice = content(await repository.read(writes.conn, "Invoice", payment.invoice_id, for_update=True))
    if invoice.get("status") != "issued":
        raise Unprocessable(f"Invoice/{payment.invoice_id} is {invoice.get('status')}: only an issued Invoice is paid")
    remaining, currency = await owed(writes, invoice)
    if payment.currency != currency:
        raise Unprocessable(f"Invoice/{payment.invoice_id} is in {currency}, the payment in {payment.currency}")
    if payment.amount <= 0:
        raise Unprocessable("A payment amount must be greater than 0")
    if payment.amount > remaining:
        raise Unprocessable(f"Invoice/{payment.invoice_id}: {payment.amount} {currency} is more than the "
                            f"{remaining} {currency} still owed")
    when = format_instant(datetime.now(UTC))
    reconciliation = await writes.create("PaymentReconciliation", _reconciliation(payment, when),
                                         on_behalf=True)
    await writes.conn.execute(
        "INSERT INTO billing_payment (id, invoice_id, provider, provider_ref, method, amount, currency, status)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, 'succeeded')",
        (reconciliation["id"], payment.invoice_id, payment.provider, payment.provider_ref, payment.method,
         payment.amount, payment.currency))
    await writes.create("PaymentNotice", {
        "resourceType": "PaymentNotice", "status": "active", "created": when, "paymentDate": when[:10],
        "request": {"reference": f"Invoice/{payment.invoice_id}"},
        "payment": {"reference": f"PaymentReconciliation/{reconciliation['id']}"},
        "recipient": invoice.get("issuer") or {"display": "the hospital"},
        "amount": money(payment.amount, payment.currency)}, on_behalf=True)
    await store_receipt(writes, hospital, invoice, reconciliation, payment.provider_ref.rsplit("|", 1)[-1],
                        payment.method)
    if payment.amount >= remaining:
        body = {k: v for k, v in invoice.items() if k != "meta"} | {"status": "balanced"}
        await writes.update("Invoice", payment.invoice_id, body)
    return reconciliation
