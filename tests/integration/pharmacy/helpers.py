"""Building pharmacy records and reading what PostgreSQL holds, for the pharmacy tests."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import httpx
import psycopg

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ROLE = "http://terminology.hl7.org/CodeSystem/practitioner-role"
AMOXICILLIN = "308182"
IBUPROFEN = "197806"
TABLETS = {"unit": "tablet", "system": "http://terminology.hl7.org/CodeSystem/v3-orderableDrugForm", "code": "TAB"}
JSON_PATCH = {"Content-Type": "application/json-patch+json"}


def fresh(prefix: str = "") -> str:
    return prefix + uuid.uuid4().hex[:12]


def created(client: httpx.Client, body: dict[str, Any]) -> str:
    response = client.post(f"/{body['resourceType']}", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def diagnostics(response: httpx.Response) -> str:
    return str(response.json()["issue"][0]["diagnostics"])


def practitioner(client: httpx.Client, role: str | None = "doctor", active: bool = True,
                 role_active: bool = True) -> str:
    pid = created(client, {"resourceType": "Practitioner", "active": active, "name": [{"family": fresh("Dr ")}]})
    if role is not None:
        created(client, {"resourceType": "PractitionerRole", "active": role_active,
                         "practitioner": {"reference": f"Practitioner/{pid}"},
                         "code": [{"coding": [{"system": ROLE, "code": role}]}]})
    return pid


def patient(client: httpx.Client) -> str:
    return created(client, {"resourceType": "Patient", "name": [{"family": fresh("Pat ")}]})


def medication(client: httpx.Client, code: str = AMOXICILLIN, lot: str | None = None,
               expires: str = "2035-01-31") -> str:
    body: dict[str, Any] = {"resourceType": "Medication", "code": {"coding": [{"system": RXNORM, "code": code}]}}
    if lot is not None:
        body["batch"] = {"lotNumber": lot, "expirationDate": expires}
    return created(client, body)


def location(client: httpx.Client) -> str:
    return created(client, {"resourceType": "Location", "name": fresh("Pharmacy "), "status": "active"})


def delivery(med: str, loc: str, quantity: int, status: str = "completed") -> dict[str, Any]:
    return {"resourceType": "SupplyDelivery", "status": status,
            "suppliedItem": {"itemReference": {"reference": f"Medication/{med}"},
                             "quantity": {"value": quantity, **TABLETS}},
            "destination": {"reference": f"Location/{loc}"}}


def order(patient_id: str, requester: str, code: str = AMOXICILLIN, quantity: int | None = 30,
          repeats: int | None = 1, status: str = "active", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"resourceType": "MedicationRequest", "status": status, "intent": "order",
                            "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": code}]},
                            "subject": {"reference": f"Patient/{patient_id}"},
                            "requester": {"reference": requester}}
    dispense: dict[str, Any] = {}
    if quantity is not None:
        dispense["quantity"] = {"value": quantity, **TABLETS}
    if repeats is not None:
        dispense["numberOfRepeatsAllowed"] = repeats
    if dispense:
        body["dispenseRequest"] = dispense
    body.update(extra)
    return body


def dispense(request_id: str, patient_id: str, quantity: int | None, med: str | None = None,
             loc: str | None = None, code: str = AMOXICILLIN, status: str = "completed",
             **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"resourceType": "MedicationDispense", "status": status,
                            "subject": {"reference": f"Patient/{patient_id}"},
                            "authorizingPrescription": [{"reference": f"MedicationRequest/{request_id}"}]}
    if med is not None:
        body["medicationReference"] = {"reference": f"Medication/{med}"}
    else:
        body["medicationCodeableConcept"] = {"coding": [{"system": RXNORM, "code": code}]}
    if loc is not None:
        body["location"] = {"reference": f"Location/{loc}"}
    if quantity is not None:
        body["quantity"] = {"value": quantity, **TABLETS}
    body.update(extra)
    return body


def on_hand(url: str, med: str, loc: str) -> Decimal | None:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT sum(quantity) FROM pharmacy_stock WHERE medication_id = %s AND location_id = %s",
                           (med, loc)).fetchone()
    return row[0] if row else None


def stored_dispenses(url: str, request_id: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM resource WHERE resource_type = 'MedicationDispense' AND NOT deleted"
                           " AND version_id > 0 AND content->'authorizingPrescription' @> %s::jsonb",
                           (f'[{{"reference": "MedicationRequest/{request_id}"}}]',)).fetchone()
    assert row is not None
    return int(row[0])


def transaction(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "transaction", "entry": list(entries)}


def post_entry(resource: dict[str, Any]) -> dict[str, Any]:
    return {"resource": resource, "request": {"method": "POST", "url": resource["resourceType"]}}
