"""Laboratory demo data (``make serve``): for the demo patient, a blood count ordered by the demo
doctor whose Task is in progress with its Specimen collected, and a metabolic panel whose order is
completed with a final DiagnosticReport and its Observations. Fixed ids prefixed ``lab-``, written
only when missing (edits survive restarts), through the resource service: the lab rules run.
"""

from __future__ import annotations

from typing import Any

from ..resources.service import ResourceService

__all__ = ["LAB_DEMO", "load_lab_demo"]

PATIENT = {"reference": "Patient/demo-patient"}
DOCTOR = {"reference": "Practitioner/demo-practitioner"}
LAB = {"reference": "Organization/lab-laboratory"}
LAB_CATEGORY = [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                             "code": "laboratory", "display": "Laboratory"}]}]
REPORT_CATEGORY = [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "LAB",
                                "display": "Laboratory"}]}]


def _loinc(code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": "http://loinc.org", "code": code, "display": display}]}


def _order(rid: str, status: str, code: dict[str, Any], authored: str) -> dict[str, Any]:
    return {"resourceType": "ServiceRequest", "id": rid, "status": status, "intent": "order", "category": [
        {"coding": [{"system": "http://snomed.info/sct", "code": "108252007", "display": "Laboratory procedure"}]}],
        "code": code, "subject": PATIENT, "requester": DOCTOR, "performer": [LAB], "authoredOn": authored}


def _task(rid: str, status: str, order: str, authored: str) -> dict[str, Any]:
    return {"resourceType": "Task", "id": rid, "status": status, "intent": "order",
            "code": {"coding": [{"system": "http://hl7.org/fhir/CodeSystem/task-code", "code": "fulfill"}]},
            "focus": {"reference": f"ServiceRequest/{order}"}, "basedOn": [{"reference": f"ServiceRequest/{order}"}],
            "for": PATIENT, "requester": DOCTOR, "owner": LAB, "authoredOn": authored}


def _result(rid: str, code: dict[str, Any], value: float, unit: str, ucum: str, when: str) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": rid, "status": "final", "category": LAB_CATEGORY, "code": code,
            "subject": PATIENT, "effectiveDateTime": when, "performer": [LAB],
            "basedOn": [{"reference": "ServiceRequest/lab-order-bmp"}],
            "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": ucum}}


CBC, BMP = _loinc("58410-2", "CBC panel - Blood by Automated count"), _loinc("51990-0", "Basic metabolic panel - Blood")
LAB_DEMO: list[dict[str, Any]] = [
    {"resourceType": "Organization", "id": "lab-laboratory", "active": True, "name": "Laboratory",
     "partOf": {"reference": "Organization/demo-hospital"}},
    _order("lab-order-cbc", "active", CBC, "2026-11-20T08:00:00Z"),
    _task("lab-task-cbc", "in-progress", "lab-order-cbc", "2026-11-20T08:00:00Z"),
    {"resourceType": "Specimen", "id": "lab-specimen-cbc", "status": "available", "subject": PATIENT,
     "type": {"coding": [{"system": "http://snomed.info/sct", "code": "119297000", "display": "Blood specimen"}]},
     "request": [{"reference": "ServiceRequest/lab-order-cbc"}],
     "collection": {"collectedDateTime": "2026-11-20T08:30:00Z"}},
    _order("lab-order-bmp", "completed", BMP, "2026-11-18T08:00:00Z"),
    _task("lab-task-bmp", "completed", "lab-order-bmp", "2026-11-18T08:00:00Z"),
    _result("lab-obs-glucose", _loinc("2339-0", "Glucose [Mass/volume] in Blood"), 95, "mg/dL", "mg/dL",
            "2026-11-18T09:00:00Z"),
    _result("lab-obs-potassium", _loinc("6298-4", "Potassium [Moles/volume] in Blood"), 4.2, "mmol/L", "mmol/L",
            "2026-11-18T09:00:00Z"),
    {"resourceType": "DiagnosticReport", "id": "lab-report-bmp", "status": "final", "category": REPORT_CATEGORY,
     "code": BMP, "subject": PATIENT, "basedOn": [{"reference": "ServiceRequest/lab-order-bmp"}],
     "effectiveDateTime": "2026-11-18T09:00:00Z", "issued": "2026-11-18T11:00:00Z", "performer": [LAB],
     "resultsInterpreter": [DOCTOR], "result": [{"reference": "Observation/lab-obs-glucose"},
                                                {"reference": "Observation/lab-obs-potassium"}],
     "conclusion": "Glucose and potassium within reference ranges."},
]


async def load_lab_demo(service: ResourceService) -> int:
    """Write the lab demo resources that are missing; return how many were written."""
    return await service.write_missing(LAB_DEMO)
