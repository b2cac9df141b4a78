"""Another patient's data stays out of reach of a patient token (issue 11, part 2), over real HTTP.

SMART App Launch 2.2 scopes (https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html),
the Patient CompartmentDefinition (http://hl7.org/fhir/R4/compartmentdefinition-patient.html) and
Bulk Data 2.0 (https://hl7.org/fhir/uv/bulkdata/export.html). Users: patient A = Patient/pa (user
alpha), patient B = Patient/pb, practitioner X = Practitioner/dr (user doc), one client ``app``.

Data, written by X: Binaries bin-a (securityContext Patient/pa), bin-b (Patient/pb), bin-doc (no
securityContext, the attachment of pa's DocumentReference doc-a) and bin-none (neither); Bundle
bundle-b (a collection holding an Observation of pb); Organization org-1; obs-moved, filed to pb
(version 1) and corrected to pa (version 2); obs-b (pb's); obs-perf (pb's, performer Patient/pa);
Tasks task-a (for pa) and task-b (for pb, owner pa); Devices dev-b (patient pb) and dev-ward (none).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from .helpers import cli_json, token_for

REDIRECT = "https://app.example.org/callback"
LOINC = "http://loinc.org"


def _observation(oid: str, subject: str, performer: str = "Practitioner/dr", value: float = 1.0) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": oid, "status": "final",
            "code": {"coding": [{"system": LOINC, "code": "2345-7"}]},
            "subject": {"reference": subject}, "performer": [{"reference": performer}],
            "valueQuantity": {"value": value, "unit": "mg/dL"}}


def _binary(bid: str, context: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"resourceType": "Binary", "id": bid, "contentType": "text/plain", "data": "bGV0dGVy"}
    if context:
        out["securityContext"] = {"reference": context}
    return out


RESOURCES = [
    {"resourceType": "Practitioner", "id": "dr", "name": [{"family": "Careful"}]},
    {"resourceType": "Patient", "id": "pa", "name": [{"family": "Alpha"}]},
    {"resourceType": "Patient", "id": "pb", "name": [{"family": "Bravo"}]},
    {"resourceType": "Organization", "id": "org-1", "name": "General Hospital"},
    _binary("bin-a", "Patient/pa"), _binary("bin-b", "Patient/pb"), _binary("bin-doc", None),
    _binary("bin-none", None),
    {"resourceType": "DocumentReference", "id": "doc-a", "status": "current", "subject": {"reference": "Patient/pa"},
     "content": [{"attachment": {"contentType": "text/plain", "url": "Binary/bin-doc"}}]},
    {"resourceType": "Bundle", "id": "bundle-b", "type": "collection",
     "entry": [{"fullUrl": "urn:uuid:0b2b7a8e-0000-4000-8000-000000000001",
                "resource": _observation("in-bundle", "Patient/pb")}]},
    _observation("obs-moved", "Patient/pb", value=99.0),
    _observation("obs-moved", "Patient/pa", value=5.0),
    _observation("obs-b", "Patient/pb"),
    _observation("obs-perf", "Patient/pb", performer="Patient/pa"),
    {"resourceType": "Task", "id": "task-a", "status": "requested", "intent": "order",
     "for": {"reference": "Patient/pa"}},
    {"resourceType": "Task", "id": "task-b", "status": "requested", "intent": "order",
     "for": {"reference": "Patient/pb"}, "owner": {"reference": "Patient/pa"}},
    {"resourceType": "Device", "id": "dev-b", "patient": {"reference": "Patient/pb"}},
    {"resourceType": "Device", "id": "dev-ward"},
]


@pytest.fixture(scope="module")
def tokens(database_url: str, server_url: str, root_url: str) -> dict[str, str]:
    scopes = "launch/patient openid fhirUser user/*.cruds user/*.rs patient/*.rs patient/*.cruds"
    cli_json(database_url, "client", "add", "--name", "App", "--public", "--redirect-uri", REDIRECT,
             "--scope", scopes, "--client-id", "app")
    cli_json(database_url, "user", "add", "--username", "doc", "--password", "pw-doc-123",
             "--fhir-user", "Practitioner/dr")
    cli_json(database_url, "user", "add", "--username", "alpha", "--password", "pw-alpha-123",
             "--fhir-user", "Patient/pa")
    with httpx.Client(timeout=30, follow_redirects=False) as browser:
        def token(scope: str, user: str, password: str) -> str:
            return token_for(browser, root_url, server_url, "app", "openid fhirUser " + scope, user, password)

        out = {"x": token("user/*.cruds", "doc", "pw-doc-123"),
               "a": token("launch/patient patient/*.rs", "alpha", "pw-alpha-123"),
               "a_write": token("launch/patient patient/*.cruds", "alpha", "pw-alpha-123"),
               "a_user": token("user/*.rs", "alpha", "pw-alpha-123")}
    with httpx.Client(base_url=server_url, timeout=30, headers={"Authorization": f"Bearer {out['x']}"}) as x:
        for resource in RESOURCES:
            response = x.put(f"/{resource['resourceType']}/{resource['id']}", json=resource)
            assert response.status_code in (200, 201), response.text
    return out


@pytest.fixture(scope="module")
def as_user(server_url: str, tokens: dict[str, str]) -> Iterator[dict[str, httpx.Client]]:
    clients = {name: httpx.Client(base_url=server_url, timeout=30, headers={"Authorization": f"Bearer {token}"})
               for name, token in tokens.items()}
    yield clients
    for client in clients.values():
        client.close()


def _ids(bundle: dict[str, Any]) -> list[str]:
    return sorted(e["resource"]["id"] for e in bundle.get("entry", []) if "resource" in e)


def _versions(bundle: dict[str, Any]) -> list[str]:
    return [f"{e['resource']['id']}/{e['resource']['meta']['versionId']}" for e in bundle.get("entry", [])
            if "resource" in e]


def _batch(client: httpx.Client, *requests: dict[str, Any]) -> list[str]:
    entries = [{"request": r, **({"resource": r.pop("resource")} if "resource" in r else {})} for r in requests]
    response = client.post("", json={"resourceType": "Bundle", "type": "batch", "entry": entries})
    assert response.status_code == 200, response.text
    return [e["response"]["status"].split()[0] for e in response.json()["entry"]]


def _diagnostics(response: httpx.Response) -> str:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return f"{body['issue'][0]['code']}: {body['issue'][0]['diagnostics']}"


def test_binary_follows_its_security_context(as_user: dict[str, httpx.Client]) -> None:
    a, x = as_user["a"], as_user["x"]
    assert a.get("/Binary/bin-b").status_code == 404
    assert a.get("/Binary/bin-none").status_code == 404  # no securityContext, no document: not a patient's
    assert a.get("/Binary/bin-a").status_code == 200
    assert a.get("/Binary/bin-doc").status_code == 200  # the attachment of pa's DocumentReference
    assert _ids(a.get("/Binary").json()) == ["bin-a", "bin-doc"]
    assert a.get("/Binary", params={"_summary": "count"}).json()["total"] == 2
    assert _ids(x.get("/Binary").json()) == ["bin-a", "bin-b", "bin-doc", "bin-none"]
    assert _batch(a, {"method": "GET", "url": "Binary/bin-b"}, {"method": "GET", "url": "Binary/bin-a"}) == \
        ["404", "200"]


def test_bundle_is_never_read_with_a_patient_token(as_user: dict[str, httpx.Client]) -> None:
    a = as_user["a"]
    assert a.get("/Bundle/bundle-b").status_code == 404
    search = a.get("/Bundle").json()
    assert search["total"] == 0 and _ids(search) == []
    assert _ids(a.get("/Bundle/_history").json()) == []
    assert a.get("/Bundle/bundle-b/_history").status_code == 404
    assert _batch(a, {"method": "GET", "url": "Bundle/bundle-b"}) == ["404"]
    assert as_user["x"].get("/Bundle/bundle-b").status_code == 200
    assert a.get("/Organization/org-1").status_code == 200  # public directory data stays readable


def test_tasks_and_devices_are_narrowed_to_the_patient(as_user: dict[str, httpx.Client]) -> None:
    a = as_user["a"]
    assert _ids(a.get("/Task").json()) == ["task-a"]  # task-b is pb's, though A owns it
    assert a.get("/Task/task-b").status_code == 404
    assert _ids(a.get("/Device").json()) == ["dev-ward"]  # assigned to nobody: ward equipment
    assert a.get("/Device/dev-b").status_code == 404
    assert _ids(as_user["x"].get("/Device").json()) == ["dev-b", "dev-ward"]


def test_each_history_version_is_judged_by_its_own_content(as_user: dict[str, httpx.Client]) -> None:
    a, x = as_user["a"], as_user["x"]
    assert a.get("/Observation/obs-moved/_history/1").status_code == 404  # filed to pb
    assert a.get("/Observation/obs-moved/_history/2").json()["valueQuantity"]["value"] == 5.0
    history = a.get("/Observation/obs-moved/_history").json()
    assert history["total"] == 1 and _versions(history) == ["obs-moved/2"]
    assert [v for v in _versions(a.get("/Observation/_history").json()) if v.startswith("obs-moved/")] == \
        ["obs-moved/2"]
    assert _batch(a, {"method": "GET", "url": "Observation/obs-moved/_history/1"}) == ["404"]
    assert x.get("/Observation/obs-moved/_history").json()["total"] == 2
    assert x.get("/Observation/obs-moved/_history/1").status_code == 200


def _wait_complete(x: httpx.Client, status_url: str) -> dict[str, Any]:
    for _ in range(120):
        response = x.get(status_url)
        if response.status_code == 200:
            manifest: dict[str, Any] = response.json()
            return manifest
        assert response.status_code == 202, response.text
        time.sleep(0.25)
    raise AssertionError("export did not complete")


def test_export_job_belongs_to_its_user_and_client(as_user: dict[str, httpx.Client]) -> None:
    x, a_user = as_user["x"], as_user["a_user"]
    kick_off = x.get("/$export", params={"_type": "Observation,Binary"}, headers={"Prefer": "respond-async"})
    assert kick_off.status_code == 202, kick_off.text
    status_url = kick_off.headers["content-location"]
    assert a_user.get(status_url).status_code == 404  # same client, another user
    manifest = _wait_complete(x, status_url)
    files = [f["url"] for f in manifest["output"]]
    assert sorted(f["type"] for f in manifest["output"]) == ["Binary", "Observation"]
    assert all(a_user.get(url).status_code == 404 for url in files)
    assert a_user.delete(status_url).status_code == 404
    assert all(x.get(url).status_code == 200 for url in files)
    assert x.get(status_url).status_code == 200  # not cancelled by the other user
    refused = a_user.get("/$export", headers={"Prefer": "respond-async"})
    assert refused.status_code == 403 and refused.json()["issue"][0]["code"] == "forbidden"
    assert as_user["a"].get("/Patient/$export", headers={"Prefer": "respond-async"}).status_code == 403


def _count(client: httpx.Client, path: str, **params: str) -> int:
    total: int = client.get(path, params={**params, "_summary": "count"}).json()["total"]
    return total


def test_patient_writes_stay_in_the_compartment_by_subject(as_user: dict[str, httpx.Client]) -> None:
    a, x = as_user["a_write"], as_user["x"]
    before_b = _count(x, "/Observation", subject="Patient/pb")
    into_b = a.post("/Observation", json=_observation("ignored", "Patient/pb", performer="Patient/pa"))
    assert into_b.status_code == 403 and into_b.json()["issue"][0]["code"] == "forbidden"
    condition = {"resourceType": "Condition", "subject": {"reference": "Patient/pb"},
                 "asserter": {"reference": "Patient/pa"}, "code": {"text": "asserted by A"}}
    assert a.post("/Condition", json=condition).status_code == 403
    assert _count(x, "/Observation", subject="Patient/pb") == before_b
    assert _count(x, "/Condition", subject="Patient/pb") == 0
    mine = a.post("/Observation", json=_observation("ignored", "Patient/pa", performer="Patient/pa"))
    assert mine.status_code == 201
    moved = a.put(f"/Observation/{mine.json()['id']}", json={**mine.json(), "subject": {"reference": "Patient/pb"}})
    assert moved.status_code == 403  # the new content left the compartment: rolled back
    assert x.get(f"/Observation/{mine.json()['id']}").json()["subject"]["reference"] == "Patient/pa"
    # obs-perf is pb's (pa only its performer): readable by A, but not A's to change
    assert as_user["a"].get("/Observation/obs-perf").status_code == 200
    assert a.put("/Observation/obs-perf", json=_observation("obs-perf", "Patient/pb", "Patient/pa", 7.0)) \
        .status_code == 403
    assert a.delete("/Observation/obs-perf").status_code == 404
    assert a.post("/Organization", json={"resourceType": "Organization", "name": "Mine"}).status_code == 403
    binary = {k: v for k, v in _binary("x", "Patient/pb").items() if k != "id"}
    assert a.post("/Binary", json=binary).status_code == 403
    assert a.post("/Binary", json={**binary, "securityContext": {"reference": "Patient/pa"}}).status_code == 201
    assert _count(x, "/Binary") == 5  # the four of the fixture and A's own
    assert x.get("/Observation/obs-perf").json()["meta"]["versionId"] == "1"


def test_writes_do_not_reveal_whether_a_hidden_id_exists(as_user: dict[str, httpx.Client]) -> None:
    a, x = as_user["a_write"], as_user["x"]
    hidden = a.put("/Observation/obs-b", json=_observation("obs-b", "Patient/pa"))
    unknown = a.put("/Observation/never-there", json=_observation("never-there", "Patient/pa"))
    assert hidden.status_code == unknown.status_code == 403
    assert _diagnostics(hidden) == _diagnostics(unknown).replace("never-there", "obs-b")
    conditional_hidden = a.put("/Observation", params={"identifier": "urn:x|none"},
                               json=_observation("obs-b", "Patient/pa"))
    conditional_unknown = a.put("/Observation", params={"identifier": "urn:x|none"},
                                json=_observation("never-there", "Patient/pa"))
    assert conditional_hidden.status_code == conditional_unknown.status_code == 403
    deleted_hidden, deleted_unknown = a.delete("/Observation/obs-b"), a.delete("/Observation/never-there")
    assert deleted_hidden.status_code == deleted_unknown.status_code == 404
    assert _diagnostics(deleted_hidden) == _diagnostics(deleted_unknown).replace("never-there", "obs-b")
    statuses = _batch(a, {"method": "PUT", "url": "Observation/obs-b", "resource": _observation("obs-b", "Patient/pa")},
                      {"method": "PUT", "url": "Observation/never-2",
                       "resource": _observation("never-2", "Patient/pa")},
                      {"method": "DELETE", "url": "Observation/obs-b"},
                      {"method": "DELETE", "url": "Observation/never-2"})
    assert statuses == ["403", "403", "404", "404"]
    assert x.get("/Observation/obs-b").json()["meta"]["versionId"] == "1"
    assert x.get("/Observation/never-there").status_code == 404 and x.get("/Observation/never-2").status_code == 404
    # a server-chosen id (conditional update with no match, no id) is still a create
    created = a.put("/Observation", params={"identifier": "urn:x|none"},
                    json={k: v for k, v in _observation("x", "Patient/pa").items() if k != "id"})
    assert created.status_code == 201
