"""Refresh tokens rotate; a reused one revokes the grant; refresh cannot escalate scope;
revocation (RFC 7009) and the API's view of revoked tokens.

https://hl7.org/fhir/smart-app-launch/app-launch.html#refresh-access-token,
RFC 9700 section 4.14.2, https://www.rfc-editor.org/rfc/rfc7009
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .helpers import Flow, cli_json

REDIRECT = "https://refresh.example.org/cb"
SCOPE = "launch/patient patient/*.rs patient/Observation.rs offline_access openid fhirUser"


@pytest.fixture(scope="module")
def clients(database_url: str, server_url: str) -> dict[str, Any]:
    cli_json(database_url, "user", "add", "--allow-missing", "--username", "pat", "--password", "pat-password",
             "--fhir-user", "Patient/p-refresh")
    public = cli_json(database_url, "client", "add", "--name", "Refreshing app", "--public",
                      "--redirect-uri", REDIRECT, "--scope", SCOPE)
    confidential = cli_json(database_url, "client", "add", "--name", "Secret app", "--secret",
                            "--redirect-uri", REDIRECT, "--scope", SCOPE)
    introspector = cli_json(database_url, "client", "add", "--name", "RS", "--secret",
                            "--redirect-uri", REDIRECT, "--scope", "user/*.rs")
    return {"public": public["client_id"], "confidential": confidential,
            "rs": (introspector["client_id"], introspector["client_secret"])}


def tokens(browser: httpx.Client, root_url: str, server_url: str, client_id: str) -> dict[str, Any]:
    flow = Flow(browser, root_url, server_url, client_id, REDIRECT, SCOPE)
    response = flow.exchange(flow.code("pat", "pat-password"))
    assert response.status_code == 200, response.text
    return dict(response.json())


def refresh(browser: httpx.Client, root_url: str, client_id: str, token: str, **extra: str) -> httpx.Response:
    return browser.post(f"{root_url}/auth/token", data={"grant_type": "refresh_token", "refresh_token": token,
                                                        "client_id": client_id, **extra})


def active(browser: httpx.Client, root_url: str, rs: tuple[str, str], token: str) -> bool:
    response = browser.post(f"{root_url}/auth/introspect", data={"token": token}, auth=rs)
    assert response.status_code == 200
    return bool(response.json()["active"])


def whoami(browser: httpx.Client, root_url: str, token: str) -> httpx.Response:
    return browser.get(f"{root_url}/test/whoami", headers={"Authorization": f"Bearer {token}"})


def test_refresh_rotates_and_keeps_context(browser: httpx.Client, root_url: str, server_url: str,
                                           clients: dict[str, Any]) -> None:
    first = tokens(browser, root_url, server_url, clients["public"])
    response = refresh(browser, root_url, clients["public"], first["refresh_token"])
    assert response.status_code == 200, response.text
    second = response.json()
    assert response.headers["cache-control"] == "no-store"
    assert second["refresh_token"] != first["refresh_token"]
    assert second["patient"] == "p-refresh" and second["access_token"] != first["access_token"]
    assert set(second["scope"].split()) == set(SCOPE.split())
    assert active(browser, root_url, clients["rs"], second["refresh_token"])
    assert not active(browser, root_url, clients["rs"], first["refresh_token"])  # rotated


def test_reused_refresh_token_revokes_the_whole_grant(browser: httpx.Client, root_url: str, server_url: str,
                                                      clients: dict[str, Any]) -> None:
    first = tokens(browser, root_url, server_url, clients["public"])
    second = refresh(browser, root_url, clients["public"], first["refresh_token"]).json()
    assert active(browser, root_url, clients["rs"], second["access_token"])
    replay = refresh(browser, root_url, clients["public"], first["refresh_token"])
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    for token in (first["access_token"], second["access_token"], second["refresh_token"]):
        assert not active(browser, root_url, clients["rs"], token)
    assert whoami(browser, root_url, second["access_token"]).status_code == 401
    assert refresh(browser, root_url, clients["public"], second["refresh_token"]).status_code == 400


def test_refresh_cannot_escalate_scope(browser: httpx.Client, root_url: str, server_url: str,
                                       clients: dict[str, Any]) -> None:
    first = tokens(browser, root_url, server_url, clients["public"])
    escalated = refresh(browser, root_url, clients["public"], first["refresh_token"],
                        scope="patient/*.rs patient/*.cruds")
    assert escalated.status_code == 400 and escalated.json()["error"] == "invalid_scope"
    # The refused attempt did not burn the token; narrowing is allowed.
    narrowed = refresh(browser, root_url, clients["public"], first["refresh_token"], scope="patient/Condition.rs")
    assert narrowed.status_code == 200, narrowed.text
    body = narrowed.json()
    assert body["scope"] == "patient/Condition.rs" and "refresh_token" not in body


def test_refresh_token_of_another_client_is_refused(browser: httpx.Client, root_url: str, server_url: str,
                                                    clients: dict[str, Any]) -> None:
    first = tokens(browser, root_url, server_url, clients["public"])
    other = clients["confidential"]
    response = browser.post(f"{root_url}/auth/token", data={"grant_type": "refresh_token",
                                                            "refresh_token": first["refresh_token"]},
                            auth=(other["client_id"], other["client_secret"]))
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_confidential_symmetric_client_basic_and_post(browser: httpx.Client, root_url: str, server_url: str,
                                                      clients: dict[str, Any]) -> None:
    conf = clients["confidential"]
    flow = Flow(browser, root_url, server_url, conf["client_id"], REDIRECT, SCOPE)
    response = flow.exchange(flow.code("pat", "pat-password"), client_id=None)
    assert response.status_code == 401  # a confidential client must authenticate
    code = flow.code("pat", "pat-password")
    wrong = browser.post(f"{root_url}/auth/token", data={"grant_type": "authorization_code", "code": code,
                                                         "redirect_uri": REDIRECT, "code_verifier": flow.verifier},
                         auth=(conf["client_id"], "wrong-secret"))
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    basic = browser.post(f"{root_url}/auth/token", data={"grant_type": "authorization_code", "code": code,
                                                         "redirect_uri": REDIRECT, "code_verifier": flow.verifier},
                         auth=(conf["client_id"], conf["client_secret"]))
    assert basic.status_code == 200, basic.text
    code = flow.code("pat", "pat-password")
    post = flow.exchange(code, client_secret=conf["client_secret"])
    assert post.status_code == 200, post.text


def test_revocation_of_access_and_refresh_tokens(browser: httpx.Client, root_url: str, server_url: str,
                                                 clients: dict[str, Any]) -> None:
    body = tokens(browser, root_url, server_url, clients["public"])
    assert whoami(browser, root_url, body["access_token"]).status_code == 200
    revoke = browser.post(f"{root_url}/auth/revoke", data={"token": body["access_token"],
                                                           "client_id": clients["public"]})
    assert revoke.status_code == 200
    denied = whoami(browser, root_url, body["access_token"])
    assert denied.status_code == 401 and 'error="invalid_token"' in denied.headers["www-authenticate"]
    assert not active(browser, root_url, clients["rs"], body["access_token"])
    assert active(browser, root_url, clients["rs"], body["refresh_token"])
    browser.post(f"{root_url}/auth/revoke", data={"token": body["refresh_token"], "client_id": clients["public"]})
    assert not active(browser, root_url, clients["rs"], body["refresh_token"])
    assert refresh(browser, root_url, clients["public"], body["refresh_token"]).status_code == 400


def test_revocation_answers_200_for_unknown_and_foreign_tokens(browser: httpx.Client, root_url: str,
                                                               server_url: str, clients: dict[str, Any]) -> None:
    body = tokens(browser, root_url, server_url, clients["public"])
    conf = clients["confidential"]
    for token in ("not-a-token", body["access_token"]):
        response = browser.post(f"{root_url}/auth/revoke", data={"token": token},
                                auth=(conf["client_id"], conf["client_secret"]))
        assert response.status_code == 200
    assert active(browser, root_url, clients["rs"], body["access_token"])  # another client's: untouched
