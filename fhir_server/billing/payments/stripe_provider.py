"""Stripe through the official ``stripe`` package (PaymentIntents, refunds, signed webhooks).

``FHIR_STRIPE_API_KEY`` (a ``sk_test_...`` key for a Stripe test account), ``FHIR_STRIPE_WEBHOOK_SECRET``
(the endpoint's ``whsec_...``) and ``FHIR_STRIPE_API_BASE`` (default https://api.stripe.com; the
tests point it at a local double of the endpoints used). The client's calls are synchronous, so
they run in a worker thread; each passes the caller's Idempotency-Key to Stripe.
https://docs.stripe.com/api/payment_intents, https://docs.stripe.com/webhooks#verify-events
"""

from __future__ import annotations

import asyncio
from typing import Any

import stripe

from .provider import BadSignature, Event, Intent

__all__ = ["StripeProvider"]


class StripeProvider:
    name = "stripe"

    def __init__(self, api_key: str, webhook_secret: str | None, api_base: str) -> None:
        self._client = stripe.StripeClient(api_key, base_addresses={"api": api_base}, max_network_retries=0)
        self._secret = webhook_secret

    async def create_intent(self, amount_minor: int, currency: str, idempotency_key: str,
                            metadata: dict[str, str]) -> Intent:
        def call() -> Any:
            return self._client.v1.payment_intents.create(
                {"amount": amount_minor, "currency": currency.lower(), "metadata": metadata,
                 "automatic_payment_methods": {"enabled": True}}, {"idempotency_key": idempotency_key})
        intent = await asyncio.to_thread(call)
        return Intent(intent.id, intent.client_secret, intent.status)

    async def cancel_intent(self, intent_id: str, idempotency_key: str) -> Intent:
        intent = await asyncio.to_thread(self._client.v1.payment_intents.cancel, intent_id, None,
                                         {"idempotency_key": idempotency_key})
        return Intent(intent.id, intent.client_secret, intent.status)

    async def refund(self, intent_id: str, amount_minor: int, idempotency_key: str) -> str:
        refund = await asyncio.to_thread(self._client.v1.refunds.create,
                                         {"payment_intent": intent_id, "amount": amount_minor},
                                         {"idempotency_key": idempotency_key})
        return str(refund.id)

    def verify_webhook(self, payload: bytes, signature: str | None) -> Event:
        if not self._secret:
            raise BadSignature("FHIR_STRIPE_WEBHOOK_SECRET is not set: webhooks cannot be verified")
        try:
            event = stripe.Webhook.construct_event(payload, signature, self._secret)
        except (stripe.SignatureVerificationError, ValueError) as exc:
            raise BadSignature(str(exc)) from None
        obj: dict[str, Any] = event.to_dict().get("data", {}).get("object") or {}
        intent_id = obj.get("id") if obj.get("object") == "payment_intent" else obj.get("payment_intent")
        return Event(str(event.id), str(event.type), intent_id, obj)
