"""``fhir-server load`` end to end on real PostgreSQL: bundles, NDJSON (gzipped), a directory walk,
the report of rejected entries, resuming (a re-run skips loaded files), and the audit records.

Expected counts are worked out from the files written below, not from running the loader.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest

from fhir_server.cli import main as cli_main

PATIENT_URN = "urn:uuid:0d3b7a4e-5f1c-4c7e-9a42-1f2b3c4d5e6f"


def _transaction() -> dict[str, Any]:
    """A Patient and two Observations referring to it by urn:uuid: 3 resources."""
    observation = {"resourceType": "Observation", "status": "final", "code": {"text": "weight"},
                   "subject": {"reference": PATIENT_URN}}
    return {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": PATIENT_URN, "resource": {"resourceType": "Patient", "name": [{"family": "Loaded"}]},
         "request": {"method": "POST", "url": "Patient"}},
        {"resource": observation, "request": {"method": "POST", "url": "Observation"}},
        {"resource": {**observation, "code": {"text": "height"}}, "request": {"method": "POST", "url": "Observation"}},
    ]}


def _batch() -> dict[str, Any]:
    """Two good Practitioners and one invalid entry (birthDate not a date): 2 loaded, 1 rejected."""
    return {"resourceType": "Bundle", "type": "batch", "entry": [
        {"resource": {"resourceType": "Practitioner", "id": "load-pr-1"},
         "request": {"method": "PUT", "url": "Practitioner/load-pr-1"}},
        {"resource": {"resourceType": "Practitioner", "id": "load-pr-2"},
         "request": {"method": "PUT", "url": "Practitioner/load-pr-2"}},
        {"resource": {"resourceType": "Practitioner", "birthDate": "yesterday"},
         "request": {"method": "POST", "url": "Practitioner"}},
    ]}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("load")
    (root / "nested").mkdir()
    (root / "tx.json").write_bytes(orjson.dumps(_transaction()))
    (root / "nested" / "batch.json.gz").write_bytes(gzip.compress(orjson.dumps(_batch())))
    lines = [orjson.dumps({"resourceType": "Organization", "id": f"load-org-{n}", "name": f"Org {n}"}) for n in (1, 2)]
    lines.insert(1, b'{"resourceType": "Organization", "id": "bad id!"}')
    (root / "nested" / "orgs.ndjson.gz").write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    (root / "notes.txt").write_text("not FHIR: ignored by the directory walk")
    return root


def _counts(database_url: str) -> dict[str, int]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT resource_type, count(*) FROM resource WHERE NOT deleted AND version_id > 0"
                            " GROUP BY resource_type").fetchall()
    return {t: int(n) for t, n in rows}


def test_load_reports_rejections_and_resumes(files: Path, database_url: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    # Two worker processes (forked): each must draw its own audit ids.
    assert cli_main(["load", str(files), "--database-url", database_url, "--workers", "2"]) == 1
    out = capsys.readouterr().out
    assert "loaded 7 resources from 3 files" in out
    assert "2 rejected:" in out and "line 2:" in out and "entry 2:" in out
    assert _counts(database_url) == {"Patient": 1, "Observation": 2, "Practitioner": 2, "Organization": 2}
    with psycopg.connect(database_url) as conn:
        subjects = conn.execute("SELECT content->'subject'->>'reference' FROM resource"
                                " WHERE resource_type = 'Observation'").fetchall()
        patient_id = conn.execute("SELECT id FROM resource WHERE resource_type = 'Patient'").fetchone()
    assert patient_id is not None and subjects == [(f"Patient/{patient_id[0]}",)] * 2
    # A re-run skips every file that loaded (the two with rejections loaded too: they are recorded).
    assert cli_main(["load", str(files), "--database-url", database_url, "--workers", "1"]) == 0
    again = capsys.readouterr().out
    assert "loaded 0 resources from 0 files" in again and "3 files already loaded, skipped" in again
    assert _counts(database_url)["Observation"] == 2


def test_loaded_changes_are_audited(files: Path, database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT subtype, entity_refs, patient_refs FROM audit_event"
                            " WHERE client_id = 'fhir-server load' ORDER BY seq").fetchall()
    by_subtype: dict[str, list[str]] = {}
    for subtype, entities, _ in rows:
        by_subtype.setdefault(subtype, []).extend(entities)
    assert sorted(by_subtype) == ["batch", "create", "transaction"]
    assert len(by_subtype["transaction"]) == 3 and sorted(by_subtype["batch"]) == [
        "Practitioner/load-pr-1", "Practitioner/load-pr-2"]
    assert sorted(by_subtype["create"]) == ["Organization/load-org-1", "Organization/load-org-2"]
    transaction = next(r for r in rows if r[0] == "transaction")
    assert len(transaction[2]) == 1 and transaction[2][0].startswith("Patient/")
