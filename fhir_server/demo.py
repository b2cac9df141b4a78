"""The demo data set loaded by ``fhir-server serve --demo`` (``make serve``): a small hospital
(organization, practitioner, patient, encounter, observation, condition, medication
request, appointment) with fixed ids, written only when missing, so restarts keep edits."""

from __future__ import annotations

import logging
from typing import Any

from .errors import Gone, NotFound
from .resources.service import ResourceService
from .scheduling.demo import load_scheduling_demo

__all__ = ["DEMO_RESOURCES", "load_demo"]

log = logging.getLogger(__name__)
PATIENT = {"reference": "Patient/demo-patient", "display": "Amy Shaw"}
PRACTITIONER = {"reference": "Practitioner/demo-practitioner", "display": "Dr. Adam Careful"}

DEMO_RESOURCES: list[dict[str, Any]] = [
    {"resourceType": "Organization", "id": "demo-hospital", "active": True, "name": "Demo General Hospital",
     "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567893"}]},
    {"resourceType": "Practitioner", "id": "demo-practitioner", "active": True,
     "name": [{"family": "Careful", "given": ["Adam"], "prefix": ["Dr."]}],
     "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": "9941339108"}]},
    {"resourceType": "Patient", "id": "demo-patient", "active": True, "gender": "female",
     "birthDate": "1987-02-20", "name": [{"use": "official", "family": "Shaw", "given": ["Amy", "V."]}],
     "identifier": [{"system": "http://hospital.example.org/mrn", "value": "MRN-0001"}],
     "managingOrganization": {"reference": "Organization/demo-hospital"},
     "generalPractitioner": [PRACTITIONER]},
    {"resourceType": "Encounter", "id": "demo-encounter", "status": "finished",
     "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB",
               "display": "ambulatory"},
     "subject": PATIENT, "participant": [{"individual": PRACTITIONER}],
     "period": {"start": "2026-11-02T09:00:00+00:00", "end": "2026-11-02T09:30:00+00:00"},
     "serviceProvider": {"reference": "Organization/demo-hospital"}},
    {"resourceType": "Observation", "id": "demo-bp", "status": "final",
     "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                               "code": "vital-signs"}]}],
     "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7", "display": "Body weight"}]},
     "subject": PATIENT, "encounter": {"reference": "Encounter/demo-encounter"},
     "effectiveDateTime": "2026-11-02T09:10:00+00:00",
     "valueQuantity": {"value": 68.50, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}},
    {"resourceType": "Condition", "id": "demo-condition",
     "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                    "code": "active"}]},
     "code": {"coding": [{"system": "http://snomed.info/sct", "code": "38341003", "display": "Hypertension"}]},
     "subject": PATIENT, "onsetDateTime": "2024-05-01"},
    {"resourceType": "MedicationRequest", "id": "demo-medrequest", "status": "active", "intent": "order",
     "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                               "code": "314076", "display": "lisinopril 10 MG Oral Tablet"}]},
     "subject": PATIENT, "requester": PRACTITIONER, "authoredOn": "2026-11-02"},
    {"resourceType": "Appointment", "id": "demo-appointment", "status": "booked",
     "start": "2026-12-01T10:00:00+00:00", "end": "2026-12-01T10:20:00+00:00",
     "participant": [{"actor": PATIENT, "status": "accepted"}, {"actor": PRACTITIONER, "status": "accepted"}]},
]


async def load_demo(service: ResourceService) -> int:
    """Write each demo resource that is missing; return how many were written."""
    written = 0
    for resource in DEMO_RESOURCES:
        try:
            await service.read(resource["resourceType"], resource["id"])
        except (NotFound, Gone):
            await service.update(resource["resourceType"], resource["id"], resource)
            written += 1
    written += await load_scheduling_demo(service)  # a department whose doctors can be booked at once
    if written:
        log.info("demo data: wrote %d resources (Patient/demo-patient and friends)", written)
    return written
