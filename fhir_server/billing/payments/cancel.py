"""Invoice/[id]/$cancel-payment: the patient (or staff) cancels a pending online payment.

In (Parameters): ``paymentIntent`` (valueString, as $pay answered it). The provider's payment is
cancelled (nothing was charged) and the billing_intent row becomes ``cancelled``; a payment that
already succeeded, failed or was cancelled: 422.
"""

from __future__ import annotations

from typing import Any

from ...errors import BadRequest, Unprocessable
from ...scheduling.writes import Writes
from .provider import PaymentProvider

__all__ = ["cancel_pending", "CAPABILITY_ENTRY", "intent_in"]

CAPABILITY_ENTRY = {"name": "cancel-payment",
                    "definition": "http://fhir-server.example.org/OperationDefinition/Invoice-cancel-payment"}


def intent_in(body: Any) -> str:
    for param in (body or {}).get("parameter") or [] if isinstance(body, dict) else []:
        if isinstance(param, dict) and param.get("name") == "paymentIntent" and param.get("valueString"):
            return str(param["valueString"])
    raise BadRequest("$cancel-payment needs the parameter paymentIntent (valueString)")


async def cancel_pending(writes: Writes, invoice_id: str, intent_id: str, provider: PaymentProvider,
                         provider_key: str) -> dict[str, Any]:
    cur = await writes.conn.execute("SELECT status FROM billing_intent WHERE intent_id = %s AND invoice_id = %s"
                                    " FOR UPDATE", (intent_id, invoice_id))
    row = await cur.fetchone()
    if row is None:
        raise Unprocessable(f"{intent_id} is not a payment of Invoice/{invoice_id}")
    if row[0] != "pending":
        raise Unprocessable(f"{intent_id} is {row[0]}: only a pending payment can be cancelled")
    await provider.cancel_intent(intent_id, provider_key)
    await writes.conn.execute("UPDATE billing_intent SET status = 'cancelled' WHERE intent_id = %s", (intent_id,))
    return {"resourceType": "Parameters", "parameter": [{"name": "paymentIntent", "valueString": intent_id},
                                                        {"name": "status", "valueCode": "cancelled"}]}
