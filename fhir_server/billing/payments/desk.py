"""Invoice/[id]/$pay at the desk: billing staff record a cash or card payment.

In (Parameters): ``amount`` (valueMoney, > 0, at most what is owed), ``method`` (valueCode
``cash`` or ``card``). Needs an ``Idempotency-Key`` header (``idempotency.py``), which is also the
payment's provider reference: one key, one payment. Out: the PaymentReconciliation (201).
"""

from __future__ import annotations

from typing import Any

from ...errors import BadRequest
from ..money import amount_of
from .record import Payment

__all__ = ["desk_payment", "CAPABILITY_ENTRY", "METHODS"]

CAPABILITY_ENTRY = {"name": "pay", "definition": "http://fhir-server.example.org/OperationDefinition/Invoice-pay"}
METHODS = ("cash", "card", "online")


def desk_payment(invoice_id: str, body: Any, key: str) -> Payment:
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise BadRequest("$pay needs a Parameters body with amount (valueMoney) and method (valueCode)")
    values = {p.get("name"): p for p in body.get("parameter") or [] if isinstance(p, dict)}
    if "amount" not in values or "valueMoney" not in values["amount"]:
        raise BadRequest("$pay needs the parameter amount (valueMoney)")
    method = values.get("method", {}).get("valueCode")
    if method not in METHODS:
        raise BadRequest(f"$pay method must be one of {', '.join(METHODS)} (valueCode)")
    value, currency = amount_of(values["amount"]["valueMoney"], "$pay amount")
    return Payment(invoice_id, value, currency, "desk", key, method)
