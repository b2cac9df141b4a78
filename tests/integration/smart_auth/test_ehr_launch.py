"""EHR launch end to end over HTTP, the token response, id_token, introspection and the
SmartContext dependency (SMART App Launch 2.2, https://hl7.org/fhir/smart-app-launch/app-launch.html)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from .helpers import Flow, cli_json, decode, query, server_keys

REDIRECT = "https://app.example.org/callback"
SCOPE = "launch openid fhirUser patient/*.rs offline_access"


@pytest.fixture(scope="module")
def setup(database_url: str, server_url: str, root_url: str) -> dict[str, str]:
    client = cli_json(database_url, "client", "add", "--name", "EHR app", "--public", "--redirect-uri", REDIRECT,
                      "--scope", SCOPE + " user/*.rs")
    secret_client = cli_json(database_url, "client", "add", "--name", "Resource server", "--secret",
                             "--redirect-uri", REDIRECT, "--scope", "user/*.rs")
    cli_json(database_url, "user", "add", "--allow-missing", "--username", "drx", "--password", "pw-drx-123",
             "--fhir-user", "Practitioner/prx")
    launch = cli_json(database_url, "launch", "add", "--allow-missing", "--patient", "p123", "--encounter", "e456")
    return {"client_id": client["client_id"], "launch": launch["launch"], "rs_id": secret_client["client_id"],
            "rs_secret": secret_client["client_secret"]}


@pytest.fixture()
def flow(browser: httpx.Client, root_url: str, server_url: str, setup: dict[str, str]) -> Iterator[Flow]:
    yield Flow(browser, root_url, server_url, setup["client_id"], REDIRECT, SCOPE, launch=setup["launch"],
               nonce="n-0S6_WzA2Mj")


def test_ehr_launch_issues_context_and_id_token(flow: Flow, browser: httpx.Client, root_url: str,
                                                server_url: str, setup: dict[str, str]) -> None:
    code = flow.code("drx", "pw-drx-123")
    response = flow.exchange(code)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["patient"] == "p123" and body["encounter"] == "e456"
    assert 0 < body["expires_in"] <= 3600
    assert set(body["scope"].split()) == set(SCOPE.split())
    assert body["refresh_token"]
    keys = server_keys(browser, root_url)
    access = decode(body["access_token"], keys)
    now = int(time.time())
    assert access["iss"] == server_url and access["aud"] == server_url
    assert access["client_id"] == setup["client_id"] and access["patient"] == "p123"
    assert access["encounter"] == "e456" and access["fhirUser"] == f"{server_url}/Practitioner/prx"
    assert access["exp"] - access["iat"] <= 3600 and access["iat"] <= now + 5 and access["jti"]
    id_token = decode(body["id_token"], keys)
    assert id_token["aud"] == setup["client_id"] and id_token["iss"] == server_url
    assert id_token["fhirUser"] == f"{server_url}/Practitioner/prx"
    assert id_token["nonce"] == "n-0S6_WzA2Mj" and id_token["sub"] and id_token["exp"] > now


def test_access_token_works_on_the_api_and_introspects(flow: Flow, browser: httpx.Client, root_url: str,
                                                      setup: dict[str, str]) -> None:
    body = flow.exchange(flow.code("drx", "pw-drx-123")).json()
    who = browser.get(f"{root_url}/test/whoami", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert who.status_code == 200, who.text
    assert who.json() == {"client_id": setup["client_id"], "user": "Practitioner/prx", "patient": "p123",
                          "encounter": "e456", "kind": "patient", "scopes": who.json()["scopes"],
                          "can_read_observation": True}
    auth = (setup["rs_id"], setup["rs_secret"])
    info = browser.post(f"{root_url}/auth/introspect", data={"token": body["access_token"]}, auth=auth).json()
    assert info["active"] is True and info["client_id"] == setup["client_id"]
    assert info["patient"] == "p123" and info["token_type"] == "Bearer" and "patient/*.rs" in info["scope"]
    assert info["fhirUser"].endswith("/Practitioner/prx") and info["exp"] > info["iat"]
    # A bearer token may authorize introspection too.
    info = browser.post(f"{root_url}/auth/introspect", data={"token": body["access_token"]},
                        headers={"Authorization": f"Bearer {body['access_token']}"}).json()
    assert info["active"] is True


def test_introspection_requires_caller_authentication(browser: httpx.Client, root_url: str) -> None:
    response = browser.post(f"{root_url}/auth/introspect", data={"token": "whatever"})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_introspection_of_garbage_is_exactly_inactive(browser: httpx.Client, root_url: str,
                                                     setup: dict[str, str]) -> None:
    auth = (setup["rs_id"], setup["rs_secret"])
    for token in ("garbage", "a.b.c", "x" * 500):
        response = browser.post(f"{root_url}/auth/introspect", data={"token": token}, auth=auth)
        assert response.status_code == 200
        assert response.json() == {"active": False}


def test_post_authorize_works_too(flow: Flow) -> None:
    response = flow.login(flow.authorize("POST"), "drx", "pw-drx-123")
    response = flow.consent(response)
    assert response.status_code == 302
    args = query(response.headers["location"])
    assert flow.exchange(args["code"]).status_code == 200


def test_launch_bound_to_another_user_is_refused(database_url: str, browser: httpx.Client, root_url: str,
                                                server_url: str, setup: dict[str, str]) -> None:
    launch = cli_json(database_url, "launch", "add", "--allow-missing", "--patient", "p123",
                      "--fhir-user", "Practitioner/other")
    flow = Flow(browser, root_url, server_url, setup["client_id"], REDIRECT, SCOPE, launch=launch["launch"])
    response = flow.login(flow.authorize(), "drx", "pw-drx-123")
    assert response.status_code == 403


def test_unknown_launch_goes_back_as_invalid_request(flow: Flow) -> None:
    flow.launch = "no-such-launch"
    response = flow.authorize()
    assert response.status_code == 302
    args = query(response.headers["location"])
    assert args["error"] == "invalid_request" and args["state"] == flow.state


def test_denied_consent_returns_access_denied(flow: Flow) -> None:
    response = flow.consent(flow.login(flow.authorize(), "drx", "pw-drx-123"), decision="deny")
    assert response.status_code == 302
    args = query(response.headers["location"])
    assert args["error"] == "access_denied" and args["state"] == flow.state


def test_wrong_password_shows_the_form_again(flow: Flow) -> None:
    response = flow.login(flow.authorize(), "drx", "not-the-password")
    assert response.status_code == 401
    assert 'name="username"' in response.text and "wrong password" in response.text


def test_html_pages_carry_security_headers(flow: Flow) -> None:
    response = flow.authorize()
    page = flow.http.get(response.headers["location"])
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "no-store" in page.headers["cache-control"]


def test_forms_need_the_csrf_token_and_the_browser_cookie(flow: Flow, root_url: str) -> None:
    response = flow.authorize()
    page = flow.http.get(response.headers["location"])
    from .helpers import hidden

    req, csrf = hidden(page.text, "req"), hidden(page.text, "csrf")
    forged = flow.http.post(f"{root_url}/auth/login", data={"req": req, "csrf": "0" * 64, "username": "drx",
                                                            "password": "pw-drx-123"})
    assert forged.status_code == 400
    with httpx.Client(timeout=30, follow_redirects=False) as other_browser:  # no cookie: another browser
        stolen = other_browser.post(f"{root_url}/auth/login", data={"req": req, "csrf": csrf, "username": "drx",
                                                                    "password": "pw-drx-123"})
    assert stolen.status_code == 400
