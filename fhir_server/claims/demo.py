"""Claims demo data (``make serve``): the demo hospital's payer ``Organization/payer-demo``
(adjudicated here by default: ``FHIR_CLAIMS_ADJUDICATED_INSURERS``) and the demo patient's
``Coverage/cov-demo`` (copay 20.00 per visit, deductible 500.00 a year), so a claim can be
submitted at once. Fixed ids, written only when missing.
"""

from __future__ import annotations

from typing import Any

from ..resources.service import ResourceService

__all__ = ["CLAIMS_DEMO", "load_claims_demo"]

COPAY_TYPE = "http://terminology.hl7.org/CodeSystem/coverage-copay-type"


def _cost(kind: str, value: int) -> dict[str, Any]:
    return {"type": {"coding": [{"system": COPAY_TYPE, "code": kind}]},
            "valueMoney": {"value": value, "currency": "USD"}}


CLAIMS_DEMO: list[dict[str, Any]] = [
    {"resourceType": "Organization", "id": "payer-demo", "active": True, "name": "Demo Health Plan",
     "type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/organization-type", "code": "pay"}]}],
     "identifier": [{"system": "urn:example:payer", "value": "DEMO-PLAN"}]},
    {"resourceType": "Coverage", "id": "cov-demo", "status": "active",
     "identifier": [{"system": "urn:example:payer:member", "value": "DEMO-0001"}],
     "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "HIP",
                          "display": "health insurance plan policy"}]},
     "subscriber": {"reference": "Patient/demo-patient"}, "beneficiary": {"reference": "Patient/demo-patient"},
     "relationship": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/subscriber-relationship",
                                  "code": "self"}]},
     "period": {"start": "2020-01-01"}, "payor": [{"reference": "Organization/payer-demo"}],
     "costToBeneficiary": [_cost("copay", 20), _cost("deductible", 500)]},
]


async def load_claims_demo(service: ResourceService) -> int:
    return await service.write_missing(CLAIMS_DEMO)
