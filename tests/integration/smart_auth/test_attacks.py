"""Attacks on the authorization code flow and on bearer tokens.

PKCE (RFC 7636, S256 only per SMART 2.2), ``aud`` (SMART app-launch "aud" parameter),
code reuse (RFC 6749 4.1.2), redirect_uri exact match (RFC 6749 3.1.2, RFC 9700 4.1),
unknown clients, and tokens that are expired, revoked, foreign or for another audience
(RFC 6750 3.1).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import psycopg
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from .helpers import Flow, cli_json, query

REDIRECT = "https://attack.example.org/cb"
SCOPE = "launch/patient patient/*.rs openid fhirUser"
RS_AUTH: dict[str, str] = {}


@pytest.fixture(scope="module")
def client_id(database_url: str, server_url: str) -> str:
    cli_json(database_url, "user", "add", "--allow-missing", "--username", "victim", "--password", "victim-password",
             "--fhir-user", "Patient/victim")
    rs = cli_json(database_url, "client", "add", "--name", "RS", "--secret", "--redirect-uri", REDIRECT,
                  "--scope", "user/*.rs", "--client-id", "attack-rs")
    assert rs["client_id"] == "attack-rs"
    RS_AUTH["secret"] = rs["client_secret"]
    created = cli_json(database_url, "client", "add", "--name", "Target app", "--public",
                       "--redirect-uri", REDIRECT, "--scope", SCOPE)
    return str(created["client_id"])


@pytest.fixture()
def flow(browser: httpx.Client, root_url: str, server_url: str, client_id: str) -> Flow:
    return Flow(browser, root_url, server_url, client_id, REDIRECT, SCOPE)


def redirected_error(response: httpx.Response, flow: Flow) -> str:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT + "?")
    args = query(location)
    assert args["state"] == flow.state
    return args["error"]


@pytest.mark.parametrize("change", [{"code_challenge_method": "plain"}, {"code_challenge_method": None},
                                    {"code_challenge": None, "code_challenge_method": None}])
def test_authorize_refuses_pkce_plain_or_missing(change: dict[str, Any], flow: Flow) -> None:
    flow.extra = change
    assert redirected_error(flow.authorize(), flow) == "invalid_request"


def test_token_refuses_wrong_or_missing_verifier(flow: Flow) -> None:
    code = flow.code("victim", "victim-password")
    wrong = flow.exchange(code, code_verifier="x" * 64)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    missing = flow.exchange(code, code_verifier=None)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    assert flow.exchange(code).status_code == 200  # the rightful client still can


@pytest.mark.parametrize("aud", ["https://other.example.org/fhir", None])
def test_wrong_or_missing_aud(aud: str | None, flow: Flow) -> None:
    flow.extra = {"aud": aud}
    assert redirected_error(flow.authorize(), flow) == "invalid_request"


def test_reused_code_is_refused_and_revokes_the_grant(flow: Flow, root_url: str) -> None:
    code = flow.code("victim", "victim-password")
    verifier = flow.verifier
    first = flow.exchange(code)
    assert first.status_code == 200
    second = flow.exchange(code, code_verifier=verifier)
    assert second.status_code == 400 and second.json()["error"] == "invalid_grant"
    who = flow.http.get(f"{root_url}/test/whoami",
                        headers={"Authorization": f"Bearer {first.json()['access_token']}"})
    assert who.status_code == 401


def test_redirect_uri_mismatch(flow: Flow, browser: httpx.Client, root_url: str) -> None:
    flow.redirect_uri = REDIRECT + "/evil"
    response = flow.authorize()
    assert response.status_code == 400  # never redirect to an unregistered URI
    assert "location" not in response.headers and "text/html" in response.headers["content-type"]
    flow.redirect_uri = REDIRECT
    code = flow.code("victim", "victim-password")
    response = flow.exchange(code, redirect_uri="https://attack.example.org/other")
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_unknown_client(flow: Flow, root_url: str, browser: httpx.Client) -> None:
    flow.client_id = "no-such-client"
    response = flow.authorize()
    assert response.status_code == 400 and "location" not in response.headers
    token = browser.post(f"{root_url}/auth/token", data={"grant_type": "authorization_code", "code": "x",
                                                         "redirect_uri": REDIRECT, "client_id": "no-such-client"})
    assert token.status_code in (400, 401) and token.json()["error"] == "invalid_client"


def test_code_bound_to_its_client(flow: Flow, database_url: str, server_url: str, root_url: str,
                                  browser: httpx.Client) -> None:
    other = cli_json(database_url, "client", "add", "--name", "Other", "--public", "--redirect-uri", REDIRECT,
                     "--scope", SCOPE)
    code = flow.code("victim", "victim-password")
    response = flow.exchange(code, client_id=other["client_id"])
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_unsupported_response_type_and_grant_type(flow: Flow, root_url: str, browser: httpx.Client) -> None:
    flow.extra = {"response_type": "token"}
    assert redirected_error(flow.authorize(), flow) == "unsupported_response_type"
    response = browser.post(f"{root_url}/auth/token", data={"grant_type": "password", "username": "victim",
                                                            "password": "victim-password"})
    assert response.status_code == 400 and response.json()["error"] == "unsupported_grant_type"


def _our_private_key(database_url: str) -> RSAKey:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT kid, private_pem FROM smart_signing_key WHERE retired_at IS NULL "
                           "ORDER BY created_at DESC LIMIT 1").fetchone()
    assert row is not None
    return RSAKey.import_key(row[1], {"kid": row[0]})


def _forged(key: RSAKey, **overrides: Any) -> str:
    now = int(time.time())
    claims = {"iss": overrides.pop("iss"), "aud": overrides.pop("aud"), "sub": "x", "iat": now - 10,
              "exp": now + 300, "jti": str(uuid.uuid4()), "scope": "user/*.cruds", "client_id": "attack-rs"}
    claims.update(overrides)
    return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key, algorithms=["RS256"])


@pytest.mark.parametrize("case", ["expired", "other-issuer", "other-audience", "foreign-key", "not-stored",
                                  "garbage", "id-token"])
def test_bad_bearer_tokens_get_401(case: str, database_url: str, server_url: str, root_url: str,
                                   browser: httpx.Client, flow: Flow) -> None:
    ours = _our_private_key(database_url)
    now = int(time.time())
    if case == "expired":
        token = _forged(ours, iss=server_url, aud=server_url, exp=now - 5)
    elif case == "other-issuer":
        token = _forged(ours, iss="https://other.example.org/fhir", aud=server_url)
    elif case == "other-audience":
        token = _forged(ours, iss=server_url, aud="https://other.example.org/fhir")
    elif case == "foreign-key":
        foreign = RSAKey.generate_key(2048, private=True)
        foreign.ensure_kid()
        token = _forged(foreign, iss=server_url, aud=server_url)
    elif case == "not-stored":  # signed by us but never issued (so never recorded): refused
        token = _forged(ours, iss=server_url, aud=server_url)
    elif case == "id-token":
        token = flow.exchange(flow.code("victim", "victim-password")).json()["id_token"]
    else:
        token = "not.a.jwt"
    response = browser.get(f"{root_url}/test/whoami", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="fhir"') and 'error="invalid_token"' in challenge
    assert response.json()["resourceType"] == "OperationOutcome"
    info = browser.post(f"{root_url}/auth/introspect", data={"token": token}, auth=("attack-rs", RS_AUTH["secret"]))
    assert info.status_code == 200 and info.json() == {"active": False}


def test_missing_token_gets_a_bare_challenge(root_url: str, browser: httpx.Client) -> None:
    response = browser.get(f"{root_url}/test/whoami")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="fhir"'
