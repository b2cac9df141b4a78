"""PATCH with JSON Merge Patch (RFC 7386) over HTTP, as fhirpy 2.x sends it (``Content-Type:
application/json``, a partial resource, ``null`` removes) and with ``application/merge-patch+json``;
the same versioning, If-Match, validation, conditional patch, bundle entries and audit as the
other formats (http://hl7.org/fhir/R4/http.html#patch)."""

from __future__ import annotations

import base64
import time
from typing import Any

import httpx
import orjson
import psycopg
import pytest
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import OperationOutcome as FhirpyOutcome

MERGE = {"Content-Type": "application/merge-patch+json"}
SYSTEM = "urn:merge"


@pytest.fixture()
def patient(client: httpx.Client) -> dict[str, Any]:
    body = {"resourceType": "Patient", "active": True, "gender": "female", "birthDate": "1970-01-01",
            "identifier": [{"system": SYSTEM, "value": "m1"}], "name": [{"family": "Merge", "given": ["A"]}]}
    created: dict[str, Any] = client.post("/Patient", json=body).json()
    return created


def _stored(client: httpx.Client, rid: str) -> dict[str, Any]:
    body: dict[str, Any] = client.get(f"/Patient/{rid}").json()
    return body


def test_fhirpy_patch(server_url: str, client: httpx.Client, patient: dict[str, Any]) -> None:
    fhirpy = SyncFHIRClient(server_url)
    result = fhirpy.patch(f"Patient/{patient['id']}", gender="male", birthDate=None)
    assert result["gender"] == "male" and "birthDate" not in result and result["meta"]["versionId"] == "2"
    stored = _stored(client, patient["id"])
    assert stored["gender"] == "male" and "birthDate" not in stored
    assert stored["name"] == patient["name"] and stored["identifier"] == patient["identifier"]


def test_fhirpy_save_fields(server_url: str, client: httpx.Client, patient: dict[str, Any]) -> None:
    fhirpy = SyncFHIRClient(server_url)
    resource = fhirpy.resource("Patient", **patient)
    resource["active"] = False
    resource.save(fields=["active"])
    assert _stored(client, patient["id"])["active"] is False


def test_fhirpy_patch_error_is_an_outcome(server_url: str, patient: dict[str, Any]) -> None:
    with pytest.raises(FhirpyOutcome) as caught:
        SyncFHIRClient(server_url).patch(f"Patient/{patient['id']}", gender="femme")
    assert "femme" in str(caught.value)


def test_merge_patch_media_type_objects_merge_arrays_replace(client: httpx.Client, patient: dict[str, Any]) -> None:
    rid = patient["id"]
    document = {"name": [{"family": "Other"}], "maritalStatus": {"text": "single"}, "active": None}
    response = client.patch(f"/Patient/{rid}", content=orjson.dumps(document), headers=MERGE)
    assert response.status_code == 200 and response.headers["etag"] == 'W/"2"'
    stored = _stored(client, rid)
    assert stored["name"] == [{"family": "Other"}] and stored["maritalStatus"] == {"text": "single"}
    assert "active" not in stored and stored["gender"] == "female"
    nested = client.patch(f"/Patient/{rid}", content=b'{"maritalStatus": {"text": null, "coding": '
                          b'[{"code": "S"}]}}', headers=MERGE)
    assert nested.status_code == 200
    assert _stored(client, rid)["maritalStatus"] == {"coding": [{"code": "S"}]}


@pytest.mark.parametrize(("document", "status", "message"), [
    ({"id": "other"}, 400, "A merge patch may not change the id of a resource"),
    ({"resourceType": "Observation"}, 400, "A merge patch may not change the resourceType of a resource"),
    ({"gender": "femme"}, 422, "femme"),
    ({"birthDate": 19700101}, 400, "must be a JSON string (date)"),
])
def test_bad_merge_patch_changes_nothing(client: httpx.Client, patient: dict[str, Any], document: dict[str, Any],
                                         status: int, message: str) -> None:
    response = client.patch(f"/Patient/{patient['id']}", json=document)  # application/json, as fhirpy
    assert response.status_code == status
    assert message in response.json()["issue"][0]["diagnostics"]
    assert _stored(client, patient["id"]) == patient


def test_merge_patch_if_match(client: httpx.Client, patient: dict[str, Any]) -> None:
    rid = patient["id"]
    stale = client.patch(f"/Patient/{rid}", json={"gender": "male"}, headers={"If-Match": 'W/"2"'})
    assert stale.status_code == 412 and _stored(client, rid)["meta"]["versionId"] == "1"
    fresh = client.patch(f"/Patient/{rid}", json={"gender": "male"}, headers={"If-Match": 'W/"1"'})
    assert fresh.status_code == 200 and fresh.json()["meta"]["versionId"] == "2"


def test_conditional_merge_patch(client: httpx.Client, patient: dict[str, Any]) -> None:
    response = client.patch("/Patient", params={"identifier": f"{SYSTEM}|m1", "_id": patient["id"]},
                            json={"active": False}, headers={"Content-Type": "application/fhir+json"})
    assert response.status_code == 200 and response.json()["id"] == patient["id"]
    assert _stored(client, patient["id"])["active"] is False


def test_merge_patch_in_a_transaction(client: httpx.Client, patient: dict[str, Any]) -> None:
    data = base64.b64encode(b'{"gender": "other", "birthDate": null}').decode()
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [{
        "resource": {"resourceType": "Binary", "contentType": "application/merge-patch+json", "data": data},
        "request": {"method": "PATCH", "url": f"Patient/{patient['id']}"}}]}
    response = client.post("", json=bundle)
    assert response.status_code == 200, response.text
    assert response.json()["entry"][0]["response"]["status"] == "200 OK"
    stored = _stored(client, patient["id"])
    assert stored["gender"] == "other" and "birthDate" not in stored and stored["meta"]["versionId"] == "2"


def test_merge_patch_is_audited(client: httpx.Client, database_url: str, patient: dict[str, Any]) -> None:
    response = client.patch(f"/Patient/{patient['id']}", json={"active": False},
                            headers={"X-Request-Id": "merge-patch-audit"})
    assert response.status_code == 200
    deadline = time.monotonic() + 5
    rows: list[tuple[Any, ...]] = []
    while not rows and time.monotonic() < deadline:
        with psycopg.connect(database_url) as conn:
            rows = conn.execute("SELECT action, subtype, outcome, entity_refs FROM audit_event"
                                " WHERE request_id = 'merge-patch-audit'").fetchall()
        time.sleep(0.05)
    assert rows == [("U", "patch", "0", [f"Patient/{patient['id']}"])]
