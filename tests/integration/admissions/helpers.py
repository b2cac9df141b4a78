"""Building admissions resources and reading what PostgreSQL holds, for the admissions tests."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import psycopg

ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
PHYSICAL = "http://terminology.hl7.org/CodeSystem/location-physical-type"
BED_STATUS = "http://terminology.hl7.org/CodeSystem/v2-0116"
JSON_PATCH = {"Content-Type": "application/json-patch+json"}
HOME = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/discharge-disposition", "code": "home"}]}


def fresh(prefix: str = "") -> str:
    return prefix + uuid.uuid4().hex[:12]


def encounter(status: str, klass: str = "IMP", bed: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"resourceType": "Encounter", "status": status,
                            "class": {"system": ACT, "code": klass}, "subject": {"reference": "Patient/p1"}}
    if bed is not None:
        body["location"] = [{"location": {"reference": f"Location/{bed}"}, "status": "active"}]
    body.update(extra)
    return body


def bed(client: httpx.Client, status_code: str = "U", part_of: str | None = None) -> str:
    body: dict[str, Any] = {"resourceType": "Location", "status": "active", "name": fresh("bed "),
                            "physicalType": {"coding": [{"system": PHYSICAL, "code": "bd"}]},
                            "operationalStatus": {"system": BED_STATUS, "code": status_code}}
    if part_of is not None:
        body["partOf"] = {"reference": f"Location/{part_of}"}
    response = client.post("/Location", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def create(client: httpx.Client, resource: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"/{resource['resourceType']}", json=resource)
    assert response.status_code == 201, response.text
    return dict(response.json())


def bed_code(client: httpx.Client, bed_id: str) -> str:
    return str(client.get(f"/Location/{bed_id}").json()["operationalStatus"]["code"])


def occupants(url: str, bed_id: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT encounter_id FROM admissions_bed_occupancy WHERE bed_id = %s",
                            (bed_id,)).fetchall()
    return [r[0] for r in rows]


def diagnostics(response: httpx.Response) -> str:
    return str(response.json()["issue"][0]["diagnostics"])


def patch_status(client: httpx.Client, rid: str, status: str) -> httpx.Response:
    return client.patch(f"/Encounter/{rid}", headers=JSON_PATCH,
                        content=f'[{{"op": "replace", "path": "/status", "value": "{status}"}}]'.encode())


def transaction(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "transaction", "entry": list(entries)}


def put_entry(resource: dict[str, Any]) -> dict[str, Any]:
    return {"resource": resource, "request": {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"}}
