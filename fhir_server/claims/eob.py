"""The ExplanationOfBenefit of a completed adjudication, shaped after CARIN Blue Button
(http://hl7.org/fhir/us/carin-bb/, http://hl7.org/fhir/R4/explanationofbenefit.html): the Claim's
type, patient, insurer, provider, care team, billable period and items; the ClaimResponse's
outcome, per-item adjudication, totals and payment; ``insurance.coverage`` (focal first); the
unique claim identifier (CARIN's ``uc`` identifier type) and references to both.
"""

from __future__ import annotations

from typing import Any

__all__ = ["explanation_of_benefit"]

IDENTIFIER_TYPE = "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBIdentifierType"
CLAIM_ELEMENTS = ("type", "subType", "patient", "billablePeriod", "insurer", "provider", "careTeam", "diagnosis",
                  "procedure", "facility", "related", "payee", "referral", "supportingInfo")


def _item(claim_item: dict[str, Any], answered: dict[int, dict[str, Any]]) -> dict[str, Any]:
    item = {k: v for k, v in claim_item.items() if k in ("sequence", "careTeamSequence", "productOrService",
                                                         "modifier", "servicedDate", "servicedPeriod",
                                                         "locationCodeableConcept", "quantity", "unitPrice",
                                                         "factor", "net")}
    if claim_item["sequence"] in answered:
        item["adjudication"] = answered[claim_item["sequence"]]["adjudication"]
    return item


def explanation_of_benefit(claim: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    eob: dict[str, Any] = {"resourceType": "ExplanationOfBenefit"}
    identifiers = [{**i, "type": {"coding": [{"system": IDENTIFIER_TYPE, "code": "uc"}]}}
                   for i in claim.get("identifier") or [] if isinstance(i, dict) and i.get("value")]
    if identifiers:
        eob["identifier"] = identifiers
    eob.update({"status": "active", "use": claim.get("use", "claim"),
                "created": response.get("created") or claim.get("created")})
    eob.update({k: claim[k] for k in CLAIM_ELEMENTS if claim.get(k)})
    if "provider" not in eob:
        eob["provider"] = response.get("requestor") or response["insurer"]
    eob.update({"insurer": response["insurer"], "outcome": response["outcome"],
                "claim": {"reference": f"Claim/{claim['id']}"},
                "claimResponse": {"reference": f"ClaimResponse/{response['id']}"}})
    if response.get("disposition"):
        eob["disposition"] = response["disposition"]
    eob["insurance"] = [{"focal": i.get("focal", n == 0), "coverage": i["coverage"]}
                        for n, i in enumerate(response.get("insurance") or claim.get("insurance") or [])]
    answered = {i["itemSequence"]: i for i in response.get("item") or []}
    if claim.get("item"):
        eob["item"] = [_item(i, answered) for i in claim["item"]]
    for name in ("total", "payment"):
        if response.get(name):
            eob[name] = response[name]
    return eob
