"""Real SMART tokens for the laboratory and summary tests: two doctors and two patients' launches.

Re-exported by the conftest.py of a test folder with authorization on."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from fhir_server.app import create_app
from fhir_server.config import Settings
from tests.conftest import free_port, serving
from tests.integration.smart_auth.helpers import cli_json, token_for

REDIRECT = "https://app.example.org/callback"
DOCTOR_SCOPE = "openid fhirUser user/*.cruds"
PATIENT_SCOPE = "launch patient/*.rs"


@pytest.fixture(scope="module")
def server_settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, host="127.0.0.1", port=free_port(), auth="on", pool_min=1,
                    pool_max=8, log_level="warning")


@pytest.fixture(scope="module")
def server_url(server_settings: Settings) -> Iterator[str]:
    with serving(create_app(server_settings), server_settings) as base:
        yield base


NARROW_SCOPE = "launch patient/Patient.rs patient/Observation.rs"


@pytest.fixture(scope="module")
def app_client(database_url: str) -> str:
    """A registered public SMART app allowed the doctors', the patients' and a narrow patient scope."""
    return str(cli_json(database_url, "client", "add", "--name", "Lab app", "--public", "--redirect-uri", REDIRECT,
                        "--scope", f"launch {DOCTOR_SCOPE} patient/*.rs patient/Patient.rs patient/Observation.rs")
               ["client_id"])


def patient_token(server_url: str, database_url: str, client: str, patient: str, scope: str) -> str:
    root = server_url.rsplit("/fhir", 1)[0]
    launch = cli_json(database_url, "launch", "add", "--patient", patient)["launch"]
    with httpx.Client(timeout=30, follow_redirects=False) as browser:
        return token_for(browser, root, server_url, client, scope, "doc-1", "pw-doc-1-123", launch)


@pytest.fixture(scope="module")
def http(server_url: str, database_url: str, app_client: str) -> dict[str, httpx.Client]:
    """Clients for doc-1, doc-2 (Practitioner users) and pat-a, pat-b (patient launches)."""
    root, client = server_url.rsplit("/fhir", 1)[0], app_client
    for name in ("doc-1", "doc-2"):
        cli_json(database_url, "user", "add", "--username", name, "--password", f"pw-{name}-123",
                 "--fhir-user", f"Practitioner/{name}")
    tokens: dict[str, str] = {}
    with httpx.Client(timeout=30, follow_redirects=False) as browser:
        for name in ("doc-1", "doc-2"):
            tokens[name] = token_for(browser, root, server_url, client, DOCTOR_SCOPE, name, f"pw-{name}-123")
    for patient in ("pat-a", "pat-b"):
        tokens[patient] = patient_token(server_url, database_url, client, patient, PATIENT_SCOPE)
    clients = {name: httpx.Client(base_url=server_url, timeout=30, headers={"Authorization": f"Bearer {token}"})
               for name, token in tokens.items()}
    for patient in ("pat-a", "pat-b"):
        made = clients["doc-1"].put(f"/Patient/{patient}", json={"resourceType": "Patient", "id": patient,
                                                                 "name": [{"family": patient}]})
        assert made.status_code in (200, 201), made.text
    return clients
