"""Pharmacy demo data (``make serve``): a main pharmacy (Location), a small formulary (one Medication
per lot: Medication.batch), stock received by completed SupplyDeliveries (one lot running low, one
expired), and one active prescription for Patient/demo-patient-02 by the demo doctor
(Practitioner/demo-practitioner, a PractitionerRole coded doctor), ready to dispense.
Ids start with ``pharm-``; written only when missing, through the resource service (rules apply).
"""

from __future__ import annotations

from typing import Any

from ..resources.service import ResourceService

__all__ = ["PHARMACY_DEMO", "load_pharmacy_demo"]

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CAPSULE = {"unit": "capsule", "system": "http://terminology.hl7.org/CodeSystem/v3-orderableDrugForm", "code": "CAP"}
TABLET = {"unit": "tablet", "system": "http://terminology.hl7.org/CodeSystem/v3-orderableDrugForm", "code": "TAB"}
PHARMACY = "pharm-main-pharmacy"
FORMULARY = [  # id, RxNorm code, display, lot, expiry, form, units received
    ("pharm-amoxicillin-a1", "308182", "Amoxicillin 500 MG Oral Capsule", "AMX-2041", "2030-12-31", CAPSULE, 100),
    ("pharm-amoxicillin-old", "308182", "Amoxicillin 500 MG Oral Capsule", "AMX-1207", "2025-06-30", CAPSULE, 20),
    ("pharm-metformin-m1", "861007", "Metformin hydrochloride 500 MG Oral Tablet", "MET-3310", "2031-03-31", TABLET,
     200),
    ("pharm-lisinopril-l1", "314076", "Lisinopril 10 MG Oral Tablet", "LIS-0917", "2030-09-30", TABLET, 8),
]


def _medication(mid: str, code: str, display: str, lot: str, expires: str, form: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Medication", "id": mid, "status": "active",
            "code": {"coding": [{"system": RXNORM, "code": code, "display": display}], "text": display},
            "form": {"coding": [{"system": form["system"], "code": form["code"], "display": form["unit"]}]},
            "batch": {"lotNumber": lot, "expirationDate": expires}}


def _receipt(mid: str, form: dict[str, Any], units: int) -> dict[str, Any]:
    return {"resourceType": "SupplyDelivery", "id": f"pharm-receipt-{mid.removeprefix('pharm-')}",
            "status": "completed", "occurrenceDateTime": "2026-01-05T09:00:00Z",
            "suppliedItem": {"itemReference": {"reference": f"Medication/{mid}"},
                             "quantity": {"value": units, **form}},
            "destination": {"reference": f"Location/{PHARMACY}"}}


PRESCRIPTION: dict[str, Any] = {
    "resourceType": "MedicationRequest", "id": "pharm-rx-amoxicillin", "status": "active", "intent": "order",
    "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "308182",
                                              "display": "Amoxicillin 500 MG Oral Capsule"}]},
    "subject": {"reference": "Patient/demo-patient-02"},
    "requester": {"reference": "Practitioner/demo-practitioner"},
    "authoredOn": "2026-01-06",
    "dosageInstruction": [{"text": "One capsule three times a day for 7 days"}],
    "dispenseRequest": {"validityPeriod": {"start": "2026-01-06"}, "numberOfRepeatsAllowed": 1,
                        "quantity": {"value": 21, **CAPSULE}}}

PHARMACY_DEMO: list[dict[str, Any]] = [
    {"resourceType": "Location", "id": PHARMACY, "status": "active", "name": "Main pharmacy", "mode": "instance",
     "type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "PHARM",
                           "display": "Pharmacy"}]}],
     "managingOrganization": {"reference": "Organization/demo-hospital"}},
    *(_medication(mid, code, display, lot, expires, form) for mid, code, display, lot, expires, form, _ in FORMULARY),
    *(_receipt(mid, form, units) for mid, _, _, _, _, form, units in FORMULARY),
    PRESCRIPTION,
]


async def load_pharmacy_demo(service: ResourceService) -> int:
    """Write the missing pharmacy demo resources (in order: a receipt needs its Medication and Location)."""
    return await service.write_missing(PHARMACY_DEMO)
