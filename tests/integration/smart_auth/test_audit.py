"""The audit trail over real HTTP and real PostgreSQL: one BALP-shaped AuditEvent per request,
changes recorded in their own transaction, refusals recorded, the table append-only and its
hash chain verified by ``fhir-server audit verify`` (which must notice tampering)."""

from __future__ import annotations

import base64
import time
from typing import Any

import httpx
import psycopg
import pytest

from fhir_server.cli import main as cli_main

from .helpers import cli_json, token_for

REDIRECT = "https://app.example.org/callback"


@pytest.fixture(scope="module")
def tokens(database_url: str, server_url: str, root_url: str) -> dict[str, str]:
    client = cli_json(database_url, "client", "add", "--name", "Audit app", "--public", "--redirect-uri", REDIRECT,
                      "--scope", "launch openid fhirUser user/*.cruds patient/*.rs")["client_id"]
    cli_json(database_url, "user", "add", "--allow-missing", "--username", "auditor", "--password", "pw-aud-123",
             "--fhir-user", "Practitioner/aud")
    with httpx.Client(timeout=30, follow_redirects=False) as browser:
        admin = token_for(browser, root_url, server_url, client, "openid fhirUser user/*.cruds", "auditor",
                          "pw-aud-123")
        launch = cli_json(database_url, "launch", "add", "--allow-missing", "--patient", "audp")["launch"]
        patient = token_for(browser, root_url, server_url, client, "launch patient/*.rs", "auditor", "pw-aud-123",
                            launch)
        officer = token_for(browser, root_url, server_url, client, "openid fhirUser user/AuditEvent.crs", "auditor",
                            "pw-aud-123")
    return {"admin": admin, "patient": patient, "officer": officer, "client_id": client}


def _events(database_url: str, request_id: str, expected: int = 1, wait: float = 5.0) -> list[tuple[Any, ...]]:
    """Rows for one request id; reads are flushed in the background, so poll briefly."""
    deadline = time.monotonic() + wait
    while True:
        with psycopg.connect(database_url) as conn:
            rows = conn.execute(
                "SELECT action, subtype, outcome, client_id, user_ref, patient_refs, entity_refs, content"
                " FROM audit_event WHERE request_id = %s ORDER BY seq", (request_id,)).fetchall()
        if len(rows) >= expected or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


def _call(server_url: str, token: str | None, method: str, path: str, request_id: str, **kwargs: Any) -> httpx.Response:
    headers = {"X-Request-Id": request_id}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.request(method, server_url + path, headers=headers, timeout=30, **kwargs)


def test_token_requests_are_recorded_with_their_client(database_url: str, tokens: dict[str, str]) -> None:
    deadline = time.monotonic() + 5
    while True:
        with psycopg.connect(database_url) as conn:
            rows = conn.execute("SELECT subtype, outcome FROM audit_event WHERE client_id = %s AND subtype = 'token'",
                                (tokens["client_id"],)).fetchall()
        if len(rows) >= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert rows == [("token", "0")] * 3  # the admin, patient and officer tokens of the fixture


def test_create_is_recorded_in_its_transaction(server_url: str, database_url: str, tokens: dict[str, str]) -> None:
    patient = {"resourceType": "Patient", "id": "audp", "name": [{"family": "Audit"}]}
    assert _call(server_url, tokens["admin"], "PUT", "/Patient/audp", "req-put-1", json=patient).status_code == 201
    observation = {"resourceType": "Observation", "status": "final", "code": {"text": "weight"},
                   "subject": {"reference": "Patient/audp"}}
    created = _call(server_url, tokens["admin"], "POST", "/Observation", "req-create-1", json=observation)
    assert created.status_code == 201
    oid = created.json()["id"]
    # In the write's own transaction: present at once, no waiting for a flush.
    rows = _events(database_url, "req-create-1", wait=0)
    assert len(rows) == 1
    action, subtype, outcome, client_id, user_ref, patients, entities, content = rows[0]
    assert (action, subtype, outcome) == ("C", "create", "0")
    assert client_id == tokens["client_id"] and user_ref == "Practitioner/aud"
    assert patients == ["Patient/audp"] and entities == [f"Observation/{oid}"]
    assert content["resourceType"] == "AuditEvent" and content["action"] == "C"
    assert content["subtype"][0] == {"system": "http://hl7.org/fhir/restful-interaction", "code": "create"}
    request_entity = [e for e in content["entity"] if e["type"]["code"] == "XrequestId"]
    assert request_entity[0]["what"]["identifier"]["value"] == "req-create-1"


def test_read_and_search_are_recorded_with_patient_and_query(server_url: str, database_url: str,
                                                             tokens: dict[str, str]) -> None:
    assert _call(server_url, tokens["patient"], "GET", "/Patient/audp", "req-read-1").status_code == 200
    rows = _events(database_url, "req-read-1")
    assert [(r[0], r[1], r[2], r[5], r[6]) for r in rows] == [("R", "read", "0", ["Patient/audp"], ["Patient/audp"])]
    response = _call(server_url, tokens["patient"], "GET", "/Observation?code:text=weight", "req-search-1")
    assert response.status_code == 200
    rows = _events(database_url, "req-search-1")
    assert [(r[1], r[5]) for r in rows] == [("search-type", ["Patient/audp"])]
    query = next(e for e in rows[0][7]["entity"] if e.get("role", {}).get("code") == "24")["query"]
    assert base64.b64decode(query).decode() == "GET /fhir/Observation?code:text=weight"


def test_refusals_are_recorded_and_change_nothing(server_url: str, database_url: str,
                                                  tokens: dict[str, str]) -> None:
    assert _call(server_url, None, "GET", "/Patient/audp", "req-401").status_code == 401
    rows = _events(database_url, "req-401")
    assert [(r[1], r[2], r[3]) for r in rows] == [("read", "4", None)]
    refused = _call(server_url, tokens["patient"], "DELETE", "/Patient/audp", "req-403")
    assert refused.status_code == 403
    rows = _events(database_url, "req-403")
    assert [(r[0], r[1], r[2]) for r in rows] == [("D", "delete", "4")]
    assert rows[0][7]["outcomeDesc"] == "HTTP 403"
    assert _call(server_url, tokens["admin"], "GET", "/Patient/audp", "req-check").status_code == 200


def test_failed_transaction_leaves_no_change_record(server_url: str, database_url: str,
                                                    tokens: dict[str, str]) -> None:
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {"resourceType": "Patient", "name": [{"family": "Ghost"}]},
         "request": {"method": "POST", "url": "Patient"}},
        {"resource": {"resourceType": "Patient", "birthDate": "not-a-date"},
         "request": {"method": "POST", "url": "Patient"}},
    ]}
    response = _call(server_url, tokens["admin"], "POST", "", "req-tx-fail", json=bundle)
    assert response.status_code == 400
    rows = _events(database_url, "req-tx-fail")
    assert [(r[1], r[2], r[6]) for r in rows] == [("transaction", "4", [])]


def _request_ids(bundle: dict[str, Any]) -> set[str]:
    return {e["what"]["identifier"]["value"] for entry in bundle.get("entry", []) for e in entry["resource"]["entity"]
            if e["type"]["code"] == "XrequestId"}


def test_audit_search_for_administrators_only(server_url: str, database_url: str, tokens: dict[str, str]) -> None:
    _events(database_url, "req-check")  # wait until the background flush wrote the reads
    for who in ("admin", "patient"):  # user/*.cruds (a wildcard) and patient scopes do not open the trail
        refused = _call(server_url, tokens[who], "GET", "/AuditEvent", f"req-audit-{who}")
        assert refused.status_code == 403
    officer = tokens["officer"]
    reads = _call(server_url, officer, "GET", "/AuditEvent?patient=Patient/audp&subtype=read&agent=Practitioner/aud",
                  "req-audit-1").json()
    assert reads["type"] == "searchset" and _request_ids(reads) == {"req-read-1", "req-check"}
    refused = _call(server_url, officer, "GET", "/AuditEvent?patient=audp&subtype=read&outcome=4", "req-audit-2").json()
    assert _request_ids(refused) == {"req-401"}
    assert _call(server_url, officer, "GET", "/AuditEvent?date=lt2000-01-01", "req-audit-3").json()["entry"] == []
    paged = _call(server_url, officer, "GET", "/AuditEvent?patient=Patient/audp&_count=1", "req-audit-4").json()
    assert len(paged["entry"]) == 1 and any(link["relation"] == "next" for link in paged["link"])
    assert _call(server_url, officer, "GET", "/AuditEvent?name=x", "req-audit-5").status_code == 400
    first = paged["entry"][0]["resource"]
    assert _call(server_url, officer, "GET", f"/AuditEvent/{first['id']}", "req-audit-6").json() == first


def test_audit_events_cannot_be_changed_through_the_api(server_url: str, tokens: dict[str, str]) -> None:
    officer = tokens["officer"]
    submitted = {"resourceType": "AuditEvent", "type": {"system": "http://dicom.nema.org/resources/ontology/DCM",
                                                        "code": "110110"},
                 "action": "R", "recorded": "2026-01-02T03:04:05Z", "outcome": "0",
                 "agent": [{"who": {"reference": "Practitioner/ext"}, "requestor": True}],
                 "source": {"observer": {"display": "Another EHR"}},
                 "entity": [{"what": {"reference": "Patient/audp"}}]}
    created = _call(server_url, officer, "POST", "/AuditEvent", "req-submit", json=submitted)
    assert created.status_code == 201
    event_id = created.json()["id"]
    assert created.headers["location"].endswith(f"/AuditEvent/{event_id}")
    # Stored as reported by the officer's client, under the time it arrived, not as the body claims.
    found = _call(server_url, officer, "GET", "/AuditEvent?agent=Practitioner/aud&entity=Patient/audp&subtype=110110",
                  "req-a7").json()
    assert [e["resource"]["id"] for e in found["entry"]] == [event_id]
    claimed = _call(server_url, officer, "GET", "/AuditEvent?agent=Practitioner/ext", "req-a8").json()
    assert claimed["entry"] == []
    # Clients never choose AuditEvent ids: PUT of a new id is refused like any other PUT.
    fresh = _call(server_url, officer, "PUT", "/AuditEvent/ext-1", "req-put-new", json={**submitted, "id": "ext-1"})
    assert fresh.status_code == 405 and "assigned by the server" in fresh.text
    assert _call(server_url, officer, "GET", "/AuditEvent/ext-1", "req-get-new").status_code == 404
    for method in ("PUT", "DELETE", "PATCH"):
        response = _call(server_url, officer, method, f"/AuditEvent/{event_id}", f"req-change-{method}",
                         json={**submitted, "id": event_id})
        assert response.status_code == 405 and "append-only" in response.text
    in_bundle = {"resourceType": "Bundle", "type": "batch", "entry": [
        {"resource": submitted, "request": {"method": "PUT", "url": f"AuditEvent/{event_id}"}}]}
    status = _call(server_url, tokens["admin"], "POST", "", "req-b1", json=in_bundle).json()["entry"][0]["response"]
    assert status["status"].startswith("405")


def test_reads_inside_a_transaction_are_recorded(server_url: str, database_url: str,
                                                 tokens: dict[str, str]) -> None:
    bundle = {"resourceType": "Bundle", "type": "transaction",
              "entry": [{"request": {"method": "GET", "url": "Patient/audp"}}]}
    response = _call(server_url, tokens["admin"], "POST", "", "req-tx-read", json=bundle)
    assert response.status_code == 200
    rows = _events(database_url, "req-tx-read")
    assert [(r[1], r[2], r[5], r[6]) for r in rows] == [("read", "0", ["Patient/audp"], ["Patient/audp"])]


def test_table_is_append_only_and_verify_detects_tampering(server_url: str, database_url: str,
                                                           tokens: dict[str, str],
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["audit", "verify", "--database-url", database_url]) == 0
    assert capsys.readouterr().out.strip().endswith("OK")
    with psycopg.connect(database_url, autocommit=True) as conn:
        for statement in ("UPDATE audit_event SET outcome = '0' WHERE request_id = 'req-403'",
                          "DELETE FROM audit_event WHERE request_id = 'req-403'",
                          "TRUNCATE audit_event"):
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                conn.execute(statement)
        # An attacker with superuser rights switches the guard off and edits a sealed row.
        conn.execute("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only")
        conn.execute("UPDATE audit_event SET outcome = '0' WHERE request_id = 'req-403'")
        conn.execute("ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only")
    assert cli_main(["audit", "verify", "--database-url", database_url]) == 1
    out = capsys.readouterr().out
    assert "content altered after sealing" in out and out.strip().endswith("TAMPERED")
    with psycopg.connect(database_url, autocommit=True) as conn:
        # Sealing never rewrites audit rows: the links are insert-only too.
        for statement in ("UPDATE audit_chain SET hash = prev_hash", "DELETE FROM audit_chain"):
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                conn.execute(statement)
        # Deleting a sealed row, or hiding a new row from the sealer, is noticed as well.
        conn.execute("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only")
        conn.execute("DELETE FROM audit_event WHERE request_id = 'req-403'")
        conn.execute("ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only")
        with conn.transaction():  # one transaction: the running server's sealer never sees the queued row
            seq = conn.execute("INSERT INTO audit_event (id, recorded, action, subtype, outcome, content)"
                               " VALUES (gen_random_uuid(), now(), 'R', 'read', '0', '{}') RETURNING seq").fetchone()
            conn.execute("DELETE FROM audit_unsealed WHERE seq = %s", seq)
    assert cli_main(["audit", "verify", "--database-url", database_url]) == 1
    out = capsys.readouterr().out
    assert "deleted after sealing" in out
    assert "1 audit row(s) neither sealed nor queued for sealing" in out


def test_batched_records_keep_their_reference_arrays(database_url: str) -> None:
    """Batches of 8 or more go through COPY with hand-written array literals: quotes, backslashes
    and commas must come back unchanged."""
    import asyncio

    from fhir_server.audit.events import build_audit_record
    from fhir_server.audit.recorder import insert_records
    from fhir_server.db import Database

    odd = ('Patient/a"b', "Patient/c\\d", "Patient/e,f", "Patient/{g}")
    records = [build_audit_record(subtype="read", outcome="0", outcome_desc=None, client_id="copy-test",
                                  user_ref=None, patient_refs=odd, entity_refs=(f"Observation/o{n}",),
                                  request_id=f"copy-array-{n}", server_url="http://x/fhir") for n in range(9)]

    async def write() -> None:
        db = Database(database_url, 1, 1)
        await db.open()
        async with db.transaction() as conn:
            await insert_records(conn, records)
        await db.close()

    asyncio.run(write())
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT request_id, patient_refs, entity_refs FROM audit_event"
                            " WHERE client_id = 'copy-test' ORDER BY request_id").fetchall()
    assert rows == [(f"copy-array-{n}", list(odd), [f"Observation/o{n}"]) for n in range(9)]
