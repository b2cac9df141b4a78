"""Requests as popular clients send them (fhirpy 2.x, the real library): conditional create from
the URL (``get_or_create``), ``count()`` (``_count=0``), and parameters an interaction does not
use, which are refused rather than ignored (http://hl7.org/fhir/R4/http.html#ccreate)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fhirpy import SyncFHIRClient

IDENT = "urn:x"


@pytest.fixture(scope="module")
def fhirpy(server_url: str) -> Iterator[SyncFHIRClient]:
    yield SyncFHIRClient(server_url)


def _count(client: httpx.Client, value: str) -> int:
    total: int = client.get("/Patient", params={"identifier": f"{IDENT}|{value}", "_summary": "count"}).json()["total"]
    return total


def test_get_or_create_creates_once(fhirpy: SyncFHIRClient, client: httpx.Client) -> None:
    resource = fhirpy.resource("Patient", identifier=[{"system": IDENT, "value": "dup"}], gender="female")
    first, created = fhirpy.resources("Patient").search(identifier=f"{IDENT}|dup").get_or_create(resource)
    again, created_again = fhirpy.resources("Patient").search(identifier=f"{IDENT}|dup").get_or_create(resource)
    assert (created, created_again) == (True, False)
    assert again.id == first.id and again["meta"]["versionId"] == "1"
    assert _count(client, "dup") == 1


def test_post_with_criteria_is_a_conditional_create(client: httpx.Client) -> None:
    body = {"resourceType": "Patient", "identifier": [{"system": IDENT, "value": "raw"}]}
    first = client.post("/Patient", params={"identifier": f"{IDENT}|raw"}, json=body)
    assert first.status_code == 201
    second = client.post("/Patient", params={"identifier": f"{IDENT}|raw", "_pretty": "true"}, json=body)
    assert second.status_code == 200 and second.json()["id"] == first.json()["id"]
    assert "location" not in second.headers
    assert _count(client, "raw") == 1


@pytest.mark.parametrize(("params", "headers", "message"), [
    ({"identifier": f"{IDENT}|both"}, {"If-None-Exist": f"identifier={IDENT}|both"},
     "A conditional create takes its criteria from If-None-Exist or from the URL, not both"),
    ({"nonsense": "1"}, {}, "Unknown search parameter 'nonsense' for Patient"),
    ({"_sort": "birthdate"}, {}, "Result parameters (_sort) have no meaning in a conditional request"),
])
def test_post_with_bad_criteria_creates_nothing(client: httpx.Client, params: dict[str, str],
                                                headers: dict[str, str], message: str) -> None:
    before = client.get("/Patient", params={"_summary": "count"}).json()["total"]
    body = {"resourceType": "Patient", "identifier": [{"system": IDENT, "value": "both"}]}
    response = client.post("/Patient", params=params, headers=headers, json=body)
    assert response.status_code == 400
    assert response.json()["issue"][0]["diagnostics"].startswith(message)
    assert client.get("/Patient", params={"_summary": "count"}).json()["total"] == before


def test_fhirpy_count(fhirpy: SyncFHIRClient) -> None:
    ids = [fhirpy.resource("Patient", identifier=[{"system": IDENT, "value": "counted"}]) for _ in range(3)]
    for patient in ids:
        patient.save()
    assert fhirpy.resources("Patient").search(identifier=f"{IDENT}|counted").count() == 3


@pytest.mark.parametrize(("method", "suffix", "params", "body", "message"), [
    ("GET", "", {"name": "x"}, None, "The read interaction does not take the parameter(s) name "
                                     "(it takes only _format, _pretty, _summary, _elements)"),
    ("GET", "/_history/1", {"_count": "1"}, None, "The vread interaction does not take the parameter(s) _count"),
    ("PUT", "", {"identifier": "a|b"}, {"resourceType": "Patient"}, "The update interaction does not take the "
                                                                    "parameter(s) identifier (it takes only "
                                                                    "_format, _pretty)"),
    ("DELETE", "", {"identifier": "a|b", "_id": "x"}, None,
     "The delete interaction does not take the parameter(s) _id, identifier"),
    ("PATCH", "", {"gender": "male"}, [{"op": "add", "path": "/active", "value": True}],
     "The patch interaction does not take the parameter(s) gender"),
])
def test_unused_parameters_are_refused(client: httpx.Client, method: str, suffix: str, params: dict[str, str],
                                       body: Any, message: str) -> None:
    rid = client.post("/Patient", json={"resourceType": "Patient"}).json()["id"]
    if isinstance(body, dict):
        body = {**body, "id": rid}
    headers = {"Content-Type": "application/json-patch+json"} if method == "PATCH" else {}
    response = client.request(method, f"/Patient/{rid}{suffix}", params=params, json=body, headers=headers)
    assert response.status_code == 400
    assert response.json()["issue"][0]["diagnostics"].startswith(message)
    after = client.get(f"/Patient/{rid}")
    assert after.status_code == 200 and after.json()["meta"]["versionId"] == "1"


def test_read_parameters_still_served(client: httpx.Client) -> None:
    rid = client.post("/Patient", json={"resourceType": "Patient", "gender": "male"}).json()["id"]
    read = client.get(f"/Patient/{rid}", params={"_elements": "gender", "_format": "json", "_pretty": "true"})
    assert read.status_code == 200 and read.json()["gender"] == "male"
    assert client.get(f"/Patient/{rid}/_history/1", params={"_summary": "true"}).status_code == 200
