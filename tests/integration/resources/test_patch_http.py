"""PATCH with JSON Patch and FHIRPath Patch over HTTP (http.html#patch, fhirpatch.html)."""

from __future__ import annotations

import httpx
import pytest

JSON_PATCH = {"Content-Type": "application/json-patch+json"}


@pytest.fixture()
def patient_id(client: httpx.Client) -> str:
    body = {"resourceType": "Patient", "active": True, "name": [{"family": "Patchy", "given": ["A"]}]}
    return str(client.post("/Patient", json=body).json()["id"])


def test_json_patch(client: httpx.Client, patient_id: str) -> None:
    ops = [{"op": "replace", "path": "/active", "value": False},
           {"op": "add", "path": "/name/0/given/-", "value": "B"}]
    response = client.patch(f"/Patient/{patient_id}", json=ops, headers=JSON_PATCH)
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == 'W/"2"'
    body = response.json()
    assert body["active"] is False and body["name"][0]["given"] == ["A", "B"]
    assert body["meta"]["versionId"] == "2"


def test_json_patch_failed_test_op_changes_nothing(client: httpx.Client, patient_id: str) -> None:
    ops = [{"op": "test", "path": "/active", "value": False}, {"op": "remove", "path": "/name"}]
    response = client.patch(f"/Patient/{patient_id}", json=ops, headers=JSON_PATCH)
    assert response.status_code == 422
    assert client.get(f"/Patient/{patient_id}").json()["meta"]["versionId"] == "1"


def test_json_patch_may_not_change_id(client: httpx.Client, patient_id: str) -> None:
    ops = [{"op": "replace", "path": "/id", "value": "other"}]
    assert client.patch(f"/Patient/{patient_id}", json=ops, headers=JSON_PATCH).status_code == 422


def test_json_patch_result_must_be_valid(client: httpx.Client, patient_id: str) -> None:
    ops = [{"op": "add", "path": "/gender", "value": "robot"}]
    assert client.patch(f"/Patient/{patient_id}", json=ops, headers=JSON_PATCH).status_code == 422
    assert client.get(f"/Patient/{patient_id}").json()["meta"]["versionId"] == "1"


def test_json_patch_if_match(client: httpx.Client, patient_id: str) -> None:
    ops = [{"op": "replace", "path": "/active", "value": False}]
    stale = client.patch(f"/Patient/{patient_id}", json=ops, headers={**JSON_PATCH, "If-Match": 'W/"9"'})
    assert stale.status_code == 412


def test_fhirpath_patch(client: httpx.Client, patient_id: str) -> None:
    parameters = {"resourceType": "Parameters", "parameter": [
        {"name": "operation", "part": [
            {"name": "type", "valueCode": "replace"},
            {"name": "path", "valueString": "Patient.active"},
            {"name": "value", "valueBoolean": False}]},
        {"name": "operation", "part": [
            {"name": "type", "valueCode": "add"},
            {"name": "path", "valueString": "Patient"},
            {"name": "name", "valueString": "birthDate"},
            {"name": "value", "valueDate": "1980-02-03"}]},
    ]}
    response = client.patch(f"/Patient/{patient_id}", json=parameters,
                            headers={"Content-Type": "application/fhir+json"})
    assert response.status_code == 200, response.text
    assert response.json()["active"] is False and response.json()["birthDate"] == "1980-02-03"


def test_patch_of_missing_resource_is_404(client: httpx.Client) -> None:
    ops = [{"op": "replace", "path": "/active", "value": False}]
    assert client.patch("/Patient/no-such-patient", json=ops, headers=JSON_PATCH).status_code == 404


def test_patch_with_unsupported_body(client: httpx.Client, patient_id: str) -> None:
    # A partial resource is a JSON Merge Patch (test_merge_patch.py); an array needs the JSON Patch type.
    response = client.patch(f"/Patient/{patient_id}", json=[{"op": "remove", "path": "/active"}],
                            headers={"Content-Type": "application/fhir+json"})
    assert response.status_code == 400
    xml = client.patch(f"/Patient/{patient_id}", content=b"<x/>", headers={"Content-Type": "application/xml"})
    assert xml.status_code == 415
