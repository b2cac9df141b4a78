"""The login flow (issue 11, part 7) over real HTTP with auth on and real PostgreSQL: no session
fixation (the browser session id is replaced at authorize when unknown and at every privilege
change), sign-in throttling per account and per address with lockout and admin unlock (kept in
PostgreSQL, exact under concurrency), AuditEvents for every step, and ``nosniff`` everywhere.

Limits for this module: 3 failures per account and 3 per address in a 6-second window,
lockout after 5 consecutive failures, 0.2 s delay per failure.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psycopg
import pytest

from fhir_server.config import Settings
from fhir_server.smart_auth.flow import BROWSER_COOKIE
from tests.conftest import free_port

from .helpers import Flow, cli, cli_json, hidden, query, token_for

REDIRECT = "https://app.example.org/callback"
WINDOW = 6


@pytest.fixture(scope="module")
def server_settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, host="127.0.0.1", port=free_port(), auth="on",
                    max_body_bytes=2 * 1024 * 1024, pool_min=1, pool_max=8, log_level="warning",
                    login_max_failures=3, login_address_max_failures=3, login_window_seconds=WINDOW,
                    login_lockout_failures=5, login_failure_delay=0.2)


@pytest.fixture(scope="module")
def app_client(database_url: str, server_url: str) -> str:
    client: str = cli_json(database_url, "client", "add", "--name", "Login app", "--public", "--redirect-uri",
                           REDIRECT, "--scope", "launch launch/patient openid fhirUser user/*.cruds patient/*.rs"
                           )["client_id"]
    for name, fhir_user in (("pat-b", "Patient/pb"), ("thr-a", "Patient/pa"), ("lock-c", "Patient/pc"),
                            ("dr-x", "Practitioner/dr")):
        cli_json(database_url, "user", "add", "--username", name, "--password", f"pw-{name}-ok",
                 "--fhir-user", fhir_user)
    return client


@pytest.fixture(autouse=True)
def fresh_counters(database_url: str) -> Iterator[None]:
    """Each test starts with no failures counted (all tests sign in from 127.0.0.1)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DELETE FROM smart_login_throttle")
    yield


def _flow(http: httpx.Client, root_url: str, server_url: str, client: str, scope: str = "openid fhirUser patient/*.rs"
          ) -> Flow:
    return Flow(http, root_url, server_url, client, REDIRECT, scope)


def _login_form(flow: Flow) -> dict[str, str]:
    started = flow.authorize()
    assert started.status_code == 303
    page = flow.http.get(started.headers["location"])
    return {"req": hidden(page.text, "req"), "csrf": hidden(page.text, "csrf")}


def _session(response: httpx.Response) -> tuple[str, str]:
    """(value, attributes) of the session cookie this response sets."""
    header = next(h for h in response.headers.get_list("set-cookie") if h.startswith(f"{BROWSER_COOKIE}="))
    value, _, attributes = header.partition(";")
    return value.split("=", 1)[1], attributes.lower()


# -- session fixation ------------------------------------------------------------------------------------------
def test_planted_session_id_is_worthless_once_the_victim_signs_in(root_url: str, server_url: str,
                                                                   app_client: str) -> None:
    """The attack: the attacker starts an authorization (own PKCE verifier), plants its session id in
    the victim's browser and sends the login link; once the victim signs in, the attacker used to
    finish the consent with that id and exchange the code for the victim's token."""
    with httpx.Client(timeout=30) as attacker, httpx.Client(timeout=30) as victim:
        flow = _flow(attacker, root_url, server_url, app_client)
        started = flow.authorize()
        planted, _ = _session(started)
        login_url = started.headers["location"]
        victim.cookies.set(BROWSER_COOKIE, planted, domain="127.0.0.1", path="/auth")
        page = victim.get(login_url)
        assert page.status_code == 200
        signed_in = victim.post(f"{root_url}/auth/login", data={
            "req": hidden(page.text, "req"), "csrf": hidden(page.text, "csrf"), "username": "pat-b",
            "password": "pw-pat-b-ok"})
        assert signed_in.status_code == 303 and "/auth/consent" in signed_in.headers["location"]
        fresh, attributes = _session(signed_in)
        assert fresh != planted
        assert {"httponly", "samesite=lax", "path=/auth"} <= {a.strip() for a in attributes.split(";")}
        consent_url = signed_in.headers["location"]
        stolen = attacker.get(consent_url)  # the attacker still holds the planted id
        assert stolen.status_code == 400 and "expired" in stolen.text
        assert victim.get(consent_url).status_code == 200  # the victim carries on with the fresh id


def test_unknown_session_id_is_replaced_at_authorize(root_url: str, server_url: str, app_client: str) -> None:
    with httpx.Client(timeout=30) as browser:
        browser.cookies.set(BROWSER_COOKIE, "chosen-by-an-attacker", domain="127.0.0.1", path="/auth")
        first, _ = _session(_flow(browser, root_url, server_url, app_client).authorize())
        assert first != "chosen-by-an-attacker"
        browser.cookies.set(BROWSER_COOKIE, first, domain="127.0.0.1", path="/auth")
        again, _ = _session(_flow(browser, root_url, server_url, app_client).authorize())
        assert again == first  # a live session id of ours is kept (two tabs may sign in at once)


def test_session_id_changes_at_patient_choice_and_consent(root_url: str, server_url: str, app_client: str) -> None:
    with httpx.Client(timeout=30) as browser:
        token = token_for(browser, root_url, server_url, app_client, "openid fhirUser user/*.cruds", "dr-x",
                          "pw-dr-x-ok")
        assert httpx.put(f"{server_url}/Patient/pb", json={"resourceType": "Patient", "id": "pb"},
                         headers={"Authorization": f"Bearer {token}"}).status_code in (200, 201)
        flow = _flow(browser, root_url, server_url, app_client, "launch/patient openid fhirUser patient/*.rs")
        started = flow.authorize()
        ids = [_session(started)[0]]
        signed_in = flow.login(started, "dr-x", "pw-dr-x-ok")
        ids.append(_session(signed_in)[0])
        picked = flow.pick_patient(signed_in, "pb")
        ids.append(_session(picked)[0])
        decided = flow.consent(picked)
        assert decided.status_code == 302 and "code" in query(decided.headers["location"])
        ids.append(_session(decided)[0])
    assert len(set(ids)) == 4


# -- throttling and lockout ------------------------------------------------------------------------------------
def _try(http: httpx.Client, root_url: str, form: dict[str, str], username: str, password: str) -> httpx.Response:
    return http.post(f"{root_url}/auth/login", data={**form, "username": username, "password": password})


def test_wrong_passwords_are_throttled_per_account(root_url: str, server_url: str, app_client: str) -> None:
    with httpx.Client(timeout=30) as browser:
        form = _login_form(_flow(browser, root_url, server_url, app_client))
        started = time.monotonic()
        assert [_try(browser, root_url, form, "thr-a", "wrong").status_code for _ in range(3)] == [401] * 3
        assert time.monotonic() - started >= 0.6  # the failure delay
        refused = _try(browser, root_url, form, "thr-a", "wrong")
        assert refused.status_code == 429 and "Too many failed sign-ins for this account" in refused.text
        assert 1 <= int(refused.headers["retry-after"]) <= WINDOW
        right = _try(browser, root_url, form, "thr-a", "pw-thr-a-ok")  # the issue: the right one used to succeed
        assert right.status_code == 429
        time.sleep(int(right.headers["retry-after"]) + 0.3)
        assert _try(browser, root_url, form, "thr-a", "pw-thr-a-ok").status_code == 303


def test_concurrent_guesses_cannot_pass_the_limit(root_url: str, server_url: str, app_client: str) -> None:
    with httpx.Client(timeout=30) as browser:
        form = _login_form(_flow(browser, root_url, server_url, app_client))
        with ThreadPoolExecutor(10) as pool:
            statuses = sorted(pool.map(lambda _: _try(browser, root_url, form, "thr-a", "wrong").status_code,
                                       range(10)))
    assert statuses == [401] * 3 + [429] * 7


def test_failures_from_one_address_are_throttled(root_url: str, server_url: str, app_client: str) -> None:
    with httpx.Client(timeout=30) as browser:
        form = _login_form(_flow(browser, root_url, server_url, app_client))
        assert [_try(browser, root_url, form, f"nobody-{n}", "guess").status_code for n in range(3)] == [401] * 3
        refused = _try(browser, root_url, form, "pat-b", "pw-pat-b-ok")
        assert refused.status_code == 429 and "from your network address" in refused.text


def test_lockout_after_repeated_failures_and_admin_unlock(database_url: str, root_url: str, server_url: str,
                                                          app_client: str) -> None:
    with httpx.Client(timeout=30) as browser:
        form = _login_form(_flow(browser, root_url, server_url, app_client))
        assert [_try(browser, root_url, form, "lock-c", "wrong").status_code for _ in range(3)] == [401] * 3
        time.sleep(WINDOW + 0.3)  # a new window, but the consecutive failures stay counted
        assert [_try(browser, root_url, form, "lock-c", "wrong").status_code for _ in range(2)] == [401] * 2
        locked = _try(browser, root_url, form, "lock-c", "pw-lock-c-ok")
        assert locked.status_code == 423 and "locked" in locked.text and "retry-after" not in locked.headers
        time.sleep(WINDOW + 0.3)
        assert _try(browser, root_url, form, "lock-c", "pw-lock-c-ok").status_code == 423  # until unlocked
        assert cli(database_url, "user", "unlock", "nobody-there")[0] == 2
        assert cli_json(database_url, "user", "unlock", "lock-c") == {"username": "lock-c", "was_locked": True}
        assert _try(browser, root_url, form, "lock-c", "pw-lock-c-ok").status_code == 303


# -- audit and headers -----------------------------------------------------------------------------------------
def _steps(database_url: str, client: str, expected: int) -> list[tuple[Any, ...]]:
    deadline = time.monotonic() + 5
    while True:
        with psycopg.connect(database_url) as conn:
            rows = conn.execute("SELECT subtype, outcome, user_ref, patient_refs, content FROM audit_event"
                                " WHERE client_id = %s AND subtype IN ('authorize', 'login', 'patient', 'consent')"
                                " ORDER BY seq", (client,)).fetchall()
        if len(rows) >= expected or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


def test_login_steps_are_audited(database_url: str, root_url: str, server_url: str) -> None:
    client = cli_json(database_url, "client", "add", "--name", "Audited app", "--public", "--redirect-uri",
                      REDIRECT, "--scope", "openid fhirUser patient/*.rs")["client_id"]
    with httpx.Client(timeout=30) as browser:
        flow = _flow(browser, root_url, server_url, client)
        started = flow.authorize()
        assert flow.login(started, "pat-b", "secret-guess-1").status_code == 401
        denied = flow.consent(flow.login(flow.authorize(), "pat-b", "pw-pat-b-ok"), decision="deny")
        assert denied.status_code == 302 and query(denied.headers["location"])["error"] == "access_denied"
        token_for(browser, root_url, server_url, client, "openid fhirUser patient/*.rs", "pat-b", "pw-pat-b-ok")
    rows = _steps(database_url, client, 8)
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("authorize", "0", None), ("login", "4", "Patient/pb"),
        ("authorize", "0", None), ("login", "0", "Patient/pb"), ("consent", "4", "Patient/pb"),
        ("authorize", "0", None), ("login", "0", "Patient/pb"), ("consent", "0", "Patient/pb")]
    assert rows[1][4]["outcomeDesc"] == "wrong password or unknown username 'pat-b'"
    assert rows[4][4]["outcomeDesc"] == "access denied by the user"
    assert rows[3][3] == ["Patient/pb"] and rows[7][3] == ["Patient/pb"]
    assert rows[1][4]["agent"][0]["network"]["address"] == "127.0.0.1"
    assert all("secret-guess-1" not in str(r[4]) for r in rows)  # never the password


def test_every_api_response_says_nosniff(database_url: str, root_url: str, server_url: str, app_client: str) -> None:
    with httpx.Client(timeout=30) as browser:
        token = token_for(browser, root_url, server_url, app_client, "openid fhirUser user/*.cruds", "dr-x",
                          "pw-dr-x-ok")
    auth = {"Authorization": f"Bearer {token}"}
    patient = {"resourceType": "Patient", "name": [{"family": "Sniff"}]}
    created = httpx.post(f"{server_url}/Patient", json=patient, headers=auth)  # the hot create path
    assert created.status_code == 201
    responses = [created,
                 httpx.get(f"{server_url}/Patient/{created.json()['id']}", headers=auth),  # the hot read path
                 httpx.get(f"{server_url}/Patient"), httpx.get(f"{server_url}/metadata"),
                 httpx.get(f"{server_url}/Patient/nope", headers=auth),
                 httpx.get(f"{server_url}/.well-known/smart-configuration"),
                 httpx.post(f"{root_url}/auth/token", data={"grant_type": "nonsense"})]
    assert [r.status_code for r in responses] == [201, 200, 401, 200, 404, 200, 400]
    assert all(r.headers.get_list("x-content-type-options") == ["nosniff"] for r in responses)
