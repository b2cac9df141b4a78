"""Scopes enforced on every path a resource can leave or enter by (SMART App Launch 2.2 scopes,
https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html), over real HTTP.

Data (written with an unrestricted practitioner token): patients pa and pb; Observations
obs-a-lab (pa, laboratory), obs-a-vital (pa, vital-signs), obs-b-lab (pb, laboratory); an
Encounter per patient; a Practitioner. Expected results below follow from the Patient
CompartmentDefinition (Observation.subject/performer, Encounter.patient, Patient itself).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from .helpers import cli_json, token_for

REDIRECT = "https://app.example.org/callback"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
LOINC = "http://loinc.org"


def _observation(oid: str, patient: str, category: str, code: str) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": oid, "status": "final",
            "category": [{"coding": [{"system": CATEGORY, "code": category}]}],
            "code": {"coding": [{"system": LOINC, "code": code}]},
            "subject": {"reference": f"Patient/{patient}"}, "performer": [{"reference": "Practitioner/doc"}]}


RESOURCES = [
    {"resourceType": "Practitioner", "id": "doc", "name": [{"family": "Careful"}]},
    {"resourceType": "Patient", "id": "pa", "name": [{"family": "Alpha"}]},
    {"resourceType": "Patient", "id": "pb", "name": [{"family": "Bravo"}]},
    _observation("obs-a-lab", "pa", "laboratory", "2345-7"),
    _observation("obs-a-vital", "pa", "vital-signs", "8867-4"),
    _observation("obs-b-lab", "pb", "laboratory", "2345-7"),
    {"resourceType": "Encounter", "id": "enc-a", "status": "finished",
     "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
     "subject": {"reference": "Patient/pa"}},
    {"resourceType": "Encounter", "id": "enc-b", "status": "finished",
     "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
     "subject": {"reference": "Patient/pb"}},
]


@pytest.fixture(scope="module")
def tokens(database_url: str, server_url: str, root_url: str) -> dict[str, str]:
    scopes = ("launch openid fhirUser user/*.cruds user/*.rs patient/*.rs patient/Observation.c "
              "patient/Observation.rs patient/Observation.rs?category=" + CATEGORY + "|laboratory")
    client = cli_json(database_url, "client", "add", "--name", "Enforcement app", "--public",
                      "--redirect-uri", REDIRECT, "--scope", scopes)["client_id"]
    cli_json(database_url, "user", "add", "--allow-missing", "--username", "doc", "--password", "pw-doc-123",
             "--fhir-user", "Practitioner/doc")
    cli_json(database_url, "user", "add", "--allow-missing", "--username", "bravo", "--password", "pw-bravo-123",
             "--fhir-user", "Patient/pb")
    out: dict[str, str] = {}
    with httpx.Client(timeout=30, follow_redirects=False) as browser:
        def launch_token(scope: str) -> str:
            launch = cli_json(database_url, "launch", "add", "--allow-missing", "--patient", "pa")["launch"]
            return token_for(browser, root_url, server_url, client, "launch " + scope, "doc", "pw-doc-123", launch)

        out["admin"] = token_for(browser, root_url, server_url, client, "openid fhirUser user/*.cruds", "doc",
                              "pw-doc-123")
        out["patient"] = launch_token("patient/*.rs patient/Observation.c")
        out["observations_only"] = launch_token("patient/Observation.rs")
        out["lab_only"] = launch_token("patient/Observation.rs?category=" + CATEGORY + "|laboratory")
        out["bravo"] = token_for(browser, root_url, server_url, client, "openid fhirUser user/*.rs", "bravo",
                              "pw-bravo-123")
    with httpx.Client(base_url=server_url, timeout=30,
                      headers={"Authorization": f"Bearer {out['admin']}"}) as admin:
        for resource in RESOURCES:
            response = admin.put(f"/{resource['resourceType']}/{resource['id']}", json=resource)
            assert response.status_code in (200, 201), response.text
    return out


@pytest.fixture(scope="module")
def as_user(server_url: str, tokens: dict[str, str]) -> Iterator[dict[str, httpx.Client]]:
    clients = {name: httpx.Client(base_url=server_url, timeout=30, headers={"Authorization": f"Bearer {token}"})
               for name, token in tokens.items()}
    yield clients
    for client in clients.values():
        client.close()


def _ids(bundle: dict[str, Any], mode: str | None = None) -> list[str]:
    return sorted(f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle.get("entry", [])
                  if mode is None or e["search"]["mode"] == mode)


def _issue_code(response: httpx.Response) -> str:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    code: str = body["issue"][0]["code"]
    return code


def test_no_token_is_401_with_challenge(server_url: str) -> None:
    response = httpx.get(f"{server_url}/Patient/pa")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="fhir"'
    bad = httpx.get(f"{server_url}/Patient/pa", headers={"Authorization": "Bearer not-a-token"})
    assert bad.status_code == 401
    assert 'error="invalid_token"' in bad.headers["www-authenticate"]


def test_metadata_needs_no_token_and_announces_oauth(server_url: str) -> None:
    response = httpx.get(f"{server_url}/metadata")
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    security = response.json()["rest"][0]["security"]
    uris = {e["url"]: e["valueUri"] for e in security["extension"][0]["extension"]}
    assert uris["token"].endswith("/auth/token") and uris["authorize"].endswith("/auth/authorize")


def test_patient_token_reads_only_its_patient(as_user: dict[str, httpx.Client]) -> None:
    patient = as_user["patient"]
    assert patient.get("/Patient/pa").status_code == 200
    assert patient.get("/Observation/obs-a-lab").status_code == 200
    assert patient.get("/Patient/pb").status_code == 404
    hidden = patient.get("/Observation/obs-b-lab")
    assert hidden.status_code == 404 and _issue_code(hidden) == "not-found"
    assert patient.get("/Observation/obs-b-lab/_history/1").status_code == 404
    # Outside the Patient compartment: no patient data, readable under patient/*.rs.
    assert patient.get("/Practitioner/doc").status_code == 200


def test_search_totals_and_paging_see_only_the_compartment(as_user: dict[str, httpx.Client]) -> None:
    patient = as_user["patient"]
    bundle = patient.get("/Observation", params={"_total": "accurate", "_count": "1"}).json()
    assert bundle["total"] == 2 and len(bundle["entry"]) == 1
    second = patient.get(next(link["url"] for link in bundle["link"] if link["relation"] == "next")).json()
    assert sorted(_ids(bundle) + _ids(second)) == ["Observation/obs-a-lab", "Observation/obs-a-vital"]
    assert not any(link["relation"] == "next" for link in second["link"])
    assert _ids(patient.get("/Encounter").json()) == ["Encounter/enc-a"]
    assert _ids(patient.get("/Patient").json()) == ["Patient/pa"]
    assert patient.get("/Observation", params={"subject": "Patient/pb"}).json().get("entry", []) == []


def test_includes_chains_and_has_respect_the_compartment(as_user: dict[str, httpx.Client]) -> None:
    patient = as_user["patient"]
    included = patient.get("/Encounter", params={"_revinclude": "Observation:subject"}).json()
    # enc-a matches; no Observation references an Encounter, so nothing is included.
    assert _ids(included) == ["Encounter/enc-a"]
    revinclude = patient.get("/Patient", params={"_revinclude": "Observation:subject"}).json()
    assert _ids(revinclude, "match") == ["Patient/pa"]
    assert _ids(revinclude, "include") == ["Observation/obs-a-lab", "Observation/obs-a-vital"]
    has = patient.get("/Patient", params={"_has:Observation:subject:code": f"{LOINC}|2345-7"}).json()
    assert _ids(has) == ["Patient/pa"]
    chained = patient.get("/Encounter", params={"subject:Patient.name": "Bravo"}).json()
    assert chained.get("entry", []) == []
    # The admin sees the chain match, so the empty result above is the access filter at work.
    admin = as_user["admin"]
    assert _ids(admin.get("/Encounter", params={"subject:Patient.name": "Bravo"}).json()) == ["Encounter/enc-b"]


def test_system_search_and_compartment_search_are_filtered(as_user: dict[str, httpx.Client]) -> None:
    patient = as_user["patient"]
    system = patient.get("", params={"_type": "Observation,Encounter"}).json()
    assert _ids(system) == ["Encounter/enc-a", "Observation/obs-a-lab", "Observation/obs-a-vital"]
    assert patient.get("/Patient/pb/Observation").json().get("entry", []) == []
    assert _ids(patient.get("/Patient/pa/Observation").json()) == ["Observation/obs-a-lab", "Observation/obs-a-vital"]


def test_granular_scope_filters_inside_the_query(as_user: dict[str, httpx.Client]) -> None:
    lab = as_user["lab_only"]
    bundle = lab.get("/Observation", params={"_total": "accurate"}).json()
    assert bundle["total"] == 1 and _ids(bundle) == ["Observation/obs-a-lab"]
    assert lab.get("/Observation/obs-a-vital").status_code == 404
    assert lab.get("/Observation/obs-a-lab").status_code == 200


def test_type_without_scope_is_403(as_user: dict[str, httpx.Client]) -> None:
    narrow = as_user["observations_only"]
    for response in (narrow.get("/Patient/pa"), narrow.get("/Patient"), narrow.get("/Encounter/enc-a")):
        assert response.status_code == 403 and _issue_code(response) == "forbidden"
    assert narrow.get("/Observation/obs-a-lab").status_code == 200


def test_patient_user_sees_only_their_own_compartment(as_user: dict[str, httpx.Client]) -> None:
    bravo = as_user["bravo"]
    assert _ids(bravo.get("/Observation").json()) == ["Observation/obs-b-lab"]
    assert bravo.get("/Patient/pa").status_code == 404
    assert bravo.get("/Patient/pb").status_code == 200


def _count(admin: httpx.Client, path: str) -> int:
    total: int = admin.get(path, params={"_total": "accurate", "_summary": "count"}).json()["total"]
    return total


def test_writes_need_the_scope_and_stay_in_the_compartment(as_user: dict[str, httpx.Client]) -> None:
    patient, admin = as_user["patient"], as_user["admin"]
    before = _count(admin, "/Observation")
    mine = patient.post("/Observation", json=_observation("ignored", "pa", "survey", "1-8"))
    assert mine.status_code == 201
    other = patient.post("/Observation", json=_observation("ignored", "pb", "survey", "1-8"))
    assert other.status_code == 403 and _issue_code(other) == "forbidden"
    assert _count(admin, "/Observation") == before + 1  # the refused create left nothing behind
    condition = {"resourceType": "Condition", "subject": {"reference": "Patient/pa"}}
    assert patient.post("/Condition", json=condition).status_code == 403
    update = patient.put("/Observation/obs-a-lab", json=_observation("obs-a-lab", "pa", "laboratory", "1-8"))
    assert update.status_code == 403
    assert patient.delete("/Observation/obs-a-lab").status_code == 403
    assert admin.get("/Observation/obs-a-lab").json()["meta"]["versionId"] == "1"


def test_transaction_with_a_forbidden_entry_changes_nothing(as_user: dict[str, httpx.Client]) -> None:
    patient, admin = as_user["patient"], as_user["admin"]
    before = _count(admin, "/Observation")
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:7f1c6d2e-0000-4000-8000-000000000001",
         "resource": _observation("x", "pa", "survey", "1-8"), "request": {"method": "POST", "url": "Observation"}},
        {"fullUrl": "urn:uuid:7f1c6d2e-0000-4000-8000-000000000002",
         "resource": _observation("y", "pb", "survey", "1-8"), "request": {"method": "POST", "url": "Observation"}},
    ]}
    response = patient.post("", json=bundle)
    assert response.status_code == 403
    assert _count(admin, "/Observation") == before
    batch = {**bundle, "type": "batch"}
    statuses = [e["response"]["status"] for e in patient.post("", json=batch).json()["entry"]]
    assert statuses[0].startswith("201") and statuses[1].startswith("403")
    read_other = {"resourceType": "Bundle", "type": "batch",
                  "entry": [{"request": {"method": "GET", "url": "Observation/obs-b-lab"}}]}
    assert patient.post("", json=read_other).json()["entry"][0]["response"]["status"].startswith("404")


def test_history_everything_export_and_validate(as_user: dict[str, httpx.Client]) -> None:
    patient = as_user["patient"]
    assert patient.get("/Observation/obs-b-lab/_history").status_code == 404
    history = patient.get("/Encounter/_history").json()
    assert _ids(history) == ["Encounter/enc-a"]
    assert patient.get("/_history").status_code == 403
    assert patient.get("/Patient/pb/$everything").status_code == 404
    everything = patient.get("/Patient/pa/$everything").json()
    assert "Observation/obs-b-lab" not in _ids(everything) and "Encounter/enc-b" not in _ids(everything)
    assert {"Patient/pa", "Encounter/enc-a", "Observation/obs-a-lab"} <= set(_ids(everything))
    export = patient.get("/$export", headers={"Prefer": "respond-async"})
    assert export.status_code == 403
    narrow = as_user["observations_only"]
    validate = narrow.post("/Patient/$validate", json={"resourceType": "Patient"})
    assert validate.status_code == 403


def test_injection_through_search_parameters_changes_nothing(as_user: dict[str, httpx.Client]) -> None:
    patient, admin = as_user["patient"], as_user["admin"]
    before = _count(admin, "/Observation")
    for value in ("' OR 1=1 --", "x'); DELETE FROM resource; --", "Bravo' OR 'a'='a"):
        response = patient.get("/Patient", params={"name": value})
        assert response.status_code == 200 and response.json().get("entry", []) == []
    bad_sort = patient.get("/Observation", params={"_sort": "date;DROP TABLE resource"})
    assert bad_sort.status_code == 400 and bad_sort.json()["resourceType"] == "OperationOutcome"
    bad_id = patient.get("/Observation", params={"_id": "obs-b-lab' OR '1'='1"})
    assert bad_id.status_code == 200 and bad_id.json().get("entry", []) == []
    assert _count(admin, "/Observation") == before


def test_only_staff_and_back_ends_set_security_labels(as_user: dict[str, httpx.Client]) -> None:
    patient, admin = as_user["patient"], as_user["admin"]
    label = {"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}
    labelled = {**_observation("ignored", "pa", "survey", "1-8"), "meta": {"security": [label]}}
    refused = patient.post("/Observation", json=labelled)
    assert refused.status_code == 403 and "security labels" in refused.text
    created = admin.post("/Observation", json=labelled)
    assert created.status_code == 201
    assert created.json()["meta"]["security"] == [label]


def test_browser_apps_get_cors_on_the_api(server_url: str, tokens: dict[str, str]) -> None:
    origin = {"Origin": "https://app.example.org"}
    preflight = httpx.options(f"{server_url}/Observation", headers={
        **origin, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    response = httpx.get(f"{server_url}/Patient/pa", headers={**origin, "Authorization": f"Bearer {tokens['patient']}"})
    assert response.status_code == 200 and response.headers["access-control-allow-origin"] == "*"
    assert "ETag" in response.headers["access-control-expose-headers"]
