"""read, vread, conditional reads, content negotiation, _summary and _elements (http.html#read)."""

from __future__ import annotations

import re
from email.utils import parsedate_to_datetime

import httpx
import pytest

PATIENT = {
    "resourceType": "Patient",
    "active": True,
    "name": [{"family": "Chalmers", "given": ["Peter", "James"]}],
    "gender": "male",
    "birthDate": "1974-12-25",
    "contact": [{"name": {"family": "du Marché"}, "gender": "female"}],
}


@pytest.fixture(scope="module")
def created(client: httpx.Client) -> httpx.Response:
    response = client.post("/Patient", json=PATIENT)
    assert response.status_code == 201, response.text
    return response


def test_create_returns_location_etag_last_modified(created: httpx.Response, server_url: str) -> None:
    body = created.json()
    assert created.headers["etag"] == 'W/"1"'
    assert created.headers["location"] == f"{server_url}/Patient/{body['id']}/_history/1"
    assert created.headers["content-type"].startswith("application/fhir+json")
    last_modified = parsedate_to_datetime(created.headers["last-modified"])
    assert last_modified.tzinfo is not None
    assert body["meta"]["versionId"] == "1"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|\+00:00)", body["meta"]["lastUpdated"])
    assert re.fullmatch(r"[A-Za-z0-9\-.]{1,64}", body["id"])


def test_read_returns_stored_content(client: httpx.Client, created: httpx.Response) -> None:
    rid = created.json()["id"]
    response = client.get(f"/Patient/{rid}")
    assert response.status_code == 200
    assert response.headers["etag"] == 'W/"1"'
    assert response.headers["last-modified"] == created.headers["last-modified"]
    body = response.json()
    assert body["resourceType"] == "Patient" and body["id"] == rid
    assert body["name"] == PATIENT["name"] and body["contact"] == PATIENT["contact"]
    assert body["meta"] == created.json()["meta"]


def test_vread_existing_and_missing_versions(client: httpx.Client, created: httpx.Response) -> None:
    rid = created.json()["id"]
    assert client.get(f"/Patient/{rid}/_history/1").json()["meta"]["versionId"] == "1"
    for missing in ("2", "0", "abc"):
        response = client.get(f"/Patient/{rid}/_history/{missing}")
        assert response.status_code == 404
        assert response.json()["resourceType"] == "OperationOutcome"


def test_read_unknown_id_and_unknown_type(client: httpx.Client) -> None:
    missing = client.get("/Patient/does-not-exist")
    assert missing.status_code == 404
    assert missing.json()["issue"][0]["code"] == "not-found"
    unknown = client.get("/Patients/1")
    assert unknown.status_code == 404
    assert "Unknown resource type 'Patients'" in unknown.json()["issue"][0]["diagnostics"]


def test_if_none_match_gives_304(client: httpx.Client, created: httpx.Response) -> None:
    rid = created.json()["id"]
    assert client.get(f"/Patient/{rid}", headers={"If-None-Match": 'W/"1"'}).status_code == 304
    not_cached = client.get(f"/Patient/{rid}", headers={"If-None-Match": 'W/"7"'})
    assert not_cached.status_code == 200


def test_if_modified_since(client: httpx.Client, created: httpx.Response) -> None:
    rid = created.json()["id"]
    unchanged = client.get(f"/Patient/{rid}", headers={"If-Modified-Since": created.headers["last-modified"]})
    assert unchanged.status_code == 304
    old = client.get(f"/Patient/{rid}", headers={"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"})
    assert old.status_code == 200


def test_summary_true_keeps_summary_elements_only(client: httpx.Client, created: httpx.Response) -> None:
    body = client.get(f"/Patient/{created.json()['id']}", params={"_summary": "true"}).json()
    # Patient.contact is not a summary element; name, gender, birthDate, active are.
    assert "contact" not in body
    assert body["name"] == PATIENT["name"] and body["gender"] == "male" and body["active"] is True
    assert {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
            "code": "SUBSETTED"} in body["meta"]["tag"]


def test_elements_keeps_named_elements(client: httpx.Client, created: httpx.Response) -> None:
    body = client.get(f"/Patient/{created.json()['id']}", params={"_elements": "birthDate"}).json()
    assert set(body) == {"resourceType", "id", "meta", "birthDate"}


def test_summary_invalid_value_is_400(client: httpx.Client, created: httpx.Response) -> None:
    response = client.get(f"/Patient/{created.json()['id']}", params={"_summary": "maybe"})
    assert response.status_code == 400


@pytest.mark.parametrize("fmt", ["xml", "application/fhir+xml", "text/turtle"])
def test_unsupported_format_is_406(client: httpx.Client, created: httpx.Response, fmt: str) -> None:
    response = client.get(f"/Patient/{created.json()['id']}", params={"_format": fmt})
    assert response.status_code == 406
    assert response.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize(("fmt", "media"), [("json", "application/fhir+json"),
                                             ("application/fhir+json", "application/fhir+json"),
                                             ("application/json", "application/json")])
def test_format_parameter(client: httpx.Client, created: httpx.Response, fmt: str, media: str) -> None:
    response = client.get(f"/Patient/{created.json()['id']}", params={"_format": fmt})
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == media


def test_accept_header_negotiation(client: httpx.Client, created: httpx.Response) -> None:
    url = f"/Patient/{created.json()['id']}"
    assert client.get(url, headers={"Accept": "application/fhir+xml"}).status_code == 406
    json_reply = client.get(url, headers={"Accept": "application/json"})
    assert json_reply.headers["content-type"].startswith("application/json")
    versioned = client.get(url, headers={"Accept": "application/fhir+json; fhirVersion=4.0"})
    assert versioned.status_code == 200
    assert client.get(url, headers={"Accept": "application/fhir+json; fhirVersion=3.0"}).status_code == 406


def test_pretty(client: httpx.Client, created: httpx.Response) -> None:
    pretty = client.get(f"/Patient/{created.json()['id']}", params={"_pretty": "true"})
    assert pretty.text.startswith("{\n  ")
    assert pretty.json()["name"] == PATIENT["name"]


def test_request_id_is_echoed_or_generated(client: httpx.Client, created: httpx.Response) -> None:
    rid = created.json()["id"]
    given = client.get(f"/Patient/{rid}", headers={"X-Request-Id": "ehr-trace-42"})
    assert given.headers["x-request-id"] == "ehr-trace-42"
    unsafe = client.get(f"/Patient/{rid}", headers={"X-Request-Id": "bad id\twith spaces"})
    first, second = unsafe.headers["x-request-id"], client.get(f"/Patient/{rid}").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", first) and re.fullmatch(r"[0-9a-f]{32}", second) and first != second
