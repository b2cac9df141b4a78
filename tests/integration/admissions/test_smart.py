"""With authorization on: the admissions operations show a patient token only what its scopes let
it read (the triage queue its own Encounters, the bed board no other patient's occupant), and a
token without the scope is 403."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from fhir_server.app import create_app
from fhir_server.config import Settings
from tests.conftest import free_port, serving
from tests.integration.smart_auth.helpers import cli_json, token_for

from .helpers import ACT, BED_STATUS, PHYSICAL

REDIRECT = "https://app.example.org/callback"
PATIENT_SCOPE = "launch patient/Encounter.rs patient/Location.rs"


@pytest.fixture(scope="module")
def server_settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, host="127.0.0.1", port=free_port(), auth="on", pool_min=1,
                    pool_max=8, log_level="warning")


@pytest.fixture(scope="module")
def server_url(server_settings: Settings) -> Iterator[str]:
    with serving(create_app(server_settings), server_settings) as base:
        yield base


@pytest.fixture(scope="module")
def http(server_url: str, database_url: str) -> dict[str, httpx.Client]:
    root = server_url.rsplit("/fhir", 1)[0]
    client = cli_json(database_url, "client", "add", "--name", "Ward app", "--public", "--redirect-uri",
                      REDIRECT, "--scope", f"launch openid fhirUser user/*.cruds user/Patient.rs {PATIENT_SCOPE}")[
        "client_id"]
    cli_json(database_url, "user", "add", "--username", "nurse-1", "--password", "pw-nurse-1-123",
             "--fhir-user", "Practitioner/nurse-1")
    with httpx.Client(timeout=30, follow_redirects=False) as browser:
        tokens = {"staff": token_for(browser, root, server_url, client, "openid fhirUser user/*.cruds", "nurse-1",
                                     "pw-nurse-1-123"),
                  "narrow": token_for(browser, root, server_url, client, "openid fhirUser user/Patient.rs",
                                      "nurse-1", "pw-nurse-1-123")}
        for patient in ("pat-a", "pat-b"):
            launch = cli_json(database_url, "launch", "add", "--patient", patient)["launch"]
            tokens[patient] = token_for(browser, root, server_url, client, PATIENT_SCOPE, "nurse-1",
                                        "pw-nurse-1-123", launch)
    return {name: httpx.Client(base_url=server_url, timeout=30, headers={"Authorization": f"Bearer {token}"})
            for name, token in tokens.items()}


def _created(response: httpx.Response) -> str:
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_patient_tokens_see_only_their_own(http: dict[str, httpx.Client]) -> None:
    staff = http["staff"]
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    waiting = {p: _created(staff.post("/Encounter", json={
        "resourceType": "Encounter", "status": "arrived", "class": {"system": ACT, "code": "EMER"},
        "subject": {"reference": f"Patient/{p}"}, "period": {"start": now}})) for p in ("pat-a", "pat-b")}
    ward = _created(staff.post("/Location", json={"resourceType": "Location", "name": "W"}))
    bed = _created(staff.post("/Location", json={
        "resourceType": "Location", "name": "B", "partOf": {"reference": f"Location/{ward}"},
        "physicalType": {"coding": [{"system": PHYSICAL, "code": "bd"}]},
        "operationalStatus": {"system": BED_STATUS, "code": "U"}}))
    admitted = _created(staff.post("/Encounter", json={
        "resourceType": "Encounter", "status": "in-progress", "class": {"system": ACT, "code": "IMP"},
        "subject": {"reference": "Patient/pat-b"}, "location": [{"location": {"reference": f"Location/{bed}"}}]}))
    queue = http["pat-a"].get("/Encounter/$triage-queue")
    assert queue.status_code == 200, queue.text
    assert [e["resource"]["id"] for e in queue.json()["entry"]] == [waiting["pat-a"]]
    assert len(staff.get("/Encounter/$triage-queue").json()["entry"]) == 2

    def board(name: str) -> list[dict[str, object]]:
        response = http[name].get(f"/Location/{ward}/$bed-board")
        assert response.status_code == 200, response.text
        return list(response.json()["parameter"][0]["part"])
    assert [p["name"] for p in board("pat-a")] == ["location", "status"]  # pat-b's stay is not shown
    assert board("pat-b")[2] == {"name": "encounter", "valueReference": {"reference": f"Encounter/{admitted}"}}
    for path in ("/Encounter/$triage-queue", f"/Location/{ward}/$bed-board"):
        assert http["narrow"].get(path).status_code == 403
