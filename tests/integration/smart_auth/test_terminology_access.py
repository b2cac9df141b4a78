"""Terminology operations with authorization on: the process-wide value sets (R4 core, IGs,
terminology/) answer any authenticated caller; stored ValueSets count only for a token that may
search (by url) or read (by id) ValueSets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.smart_auth.helpers import cli_json, client_assertion, new_key, public_jwks

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
GENDER = "http://hl7.org/fhir/ValueSet/administrative-gender"
STORED = "http://example.org/fhir/ValueSet/stored-gender"


@pytest.fixture(scope="module")
def tokens(database_url: str, server_url: str, root_url: str, tmp_path_factory: pytest.TempPathFactory
           ) -> dict[str, str]:
    key = new_key("ES384")
    jwks = Path(tmp_path_factory.mktemp("jwks")) / "jwks.json"
    jwks.write_text(json.dumps(public_jwks(key)))
    client = cli_json(database_url, "client", "add", "--name", "Terminology client", "--jwks-file", str(jwks),
                      "--scope", "system/ValueSet.cruds system/Observation.rs")
    out = {}
    with httpx.Client(timeout=30) as http:
        for name, scope in (("writer", "system/ValueSet.cruds"), ("observations", "system/Observation.rs")):
            assertion = client_assertion(key, "ES384", client["client_id"], f"{root_url}/auth/token")
            response = http.post(f"{root_url}/auth/token", data={
                "grant_type": "client_credentials", "scope": scope, "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": assertion})
            assert response.status_code == 200, response.text
            out[name] = response.json()["access_token"]
    return out


def _get(server_url: str, token: str | None, path: str, **params: str) -> httpx.Response:
    headers = {"Accept": "application/fhir+json", **({"Authorization": f"Bearer {token}"} if token else {})}
    return httpx.get(server_url + path, params=params, headers=headers, timeout=30)


def _codes(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return [c["code"] for c in body["expansion"].get("contains", [])]


def test_terminology_operations_and_scopes(server_url: str, tokens: dict[str, str]) -> None:
    stored = {"resourceType": "ValueSet", "id": "stored-gender", "url": STORED, "status": "active",
              "compose": {"include": [{"system": "http://hl7.org/fhir/administrative-gender",
                                       "concept": [{"code": "other"}]}]}}
    put = httpx.put(f"{server_url}/ValueSet/stored-gender", json=stored, timeout=30, headers={
        "Authorization": f"Bearer {tokens['writer']}", "Content-Type": "application/fhir+json"})
    assert put.status_code == 201, put.text
    assert _get(server_url, None, "/ValueSet/$expand", url=GENDER).status_code == 401
    # A token without any ValueSet scope still expands the R4 core value set ...
    assert _codes(_get(server_url, tokens["observations"], "/ValueSet/$expand", url=GENDER)) == [
        "male", "female", "other", "unknown"]
    # ... but does not see the stored one, by url or by id.
    hidden = _get(server_url, tokens["observations"], "/ValueSet/$expand", url=STORED)
    assert hidden.status_code == 404, hidden.text
    assert hidden.json()["issue"][0]["diagnostics"] == f"ValueSet {STORED} is not known to this server"
    assert _get(server_url, tokens["observations"], "/ValueSet/stored-gender/$expand").status_code in (403, 404)
    assert _codes(_get(server_url, tokens["writer"], "/ValueSet/$expand", url=STORED)) == ["other"]
    assert _codes(_get(server_url, tokens["writer"], "/ValueSet/stored-gender/$expand")) == ["other"]
