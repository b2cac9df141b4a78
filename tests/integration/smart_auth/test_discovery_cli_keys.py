"""Discovery documents, CORS, /metadata security, the administration CLI and key rotation.

https://hl7.org/fhir/smart-app-launch/conformance.html
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from fhir_server.smart_auth.discovery import CAPABILITIES

from .helpers import Flow, cli, cli_json, new_key, public_jwks


def test_smart_configuration(browser: httpx.Client, server_url: str, root_url: str) -> None:
    response = browser.get(f"{server_url}/.well-known/smart-configuration")
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    config = response.json()
    assert config["issuer"] == server_url
    assert config["authorization_endpoint"] == f"{root_url}/auth/authorize"
    assert config["token_endpoint"] == f"{root_url}/auth/token"
    assert config["introspection_endpoint"] == f"{root_url}/auth/introspect"
    assert config["revocation_endpoint"] == f"{root_url}/auth/revoke"
    assert config["jwks_uri"] == f"{root_url}/auth/jwks"
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert set(config["grant_types_supported"]) == {"authorization_code", "client_credentials", "refresh_token"}
    assert {"private_key_jwt", "client_secret_basic"} <= set(config["token_endpoint_auth_methods_supported"])
    assert config["token_endpoint_auth_signing_alg_values_supported"] == ["RS384", "ES384"]
    assert set(CAPABILITIES) <= set(config["capabilities"])
    assert "launch-ehr" in config["capabilities"] and "permission-v2" in config["capabilities"]
    assert config["response_types_supported"] == ["code"]
    openid = browser.get(f"{server_url}/.well-known/openid-configuration").json()
    assert openid["issuer"] == server_url and openid["jwks_uri"] == config["jwks_uri"]


def test_cors_preflight(browser: httpx.Client, server_url: str, root_url: str) -> None:
    for url in (f"{server_url}/.well-known/smart-configuration", f"{root_url}/auth/token",
                f"{root_url}/auth/introspect", f"{root_url}/auth/jwks"):
        response = browser.options(url, headers={"Origin": "https://app.example.org",
                                                 "Access-Control-Request-Method": "POST"})
        assert response.status_code in (200, 204), url  # any 2xx answers a preflight (Fetch)
        assert response.headers["access-control-allow-origin"] == "*"
        assert "Authorization" in response.headers["access-control-allow-headers"]
    token = browser.post(f"{root_url}/auth/token", data={"grant_type": "nope"})
    assert token.headers["access-control-allow-origin"] == "*"


def test_metadata_announces_oauth_uris(browser: httpx.Client, server_url: str, root_url: str) -> None:
    statement = browser.get(f"{server_url}/metadata", headers={"Accept": "application/fhir+json"}).json()
    security = statement["rest"][0]["security"]
    assert security["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"
    uris = {e["url"]: e["valueUri"] for e in security["extension"][0]["extension"]}
    assert security["extension"][0]["url"] == "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
    assert uris == {"authorize": f"{root_url}/auth/authorize", "token": f"{root_url}/auth/token",
                    "introspect": f"{root_url}/auth/introspect", "revoke": f"{root_url}/auth/revoke"}


def test_client_cli(database_url: str, server_url: str, tmp_path: Path) -> None:
    public = cli_json(database_url, "client", "add", "--name", "P", "--public", "--redirect-uri",
                      "https://p.example/cb", "--scope", "launch patient/*.rs")
    assert set(public) == {"client_id"}
    secret = cli_json(database_url, "client", "add", "--name", "S", "--secret", "--redirect-uri",
                      "https://s.example/cb", "--redirect-uri", "https://s.example/cb2", "--scope", "user/*.rs")
    assert set(secret) == {"client_id", "client_secret"} and len(secret["client_secret"]) >= 32
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(public_jwks(new_key("ES384"))))
    asym = cli_json(database_url, "client", "add", "--name", "A", "--jwks-file", str(jwks), "--scope", "system/*.rs")
    listed = {c["client_id"]: c for c in cli_json(database_url, "client", "list")}
    assert listed[secret["client_id"]]["redirect_uris"] == ["https://s.example/cb", "https://s.example/cb2"]
    assert listed[asym["client_id"]]["auth_method"] == "private_key_jwt"
    assert secret["client_secret"] not in json.dumps(listed)
    assert cli(database_url, "client", "remove", public["client_id"])[0] == 0
    assert public["client_id"] not in {c["client_id"] for c in cli_json(database_url, "client", "list")}
    assert cli(database_url, "client", "remove", public["client_id"])[0] == 2


@pytest.mark.parametrize("argv", [
    ["--public", "--scope", "patient/*.rs"],  # no redirect URI
    ["--public", "--redirect-uri", "http://evil.example/cb", "--scope", "patient/*.rs"],  # plain http, not loopback
    ["--public", "--redirect-uri", "https://x.example/cb#frag", "--scope", "patient/*.rs"],
    ["--public", "--redirect-uri", "https://x.example/cb", "--scope", "patient/*.sr"],  # bad permission order
])
def test_client_add_refuses_bad_input(argv: list[str], database_url: str, server_url: str) -> None:
    code, _ = cli(database_url, "client", "add", "--name", "Bad", *argv)
    assert code == 2


def test_jwks_file_with_private_key_is_refused(database_url: str, server_url: str, tmp_path: Path) -> None:
    key = new_key("ES384")
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [key.as_dict(private=True)]}))
    assert cli(database_url, "client", "add", "--name", "Leaky", "--jwks-file", str(jwks), "--scope",
               "system/*.rs")[0] == 2


def test_user_and_launch_cli(database_url: str, server_url: str) -> None:
    user = cli_json(database_url, "user", "add", "--allow-missing", "--username", "nurse", "--password", "nurse-pass-1",
                    "--fhir-user", "Practitioner/n1")
    assert user == {"username": "nurse", "fhir_user": "Practitioner/n1"}
    assert cli(database_url, "user", "add", "--allow-missing", "--username", "nurse", "--password", "nurse-pass-1",
               "--fhir-user", "Practitioner/n1")[0] == 2  # duplicate: input error
    assert cli(database_url, "user", "add", "--allow-missing", "--username", "x", "--password", "long-enough",
               "--fhir-user", "Organization/o1")[0] == 2
    assert {"username": "nurse", "fhir_user": "Practitioner/n1"} in cli_json(database_url, "user", "list")
    assert cli(database_url, "user", "remove", "nurse")[0] == 0
    launch = cli_json(database_url, "launch", "add", "--allow-missing", "--patient", "p1", "--encounter", "e1")
    assert set(launch) == {"launch"} and len(launch["launch"]) >= 32


def test_key_rotation_keeps_old_tokens_until_retired(database_url: str, browser: httpx.Client, server_url: str,
                                                     root_url: str) -> None:
    cli_json(database_url, "user", "add", "--allow-missing", "--username", "rot", "--password", "rot-password",
             "--fhir-user", "Patient/rot")
    app = cli_json(database_url, "client", "add", "--name", "Rot", "--public", "--redirect-uri",
                   "https://rot.example/cb", "--scope", "launch/patient patient/*.rs")
    flow = Flow(browser, root_url, server_url, app["client_id"], "https://rot.example/cb",
                "launch/patient patient/*.rs")
    old_token = flow.exchange(flow.code("rot", "rot-password")).json()["access_token"]
    old_kids = {k["kid"] for k in cli_json(database_url, "keys", "list")}
    new_kid = cli_json(database_url, "keys", "rotate")["kid"]
    assert new_kid not in old_kids
    from fhir_server.smart_auth import keys as key_module

    key_module.RELOAD_AFTER_SECONDS = 0  # let the running server pick the rotation up at once
    try:
        jwks = browser.get(f"{root_url}/auth/jwks").json()
        assert {new_kid} | old_kids == {k["kid"] for k in jwks["keys"]}
        new_token = flow.exchange(flow.code("rot", "rot-password")).json()["access_token"]
        from joserfc import jws

        assert jws.extract_compact(new_token.encode()).headers()["kid"] == new_kid
        for token in (old_token, new_token):
            who = browser.get(f"{root_url}/test/whoami", headers={"Authorization": f"Bearer {token}"})
            assert who.status_code == 200
        for kid in old_kids:
            assert cli(database_url, "keys", "retire", kid)[0] == 0
        browser.get(f"{root_url}/auth/jwks")  # reload
        assert browser.get(f"{root_url}/test/whoami",
                           headers={"Authorization": f"Bearer {old_token}"}).status_code == 401
        assert browser.get(f"{root_url}/test/whoami",
                           headers={"Authorization": f"Bearer {new_token}"}).status_code == 200
    finally:
        key_module.RELOAD_AFTER_SECONDS = 60


def test_demo_setup_is_idempotent_and_usable(database_url: str, browser: httpx.Client, server_url: str,
                                             root_url: str) -> None:
    import asyncio

    from fhir_server.db import Database
    from fhir_server.smart_auth import demo_setup

    async def twice() -> None:
        db = Database(database_url, 1, 2)
        await db.open()
        try:
            await demo_setup(db)
            await demo_setup(db)
        finally:
            await db.close()

    asyncio.run(twice())
    assert [c["client_id"] for c in cli_json(database_url, "client", "list")].count("demo-app") == 1
    flow = Flow(browser, root_url, server_url, "demo-app", "http://127.0.0.1:9090/callback",
                "launch/patient openid fhirUser patient/*.rs offline_access")
    body = flow.exchange(flow.code("amy", "demo-password")).json()
    assert body["patient"] == "demo-patient" and body["refresh_token"] and body["id_token"]
