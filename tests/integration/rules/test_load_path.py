"""The write-rule hook through ``fhir-server load``, run as a user runs it: a separate process whose
rule module is named only by FHIR_RULE_MODULES (nothing registered in this test process reaches it).

Expected counts and messages are worked out from the files written below.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest

from .conftest import PROBE_MODULE
from .helpers import accepted, basic, side_log, stored_ids
from .probe_rules import SIDE_TABLES

REPO = Path(__file__).resolve().parents[3]


def _post(resource: dict[str, Any]) -> dict[str, Any]:
    return {"resource": resource, "request": {"method": "POST", "url": "Basic"}}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("rules-load")
    lines = [basic("ok", rid="load-ok-1"), basic("refuse", rid="load-refused"), basic("ok", tag="load-nd")]
    (root / "lines.ndjson").write_bytes(b"\n".join(orjson.dumps(line) for line in lines) + b"\n")
    (root / "tx-refused.json").write_bytes(orjson.dumps({"resourceType": "Bundle", "type": "transaction", "entry": [
        _post(basic("ok", tag="load-txr")), _post(basic("refuse", tag="load-txr"))]}))
    (root / "tx-ok.json").write_bytes(orjson.dumps({"resourceType": "Bundle", "type": "transaction", "entry": [
        _post(basic("ok", tag="load-txok")), _post(basic("ok", tag="load-txok"))]}))
    (root / "batch.json").write_bytes(orjson.dumps({"resourceType": "Bundle", "type": "batch", "entry": [
        {"resource": basic("ok", rid="load-b1"), "request": {"method": "PUT", "url": "Basic/load-b1"}},
        _post(basic("refuse", tag="load-batch"))]}))
    (root / "single.json").write_bytes(orjson.dumps(basic("refuse", rid="load-single")))
    return root


def _load(files: Path, database_url: str, modules: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FHIR_RULE_MODULES": modules}
    return subprocess.run([sys.executable, "-m", "fhir_server.cli", "load", str(files), "--database-url",
                           database_url, "--workers", "2"], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def test_load_runs_the_rules_named_by_the_setting(files: Path, database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(SIDE_TABLES)  # type: ignore[arg-type]  # trusted test DDL
    done = _load(files, database_url, PROBE_MODULE)
    assert done.returncode == 1, done.stderr
    out = done.stdout
    assert "loaded 5 resources from 5 files" in out, out
    assert "4 rejected:" in out
    rejected = sorted(line.strip().split(": ", 1)[1] for line in out.splitlines() if line.startswith("  "))
    assert rejected[0].startswith("Probe rule refuses Basic/load-single: code 'refuse' (update)")
    assert rejected[1].startswith("entry 1 (POST Basic): Probe rule refuses Basic/")  # the refused transaction
    assert rejected[2].startswith("entry 1: 422 Unprocessable Entity: Probe rule refuses Basic/")  # the batch entry
    assert rejected[3] == "line 2: Probe rule refuses Basic/load-refused: code 'refuse' (update)"
    nd = stored_ids(database_url, "load-nd")
    txok = stored_ids(database_url, "load-txok")
    assert len(nd) == 1 and len(txok) == 2 and stored_ids(database_url, "load-txr") == []
    for rid in (*nd, *txok):
        assert side_log(database_url, rid) == accepted(("create", 1, None, "ok"))
    for rid in ("load-ok-1", "load-b1"):
        assert side_log(database_url, rid) == accepted(("update", 1, None, "ok"))
    for rid in ("load-refused", "load-single"):
        assert side_log(database_url, rid) == []
    assert {r[4] for r in side_log(database_url)} == {"ok"}  # no refused write left a side row


def test_load_stops_when_a_rule_module_cannot_be_imported(files: Path, database_url: str) -> None:
    done = _load(files, database_url, "tests.integration.rules.no_such_rules")
    assert done.returncode == 1
    assert "Cannot import write rule module 'tests.integration.rules.no_such_rules' (FHIR_RULE_MODULES)" \
        in done.stderr
    assert "loaded" not in done.stdout
