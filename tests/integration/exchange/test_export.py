"""Bulk Data $export (Bulk Data Access 2.0 async pattern) and Patient/$everything."""

from __future__ import annotations

import gzip
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import orjson
import psycopg
import pytest
from psycopg import sql

from tests.synthea import read_bundle, synthea_files, type_counts

ASYNC = {"Prefer": "respond-async", "Accept": "application/fhir+json"}


@pytest.fixture(scope="module")
def loaded(client: httpx.Client) -> list[dict[str, Any]]:
    """Three Synthea patients loaded through transactions; returns the source bundles."""
    bundles = [read_bundle(p) for p in synthea_files(3)]
    for bundle in bundles:
        response = client.post("", content=orjson.dumps(bundle), headers={"Content-Type": "application/fhir+json"})
        assert response.status_code == 200, response.text[:500]
    return bundles


def _wait(client: httpx.Client, status_url: str) -> httpx.Response:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        response = client.get(status_url)
        if response.status_code != 202:
            return response
        assert "x-progress" in response.headers and "retry-after" in response.headers
        time.sleep(0.2)
    raise AssertionError("export did not finish within 120 s")


def _export(client: httpx.Client, path: str, **params: str) -> dict[str, Any]:
    kick = client.get(path, params=params, headers=ASYNC)
    assert kick.status_code == 202, kick.text
    done = _wait(client, kick.headers["content-location"])
    assert done.status_code == 200, done.text
    return dict(done.json())


def _download(client: httpx.Client, manifest: dict[str, Any]) -> list[dict[str, Any]]:
    resources = []
    for item in manifest["output"]:
        response = client.get(item["url"])
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/fhir+ndjson")
        lines = [orjson.loads(line) for line in response.content.splitlines() if line.strip()]
        assert len(lines) == item["count"]
        assert {r["resourceType"] for r in lines} == {item["type"]}
        resources += lines
    return resources


def test_system_export_returns_every_resource_once(client: httpx.Client, loaded: list[dict[str, Any]]) -> None:
    manifest = _export(client, "/$export")
    assert manifest["requiresAccessToken"] is False
    assert manifest["request"].endswith("/$export")
    assert manifest["transactionTime"].endswith("Z")
    counts: Counter[str] = Counter()
    for item in manifest["output"]:
        counts[item["type"]] += item["count"]
    assert counts == type_counts(loaded)
    resources = _download(client, manifest)
    keys = [(r["resourceType"], r["id"]) for r in resources]
    assert len(keys) == len(set(keys)) == sum(type_counts(loaded).values())


def test_export_type_since_and_type_filter(client: httpx.Client, loaded: list[dict[str, Any]]) -> None:
    typed = _export(client, "/$export", _type="Patient,Condition")
    assert {i["type"] for i in typed["output"]} == {"Patient", "Condition"}
    future = _export(client, "/$export", _since="2999-01-01T00:00:00Z")
    assert future["output"] == []
    vitals = sum(1 for b in loaded for e in b["entry"] if e["resource"]["resourceType"] == "Observation"
                 and any(c.get("code") == "vital-signs" for cat in e["resource"].get("category", [])
                         for c in cat.get("coding", [])))
    filtered = _export(client, "/$export", _type="Observation", _typeFilter="Observation?category=vital-signs")
    assert sum(i["count"] for i in filtered["output"]) == vitals > 0


def test_patient_and_group_level_exports(client: httpx.Client, loaded: list[dict[str, Any]]) -> None:
    patient_level = _export(client, "/Patient/$export")
    types = {i["type"] for i in patient_level["output"]}
    assert "Patient" in types and "Organization" not in types and "Practitioner" not in types
    first_patient = next(e["resource"] for e in loaded[0]["entry"] if e["resource"]["resourceType"] == "Patient")
    stored = client.get("/Patient", params={"identifier": first_patient["identifier"][0]["value"]}).json()
    patient_id = stored["entry"][0]["resource"]["id"]
    group = client.post("/Group", json={"resourceType": "Group", "type": "person", "actual": True,
                                         "member": [{"entity": {"reference": f"Patient/{patient_id}"}}]}).json()
    group_level = _export(client, f"/Group/{group['id']}/$export", _type="Patient,Encounter")
    counts = {i["type"]: i["count"] for i in group_level["output"]}
    expected_encounters = type_counts([loaded[0]])["Encounter"]
    assert counts == {"Patient": 1, "Encounter": expected_encounters}


def test_kick_off_errors(client: httpx.Client) -> None:
    assert client.get("/$export").status_code == 400  # no Prefer: respond-async
    assert client.get("/$export", params={"_outputFormat": "text/csv"}, headers=ASYNC).status_code == 400
    assert client.get("/$export", params={"_type": "NotAType"}, headers=ASYNC).status_code == 400
    assert client.get("/Group/no-such-group/$export", headers=ASYNC).status_code == 404
    assert client.get(f"/bulkstatus/{uuid.uuid4()}").status_code == 404


def test_gzip_download(client: httpx.Client, loaded: list[dict[str, Any]]) -> None:
    manifest = _export(client, "/$export", _type="Patient")
    url = manifest["output"][0]["url"]
    with httpx.stream("GET", url, headers={"Accept-Encoding": "gzip"}) as raw:
        assert raw.headers["content-encoding"] == "gzip"
        compressed = b"".join(raw.iter_raw())
    assert len(gzip.decompress(compressed).splitlines()) == type_counts(loaded)["Patient"] == 3


def test_cancel(client: httpx.Client, loaded: list[dict[str, Any]]) -> None:
    kick = client.get("/$export", headers=ASYNC)
    status_url = kick.headers["content-location"]
    assert client.delete(status_url).status_code == 202
    assert client.get(status_url).status_code == 404
    assert client.delete(status_url).status_code == 404


def test_patient_everything(client: httpx.Client, loaded: list[dict[str, Any]]) -> None:
    bundle = loaded[1]
    patient = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    found = client.get("/Patient", params={"identifier": patient["identifier"][0]["value"]}).json()
    patient_id = found["entry"][0]["resource"]["id"]
    everything = client.get(f"/Patient/{patient_id}/$everything", params={"_count": "1000"}).json()
    matches = Counter(e["resource"]["resourceType"] for e in everything["entry"] if e["search"]["mode"] == "match")
    expected = type_counts([bundle])
    for outside in ("Organization", "Practitioner"):
        expected.pop(outside, None)
    assert matches == expected
    included = {e["resource"]["resourceType"] for e in everything["entry"] if e["search"]["mode"] == "include"}
    assert included and included <= {"Organization", "Practitioner", "Location", "Medication"}
    only = client.get(f"/Patient/{patient_id}/$everything", params={"_type": "Condition", "_count": "1000"}).json()
    assert {e["resource"]["resourceType"] for e in only["entry"] if e["search"]["mode"] == "match"} <= {"Condition"}
    assert client.get("/Patient/nobody/$everything").status_code == 404


def test_job_interrupted_by_a_restart_is_resumed(client: httpx.Client, loaded: list[dict[str, Any]],
                                                 database_url: str) -> None:
    """A job left 'running' by a dead process (stale heartbeat, partial files) is claimed again."""
    job_id = str(uuid.uuid4())
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO export_job (id, status, level, request_url, params, transaction_time, heartbeat)"
            " VALUES (%s, 'running', 'system', 'http://x/fhir/$export', %s::jsonb, now(),"
            " now() - interval '10 minutes')",
            (job_id, orjson.dumps({"types": ["Patient"], "since": None, "type_filters": {},
                                   "output_format": "application/fhir+ndjson"}).decode()))
        conn.execute("INSERT INTO export_file (job_id, file_no, resource_type, line_count, content)"
                     " VALUES (%s, 1, 'Patient', 1, %s)", (job_id, gzip.compress(b'{"resourceType":"Patient"}\n')))
    done = _wait(client, f"/bulkstatus/{job_id}")
    assert done.status_code == 200
    assert [(i["type"], i["count"]) for i in done.json()["output"]] == [("Patient", 3)]


def test_export_reimports_into_an_empty_server(client: httpx.Client, loaded: list[dict[str, Any]],
                                              pg_admin_url: str, template_url: str, tmp_path: Path) -> None:
    manifest = _export(client, "/$export")
    for number, item in enumerate(manifest["output"]):
        (tmp_path / f"{number:03d}-{item['type']}.ndjson").write_bytes(client.get(item["url"]).content)
    target = f"fhir_reimport_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE fhir_test_template").format(sql.Identifier(target)))
    url = urlunsplit(urlsplit(pg_admin_url)._replace(path="/" + target))
    try:
        done = subprocess.run([sys.executable, "-m", "fhir_server.cli", "load", str(tmp_path), "--database-url", url],
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
        with psycopg.connect(url) as conn:
            rows = conn.execute("SELECT resource_type, count(*) FROM resource GROUP BY 1").fetchall()
        exported: Counter[str] = Counter()
        for item in manifest["output"]:
            exported[item["type"]] += item["count"]
        assert Counter({t: n for t, n in rows}) == exported
        assert all(exported[t] >= n for t, n in type_counts(loaded).items())
        again = subprocess.run([sys.executable, "-m", "fhir_server.cli", "load", str(tmp_path), "--database-url", url],
                               capture_output=True, text=True, timeout=600)
        assert again.returncode == 0 and "already loaded, skipped" in again.stdout
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(target)))
