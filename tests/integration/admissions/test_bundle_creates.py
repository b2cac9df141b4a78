"""Transaction creates (POST entries, which may go in bulk when no rule must run for them): a
create that can hold a bed or close a partOf cycle still runs its rule; the rest are stored as usual."""

from __future__ import annotations

from typing import Any

import httpx

from .helpers import BED_STATUS, PHYSICAL, bed_code, diagnostics, encounter, occupants, transaction


def _post(resource: dict[str, Any], full_url: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"resource": resource, "request": {"method": "POST", "url": resource["resourceType"]}}
    if full_url is not None:
        entry["fullUrl"] = full_url
    return entry


BED_URL, A_URL, B_URL = ("urn:uuid:7d1b3c2e-0000-4000-8000-00000000000" + n for n in "123")


def test_posted_bed_and_admission_in_one_transaction(client: httpx.Client, database_url: str) -> None:
    bed = {"resourceType": "Location", "status": "active", "physicalType": {"coding": [
        {"system": PHYSICAL, "code": "bd"}]}, "operationalStatus": {"system": BED_STATUS, "code": "U"}}
    admission = encounter("in-progress")
    admission["location"] = [{"location": {"reference": BED_URL}}]
    history = [encounter("finished") for _ in range(5)]
    response = client.post("/", json=transaction(_post(bed, BED_URL), _post(admission), *map(_post, history)))
    assert response.status_code == 200, response.text
    locations = [e["response"]["location"] for e in response.json()["entry"]]
    bed_id, encounter_id = locations[0].split("/")[1], locations[1].split("/")[1]
    assert all(loc.startswith("Encounter/") for loc in locations[1:])
    assert occupants(database_url, bed_id) == [encounter_id]
    assert bed_code(client, bed_id) == "O"
    second = encounter("in-progress", bed=bed_id)
    refused = client.post("/", json=transaction(_post(encounter("finished")), _post(second)))
    assert refused.status_code == 409, refused.text
    assert diagnostics(refused).endswith(f"Location/{bed_id} is already occupied by another active inpatient "
                                         "Encounter")


def test_posted_organizations_cannot_close_a_cycle(client: httpx.Client) -> None:
    a = {"resourceType": "Organization", "name": "A", "partOf": {"reference": B_URL}}
    b = {"resourceType": "Organization", "name": "B", "partOf": {"reference": A_URL}}
    response = client.post("/", json=transaction(_post(a, A_URL), _post(b, B_URL)))
    assert response.status_code == 422, response.text
    assert "makes a cycle" in diagnostics(response)
    assert client.get("/Organization", params={"name:exact": "A"}).json().get("entry", []) == []
