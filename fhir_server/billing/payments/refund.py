"""PaymentReconciliation/[id]/$refund (billing staff): reverse one recorded payment.

In one transaction: the billing_payment row is locked and must be ``succeeded``; an online one
is refunded at the provider first (the caller's Idempotency-Key passed on); the row becomes
``refunded``, the PaymentReconciliation ``cancelled``, and a ``balanced`` Invoice is re-opened
(``issued``: its share is owed again). A second refund of the same payment: 422.
"""

from __future__ import annotations

from typing import Any

from ...errors import NotFound, Unprocessable
from ...resources import repository
from ...scheduling.writes import Writes, content
from .provider import PaymentProvider

__all__ = ["refund_payment", "CAPABILITY_ENTRY"]

CAPABILITY_ENTRY = {"name": "refund",
                    "definition": "http://fhir-server.example.org/OperationDefinition/PaymentReconciliation-refund"}


async def refund_payment(writes: Writes, payment_id: str, provider: PaymentProvider | None,
                         provider_key: str) -> dict[str, Any]:
    cur = await writes.conn.execute("SELECT invoice_id, provider, provider_ref, amount, status FROM billing_payment"
                                    " WHERE id = %s FOR UPDATE", (payment_id,))
    row = await cur.fetchone()
    if row is None:
        raise NotFound(f"PaymentReconciliation/{payment_id} is not a payment recorded by this server")
    invoice_id, provider_name, reference, amount, status = row
    if status != "succeeded":
        raise Unprocessable(f"PaymentReconciliation/{payment_id} is already {status}")
    if provider_name != "desk":
        if provider is None or provider.name != provider_name:
            raise Unprocessable(f"Payments through {provider_name} cannot be refunded: it is not configured")
        await provider.refund(reference, int((amount * 100).to_integral_value()), provider_key)
    await writes.conn.execute("UPDATE billing_payment SET status = 'refunded' WHERE id = %s", (payment_id,))
    reconciliation = content(await repository.read(writes.conn, "PaymentReconciliation", payment_id))
    cancelled = await writes.update("PaymentReconciliation", payment_id, {
        **{k: v for k, v in reconciliation.items() if k != "meta"}, "status": "cancelled"})
    invoice = content(await repository.read(writes.conn, "Invoice", invoice_id, for_update=True))
    if invoice.get("status") == "balanced":
        await writes.update("Invoice", invoice_id, {**{k: v for k, v in invoice.items() if k != "meta"},
                                                    "status": "issued"})
    return cancelled
