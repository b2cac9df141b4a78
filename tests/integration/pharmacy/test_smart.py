"""The default prescriber mode (FHIR_PRESCRIBER_CHECK=users) with authorization on: a clinician's
user token is held to the rule (a nurse cannot order, a doctor can); the pharmacy rules that bind
every writer hold for them too. SMART App Launch 2.2 tokens from the real server."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from fhir_server.app import create_app
from fhir_server.config import Settings
from tests.conftest import free_port, serving
from tests.integration.smart_auth.helpers import cli_json, token_for

from .helpers import ROLE, diagnostics, dispense, order

REDIRECT = "https://app.example.org/callback"
SCOPE = "openid fhirUser user/*.cruds"


@pytest.fixture(scope="module")
def server_settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, host="127.0.0.1", port=free_port(), auth="on", pool_min=1,
                    pool_max=8, log_level="warning")  # prescriber_check: the default, "users"


@pytest.fixture(scope="module")
def server_url(server_settings: Settings) -> Iterator[str]:
    with serving(create_app(server_settings), server_settings) as base:
        yield base


@pytest.fixture(scope="module")
def http(server_url: str, database_url: str) -> dict[str, httpx.Client]:
    root = server_url.rsplit("/fhir", 1)[0]
    client = cli_json(database_url, "client", "add", "--name", "Pharmacy app", "--public", "--redirect-uri",
                      REDIRECT, "--scope", f"launch {SCOPE}")["client_id"]
    tokens = {}
    with httpx.Client(timeout=30, follow_redirects=False) as browser:
        for name in ("rx-doctor", "rx-nurse"):
            cli_json(database_url, "user", "add", "--username", name, "--password", f"pw-{name}-123",
                     "--fhir-user", f"Practitioner/{name}")
            tokens[name] = token_for(browser, root, server_url, client, SCOPE, name, f"pw-{name}-123")
    clients = {name: httpx.Client(base_url=server_url, timeout=30, headers={"Authorization": f"Bearer {token}"})
               for name, token in tokens.items()}
    doctor = clients["rx-doctor"]
    for name, role in (("rx-doctor", "doctor"), ("rx-nurse", "nurse")):
        assert doctor.put(f"/Practitioner/{name}", json={"resourceType": "Practitioner", "id": name,
                                                         "active": True}).status_code == 201
        assert doctor.post("/PractitionerRole", json={
            "resourceType": "PractitionerRole", "active": True, "practitioner": {"reference": f"Practitioner/{name}"},
            "code": [{"coding": [{"system": ROLE, "code": role}]}]}).status_code == 201
    assert doctor.put("/Patient/rx-pat", json={"resourceType": "Patient", "id": "rx-pat"}).status_code == 201
    return clients


def test_a_nurse_token_cannot_order_and_a_doctor_token_can(http: dict[str, httpx.Client]) -> None:
    refused = http["rx-nurse"].post("/MedicationRequest", json=order("rx-pat", "Practitioner/rx-nurse"))
    assert refused.status_code == 422, refused.text
    assert diagnostics(refused).startswith("Practitioner/rx-nurse has no active PractitionerRole that may prescribe")
    ordered = http["rx-doctor"].post("/MedicationRequest", json=order("rx-pat", "Practitioner/rx-doctor",
                                                                      quantity=10, repeats=0))
    assert ordered.status_code == 201, ordered.text
    rid = ordered.json()["id"]
    nurse = http["rx-nurse"]
    assert nurse.post("/MedicationDispense", json=dispense(rid, "rx-pat", 10)).status_code == 201
    again = nurse.post("/MedicationDispense", json=dispense(rid, "rx-pat", 1))
    assert again.status_code == 422
    assert diagnostics(again).endswith("(pharmacy rule number-of-fills)")
