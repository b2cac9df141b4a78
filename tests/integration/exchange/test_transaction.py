"""Transaction and batch bundles (http.html#transaction): atomicity, order, reference resolution."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import httpx
import orjson

MRN = "http://hospital.example.org/mrn"


def _tx(*entries: dict[str, Any], kind: str = "transaction") -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def _post(full_url: str | None, resource: dict[str, Any], **request: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"resource": resource,
                             "request": {"method": "POST", "url": resource["resourceType"], **request}}
    if full_url:
        entry["fullUrl"] = full_url
    return entry


def _versions(client: httpx.Client, rtype: str) -> int:
    return len(client.get(f"/{rtype}/_history", params={"_count": "1000"}).json().get("entry", []))


def _get(client: httpx.Client, location: str) -> dict[str, Any]:
    return dict(client.get("/" + location.split("/_history")[0]).json())


def test_urn_uuid_references_are_resolved_everywhere(client: httpx.Client) -> None:
    patient_urn = f"urn:uuid:{uuid.uuid4()}"
    org_urn = "urn:oid:1.2.3.4.5"
    observation = {
        "resourceType": "Observation", "status": "final", "code": {"text": "weight"},
        "subject": {"reference": patient_urn},
        "performer": [{"reference": org_urn}],
        "extension": [{"url": "http://example.org/ext", "valueReference": {"reference": patient_urn}}],
        "contained": [{"resourceType": "Provenance", "id": "p1", "recorded": "2020-01-01T00:00:00Z",
                       "target": [{"reference": patient_urn}], "agent": [{"who": {"reference": org_urn}}]}],
        "derivedFrom": [{"reference": "#p1"}],
    }
    response = client.post("", json=_tx(
        _post(None, observation),
        _post(patient_urn, {"resourceType": "Patient", "name": [{"family": "Tx"}]}),
        _post(org_urn, {"resourceType": "Organization", "name": "Tx Org"})))
    assert response.status_code == 200, response.text
    bundle = response.json()
    assert bundle["type"] == "transaction-response"
    statuses = [e["response"]["status"] for e in bundle["entry"]]
    assert statuses == ["201 Created"] * 3
    locations = [e["response"]["location"] for e in bundle["entry"]]
    assert locations[0].startswith("Observation/") and locations[0].endswith("/_history/1")
    patient_ref = locations[1].split("/_history")[0]
    org_ref = locations[2].split("/_history")[0]
    stored = _get(client, locations[0])
    assert stored["subject"] == {"reference": patient_ref}
    assert stored["performer"] == [{"reference": org_ref}]
    assert stored["extension"][0]["valueReference"] == {"reference": patient_ref}
    assert stored["contained"][0]["target"] == [{"reference": patient_ref}]
    assert stored["contained"][0]["agent"][0]["who"] == {"reference": org_ref}
    assert stored["derivedFrom"] == [{"reference": "#p1"}]


def test_failing_last_entry_leaves_nothing_behind(client: httpx.Client) -> None:
    before = {t: _versions(client, t) for t in ("Patient", "Organization", "Observation")}
    response = client.post("", json=_tx(
        _post("urn:uuid:a", {"resourceType": "Patient", "name": [{"family": "Ghost"}]}),
        _post("urn:uuid:b", {"resourceType": "Organization", "name": "Ghost Org"}),
        _post(None, {"resourceType": "Observation", "status": "not-a-status", "code": {"text": "x"}})))
    assert response.status_code in (400, 422), response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert "entry 2" in outcome["issue"][0]["diagnostics"]
    assert {t: _versions(client, t) for t in before} == before


def test_processing_order_does_not_depend_on_entry_order(client: httpx.Client) -> None:
    rid = f"ord-{uuid.uuid4().hex[:8]}"
    client.put(f"/Patient/{rid}", json={"resourceType": "Patient", "id": rid, "gender": "male"})
    doomed = client.post("/Patient", json={"resourceType": "Patient"}).json()["id"]
    response = client.post("", json=_tx(
        {"request": {"method": "GET", "url": f"Patient/{rid}"}},
        {"resource": {"resourceType": "Patient", "id": rid, "gender": "female"},
         "request": {"method": "PUT", "url": f"Patient/{rid}"}},
        {"request": {"method": "DELETE", "url": f"Patient/{doomed}"}}))
    assert response.status_code == 200, response.text
    entries = response.json()["entry"]
    # GET runs last, so it sees the update made by the PUT that follows it in the bundle.
    assert entries[0]["resource"]["gender"] == "female"
    assert entries[0]["resource"]["meta"]["versionId"] == "2"
    assert entries[1]["response"]["status"] == "200 OK"
    assert entries[2]["response"]["status"] == "204 No Content"
    assert client.get(f"/Patient/{doomed}").status_code == 410


def test_conditional_references_and_if_none_exist(client: httpx.Client) -> None:
    mrn = uuid.uuid4().hex
    existing = client.post("/Patient", json={"resourceType": "Patient",
                                             "identifier": [{"system": MRN, "value": mrn}]}).json()["id"]
    response = client.post("", json=_tx(
        _post(None, {"resourceType": "Patient", "identifier": [{"system": MRN, "value": mrn}]},
              ifNoneExist=f"identifier={MRN}|{mrn}"),
        _post(None, {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                     "subject": {"reference": f"Patient?identifier={MRN}|{mrn}"}})))
    assert response.status_code == 200, response.text
    entries = response.json()["entry"]
    assert entries[0]["response"]["status"] == "200 OK"
    assert entries[0]["response"]["location"].startswith(f"Patient/{existing}/")
    assert _get(client, entries[1]["response"]["location"])["subject"] == {"reference": f"Patient/{existing}"}


def test_conditional_reference_without_match_fails_whole_transaction(client: httpx.Client) -> None:
    before = _versions(client, "Observation")
    response = client.post("", json=_tx(
        _post(None, {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                     "subject": {"reference": f"Patient?identifier={MRN}|{uuid.uuid4().hex}"}})))
    assert response.status_code == 404
    assert _versions(client, "Observation") == before


def test_conditional_reference_with_two_matches_is_412(client: httpx.Client) -> None:
    mrn = uuid.uuid4().hex
    for _ in range(2):
        client.post("/Patient", json={"resourceType": "Patient", "identifier": [{"system": MRN, "value": mrn}]})
    response = client.post("", json=_tx(
        _post(None, {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                     "subject": {"reference": f"Patient?identifier={MRN}|{mrn}"}})))
    assert response.status_code == 412


def test_same_resource_twice_is_refused(client: httpx.Client) -> None:
    body = {"resourceType": "Patient", "id": "twice"}
    response = client.post("", json=_tx({"resource": body, "request": {"method": "PUT", "url": "Patient/twice"}},
                                        {"request": {"method": "DELETE", "url": "Patient/twice"}}))
    assert response.status_code == 400


def test_patch_entry_with_binary_json_patch(client: httpx.Client) -> None:
    rid = client.post("/Patient", json={"resourceType": "Patient", "active": True}).json()["id"]
    ops = orjson.dumps([{"op": "replace", "path": "/active", "value": False}])
    binary = {"resourceType": "Binary", "contentType": "application/json-patch+json",
              "data": base64.b64encode(ops).decode()}
    response = client.post("", json=_tx({"resource": binary, "request": {"method": "PATCH", "url": f"Patient/{rid}"}}))
    assert response.status_code == 200, response.text
    assert client.get(f"/Patient/{rid}").json()["active"] is False


def test_representation_preference(client: httpx.Client) -> None:
    bundle = _tx(_post(None, {"resourceType": "Patient", "gender": "other"}))
    minimal = client.post("", json=bundle).json()["entry"][0]
    assert "resource" not in minimal
    full = client.post("", json=bundle, headers={"Prefer": "return=representation"}).json()["entry"][0]
    assert full["resource"]["gender"] == "other"


def test_batch_applies_good_entries_and_reports_bad_ones(client: httpx.Client) -> None:
    response = client.post("", json=_tx(
        _post(None, {"resourceType": "Patient", "gender": "female"}),
        _post(None, {"resourceType": "Patient", "gender": "not-a-gender"}),
        {"request": {"method": "GET", "url": "Patient/does-not-exist"}},
        kind="batch"))
    assert response.status_code == 200, response.text
    entries = response.json()["entry"]
    assert response.json()["type"] == "batch-response"
    assert entries[0]["response"]["status"] == "201 Created"
    assert client.get("/" + entries[0]["response"]["location"].split("/_history")[0]).status_code == 200
    assert entries[1]["response"]["status"].startswith("422") or entries[1]["response"]["status"].startswith("400")
    assert entries[1]["response"]["outcome"]["resourceType"] == "OperationOutcome"
    assert entries[2]["response"]["status"] == "404 Not Found"


def test_bundle_shape_errors(client: httpx.Client) -> None:
    assert client.post("", json={"resourceType": "Bundle", "type": "collection"}).status_code == 400
    assert client.post("", json={"resourceType": "Patient"}).status_code == 400
    no_request = _tx({"resource": {"resourceType": "Patient"}})
    assert client.post("", json=no_request).status_code == 400
    bad_method = _tx({"request": {"method": "FETCH", "url": "Patient"}})
    assert client.post("", json=bad_method).status_code == 400
    foreign = _tx({"request": {"method": "GET", "url": "http://elsewhere.example.org/fhir/Patient/1"}})
    assert client.post("", json=foreign).status_code == 400


def test_too_many_entries_is_413(client: httpx.Client) -> None:
    entries = [{"request": {"method": "GET", "url": "Patient/x"}}] * 10_001
    assert client.post("", json=_tx(*entries, kind="batch")).status_code == 413


def test_entry_parameters_the_interaction_does_not_use_are_refused(client: httpx.Client) -> None:
    before = _versions(client, "Patient")
    criteria = _tx({"resource": {"resourceType": "Patient"}, "request": {"method": "POST", "url": "Patient?gender=x"}})
    response = client.post("", json=criteria)
    assert response.status_code == 400
    assert response.json()["issue"][0]["diagnostics"] == (
        "Bundle.entry[0].request.url: POST does not take the parameter(s) gender: put a conditional create's "
        "criteria in request.ifNoneExist")
    by_id = _tx({"request": {"method": "DELETE", "url": "Patient/x?identifier=a|b"}}, kind="batch")
    assert client.post("", json=by_id).json()["issue"][0]["diagnostics"] == (
        "Bundle.entry[0].request.url: DELETE does not take the parameter(s) identifier")
    assert _versions(client, "Patient") == before
