"""create, update (incl. update-as-create), delete and their headers (http.html#create, #update, #delete)."""

from __future__ import annotations

import uuid

import httpx


def _patient(**extra: object) -> dict[str, object]:
    return {"resourceType": "Patient", "name": [{"family": "Write"}], **extra}


def _history_total(client: httpx.Client, rtype: str, rid: str) -> int:
    return int(client.get(f"/{rtype}/{rid}/_history").json()["total"])


def test_server_sets_id_and_meta_ignoring_client_values(client: httpx.Client) -> None:
    body = _patient(id="client-id", meta={"versionId": "99", "lastUpdated": "2001-01-01T00:00:00Z",
                                          "tag": [{"system": "http://example.org/tags", "code": "t1"}]})
    created = client.post("/Patient", json=body).json()
    assert created["id"] != "client-id"
    assert created["meta"]["versionId"] == "1"
    assert created["meta"]["lastUpdated"] != "2001-01-01T00:00:00Z"
    assert created["meta"]["tag"] == [{"system": "http://example.org/tags", "code": "t1"}]


def test_update_as_create_then_update(client: httpx.Client, server_url: str) -> None:
    rid = f"pat-{uuid.uuid4().hex[:8]}"
    first = client.put(f"/Patient/{rid}", json=_patient(id=rid))
    assert first.status_code == 201
    assert first.headers["location"] == f"{server_url}/Patient/{rid}/_history/1"
    second = client.put(f"/Patient/{rid}", json=_patient(id=rid, gender="female"))
    assert second.status_code == 200
    assert second.headers["etag"] == 'W/"2"'
    assert second.json()["meta"]["versionId"] == "2" and second.json()["gender"] == "female"
    assert client.get(f"/Patient/{rid}/_history/1").json().get("gender") is None


def test_if_match(client: httpx.Client) -> None:
    rid = client.post("/Patient", json=_patient()).json()["id"]
    stale = client.put(f"/Patient/{rid}", json=_patient(id=rid, gender="male"), headers={"If-Match": 'W/"2"'})
    assert stale.status_code == 412
    assert stale.json()["issue"][0]["code"] == "conflict"
    fresh = client.put(f"/Patient/{rid}", json=_patient(id=rid, gender="male"), headers={"If-Match": 'W/"1"'})
    assert fresh.status_code == 200 and fresh.headers["etag"] == 'W/"2"'


def test_update_body_rules(client: httpx.Client) -> None:
    rid = client.post("/Patient", json=_patient()).json()["id"]
    no_id = client.put(f"/Patient/{rid}", json=_patient())
    assert no_id.status_code == 400
    other_id = client.put(f"/Patient/{rid}", json=_patient(id="someone-else"))
    assert other_id.status_code == 400
    wrong_type = client.put(f"/Patient/{rid}", json={"resourceType": "Observation", "id": rid})
    assert wrong_type.status_code == 400
    bad_id = client.put("/Patient/has_underscore", json=_patient(id="has_underscore"))
    assert bad_id.status_code == 400
    too_long = "a" * 65
    assert client.put(f"/Patient/{too_long}", json=_patient(id=too_long)).status_code == 400
    assert _history_total(client, "Patient", rid) == 1


def test_create_wrong_resource_type_for_url(client: httpx.Client) -> None:
    response = client.post("/Patient", json={"resourceType": "Observation", "status": "final",
                                              "code": {"text": "x"}})
    assert response.status_code == 400
    assert "does not match" in response.json()["issue"][0]["diagnostics"]


def test_prefer_return(client: httpx.Client) -> None:
    minimal = client.post("/Patient", json=_patient(), headers={"Prefer": "return=minimal"})
    assert minimal.status_code == 201 and minimal.content == b""
    assert minimal.headers["location"].endswith("/_history/1")
    outcome = client.post("/Patient", json=_patient(), headers={"Prefer": "return=OperationOutcome"})
    assert outcome.status_code == 201
    assert outcome.json()["resourceType"] == "OperationOutcome"
    assert outcome.json()["issue"][0]["severity"] == "information"
    full = client.post("/Patient", json=_patient(), headers={"Prefer": "return=representation"})
    assert full.json()["resourceType"] == "Patient"


def test_delete_lifecycle(client: httpx.Client) -> None:
    rid = client.post("/Patient", json=_patient()).json()["id"]
    deleted = client.delete(f"/Patient/{rid}")
    assert deleted.status_code == 200
    assert deleted.json()["resourceType"] == "OperationOutcome"
    assert deleted.headers["etag"] == 'W/"2"'
    gone = client.get(f"/Patient/{rid}")
    assert gone.status_code == 410 and gone.json()["issue"][0]["code"] == "deleted"
    assert client.get(f"/Patient/{rid}/_history/2").status_code == 410
    assert client.get(f"/Patient/{rid}/_history/1").status_code == 200
    again = client.delete(f"/Patient/{rid}")
    assert again.status_code == 200 and "etag" not in again.headers
    assert _history_total(client, "Patient", rid) == 2
    revived = client.put(f"/Patient/{rid}", json=_patient(id=rid))
    assert revived.status_code == 201 or revived.status_code == 200
    assert revived.json()["meta"]["versionId"] == "3"
    assert client.get(f"/Patient/{rid}").status_code == 200


def test_delete_missing_and_minimal(client: httpx.Client) -> None:
    assert client.delete("/Patient/never-existed").status_code == 200
    rid = client.post("/Patient", json=_patient()).json()["id"]
    minimal = client.delete(f"/Patient/{rid}", headers={"Prefer": "return=minimal"})
    assert minimal.status_code == 204 and minimal.content == b""


def test_delete_if_match(client: httpx.Client) -> None:
    rid = client.post("/Patient", json=_patient()).json()["id"]
    assert client.delete(f"/Patient/{rid}", headers={"If-Match": 'W/"5"'}).status_code == 412
    assert client.get(f"/Patient/{rid}").status_code == 200
    assert client.delete(f"/Patient/{rid}", headers={"If-Match": 'W/"1"'}).status_code == 200


def test_every_r4_type_is_storable(client: httpx.Client) -> None:
    # Basic has one mandatory element (code); Binary needs contentType; Parameters none.
    samples = [
        {"resourceType": "Basic", "code": {"text": "note"}},
        {"resourceType": "Binary", "contentType": "text/plain", "data": "aGVsbG8="},
        {"resourceType": "Parameters", "parameter": [{"name": "x", "valueString": "y"}]},
        {"resourceType": "Claim", "status": "active", "type": {"text": "oral"}, "use": "claim",
         "patient": {"reference": "Patient/1"}, "created": "2020-01-01",
         "provider": {"reference": "Organization/1"}, "priority": {"text": "normal"},
         "insurance": [{"sequence": 1, "focal": True, "coverage": {"reference": "Coverage/1"}}]},
    ]
    for sample in samples:
        response = client.post(f"/{sample['resourceType']}", json=sample)
        assert response.status_code == 201, response.text


def test_decimal_precision_is_kept(client: httpx.Client) -> None:
    body = b'{"resourceType":"Observation","status":"final","code":{"text":"w"},' \
           b'"valueQuantity":{"value":72.50,"unit":"kg"}}'
    created = client.post("/Observation", content=body, headers={"Content-Type": "application/fhir+json"})
    assert created.status_code == 201, created.text
    stored = client.get(f"/Observation/{created.json()['id']}")
    assert b"72.50" in stored.content
