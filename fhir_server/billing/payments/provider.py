"""The payment provider interface: what the billing flow needs from a gateway (Stripe today).

A provider starts a payment (amount in the currency's minor unit, passing the caller's
Idempotency-Key on), cancels a pending one, refunds a confirmed one, and turns a webhook request
into a verified event (raising ``BadSignature`` when the signature does not verify).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["Intent", "Event", "BadSignature", "PaymentProvider"]


@dataclass(frozen=True)
class Intent:
    id: str
    client_secret: str | None
    status: str


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    intent_id: str | None
    data: dict[str, Any]


class BadSignature(Exception):
    """The webhook's signature header is missing, malformed, stale or wrong."""


class PaymentProvider(Protocol):
    name: str

    async def create_intent(self, amount_minor: int, currency: str, idempotency_key: str,
                            metadata: dict[str, str]) -> Intent: ...

    async def cancel_intent(self, intent_id: str, idempotency_key: str) -> Intent: ...

    async def refund(self, intent_id: str, amount_minor: int, idempotency_key: str) -> str: ...

    def verify_webhook(self, payload: bytes, signature: str | None) -> Event: ...
