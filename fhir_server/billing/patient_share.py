"""What insurance paid, from completed ClaimResponses (written by the claims package or an insurer).

Paid = the sum of ``ClaimResponse.item.adjudication.amount`` whose category is ``benefit``
(http://terminology.hl7.org/CodeSystem/adjudication), over the ClaimResponses named, each
``status`` active and ``outcome`` complete or partial (the amounts a payer committed to). The
patient's share of an Invoice = totalGross - paid, never below 0 (copay, deductible and whatever
insurance did not pay). A ClaimResponse in another currency than the Invoice: 422.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..errors import Unprocessable
from ..resources import repository
from ..scheduling.writes import Writes, content
from .money import amount_of

__all__ = ["INSURANCE_PAID", "PATIENT_SHARE", "insurance_paid", "benefit_of"]

INSURANCE_PAID = "http://fhir-server.example.org/StructureDefinition/invoice-insurance-paid"
PATIENT_SHARE = "http://fhir-server.example.org/StructureDefinition/invoice-patient-responsibility"


def _is_benefit(adjudication: dict[str, Any]) -> bool:
    return any(c.get("code") == "benefit" for c in (adjudication.get("category") or {}).get("coding") or [])


def benefit_of(response: dict[str, Any], currency: str) -> Decimal:
    paid, where = Decimal(0), f"ClaimResponse/{response.get('id')}"
    for item in response.get("item") or []:
        for adjudication in item.get("adjudication") or []:
            if _is_benefit(adjudication) and adjudication.get("amount") is not None:
                value, other = amount_of(adjudication["amount"], f"{where} benefit")
                if other != currency:
                    raise Unprocessable(f"{where} pays in {other}, the Invoice is in {currency}")
                paid += value
    return paid


async def insurance_paid(writes: Writes, references: list[str], currency: str) -> Decimal:
    paid = Decimal(0)
    for reference in dict.fromkeys(references):  # a ClaimResponse named twice counts once
        kind, _, rid = reference.partition("/")
        if kind != "ClaimResponse" or not rid:
            raise Unprocessable(f"claimResponse {reference!r} is not a ClaimResponse/[id] reference")
        await writes.policy.check_visible(writes.conn, "ClaimResponse", rid, "r")
        response = content(await repository.read(writes.conn, "ClaimResponse", rid))
        if response.get("status") != "active" or response.get("outcome") not in ("complete", "partial"):
            raise Unprocessable(f"{reference} is not a completed ClaimResponse (status active, outcome "
                                "complete or partial)")
        paid += benefit_of(response, currency)
    return paid
