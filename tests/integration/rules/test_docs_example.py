"""The example rule module of docs/rules.md, verbatim (example_rules.py), does what the page says."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from fhir_server.config import Settings
from tests.conftest import free_port

EXAMPLE_MODULE = "tests.integration.rules.example_rules"
HERE = Path(__file__).resolve().parent
FHIR_JSON = {"Content-Type": "application/fhir+json"}


@pytest.fixture(scope="module")
def server_settings(database_url: str) -> Settings:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE example_slot (slot text CONSTRAINT example_slot_taken PRIMARY KEY,"
                     " resource_id text NOT NULL)")
    return Settings(database_url=database_url, host="127.0.0.1", port=free_port(), auth="off",
                    pool_min=1, pool_max=4, log_level="warning", rule_modules=(EXAMPLE_MODULE,))


def _doc_blocks(language: str) -> list[str]:
    text = (HERE.parents[2] / "docs" / "rules.md").read_text()
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


def test_the_page_shows_the_tested_module_and_table() -> None:
    assert (HERE / "example_rules.py").read_text() in _doc_blocks("python")
    assert any("CREATE TABLE example_slot (slot text CONSTRAINT example_slot_taken PRIMARY KEY" in block
               for block in _doc_blocks("sql"))


def _basic(**fields: Any) -> dict[str, Any]:
    return {"resourceType": "Basic", "code": {"coding": [{"system": "urn:example", "code": "protected"}]}, **fields}


def test_a_protected_basic_may_not_be_deleted(client: httpx.Client) -> None:
    rid = client.post("/Basic", json=_basic(), headers=FHIR_JSON).json()["id"]
    refused = client.delete(f"/Basic/{rid}")
    assert refused.status_code == 409
    assert refused.json() == {"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "business-rule",
         "diagnostics": f"Basic/{rid} is protected and may not be deleted"}]}
    assert client.get(f"/Basic/{rid}").status_code == 200


def test_a_slot_is_claimed_once(client: httpx.Client, database_url: str) -> None:
    slot = {"identifier": [{"system": "urn:example:slot", "value": "room-1-monday"}]}
    owner = client.post("/Basic", json=_basic(**slot), headers=FHIR_JSON).json()["id"]
    clash = client.post("/Basic", json=_basic(**slot), headers=FHIR_JSON)
    assert clash.status_code == 409
    assert clash.json()["issue"] == [{"severity": "error", "code": "conflict",
                                      "diagnostics": "This slot is already taken"}]
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT slot, resource_id FROM example_slot").fetchall() == [("room-1-monday", owner)]
        assert conn.execute("SELECT id FROM resource WHERE resource_type = 'Basic' AND version_id > 0"
                            " AND content->'identifier' @> %s::jsonb", ('[{"value": "room-1-monday"}]',)
                            ).fetchall() == [(owner,)]
