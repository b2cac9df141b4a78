"""A plain create is written by one statement (``repository.create_alone``): the resource,
its history row, its index rows and its audit record appear together or not at all."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

POISON_CODE = "refused-by-test-trigger"


def _observation(code: str) -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final",
            "code": {"coding": [{"system": "http://example.org/codes", "code": code}]},
            "subject": {"reference": "Patient/atomic-p1"}}


@pytest.fixture(scope="module")
def poisoned(database_url: str) -> Iterator[str]:
    """A trigger that makes the index insert of one code fail, as a full disk or a bug would."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"""
            CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF NEW.code = '{POISON_CODE}' THEN RAISE EXCEPTION 'test trigger refuses this row'; END IF;
              RETURN NEW;
            END $$;
            CREATE TRIGGER refuse_poison BEFORE INSERT ON search_token
              FOR EACH ROW EXECUTE FUNCTION refuse_poison();""")
    yield database_url
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DROP TRIGGER refuse_poison ON search_token; DROP FUNCTION refuse_poison()")


def _counts(database_url: str, rid: str | None = None) -> tuple[int, ...]:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM resource WHERE resource_type = 'Observation'),"
            " (SELECT count(*) FROM resource_history WHERE resource_type = 'Observation'),"
            " (SELECT count(*) FROM search_token WHERE resource_type = 'Observation'),"
            " (SELECT count(*) FROM search_reference WHERE resource_type = 'Observation'),"
            " (SELECT count(*) FROM search_text WHERE resource_type = 'Observation'),"
            " (SELECT count(*) FROM audit_event WHERE action = 'C' AND outcome = '0')").fetchone()
    assert row is not None
    return tuple(row)


def test_create_writes_every_row_in_one_go(client: httpx.Client, poisoned: str) -> None:
    before = _counts(poisoned)
    created = client.post("/Observation", json=_observation("ok-1"), headers={"X-Request-Id": "atomic-ok"})
    assert created.status_code == 201, created.text
    rid = created.json()["id"]
    # one resource, history, text and audit row each; token rows; two reference rows (the
    # subject, and the same reference as the `patient` parameter)
    after = _counts(poisoned)
    assert (after[0] - before[0], after[1] - before[1], after[4] - before[4], after[5] - before[5]) == (1, 1, 1, 1)
    assert after[2] > before[2] and after[3] - before[3] == 2  # subject and patient
    with psycopg.connect(poisoned) as conn:
        audit = conn.execute("SELECT subtype, outcome, entity_refs, patient_refs FROM audit_event"
                             " WHERE request_id = 'atomic-ok'").fetchall()
        history = conn.execute("SELECT version_id, method, content->'meta'->>'versionId' FROM resource_history"
                               " WHERE resource_type = 'Observation' AND id = %s", (rid,)).fetchall()
    assert audit == [("create", "0", [f"Observation/{rid}"], ["Patient/atomic-p1"])]
    assert history == [(1, "POST", "1")]


def test_a_failing_create_leaves_nothing_behind(client: httpx.Client, poisoned: str) -> None:
    before = _counts(poisoned)
    refused = client.post("/Observation", json=_observation(POISON_CODE), headers={"X-Request-Id": "atomic-bad"})
    assert refused.status_code == 500
    assert refused.headers["content-type"].startswith("application/fhir+json")
    outcome = refused.json()
    assert outcome["resourceType"] == "OperationOutcome" and outcome["issue"][0]["severity"] == "fatal"
    assert "test trigger refuses this row" not in refused.text  # no database internals reach the client
    assert _counts(poisoned) == before
    # the failed request itself is recorded after the response (outcome 12, serious failure),
    # through the background buffer: wait for it
    deadline = time.monotonic() + 5
    while True:
        with psycopg.connect(poisoned) as conn:
            recorded = conn.execute("SELECT action, subtype, outcome FROM audit_event"
                                    " WHERE request_id = 'atomic-bad'").fetchall()
        if recorded or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert recorded == [("C", "create", "12")]
