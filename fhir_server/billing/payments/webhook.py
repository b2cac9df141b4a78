"""POST /billing/stripe/webhook: the provider's signed events, each recorded at most once.

The signature is verified first (400 without a valid one). The event id is inserted into
``billing_webhook_event`` in the same transaction as its effect, so a re-delivered event finds
its id and changes nothing (200). ``payment_intent.succeeded`` records the pending payment
(``record.record_payment``: PaymentReconciliation, PaymentNotice, balanced when paid);
``payment_intent.payment_failed`` / ``payment_intent.canceled`` mark it failed / cancelled and
record no money. Any other event type, or an intent this server did not start: 400.
"""

from __future__ import annotations

from typing import Any

from ...errors import BadRequest
from ...resources.service import ResourceService
from ...scheduling.writes import unit_of_work
from ...smart_auth.policy import OPEN_POLICY
from .provider import BadSignature, Event, PaymentProvider
from .record import Payment, record_payment

__all__ = ["handle_webhook"]

ENDINGS = {"payment_intent.payment_failed": "failed", "payment_intent.canceled": "cancelled"}


async def handle_webhook(service: ResourceService, provider: PaymentProvider, payload: bytes,
                         signature: str | None, hospital: str) -> dict[str, Any]:
    try:
        event = provider.verify_webhook(payload, signature)
    except BadSignature as exc:
        raise BadRequest(f"Webhook signature does not verify: {exc}") from None
    if event.type != "payment_intent.succeeded" and event.type not in ENDINGS:
        raise BadRequest(f"Unknown webhook event type {event.type!r}")
    async with unit_of_work(service, OPEN_POLICY) as writes:  # the provider, not a user, writes here
        cur = await writes.conn.execute("INSERT INTO billing_webhook_event (event_id, provider) VALUES (%s, %s)"
                                        " ON CONFLICT (event_id) DO NOTHING RETURNING 1", (event.id, provider.name))
        if await cur.fetchone() is None:
            return {"received": True, "duplicate": True}
        await _apply(writes, provider, event, hospital)
    return {"received": True, "duplicate": False}


async def _apply(writes: Any, provider: PaymentProvider, event: Event, hospital: str) -> None:
    cur = await writes.conn.execute("SELECT invoice_id, amount, currency, status FROM billing_intent"
                                    " WHERE intent_id = %s AND provider = %s FOR UPDATE",
                                    (event.intent_id, provider.name))
    row = await cur.fetchone()
    if row is None:
        raise BadRequest(f"Webhook event {event.id} names a payment this server did not start")
    if row[3] != "pending":
        return  # already settled by an earlier event
    status = ENDINGS.get(event.type, "succeeded")
    if status == "succeeded":
        await record_payment(writes, Payment(row[0], row[1], row[2], provider.name, str(event.intent_id), "online"),
                             hospital)
    await writes.conn.execute("UPDATE billing_intent SET status = %s WHERE intent_id = %s", (status, event.intent_id))
