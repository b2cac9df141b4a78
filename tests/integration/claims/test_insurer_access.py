"""Insurer access with authorization on: a Backend Services client bound to its insurer
Organization (``fhir-server claims bind-insurer``) sees and completes only claims whose
``insurer`` is that Organization; an unbound system client (the hospital's back end) sees all."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fhir_server.app import create_app
from fhir_server.cli import main
from fhir_server.config import Settings
from tests.conftest import free_port, serving
from tests.integration.smart_auth.helpers import ASSERTION_TYPE, cli_json, client_assertion, new_key, public_jwks

from .helpers import claim, coverage, item, patient, payer

INSURER_SCOPE = "system/Claim.rs system/ClaimResponse.cruds system/ExplanationOfBenefit.rs"


@pytest.fixture(scope="module")
def server_settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, host="127.0.0.1", port=free_port(), auth="on", pool_min=1,
                    pool_max=8, log_level="warning")


@pytest.fixture(scope="module")
def server_url(server_settings: Settings) -> Iterator[str]:
    with serving(create_app(server_settings), server_settings) as base:
        yield base


def _token(root: str, key: Any, client_id: str, scope: str) -> str:
    assertion = client_assertion(key, "ES384", client_id, f"{root}/auth/token")
    response = httpx.post(f"{root}/auth/token", data={"grant_type": "client_credentials", "scope": scope,
                                                      "client_assertion_type": ASSERTION_TYPE,
                                                      "client_assertion": assertion})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


@pytest.fixture(scope="module")
def http(server_url: str, database_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, httpx.Client]:
    root = server_url.rsplit("/fhir", 1)[0]
    clients: dict[str, httpx.Client] = {}
    for name, scope, organization in (("hospital", "system/*.cruds", None), ("payer-a", INSURER_SCOPE, "payer-a"),
                                      ("payer-b", INSURER_SCOPE, "payer-b")):
        key = new_key("ES384")
        jwks = Path(tmp_path_factory.mktemp("jwks")) / "jwks.json"
        jwks.write_text(json.dumps(public_jwks(key)))
        client_id = cli_json(database_url, "client", "add", "--name", name, "--jwks-file", str(jwks),
                             "--scope", scope)["client_id"]
        if organization is not None:
            assert main(["claims", "bind-insurer", "--client-id", client_id, "--organization", organization,
                         "--database-url", database_url]) == 0
        token = _token(root, key, client_id, scope)
        clients[name] = httpx.Client(base_url=server_url, timeout=30, headers={"Authorization": f"Bearer {token}"})
    return clients


def _submitted(hospital: httpx.Client, payer_id: str) -> dict[str, Any]:
    payer(hospital, payer_id)
    pid = patient(hospital)
    cov = coverage(hospital, pid, payer_id=payer_id)
    response = hospital.post("/Claim/$submit", json=claim(pid, cov, [item(1, "99213", 1, 150)], payer_id=payer_id))
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_an_insurer_sees_and_completes_only_its_own_claims(http: dict[str, httpx.Client]) -> None:
    mine, theirs = _submitted(http["hospital"], "payer-a"), _submitted(http["hospital"], "payer-b")
    assert mine["outcome"] == theirs["outcome"] == "queued"  # neither payer is adjudicated here
    insurer = http["payer-a"]
    claims = insurer.get("/Claim").json()
    assert {e["resource"]["insurer"]["reference"] for e in claims["entry"]} == {"Organization/payer-a"}
    assert claims["total"] == 1
    assert insurer.get(f"/{theirs['request']['reference']}").status_code == 404
    assert insurer.get(f"/{mine['request']['reference']}").status_code == 200
    queued = insurer.get("/ClaimResponse", params={"outcome": "queued"}).json()
    assert [e["resource"]["id"] for e in queued["entry"]] == [mine["id"]]
    decided = {k: v for k, v in mine.items() if k != "meta"} | {"outcome": "complete", "disposition": "Paid"}
    assert insurer.put(f"/ClaimResponse/{mine['id']}", json=decided).status_code == 200
    foreign = {k: v for k, v in theirs.items() if k != "meta"} | {"outcome": "complete"}
    refused = insurer.put(f"/ClaimResponse/{theirs['id']}", json=foreign)
    assert refused.status_code in (403, 404), refused.text
    assert http["hospital"].get(f"/ClaimResponse/{theirs['id']}").json()["outcome"] == "queued"
    eobs = insurer.get("/ExplanationOfBenefit").json()
    assert [e["resource"]["claimResponse"]["reference"] for e in eobs["entry"]] == [f"ClaimResponse/{mine['id']}"]
    assert http["payer-b"].get("/ExplanationOfBenefit").json()["total"] == 0
    assert http["hospital"].get("/Claim", params={"_summary": "count"}).json()["total"] == 2
