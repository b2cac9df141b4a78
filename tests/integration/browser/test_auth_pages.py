"""The authorization pages in Chromium: a clinician's standalone launch at desktop width and a
patient's at 375 px, each page checked by axe-core, for CSP violations and screenshotted."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.integration.smart_auth.helpers import Flow, cli_json, query

from .checks import check_page, watch_csp
from .conftest import DESKTOP, PHONE

REDIRECT = "http://127.0.0.1:9/callback"
SCOPE = "launch/patient openid fhirUser patient/*.rs"


@pytest.fixture(scope="module")
def client_id(database_url: str, server_url: str) -> str:
    with psycopg.connect(database_url, autocommit=True) as conn:
        for pid, given, family, born in (("jane", "Jane", "Doe", "1980-02-03"), ("john", "John", "Roe", "1975-07-08")):
            content = {"resourceType": "Patient", "id": pid, "birthDate": born,
                       "name": [{"family": family, "given": [given]}],
                       "identifier": [{"type": {"text": "MRN"}, "value": f"MRN-{pid}"}]}
            conn.execute("INSERT INTO resource (resource_type, id, version_id, txid, last_updated, content) VALUES"
                         " ('Patient', %s, 1, nextval('fhir_txid_seq'), now(), %s)", (pid, Jsonb(content)))
    cli_json(database_url, "user", "add", "--allow-missing", "--username", "doc", "--password", "doc-password",
             "--fhir-user", "Practitioner/doc1")
    cli_json(database_url, "user", "add", "--username", "jane", "--password", "jane-password",
             "--fhir-user", "Patient/jane")
    created = cli_json(database_url, "client", "add", "--name", "Chart Viewer", "--public",
                       "--redirect-uri", REDIRECT, "--scope", SCOPE)
    return str(created["client_id"])


@pytest.fixture()
def page(client_id: str, chromium: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    # client_id first: its set-up runs asyncio, which cannot start once Playwright's loop runs here.
    context = chromium.new_context(viewport=getattr(request, "param", DESKTOP))
    context.set_default_timeout(5000)
    page = context.new_page()
    # The app's redirect_uri: answered here, so the browser lands somewhere after Allow/Deny.
    page.route(f"{REDIRECT}**", lambda route: route.fulfill(status=200, body="back in the app"))
    yield page
    context.close()


def _start(page: Any, root_url: str, server_url: str, client_id: str) -> Flow:
    flow = Flow(httpx.Client(), root_url, server_url, client_id, REDIRECT, SCOPE)
    page.goto(f"{root_url}/auth/authorize?{urlencode(flow.params())}")
    return flow


def test_clinician_standalone_launch(page: Any, root_url: str, server_url: str, client_id: str) -> None:
    csp = watch_csp(page)
    flow = _start(page, root_url, server_url, client_id)
    assert page.locator("header .hospital").inner_text() == "St. Example Hospital"
    check_page(page, "auth-login", csp)
    # Keyboard order: username, password, Sign in.
    page.locator("#username").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "password"
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "Sign in"

    page.fill("#username", "doc")
    page.fill("#password", "wrong")
    page.click("button:has-text('Sign in')")
    assert page.locator("[role=alert]").inner_text() == "Unknown username or wrong password."
    assert page.input_value("#username") == "doc"
    check_page(page, "auth-login-failed", csp)
    page.fill("#password", "doc-password")
    page.click("button:has-text('Sign in')")

    assert page.locator("h1").inner_text() == "Select a patient"
    assert page.locator("input[name=patient]:checked").count() == 0
    check_page(page, "auth-picker", csp)
    page.click("button:has-text('Continue with this patient')")  # nothing chosen: the browser refuses to submit
    assert page.locator("h1").inner_text() == "Select a patient"
    page.fill("#q", "doe")
    page.click("button:has-text('Search')")
    assert page.locator("input[name=patient]").count() == 1
    page.check("input[value=jane]")
    page.click("button:has-text('Continue with this patient')")

    assert page.locator("h1").inner_text() == "Allow access?"
    assert page.locator(".patient").inner_text() == "Patient: Jane Doe · born 1980-02-03 · MRN MRN-jane"
    assert page.locator(".who").inner_text() == "Signed in as doc · Switch user"
    check_page(page, "auth-consent-clinician", csp)
    page.click("button.primary:has-text('Allow')")
    page.wait_for_url(f"{REDIRECT}**")
    token = flow.exchange(query(page.url)["code"]).json()
    assert token["patient"] == "jane"


@pytest.mark.parametrize("page", [PHONE], indirect=True)
def test_patient_at_phone_width_can_deny(page: Any, root_url: str, server_url: str, client_id: str) -> None:
    csp = watch_csp(page)
    _start(page, root_url, server_url, client_id)
    check_page(page, "auth-login-375", csp)
    page.fill("#username", "jane")
    page.fill("#password", "jane-password")
    page.click("button:has-text('Sign in')")
    assert page.locator("h1 + p").inner_text() == "Chart Viewer asks to access your health record."
    check_page(page, "auth-consent-patient-375", csp)
    page.click("button.secondary:has-text('Deny')")
    page.wait_for_url(f"{REDIRECT}**")
    assert query(page.url)["error"] == "access_denied"
