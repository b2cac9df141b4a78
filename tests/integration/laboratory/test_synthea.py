"""Synthea's final DiagnosticReports (results, no performer) load through ``fhir-server load``:
the operator is an importer (report_status.py). Skips when ../shared is absent."""

from __future__ import annotations

from pathlib import Path

import httpx

from fhir_server.cli import main
from tests.synthea import read_bundle, synthea_files


def test_a_synthea_patient_loads_with_its_final_reports(database_url: str, client: httpx.Client) -> None:
    path: Path = synthea_files(1)[0]
    reports = [e["resource"] for e in read_bundle(path)["entry"] if e["resource"]["resourceType"] == "DiagnosticReport"]
    assert reports and all(r["status"] == "final" and r.get("result") and not r.get("performer") for r in reports)
    assert main(["load", str(path), "--database-url", database_url]) == 0
    found = client.get("/DiagnosticReport", params={"_total": "accurate", "_count": "1", "status": "final"})
    assert found.status_code == 200, found.text
    assert found.json()["total"] == len(reports)
