"""Audit records that cannot be forged or used to break writes (issue 11, part 6), over real
HTTP with auth on and real PostgreSQL:

- a patient token can neither take the ids of the server's next records (PUT AuditEvent/<id>
  is refused, and server ids are random v4 UUIDs unrelated to X-Request-Id) nor submit an
  AuditEvent at all; a system client with ``system/AuditEvent.c`` can, and its submission is
  stored as *reported by* it (columns from the caller, time of receipt), never as observed;
- the chain is keyed: a row rewritten and the chain recomputed without the key, a row put in
  with plain SQL, the newest rows removed or both tables truncated all make ``audit verify``
  (with ``--checkpoint``) fail, where the old unkeyed chain said OK.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from fhir_server.cli import main as cli_main
from fhir_server.config import Settings
from tests.conftest import free_port

from .helpers import ASSERTION_TYPE, cli_json, client_assertion, new_key, public_jwks, token_for

REDIRECT = "https://app.example.org/callback"
FORGED = {"resourceType": "AuditEvent", "type": {"system": "http://dicom.nema.org/resources/ontology/DCM",
                                                 "code": "110110"},
          "action": "R", "recorded": "2020-01-01T00:00:00Z", "outcome": "0",
          "agent": [{"who": {"reference": "Practitioner/dr"}, "requestor": True}],
          "source": {"observer": {"display": "Practitioner/dr's workstation"}},
          "entity": [{"what": {"reference": "Patient/pb"}}]}


@pytest.fixture(scope="module")
def checkpoint_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(tmp_path_factory.mktemp("checkpoints"))


@pytest.fixture(scope="module")
def server_settings(database_url: str, checkpoint_dir: Path) -> Settings:
    return Settings(database_url=database_url, host="127.0.0.1", port=free_port(), auth="on",
                    max_body_bytes=2 * 1024 * 1024, pool_min=1, pool_max=8, log_level="warning",
                    audit_checkpoint_dir=checkpoint_dir, audit_checkpoint_seconds=1)


@pytest.fixture(scope="module")
def tokens(database_url: str, server_url: str, root_url: str, tmp_path_factory: pytest.TempPathFactory
           ) -> dict[str, str]:
    client = cli_json(database_url, "client", "add", "--name", "Forgery app", "--public", "--redirect-uri", REDIRECT,
                      "--scope", "launch openid fhirUser user/*.cruds patient/*.cruds")["client_id"]
    cli_json(database_url, "user", "add", "--username", "pat-a", "--password", "pw-pa-123",
             "--fhir-user", "Patient/pa")
    cli_json(database_url, "user", "add", "--username", "dr-x", "--password", "pw-dr-123",
             "--fhir-user", "Practitioner/dr")
    key = new_key("RS384")
    jwks = Path(tmp_path_factory.mktemp("jwks")) / "jwks.json"
    jwks.write_text(json.dumps(public_jwks(key)))
    system = cli_json(database_url, "client", "add", "--name", "Audit feed", "--jwks-file", str(jwks),
                      "--scope", "system/AuditEvent.crs")["client_id"]
    with httpx.Client(timeout=30, follow_redirects=False) as browser:
        patient = token_for(browser, root_url, server_url, client, "openid fhirUser patient/*.cruds", "pat-a",
                            "pw-pa-123")
        doctor = token_for(browser, root_url, server_url, client, "openid fhirUser user/*.cruds", "dr-x",
                           "pw-dr-123")
        assertion = client_assertion(key, "RS384", system, f"{root_url}/auth/token")
        feed = browser.post(f"{root_url}/auth/token", data={
            "grant_type": "client_credentials", "scope": "system/AuditEvent.crs",
            "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion})
        assert feed.status_code == 200, feed.text
    return {"patient": patient, "doctor": doctor, "feed": feed.json()["access_token"], "system_client": system}


def _call(server_url: str, token: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, server_url + path, headers={"Authorization": f"Bearer {token}"}, timeout=30,
                         **kwargs)


def _rows(database_url: str, where: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(f"SELECT id, user_ref, client_id, patient_refs, recorded, content FROM audit_event"  # noqa: S608
                            f" WHERE {where} ORDER BY seq", args).fetchall()


def test_patient_cannot_take_the_next_audit_ids(server_url: str, database_url: str, tokens: dict[str, str]) -> None:
    """The attack: read X-Request-Id, predict the next audit ids, PUT AuditEvents there, so that
    the practitioner's next writes collide (500 UniqueViolation)."""
    probe = _call(server_url, tokens["patient"], "GET", "/Patient/pa")
    request_id = probe.headers["x-request-id"]
    predicted = [str(uuid.UUID(int=(int(request_id, 16) + n) % (1 << 128))) for n in range(1, 6)]
    for rid in predicted:
        taken = _call(server_url, tokens["patient"], "PUT", f"/AuditEvent/{rid}", json={**FORGED, "id": rid})
        assert taken.status_code == 405
        assert taken.json()["issue"][0]["diagnostics"].startswith("AuditEvent ids are assigned by the server")
    for n in range(5):
        body = {"resourceType": "Patient", "id": f"p{n}", "name": [{"family": f"N{n}"}]}
        assert _call(server_url, tokens["doctor"], "PUT", f"/Patient/p{n}", json=body).status_code == 201
    rows = _rows(database_url, "user_ref = 'Practitioner/dr' AND subtype = 'update'", ())
    assert len(rows) == 5
    assert all(uuid.UUID(row[0]).version == 4 for row in rows)  # random, not a counter beside the request ids
    assert not {row[0] for row in rows} & set(predicted)


@pytest.mark.parametrize("who", ["patient", "doctor"])
def test_patient_or_wildcard_token_cannot_submit_audit_events(who: str, server_url: str, database_url: str,
                                                               tokens: dict[str, str]) -> None:
    refused = _call(server_url, tokens[who], "POST", "/AuditEvent", json=FORGED)
    assert refused.status_code == 403
    assert "system/AuditEvent.c" in refused.json()["issue"][0]["diagnostics"]
    assert _rows(database_url, "content->>'recorded' = %s", ("2020-01-01T00:00:00Z",)) == []


def test_submitted_event_is_stored_as_reported_by_the_client(server_url: str, database_url: str,
                                                             tokens: dict[str, str]) -> None:
    created = _call(server_url, tokens["feed"], "POST", "/AuditEvent", json={**FORGED, "id": "chosen"})
    assert created.status_code == 201
    body = created.json()
    assert body["id"] != "chosen" and uuid.UUID(body["id"]).version == 4
    client = tokens["system_client"]
    assert body["source"]["observer"] == {"identifier": {"system": "urn:fhir-server:client", "value": client},
                                          "display": f"reported by client {client}"}
    reported = body["extension"][-1]
    assert reported["url"] == "urn:fhir-server:audit:reported-by"
    parts = {p["url"]: p for p in reported["extension"]}
    assert parts["client"]["valueIdentifier"]["value"] == client
    assert parts["claimedObserver"]["valueReference"] == {"display": "Practitioner/dr's workstation"}
    assert body["agent"] == FORGED["agent"] and body["recorded"] == "2020-01-01T00:00:00Z"  # content kept
    [(rid, user_ref, client_id, patients, recorded, _)] = _rows(database_url, "id = %s", (body["id"],))
    assert (user_ref, client_id, patients) == (None, client, [])  # from the caller, not from the body's agents
    assert recorded.year >= 2026 and parts["received"]["valueInstant"].startswith(str(recorded.year))
    # Searching by the named agent does not attribute the report to Practitioner/dr.
    by_agent = _call(server_url, tokens["feed"], "GET", "/AuditEvent?agent=Practitioner/dr&subtype=110110").json()
    assert by_agent["entry"] == []
    by_client = _call(server_url, tokens["feed"], "GET", f"/AuditEvent?agent={client}&subtype=110110").json()
    assert [e["resource"]["id"] for e in by_client["entry"]] == [rid]


# -- the keyed chain -----------------------------------------------------------------------------------------
ROW_TEXT = ("row(a.id, a.recorded, a.action, a.subtype, a.outcome, a.client_id, a.user_ref, a.patient_refs,"
            " a.entity_refs, a.request_id, a.content)::text")


def _verify(database_url: str, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    code = cli_main(["audit", "verify", "--database-url", database_url, *extra])
    return code, capsys.readouterr().out


def _superuser(database_url: str) -> psycopg.Connection[Any]:
    conn = psycopg.connect(database_url, autocommit=True)
    for table in ("audit_event", "audit_chain"):  # the attacker switches the append-only guards off
        conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
    return conn


def _restore(conn: psycopg.Connection[Any]) -> None:
    for table in ("audit_event", "audit_chain"):
        conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
    conn.close()


def test_chain_verifies_and_checkpoints(server_url: str, database_url: str, tokens: dict[str, str],
                                        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out = _verify(database_url, capsys)
    assert code == 0 and out.strip().endswith("OK"), out
    point = tmp_path / "cp.json"
    assert cli_main(["audit", "checkpoint", "--database-url", database_url, "--out", str(point)]) == 0
    capsys.readouterr()
    data = json.loads(point.read_text())
    with psycopg.connect(database_url) as conn:
        count, keyed = conn.execute("SELECT count(*), bool_and(keyed) FROM audit_chain WHERE chain_seq <= %s",
                                    (data["chain_seq"],)).fetchone() or (0, False)
    assert data["chain_seq"] == count > 0 and keyed is True  # (the running server may have sealed more since)
    code, out = _verify(database_url, capsys, "--checkpoint", str(point))
    assert code == 0 and out.strip().endswith("OK"), out
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps({**data, "chain_seq": data["chain_seq"] - 1}))
    code, out = _verify(database_url, capsys, "--checkpoint", str(edited))
    assert code == 1 and "signature is not valid" in out


def test_server_writes_signed_checkpoints_periodically(server_url: str, database_url: str, checkpoint_dir: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    deadline = time.monotonic() + 10
    while not (files := sorted(checkpoint_dir.glob("checkpoint-*.json"))) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert files and not list(checkpoint_dir.glob("*.part"))
    data = json.loads(files[-1].read_text())
    assert data["format"] == "fhir-server-audit-checkpoint/1" and data["chain_seq"] > 0
    code, out = _verify(database_url, capsys, "--checkpoint", str(files[-1]))
    assert code == 0 and out.strip().endswith("OK"), out


def test_rewritten_row_with_recomputed_chain_is_detected(server_url: str, database_url: str,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """The attacker changes a sealed row and recomputes every later link, as the unkeyed chain allowed."""
    conn = _superuser(database_url)
    try:
        seq = conn.execute("SELECT min(seq) FROM audit_event WHERE subtype = 'update'").fetchone()
        conn.execute("UPDATE audit_event SET outcome = '8' WHERE seq = %s", seq)
        start = conn.execute("SELECT chain_seq, prev_hash FROM audit_chain WHERE seq = %s", seq).fetchone()
        assert start is not None
        prev = bytes(start[1])
        links = conn.execute(f"SELECT c.chain_seq, {ROW_TEXT} FROM audit_chain c JOIN audit_event a ON a.seq = c.seq"  # noqa: S608
                             " WHERE c.chain_seq >= %s ORDER BY c.chain_seq", (start[0],)).fetchall()
        for chain_seq, text in links:
            digest = hashlib.sha256(prev + text.encode()).digest()
            conn.execute("UPDATE audit_chain SET prev_hash = %s, hash = %s WHERE chain_seq = %s",
                         (prev, digest, chain_seq))
            prev = digest
    finally:
        _restore(conn)
    code, out = _verify(database_url, capsys)
    assert code == 1 and "not made with this audit key" in out, out


def test_row_inserted_with_sql_is_flagged_not_sealed_as_genuine(server_url: str, database_url: str,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    forged = str(uuid.uuid4())
    with psycopg.connect(database_url, autocommit=True) as conn:  # the triggers allow INSERT: it is queued
        conn.execute("INSERT INTO audit_event (id, recorded, action, subtype, outcome, user_ref, content)"
                     " VALUES (%s, now(), 'R', 'read', '0', 'Practitioner/dr', '{}')", (forged,))
    code, out = _verify(database_url, capsys)
    assert code == 1
    with psycopg.connect(database_url) as conn:
        sealed = conn.execute("SELECT c.chain_seq, a.seq FROM audit_chain c JOIN audit_event a ON a.seq = c.seq"
                              " WHERE a.id = %s", (forged,)).fetchone()
    assert sealed is not None  # chained (nothing may hide in the queue), but never vouched for
    assert f"chain_seq {sealed[0]} (row {sealed[1]}): not written by the server (no valid writer MAC)" in out


def test_removed_newest_rows_and_truncation_fail_against_a_checkpoint(
        server_url: str, database_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    point = tmp_path / "cp.json"
    assert cli_main(["audit", "checkpoint", "--database-url", database_url, "--out", str(point)]) == 0
    covered = json.loads(point.read_text())["chain_seq"]
    capsys.readouterr()
    conn = _superuser(database_url)
    try:
        conn.execute("DELETE FROM audit_event WHERE seq IN (SELECT seq FROM audit_chain WHERE chain_seq > %s - 3)",
                     (covered,))
        conn.execute("DELETE FROM audit_chain WHERE chain_seq > %s - 3", (covered,))
    finally:
        _restore(conn)
    code, out = _verify(database_url, capsys, "--checkpoint", str(point))
    assert code == 1
    assert f"the chain has {covered - 3} links but the checkpoint" in out and f"covers {covered}" in out
    conn = _superuser(database_url)
    try:
        conn.execute("TRUNCATE audit_event, audit_chain, audit_unsealed")
    finally:
        _restore(conn)
    code, out = _verify(database_url, capsys, "--checkpoint", str(point))
    assert code == 1 and "the chain has 0 links but the checkpoint" in out
    code, out = _verify(database_url, capsys)  # what the chain cannot prove alone: an empty trail looks intact
    assert code == 0
