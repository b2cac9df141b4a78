"""Standalone launch: the patient picker for practitioners, a patient's own record, consent
narrowing, and the Python ``fhirclient`` driving the flow from /metadata's oauth-uris.

https://hl7.org/fhir/smart-app-launch/app-launch.html#launch-app-standalone-launch
"""

from __future__ import annotations

import httpx
import psycopg
import pytest
from fhirclient import client as fhirclient
from psycopg.types.json import Jsonb

from .helpers import Flow, cli_json, decode, query, server_keys

REDIRECT = "http://127.0.0.1:9999/callback"
SCOPE = "launch/patient openid fhirUser patient/*.rs offline_access"


@pytest.fixture(scope="module")
def client_id(database_url: str, server_url: str) -> str:
    with psycopg.connect(database_url, autocommit=True) as conn:
        for pid, family in (("pat-a", "Alpha"), ("pat-b", "Beta")):
            patient = {"resourceType": "Patient", "id": pid, "name": [{"family": family, "given": ["Test"]}],
                       "birthDate": "1970-01-01"}
            conn.execute("INSERT INTO resource (resource_type, id, version_id, txid, last_updated, content) "
                         "VALUES ('Patient', %s, 1, nextval('fhir_txid_seq'), now(), %s)", (pid, Jsonb(patient)))
    cli_json(database_url, "user", "add", "--allow-missing", "--username", "doc", "--password", "doc-password",
             "--fhir-user", "Practitioner/doc1")
    cli_json(database_url, "user", "add", "--allow-missing", "--username", "alpha", "--password", "alpha-password",
             "--fhir-user", "Patient/pat-a")
    created = cli_json(database_url, "client", "add", "--name", "Standalone app", "--public",
                       "--redirect-uri", REDIRECT, "--scope", SCOPE + " user/*.rs launch")
    return str(created["client_id"])


def flow_for(browser: httpx.Client, root_url: str, server_url: str, client_id: str, scope: str = SCOPE) -> Flow:
    return Flow(browser, root_url, server_url, client_id, REDIRECT, scope)


def test_practitioner_picks_a_patient(browser: httpx.Client, root_url: str, server_url: str, client_id: str) -> None:
    flow = flow_for(browser, root_url, server_url, client_id)
    response = flow.login(flow.authorize(), "doc", "doc-password")
    assert response.status_code == 303 and "/auth/patient" in response.headers["location"]
    page = browser.get(response.headers["location"])
    assert "Alpha" in page.text and "Beta" in page.text and 'value="pat-b"' in page.text
    code = query(flow.consent(flow.pick_patient(response, "pat-b")).headers["location"])["code"]
    body = flow.exchange(code).json()
    assert body["patient"] == "pat-b"
    assert decode(body["id_token"], server_keys(browser, root_url))["fhirUser"] == f"{server_url}/Practitioner/doc1"


def test_picker_refuses_an_unknown_patient(browser: httpx.Client, root_url: str, server_url: str,
                                          client_id: str) -> None:
    flow = flow_for(browser, root_url, server_url, client_id)
    response = flow.pick_patient(flow.login(flow.authorize(), "doc", "doc-password"), "no-such-patient")
    assert response.status_code == 400


def test_patient_user_gets_their_own_record(browser: httpx.Client, root_url: str, server_url: str,
                                            client_id: str) -> None:
    flow = flow_for(browser, root_url, server_url, client_id)
    response = flow.login(flow.authorize(), "alpha", "alpha-password")
    assert "/auth/consent" in response.headers["location"]  # no picker for a patient
    body = flow.exchange(query(flow.consent(response).headers["location"])["code"]).json()
    assert body["patient"] == "pat-a"


def test_patient_user_cannot_pick_someone_else(browser: httpx.Client, root_url: str, server_url: str,
                                               client_id: str) -> None:
    flow = flow_for(browser, root_url, server_url, client_id)
    response = flow.login(flow.authorize(), "alpha", "alpha-password")
    page = browser.get(response.headers["location"].replace("/auth/consent", "/auth/patient"))
    from .helpers import hidden

    forced = browser.post(f"{root_url}/auth/patient", data={
        "req": hidden(page.text, "req"), "csrf": hidden(page.text, "csrf"), "patient": "pat-b"})
    assert forced.status_code == 403


def test_unticked_scopes_are_not_granted(browser: httpx.Client, root_url: str, server_url: str,
                                         client_id: str) -> None:
    flow = flow_for(browser, root_url, server_url, client_id)
    code = flow.code("alpha", "alpha-password", untick=("offline_access", "openid"))
    body = flow.exchange(code).json()
    assert set(body["scope"].split()) == {"launch/patient", "fhirUser", "patient/*.rs"}
    assert "refresh_token" not in body and "id_token" not in body


def test_scopes_beyond_the_registration_are_dropped(browser: httpx.Client, root_url: str, server_url: str,
                                                    client_id: str) -> None:
    flow = flow_for(browser, root_url, server_url, client_id, "launch/patient patient/Observation.rs user/*.cruds")
    body = flow.exchange(flow.code("alpha", "alpha-password")).json()
    assert set(body["scope"].split()) == {"launch/patient", "patient/Observation.rs"}


def test_fhirclient_finds_endpoints_in_metadata_and_completes_the_flow(
        browser: httpx.Client, root_url: str, server_url: str, client_id: str) -> None:
    smart = fhirclient.FHIRClient(settings={
        "app_id": client_id, "api_base": server_url, "redirect_uri": REDIRECT,
        "scope": "openid fhirUser patient/*.rs offline_access", "launch_token": None})
    smart.wants_patient = True  # adds launch/patient
    url = smart.authorize_url
    assert url.startswith(f"{root_url}/auth/authorize?")
    args = query(url)
    assert args["aud"] == server_url and args["code_challenge_method"] == "S256"
    response = browser.get(url)
    flow = Flow(browser, root_url, server_url, client_id, REDIRECT, "")
    response = flow.consent(flow.login(response, "alpha", "alpha-password"))
    assert response.status_code == 302
    smart.handle_callback(response.headers["location"])
    assert smart.ready and smart.patient_id == "pat-a"
    assert smart.server.auth.refresh_token
    assert smart.reauthorize()  # refresh_token grant through fhirclient
    assert smart.ready
