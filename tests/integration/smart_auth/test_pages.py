"""The authorization pages as HTML over real HTTP: branding, wording by role, the paged picker
with search and nothing pre-selected, patients named by name/birth date/identifier, "signed in
as" with switch user, primary/secondary buttons, and the username kept after a failed login."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg.types.json import Jsonb

from fhir_server.config import Settings
from tests.conftest import free_port

from .helpers import Flow, cli_json, hidden, query

REDIRECT = "http://127.0.0.1:9999/callback"
SCOPE = "launch/patient openid fhirUser patient/*.rs"
EHR_SCOPE = "launch openid fhirUser patient/*.rs"
LOGO = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'
MRN = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}


@pytest.fixture(scope="module")
def server_settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    logo = tmp_path_factory.mktemp("brand") / "logo.svg"
    logo.write_bytes(LOGO)
    return Settings(database_url=database_url, host="127.0.0.1", port=free_port(), auth="on",
                    max_body_bytes=2 * 1024 * 1024, pool_min=1, pool_max=8, log_level="warning",
                    hospital_name="St. Example Hospital", hospital_logo=Path(logo), login_failure_delay=0.0)


def _put(conn: psycopg.Connection, rtype: str, content: dict[str, object]) -> None:
    conn.execute("INSERT INTO resource (resource_type, id, version_id, txid, last_updated, content) "
                 "VALUES (%s, %s, 1, nextval('fhir_txid_seq'), now(), %s)", (rtype, content["id"], Jsonb(content)))


@pytest.fixture(scope="module")
def setup(database_url: str, server_url: str) -> dict[str, str]:
    """25 patients: Jane Doe (MRN 12345), Ada Able, and 23 "Many" (so the picker has two pages)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        _put(conn, "Patient", {"resourceType": "Patient", "id": "jane", "birthDate": "1980-02-03",
                               "name": [{"family": "Doe", "given": ["Jane"]}],
                               "identifier": [{"system": "urn:x", "value": "other-1"},
                                              {"type": MRN, "system": "urn:mrn", "value": "12345"}]})
        _put(conn, "Patient", {"resourceType": "Patient", "id": "ada", "birthDate": "1990-05-06",
                               "name": [{"family": "Able", "given": ["Ada"]}]})
        for n in range(23):
            _put(conn, "Patient", {"resourceType": "Patient", "id": f"many-{n:02}", "birthDate": "2000-01-01",
                                   "name": [{"family": "Many", "given": [f"M{n:02}"]}]})
        _put(conn, "Practitioner", {"resourceType": "Practitioner", "id": "doc1",
                                    "name": [{"family": "Tor", "given": ["Doc"], "prefix": ["Dr"]}]})
    cli_json(database_url, "user", "add", "--username", "doc", "--password", "doc-password",
             "--fhir-user", "Practitioner/doc1")
    cli_json(database_url, "user", "add", "--username", "jane", "--password", "jane-password",
             "--fhir-user", "Patient/jane")
    client = cli_json(database_url, "client", "add", "--name", "Chart Viewer", "--public",
                      "--redirect-uri", REDIRECT, "--scope", SCOPE + " launch")
    launch = cli_json(database_url, "launch", "add", "--patient", "jane")
    return {"client_id": str(client["client_id"]), "launch": str(launch["launch"])}


def _flow(browser: httpx.Client, root_url: str, server_url: str, setup: dict[str, str], ehr: bool = False) -> Flow:
    if ehr:
        return Flow(browser, root_url, server_url, setup["client_id"], REDIRECT, EHR_SCOPE, launch=setup["launch"])
    return Flow(browser, root_url, server_url, setup["client_id"], REDIRECT, SCOPE)


def _picker(browser: httpx.Client, root_url: str, shown: httpx.Response, **fields: str) -> httpx.Response:
    return browser.post(f"{root_url}/auth/patient", data={
        "req": hidden(shown.text, "req"), "csrf": hidden(shown.text, "csrf"), "op": "search", **fields})


def _rows(html: str) -> list[str]:
    return re.findall(r'name="patient" value="([^"]*)"', html)


def test_login_page_is_branded_and_worded_for_a_standalone_launch(
        browser: httpx.Client, root_url: str, server_url: str, setup: dict[str, str]) -> None:
    flow = _flow(browser, root_url, server_url, setup)
    page = browser.get(flow.authorize().headers["location"])
    assert page.status_code == 200
    assert "<title>Sign in · St. Example Hospital</title>" in page.text
    assert f'<img src="{root_url}/auth/logo" alt=""><span class="hospital">St. Example Hospital</span>' in page.text
    assert "<p><strong>Chart Viewer</strong> asks you to sign in with your St. Example Hospital account.</p>" \
        in page.text
    assert 'name="username" value="" autocomplete="username" required autofocus>' in page.text
    assert "Signed in as" not in page.text
    assert page.headers["content-security-policy"].startswith(
        "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none';")


def test_the_logo_is_served_same_origin(browser: httpx.Client, root_url: str, setup: dict[str, str]) -> None:
    logo = browser.get(f"{root_url}/auth/logo")
    assert logo.status_code == 200 and logo.content == LOGO
    assert logo.headers["content-type"] == "image/svg+xml"
    assert "sandbox" in logo.headers["content-security-policy"]


def test_a_wrong_password_keeps_the_username(browser: httpx.Client, root_url: str, server_url: str,
                                             setup: dict[str, str]) -> None:
    flow = _flow(browser, root_url, server_url, setup)
    failed = flow.login(flow.authorize(), "doc", "not-the-password")
    assert failed.status_code == 401
    assert '<p class="error" role="alert">Unknown username or wrong password.</p>' in failed.text
    assert 'name="username" value="doc" autocomplete="username" required>' in failed.text
    assert 'type="password" autocomplete="current-password" required autofocus>' in failed.text


def test_the_picker_is_paged_with_nothing_preselected(browser: httpx.Client, root_url: str, server_url: str,
                                                      setup: dict[str, str]) -> None:
    flow = _flow(browser, root_url, server_url, setup)
    signed_in = flow.login(flow.authorize(), "doc", "doc-password")
    page = browser.get(signed_in.headers["location"])
    assert page.status_code == 200
    # By family name: Able, Doe, then Many M00..M17 fill the first 20 rows.
    assert _rows(page.text) == ["ada", "jane", *[f"many-{n:02}" for n in range(18)]]
    assert "checked" not in page.text
    assert page.text.count(" required>") == 1  # the radio group must be answered; nothing is chosen for you
    assert '<strong>Jane Doe</strong> <span class="hint">born 1980-02-03 · MRN 12345</span>' in page.text
    assert '<strong>Ada Able</strong> <span class="hint">born 1990-05-06</span>' in page.text
    assert 'value="2" class="secondary">Next page</button>' in page.text and "Previous page" not in page.text
    second = _picker(browser, root_url, page, q="", page="2")
    assert second.status_code == 200
    assert _rows(second.text) == [f"many-{n:02}" for n in range(18, 23)]
    assert "Previous page" in second.text and "Next page" not in second.text and "<span>Page 2</span>" in second.text


@pytest.mark.parametrize(("text", "expected"), [
    ("doe", ["jane"]), ("JANE", ["jane"]), ("12345", ["jane"]), ("1990-05-06", ["ada"]),
    ("m2", ["many-20", "many-21", "many-22"]),
    ("100%", []), ("nobody", []),
])
def test_the_picker_searches_name_identifier_and_birth_date(
        browser: httpx.Client, root_url: str, server_url: str, setup: dict[str, str], text: str,
        expected: list[str]) -> None:
    flow = _flow(browser, root_url, server_url, setup)
    page = browser.get(flow.login(flow.authorize(), "doc", "doc-password").headers["location"])
    found = _picker(browser, root_url, page, q=text)
    assert found.status_code == 200
    assert _rows(found.text) == expected
    assert f'name="q" type="search" value="{text}"' in found.text
    if not expected:
        assert "<legend>No patient matches</legend>" in found.text


def test_signed_in_as_with_switch_user(browser: httpx.Client, root_url: str, server_url: str,
                                       setup: dict[str, str]) -> None:
    flow = _flow(browser, root_url, server_url, setup)
    page = browser.get(flow.login(flow.authorize(), "doc", "doc-password").headers["location"])
    req = hidden(page.text, "req")
    assert (f'<p class="who">Signed in as <strong>Doc Tor (doc)</strong> · '
            f'<a href="{root_url}/auth/login?req={req}">Switch user</a></p>') in page.text


def test_clinician_consent_names_the_chosen_patient(browser: httpx.Client, root_url: str, server_url: str,
                                                    setup: dict[str, str]) -> None:
    flow = _flow(browser, root_url, server_url, setup)
    chosen = flow.pick_patient(flow.login(flow.authorize(), "doc", "doc-password"), "jane")
    page = browser.get(chosen.headers["location"])
    assert page.status_code == 200
    assert "<p><strong>Chart Viewer</strong> asks to act for you on the chart of the patient you selected.</p>" \
        in page.text
    assert '<p class="patient">Patient: <strong>Jane Doe</strong> · born 1980-02-03 · MRN 12345</p>' in page.text
    assert "Patient/jane" not in page.text and "health record" not in page.text
    assert '<button type="submit" name="decision" value="allow" class="primary">Allow</button>' in page.text
    assert '<button type="submit" name="decision" value="deny" class="secondary">Deny</button>' in page.text


def test_patient_consent_speaks_of_their_own_record(browser: httpx.Client, root_url: str, server_url: str,
                                                    setup: dict[str, str]) -> None:
    flow = _flow(browser, root_url, server_url, setup)
    page = browser.get(flow.login(flow.authorize(), "jane", "jane-password").headers["location"])
    assert "<p><strong>Chart Viewer</strong> asks to access your health record.</p>" in page.text
    assert '<p class="patient">Patient: <strong>Jane Doe</strong> · born 1980-02-03 · MRN 12345</p>' in page.text
    assert "Signed in as <strong>Jane Doe (jane)</strong>" in page.text


def test_ehr_launch_wording_for_a_clinician(browser: httpx.Client, root_url: str, server_url: str,
                                            setup: dict[str, str]) -> None:
    flow = _flow(browser, root_url, server_url, setup, ehr=True)
    started = flow.authorize()
    login = browser.get(started.headers["location"])
    assert "<p><strong>Chart Viewer</strong> was opened from your EHR session. Sign in with your " \
           "St. Example Hospital account to continue.</p>" in login.text
    page = browser.get(flow.login(started, "doc", "doc-password").headers["location"])
    assert "<p><strong>Chart Viewer</strong> asks to act for you on the chart of the patient open in your " \
           "EHR session.</p>" in page.text
    assert '<p class="patient">Patient: <strong>Jane Doe</strong> · born 1980-02-03 · MRN 12345</p>' in page.text


def test_switching_user_drops_the_previous_patient_choice(browser: httpx.Client, root_url: str, server_url: str,
                                                          setup: dict[str, str]) -> None:
    """Jane signs in (her own record), switches to the doctor: the doctor must pick, not inherit Jane."""
    flow = _flow(browser, root_url, server_url, setup)
    consent = browser.get(flow.login(flow.authorize(), "jane", "jane-password").headers["location"])
    switch = re.search(r'<a href="([^"]+)">Switch user</a>', consent.text)
    assert switch is not None
    login = browser.get(switch.group(1))
    assert login.status_code == 200 and 'name="username" value=""' in login.text
    again = browser.post(f"{root_url}/auth/login", data={
        "req": hidden(login.text, "req"), "csrf": hidden(login.text, "csrf"),
        "username": "doc", "password": "doc-password"})
    assert again.status_code == 303 and "/auth/patient" in again.headers["location"]
    done = flow.consent(flow.pick_patient(again, "ada"))
    assert done.status_code == 302
    body = flow.exchange(query(done.headers["location"])["code"]).json()
    assert body["patient"] == "ada"


def test_a_choice_not_in_the_list_is_refused_with_the_picker(browser: httpx.Client, root_url: str,
                                                             server_url: str, setup: dict[str, str]) -> None:
    flow = _flow(browser, root_url, server_url, setup)
    refused = flow.pick_patient(flow.login(flow.authorize(), "doc", "doc-password"), "no-such-patient")
    assert refused.status_code == 400
    assert '<p class="error" role="alert">Choose a patient from the list.</p>' in refused.text
    assert "checked" not in refused.text and len(_rows(refused.text)) == 20
