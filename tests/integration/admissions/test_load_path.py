"""``fhir-server load`` goes through the same admissions rules (its own process imports them)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import orjson

from .helpers import bed, encounter, fresh, occupants

REPO = Path(__file__).resolve().parents[3]


def test_load_refuses_the_second_inpatient_and_keeps_finished_history(tmp_path: Path, client: httpx.Client,
                                                                      database_url: str) -> None:
    bid = bed(client)
    lines = [{**encounter("in-progress", bed=bid), "id": fresh("a-")},
             {**encounter("in-progress", bed=bid), "id": fresh("b-")},
             {**encounter("finished"), "id": fresh("c-")}]  # history, as Synthea sends it: accepted
    (tmp_path / "encounters.ndjson").write_bytes(b"\n".join(orjson.dumps(line) for line in lines) + b"\n")
    done = subprocess.run([sys.executable, "-m", "fhir_server.cli", "load", str(tmp_path), "--database-url",
                           database_url], cwd=REPO, env=dict(os.environ), capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 rejected" in done.stdout, done.stdout
    assert f"Location/{bid} is already occupied by another active inpatient Encounter" in done.stdout, done.stdout
    assert occupants(database_url, bid) == [lines[0]["id"]]
    assert client.get(f"/Encounter/{lines[2]['id']}").json()["status"] == "finished"
