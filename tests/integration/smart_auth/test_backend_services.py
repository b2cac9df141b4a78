"""Backend Services: client_credentials with private_key_jwt (RS384, ES384), JWKS inline or
by URL, and the assertion checks (replayed jti, exp too far ahead, wrong aud, wrong key).

https://hl7.org/fhir/smart-app-launch/backend-services.html,
https://hl7.org/fhir/smart-app-launch/client-confidential-asymmetric.html
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from .helpers import ASSERTION_TYPE, cli_json, client_assertion, decode, new_key, public_jwks, server_keys

SYSTEM_SCOPE = "system/*.rs system/Observation.cruds"
JWKS_BY_URL: dict[str, Any] = {"keys": []}


class _JwksHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server API
        body = json.dumps(JWKS_BY_URL).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def jwks_url() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _JwksHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    server.shutdown()


@pytest.fixture(scope="module")
def backend(database_url: str, server_url: str, jwks_url: str,
            tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    rsa, ec = new_key("RS384"), new_key("ES384")
    jwks_file = Path(tmp_path_factory.mktemp("jwks")) / "jwks.json"
    jwks_file.write_text(json.dumps(public_jwks(rsa, ec)))
    inline = cli_json(database_url, "client", "add", "--name", "Bulk client", "--jwks-file", str(jwks_file),
                      "--scope", SYSTEM_SCOPE + " patient/*.rs")
    url_key = new_key("ES384")
    JWKS_BY_URL["keys"] = public_jwks(url_key)["keys"]
    by_url = cli_json(database_url, "client", "add", "--name", "URL client", "--jwks-url", jwks_url,
                      "--scope", SYSTEM_SCOPE)
    return {"rsa": rsa, "ec": ec, "id": inline["client_id"], "url_key": url_key, "url_id": by_url["client_id"]}


def token_request(browser: httpx.Client, root_url: str, assertion: str, scope: str = "system/*.rs") -> httpx.Response:
    return browser.post(f"{root_url}/auth/token", data={
        "grant_type": "client_credentials", "scope": scope, "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion})


@pytest.mark.parametrize("alg", ["RS384", "ES384"])
def test_client_credentials_with_each_algorithm(alg: str, browser: httpx.Client, root_url: str, server_url: str,
                                                backend: dict[str, Any]) -> None:
    key = backend["rsa"] if alg == "RS384" else backend["ec"]
    response = token_request(browser, root_url, client_assertion(key, alg, backend["id"], f"{root_url}/auth/token"),
                             "system/*.rs system/Observation.cruds patient/*.rs")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer" and 0 < body["expires_in"] <= 300
    assert set(body["scope"].split()) == {"system/*.rs", "system/Observation.cruds"}  # system/ only
    assert "refresh_token" not in body and "id_token" not in body and "patient" not in body
    claims = decode(body["access_token"], server_keys(browser, root_url))
    assert claims["exp"] - claims["iat"] <= 300 and claims["client_id"] == backend["id"]
    who = browser.get(f"{root_url}/test/whoami", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert who.json()["kind"] == "system" and who.json()["patient"] is None


def test_jwks_by_url(browser: httpx.Client, root_url: str, backend: dict[str, Any]) -> None:
    assertion = client_assertion(backend["url_key"], "ES384", backend["url_id"], f"{root_url}/auth/token")
    assert token_request(browser, root_url, assertion).status_code == 200
    # The client rotates its key: the server refetches the JWKS on an unknown kid.
    rotated = new_key("RS384")
    JWKS_BY_URL["keys"] = public_jwks(rotated)["keys"]
    assertion = client_assertion(rotated, "RS384", backend["url_id"], f"{root_url}/auth/token")
    assert token_request(browser, root_url, assertion).status_code == 200


def test_replayed_jti_is_refused(browser: httpx.Client, root_url: str, backend: dict[str, Any]) -> None:
    assertion = client_assertion(backend["ec"], "ES384", backend["id"], f"{root_url}/auth/token")
    assert token_request(browser, root_url, assertion).status_code == 200
    replay = token_request(browser, root_url, assertion)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_client"
    same_jti = client_assertion(backend["ec"], "ES384", backend["id"], f"{root_url}/auth/token", jti="fixed-jti")
    assert token_request(browser, root_url, same_jti).status_code == 200
    again = client_assertion(backend["ec"], "ES384", backend["id"], f"{root_url}/auth/token", jti="fixed-jti")
    assert token_request(browser, root_url, again).status_code == 400


@pytest.mark.parametrize("case", ["exp-too-far", "expired", "wrong-aud", "wrong-key", "unknown-client", "hs256",
                                  "rs256", "foreign-jku"])
def test_bad_assertions_are_refused(case: str, browser: httpx.Client, root_url: str,
                                    backend: dict[str, Any]) -> None:
    token_url = f"{root_url}/auth/token"
    key, alg, client_id, kwargs = backend["ec"], "ES384", backend["id"], {}
    if case == "exp-too-far":
        kwargs = {"exp_in": 600}  # "no more than five minutes in the future"
    elif case == "expired":
        kwargs = {"exp_in": -120}
    elif case == "wrong-aud":
        token_url = f"{root_url}/fhir"
    elif case == "wrong-key":
        key = new_key("ES384")
    elif case == "unknown-client":
        client_id = "no-such-client"
    elif case == "foreign-jku":
        kwargs = {"header": {"jku": "https://attacker.example/jwks.json"}}
    if case in ("hs256", "rs256"):
        from joserfc import jwt
        from joserfc.jwk import OctKey

        now = int(time.time())
        claims = {"iss": client_id, "sub": client_id, "aud": token_url, "exp": now + 60, "jti": case}
        signer: Any = OctKey.generate_key(256) if case == "hs256" else backend["rsa"]
        algorithm = "HS256" if case == "hs256" else "RS256"
        assertion = jwt.encode({"alg": algorithm, "kid": getattr(signer, "kid", None) or "k"}, claims, signer,
                               algorithms=[algorithm])
    else:
        assertion = client_assertion(key, alg, client_id, token_url, **kwargs)
    response = token_request(browser, root_url, assertion)
    assert response.status_code in (400, 401), response.text
    assert response.json()["error"] == "invalid_client"
    expected = {"exp-too-far": "five minutes", "expired": "expired", "wrong-aud": "aud",
                "wrong-key": "does not verify", "unknown-client": "Unknown client", "hs256": "RS384 or ES384",
                "rs256": "RS384 or ES384", "foreign-jku": "jku"}[case]
    assert expected in response.json()["error_description"]


def test_backend_services_need_system_scopes(browser: httpx.Client, root_url: str, backend: dict[str, Any]) -> None:
    assertion = client_assertion(backend["ec"], "ES384", backend["id"], f"{root_url}/auth/token")
    response = token_request(browser, root_url, assertion, "patient/*.rs")
    assert response.status_code == 400 and response.json()["error"] == "invalid_scope"


def test_client_credentials_refused_for_non_asymmetric_clients(database_url: str, browser: httpx.Client,
                                                               root_url: str) -> None:
    created = cli_json(database_url, "client", "add", "--name", "Symmetric", "--secret", "--redirect-uri",
                       "https://x.example/cb", "--scope", "system/*.rs")
    response = browser.post(f"{root_url}/auth/token", data={"grant_type": "client_credentials",
                                                            "scope": "system/*.rs"},
                            auth=(created["client_id"], created["client_secret"]))
    assert response.status_code in (400, 401)
    assert response.json()["error"] in ("invalid_client", "unauthorized_client")


def _system_token(browser: httpx.Client, root_url: str, key: Any, alg: str, client_id: str, scope: str) -> str:
    response = token_request(browser, root_url, client_assertion(key, alg, client_id, f"{root_url}/auth/token"), scope)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def test_bulk_export_with_a_system_token_and_only_for_its_client(browser: httpx.Client, root_url: str,
                                                                 server_url: str, backend: dict[str, Any],
                                                                 database_url: str, tmp_path: Path) -> None:
    """Bulk Data 2.0 with SMART Backend Services: the kick-off, status and files need the token of
    the client that started the export; another client learns nothing (404)."""
    token = _system_token(browser, root_url, backend["ec"], "ES384", backend["id"],
                          "system/*.rs system/Observation.cruds")
    auth = {"Authorization": f"Bearer {token}"}
    patient = {"resourceType": "Patient", "id": "bulk-1", "name": [{"family": "Bulk"}]}
    # system/*.rs cannot write a Patient; system/Observation.cruds can write Observations.
    assert browser.put(f"{server_url}/Patient/bulk-1", json=patient, headers=auth).status_code == 403
    observation = {"resourceType": "Observation", "status": "final", "code": {"text": "bulk"}}
    assert browser.post(f"{server_url}/Observation", json=observation, headers=auth).status_code == 201
    kick = browser.get(f"{server_url}/$export?_type=Observation", headers={**auth, "Prefer": "respond-async"})
    assert kick.status_code == 202
    status_url = kick.headers["content-location"]
    assert browser.get(status_url).status_code == 401
    other_key = new_key("ES384")
    (tmp_path / "other.json").write_text(json.dumps(public_jwks(other_key)))
    other_id = cli_json(database_url, "client", "add", "--name", "Other insurer", "--jwks-file",
                        str(tmp_path / "other.json"), "--scope", "system/*.rs")["client_id"]
    other = _system_token(browser, root_url, other_key, "ES384", other_id, "system/*.rs")
    assert browser.get(status_url, headers={"Authorization": f"Bearer {other}"}).status_code == 404
    deadline = time.monotonic() + 30
    while (poll := browser.get(status_url, headers=auth)).status_code == 202 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert poll.status_code == 200
    manifest = poll.json()
    assert manifest["requiresAccessToken"] is True
    assert [(o["type"], o["count"]) for o in manifest["output"]] == [("Observation", 1)]
    file_url = manifest["output"][0]["url"]
    assert browser.get(file_url).status_code == 401
    assert browser.get(file_url, headers={"Authorization": f"Bearer {other}"}).status_code == 404
    lines = browser.get(file_url, headers=auth).text.splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["code"] == {"text": "bulk"}


def test_bulk_export_is_limited_to_the_types_the_token_reads(browser: httpx.Client, root_url: str,
                                                             server_url: str, database_url: str,
                                                             tmp_path: Path) -> None:
    key = new_key("ES384")
    (tmp_path / "narrow.json").write_text(json.dumps(public_jwks(key)))
    client_id = cli_json(database_url, "client", "add", "--name", "Lab insurer", "--jwks-file",
                         str(tmp_path / "narrow.json"), "--scope", "system/Observation.rs")["client_id"]
    token = _system_token(browser, root_url, key, "ES384", client_id, "system/Observation.rs")
    auth = {"Authorization": f"Bearer {token}", "Prefer": "respond-async"}
    assert browser.get(f"{server_url}/$export?_type=Patient,Observation", headers=auth).status_code == 403
    kick = browser.get(f"{server_url}/$export", headers=auth)
    assert kick.status_code == 202
    deadline = time.monotonic() + 30
    while (poll := browser.get(kick.headers["content-location"], headers=auth)).status_code == 202 \
            and time.monotonic() < deadline:
        time.sleep(0.2)
    assert {o["type"] for o in poll.json()["output"]} == {"Observation"}
