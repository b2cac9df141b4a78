"""Patient self-registration: the Patient and the account in one transaction, the e-mail link
(signed, expiring) before sign-in, duplicates 409, the password policy, CSRF on the form, and
the sign-in lockout that already guards every account."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import httpx
import psycopg
import pytest

from fhir_server.config import Settings
from tests.conftest import free_port
from tests.integration.smart_auth.helpers import Flow

from .conftest import REDIRECT, bearer

PASSWORD = "Spring-garden-42"
LINK = re.compile(r"(http://\S+/register/verify\?token=\S+)")


@pytest.fixture(scope="module")
def server_settings(database_url: str) -> Settings:
    """Many registrations come from 127.0.0.1 here: the per-address limit is tested in test_register_limit."""
    return Settings(database_url=database_url, host="127.0.0.1", port=free_port(), auth="on", pool_min=1, pool_max=8,
                    log_level="warning", register_max_per_address=1000)


def person(**changes: str) -> dict[str, str]:
    return {"given": "Amara", "family": "Okafor", "birth_date": "1990-04-12", "email": "amara@example.org",
            "password": PASSWORD, "phone": "+44 20 7946 0000", **changes}


def verification_link(caplog: pytest.LogCaptureFixture) -> str:
    links = [m.group(1) for r in caplog.records if (m := LINK.search(r.getMessage()))]
    assert links, "no verification link was logged"
    return links[-1]


def patient_count(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM resource WHERE resource_type = 'Patient'").fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture(scope="module")
def registered(browser_module: httpx.Client, root_url: str) -> dict[str, Any]:
    response = browser_module.post(f"{root_url}/register", json=person())
    assert response.status_code == 201, response.text
    return dict(response.json())


@pytest.fixture(scope="module")
def browser_module() -> Any:
    with httpx.Client(timeout=30, follow_redirects=False) as http:
        yield http


def test_register_verify_and_sign_in(caplog: pytest.LogCaptureFixture, database_url: str, browser: httpx.Client,
                                     root_url: str, server_url: str, client_id: str) -> None:
    caplog.set_level(logging.WARNING, logger="fhir_server.accounts.register_routes")
    made = browser.post(f"{root_url}/register", json=person(email="Ben.Ode@Example.org", given="Ben"))
    assert made.status_code == 201, made.text
    patient_ref = made.json()["patient"]
    assert made.json()["verified"] is False
    link = verification_link(caplog)
    assert "ben" not in link.lower() and "example" not in link  # no PHI in the logged link
    assert link.split("token=")[1].startswith(patient_ref.split("/")[1] + ".")
    scope = "openid fhirUser launch/patient patient/*.rs"
    flow = Flow(browser, root_url, server_url, client_id, REDIRECT, scope)
    refused = flow.login(flow.authorize(), "ben.ode@example.org", PASSWORD)
    assert refused.status_code == 403 and "not verified yet" in refused.text
    assert browser.get(link.replace("token=", "token=x")).status_code == 400
    verified = browser.get(link)
    assert verified.status_code == 200 and "verified" in verified.text
    flow = Flow(browser, root_url, server_url, client_id, REDIRECT, scope)
    tokens = flow.exchange(flow.code("ben.ode@example.org", PASSWORD)).json()
    assert tokens["scope"] == scope and tokens["patient"] == patient_ref.split("/")[1]
    patient = browser.get(f"{server_url}/{patient_ref}", headers=bearer(tokens["access_token"])).json()
    assert patient["name"] == [{"use": "official", "family": "Okafor", "given": ["Ben"]}]
    assert patient["birthDate"] == "1990-04-12"
    assert patient["telecom"] == [{"system": "email", "value": "ben.ode@example.org", "use": "home"},
                                  {"system": "phone", "value": "+44 20 7946 0000", "use": "mobile"}]
    with psycopg.connect(database_url) as conn:
        roles = conn.execute("SELECT role FROM smart_user_role WHERE username = 'ben.ode@example.org'").fetchall()
    assert roles == [("patient",)]


def test_duplicates_are_409_and_write_nothing(database_url: str, browser: httpx.Client, root_url: str,
                                               registered: dict[str, Any]) -> None:
    before = patient_count(database_url)
    same_email = browser.post(f"{root_url}/register", json=person(email="AMARA@example.org", given="Other"))
    assert same_email.status_code == 409
    assert same_email.json()["issue"][0]["diagnostics"] == (
        "An account with this e-mail address already exists: sign in, or reset the password.")
    # A Patient the hospital already holds (no account): same name, birth date and e-mail.
    with psycopg.connect(database_url) as conn:
        conn.execute("UPDATE smart_user SET email = 'amara.old@example.org' WHERE email = 'amara@example.org'")
    same_person = browser.post(f"{root_url}/register", json=person())
    assert same_person.status_code == 409
    assert same_person.json()["issue"][0]["diagnostics"] == (
        "A patient record with this name, birth date and e-mail already exists: ask the hospital.")
    with_id = person(email="id1@example.org", given="Ida", identifier_system="urn:oid:2.16.840.1.113883.2.1.4.1",
                     identifier_value="9434765919")
    assert browser.post(f"{root_url}/register", json=with_id).status_code == 201
    again = browser.post(f"{root_url}/register", json={**with_id, "email": "id2@example.org", "given": "Ida2"})
    assert again.status_code == 409
    assert "identifier already exists" in again.json()["issue"][0]["diagnostics"]
    assert patient_count(database_url) == before + 1


@pytest.mark.parametrize(("password", "status"), [("short-1A", 422), ("alllowercaseletters", 422),
                                                  ("123456789012345", 422), ("lowercase and spaces", 201)])
def test_password_policy(browser: httpx.Client, root_url: str, password: str, status: int) -> None:
    email = f"pw{abs(hash(password))}@example.org"
    response = browser.post(f"{root_url}/register", json=person(email=email, given=email[:8], password=password))
    assert response.status_code == status, response.text
    if status == 422:
        assert "at least 12 characters, not all letters of one case" in response.json()["issue"][0]["diagnostics"]


def test_bad_input_is_422_or_400(browser: httpx.Client, root_url: str) -> None:
    missing = browser.post(f"{root_url}/register", json={"email": "x@example.org", "password": PASSWORD})
    assert missing.status_code == 422
    assert missing.json()["issue"][0]["diagnostics"].startswith("Given name is required; Family name is required")
    future = browser.post(f"{root_url}/register", json=person(email="f@example.org", birth_date="2999-01-01"))
    assert future.status_code == 422
    assert browser.post(f"{root_url}/register", content=b"{", headers={"Content-Type": "application/json"}
                        ).status_code == 400
    assert browser.post(f"{root_url}/register", content=b"x", headers={"Content-Type": "text/plain"}).status_code == 400


def test_form_needs_its_csrf_pair(browser: httpx.Client, root_url: str, database_url: str) -> None:
    page = browser.get(f"{root_url}/register")
    assert page.status_code == 200 and "<script" not in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf
    fields = person(email="form@example.org", given="Formy")
    forged = httpx.post(f"{root_url}/register", data={**fields, "csrf": csrf.group(1)})  # no cookie
    assert forged.status_code == 403
    made = browser.post(f"{root_url}/register", data={**fields, "csrf": csrf.group(1)})
    assert made.status_code == 201, made.text
    assert "Check your e-mail" in made.text


def test_sign_in_lockout_guards_registered_accounts(browser: httpx.Client, root_url: str, server_url: str,
                                                    client_id: str, registered: dict[str, Any]) -> None:
    statuses = []
    for _ in range(6):
        flow = Flow(browser, root_url, server_url, client_id, REDIRECT, "openid patient/*.rs")
        statuses.append(flow.login(flow.authorize(), "amara.old@example.org", "wrong-password-1").status_code)
    assert statuses == [401, 401, 401, 401, 401, 429]


def test_concurrent_registrations_of_one_person_make_one_patient(database_url: str, root_url: str) -> None:
    """Eight simultaneous registrations with one identifier (each its own e-mail, so no unique index
    helps): one 201, seven 409. The test holds smart_user_role locked until all eight are waiting in
    PostgreSQL, so without the advisory lock on the identifier all eight would pass the duplicate check."""
    import concurrent.futures

    before = patient_count(database_url)

    def attempt(n: int) -> int:
        body = person(email=f"twin{n}@example.org", given=f"Twin{n}", identifier_system="urn:example:mrn",
                      identifier_value="MRN-TWIN")
        with httpx.Client(timeout=60) as http:
            return http.post(f"{root_url}/register", json=body).status_code

    with psycopg.connect(database_url) as gate, concurrent.futures.ThreadPoolExecutor(8) as pool:
        gate.execute("LOCK TABLE smart_user_role IN ACCESS EXCLUSIVE MODE")
        results = pool.map(attempt, range(8))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with psycopg.connect(database_url) as probe:
                row = probe.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                                    " AND wait_event_type = 'Lock'").fetchone()
            if row and row[0] >= 8:
                break
            time.sleep(0.1)
        gate.commit()  # lets them go
        statuses = sorted(results)
    assert statuses == [201] + [409] * 7
    assert patient_count(database_url) == before + 1
