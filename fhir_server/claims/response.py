"""A Decision as the ClaimResponse resource (http://hl7.org/fhir/R4/claimresponse.html): ``use``
and ``type`` as the Claim's, every item answered by its ``itemSequence``, totals per category and,
for a settled claim, the payment (http://terminology.hl7.org/CodeSystem/ex-paymenttype).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..fhir.datetimes import format_instant, now_instant
from .adjudicate import Decision, category
from .model import money

__all__ = ["claim_response", "PAYMENT_TYPE"]

PAYMENT_TYPE = "http://terminology.hl7.org/CodeSystem/ex-paymenttype"


def _totals(totals: dict[str, Decimal], currency: str) -> list[dict[str, Any]]:
    return [{"category": category(code), "amount": money(value, currency)} for code, value in totals.items()]


def claim_response(claim: dict[str, Any], decision: Decision, currency: str) -> dict[str, Any]:
    response: dict[str, Any] = {
        "resourceType": "ClaimResponse", "status": "active", "type": claim.get("type"),
        "use": claim.get("use", "claim"), "patient": claim["patient"], "created": format_instant(now_instant()),
        "insurer": claim["insurer"], "request": {"reference": f"Claim/{claim['id']}"},
        "outcome": decision.outcome, "disposition": decision.disposition}
    if claim.get("provider"):
        response["requestor"] = claim["provider"]
    if decision.items:
        response["item"] = decision.items
    response["insurance"] = [{"sequence": i.get("sequence", n + 1), "focal": bool(i.get("focal", n == 0)),
                              "coverage": i["coverage"]} for n, i in enumerate(claim.get("insurance") or [])]
    if decision.errors:
        response["error"] = decision.errors
    if decision.totals:
        response["total"] = _totals(decision.totals, currency)
    if decision.outcome in ("complete", "partial") and claim.get("use") == "preauthorization":
        response["preAuthRef"] = f"PA-{claim['id']}"  # quoted back in Claim.insurance.preAuthRef
    if decision.outcome in ("complete", "partial") and claim.get("use", "claim") == "claim":
        response["payment"] = {"type": {"coding": [{"system": PAYMENT_TYPE, "code": "complete"}]},
                               "amount": money(decision.totals.get("benefit", Decimal(0)), currency)}
    return {k: v for k, v in response.items() if v is not None}
