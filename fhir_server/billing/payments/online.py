"""Invoice/$pay with ``method`` = ``online``: start a provider payment (a Stripe PaymentIntent).

The patient (their own issued Invoice) or billing staff: the amount must be in the Invoice's
currency and at most what is still owed; the provider's payment is created with the caller's
Idempotency-Key and kept as a ``pending`` billing_intent row. Nothing is paid yet: the
provider's signed webhook (``webhook.py``) records the payment when it succeeds; a failed
charge records nothing and the patient may try again. Amounts go to the provider in the
currency's minor unit (cents: currencies with two decimals).
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from typing import Any

from ...config import Settings
from ...errors import Unprocessable
from ...resources import repository
from ...scheduling.writes import Writes, content
from .provider import PaymentProvider
from .record import Payment, owed
from .stripe_provider import StripeProvider

__all__ = ["provider_for", "start_online"]


@cache
def _stripe(api_key: str, secret: str | None, base: str) -> StripeProvider:
    return StripeProvider(api_key, secret, base)


def provider_for(settings: Settings) -> PaymentProvider:
    if not settings.stripe_api_key:
        raise Unprocessable("Online payments are not configured (FHIR_STRIPE_API_KEY is not set)")
    return _stripe(settings.stripe_api_key, settings.stripe_webhook_secret, settings.stripe_api_base)


async def start_online(writes: Writes, provider: PaymentProvider, payment: Payment, header_key: str) -> dict[str, Any]:
    invoice = content(await repository.read(writes.conn, "Invoice", payment.invoice_id, for_update=True))
    if invoice.get("status") != "issued":
        raise Unprocessable(f"Invoice/{payment.invoice_id} is {invoice.get('status')}: only an issued Invoice is paid")
    remaining, currency = await owed(writes, invoice)
    if payment.currency != currency:
        raise Unprocessable(f"Invoice/{payment.invoice_id} is in {currency}, the payment in {payment.currency}")
    if payment.amount <= 0 or payment.amount > remaining:
        raise Unprocessable(f"Invoice/{payment.invoice_id}: {payment.amount} {currency} is not between 0 and the "
                            f"{remaining} {currency} still owed")
    minor = int((payment.amount * 100).to_integral_value())
    intent = await provider.create_intent(minor, currency, header_key, {"invoice": payment.invoice_id})
    await writes.conn.execute("INSERT INTO billing_intent (intent_id, provider, invoice_id, amount, currency, status)"
                              " VALUES (%s, %s, %s, %s, %s, 'pending') ON CONFLICT (intent_id) DO NOTHING",
                              (intent.id, provider.name, payment.invoice_id, payment.amount, currency))
    return {"resourceType": "Parameters", "parameter": [
        {"name": "paymentIntent", "valueString": intent.id},
        {"name": "clientSecret", "valueString": intent.client_secret or ""},
        {"name": "amount", "valueMoney": {"value": float(Decimal(payment.amount)), "currency": currency}},
        {"name": "status", "valueCode": "pending"}]}
