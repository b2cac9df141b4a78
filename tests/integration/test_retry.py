"""A write aborted by PostgreSQL for a concurrency reason is re-run, never answered 500
(``fhir_server.retry``; issue 11, part 4).

Each test makes the failure happen for real, with a second PostgreSQL client playing the
rival: a deadlock whose victim is the server's transaction, a backend terminated while the
write waits (before COMMIT: nothing was written, so it is re-run), and a backend terminated
while COMMIT runs (settled with the database: here not stored, 503, not re-run).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import httpx
import psycopg
import pytest

FHIR_JSON = {"Content-Type": "application/fhir+json"}
LOCK_ROW = "SELECT 1 FROM resource WHERE resource_type = 'Patient' AND id = %s FOR UPDATE"


@pytest.fixture()
def rival(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    """Another client of the server's database, in a transaction the test drives."""
    with psycopg.connect(database_url) as conn:
        conn.execute("SET lock_timeout = '15s'")
        yield conn
        conn.rollback()


def _patient(rid: str, n: int = 0) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": rid, "name": [{"family": f"v{n}"}]}


def _create(client: httpx.Client, rid: str) -> None:
    assert client.put(f"/Patient/{rid}", json=_patient(rid), headers=FHIR_JSON).status_code == 201


def _server_backend(database_url: str, condition: str, exclude: frozenset[int] = frozenset(),
                    timeout: float = 10) -> int:
    """The pid of the server's backend that meets ``condition`` (a pg_stat_activity predicate)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(database_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(f"SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                               f" AND pid <> pg_backend_pid() AND NOT pid = ANY(%s) AND {condition}",
                               (list(exclude),)).fetchone()
            if row:
                return int(row[0])
            time.sleep(0.02)
    raise AssertionError(f"no server backend with {condition}")


def _waiting_on_lock(database_url: str, exclude: frozenset[int] = frozenset()) -> int:
    return _server_backend(database_url, "wait_event_type = 'Lock'", exclude)


def _in_background(call: Callable[[], httpx.Response]) -> tuple[ThreadPoolExecutor, Future[httpx.Response]]:
    pool = ThreadPoolExecutor(1)
    return pool, pool.submit(call)


def _history(client: httpx.Client, rid: str) -> list[str]:
    bundle = client.get(f"/Patient/{rid}/_history").json()
    return sorted(e["resource"]["meta"]["versionId"] for e in bundle.get("entry", []))


def test_deadlock_victim_transaction_is_rerun(client: httpx.Client, database_url: str,
                                              rival: psycopg.Connection[Any]) -> None:
    a, b = f"dl-a-{uuid.uuid4().hex[:8]}", f"dl-b-{uuid.uuid4().hex[:8]}"
    _create(client, a)
    _create(client, b)
    rival.execute("SET deadlock_timeout = '20s'")  # the server's backend detects the deadlock first
    rival.execute(LOCK_ROW, (b,))
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": _patient(rid, 1), "request": {"method": "PUT", "url": f"Patient/{rid}"}} for rid in (a, b)]}
    pool, answer = _in_background(lambda: client.post("/", json=bundle, headers=FHIR_JSON))
    _waiting_on_lock(database_url)  # the transaction holds A's row and waits for B's
    rival.execute(LOCK_ROW, (a,))  # closes the cycle; granted once the server's attempt is aborted
    _waiting_on_lock(database_url)  # the re-run now waits for A's row
    rival.commit()
    response = answer.result(timeout=30)
    pool.shutdown()
    assert response.status_code == 200, response.text
    assert [e["response"]["status"] for e in response.json()["entry"]] == ["200 OK", "200 OK"]
    assert _history(client, a) == ["1", "2"] and _history(client, b) == ["1", "2"]


def test_write_whose_backend_dies_before_commit_is_rerun(client: httpx.Client, database_url: str,
                                                         rival: psycopg.Connection[Any]) -> None:
    rid = f"kill-{uuid.uuid4().hex[:8]}"
    _create(client, rid)
    rival.execute(LOCK_ROW, (rid,))
    pool, answer = _in_background(lambda: client.put(f"/Patient/{rid}", json=_patient(rid, 1), headers=FHIR_JSON))
    victim = _waiting_on_lock(database_url)
    rival.execute("SELECT pg_terminate_backend(%s)", (victim,))
    _waiting_on_lock(database_url, exclude=frozenset({victim}))  # the re-run, on another connection
    rival.commit()
    response = answer.result(timeout=30)
    pool.shutdown()
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == 'W/"2"'
    assert _history(client, rid) == ["1", "2"]


SLOW_FUNCTION = """CREATE FUNCTION test_slow() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN PERFORM pg_sleep(20); RETURN NULL; END $$"""
# COMMIT of a write to a ``slow-commit-*`` id runs a deferred trigger that sleeps: time to
# lose the connection while COMMIT is on its way.
SLOW_COMMIT = """CREATE CONSTRAINT TRIGGER test_slow AFTER INSERT ON resource_history
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.id LIKE 'slow-commit-%') EXECUTE FUNCTION test_slow()"""
# The one statement of a plain create of a Patient named ``slow-create`` sleeps.
SLOW_CREATE = """CREATE TRIGGER test_slow AFTER INSERT ON resource_history FOR EACH ROW
  WHEN (NEW.content #>> '{name,0,family}' = 'slow-create') EXECUTE FUNCTION test_slow()"""


@contextmanager
def _slow(database_url: str, trigger: str) -> Iterator[None]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(SLOW_FUNCTION)
        conn.execute(trigger)
    try:
        yield
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("DROP TRIGGER test_slow ON resource_history")
            conn.execute("DROP FUNCTION test_slow()")


def _terminate(database_url: str, pid: int) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))


def _assert_not_stored(response: httpx.Response) -> None:
    """The lost commit was settled with the database (db_outcome: pg_xact_status, or the new id's
    absence for a one-statement create): it did not happen, so the answer is an ordinary 503."""
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "2"
    issue = response.json()["issue"][0]
    assert issue["code"] == "no-store"
    assert "The connection to the database was lost" in issue["diagnostics"]


def test_connection_lost_during_commit_is_settled_not_rerun(client: httpx.Client, database_url: str) -> None:
    rid = f"slow-commit-{uuid.uuid4().hex[:8]}"
    with _slow(database_url, SLOW_COMMIT):
        pool, answer = _in_background(lambda: client.put(f"/Patient/{rid}", json=_patient(rid), headers=FHIR_JSON))
        _terminate(database_url, _server_backend(database_url, "query = 'COMMIT' AND wait_event = 'PgSleep'"))
        response = answer.result(timeout=30)
        pool.shutdown()
    _assert_not_stored(response)
    # Not re-run (a re-run would have slept in COMMIT again and answered 201 after 20 s);
    # here the backend died before its commit record, so nothing is stored.
    assert client.get(f"/Patient/{rid}").status_code == 404


# Sleeps in the first statement only (a sequence is not rolled back with the killed statement).
SLOW_ONCE = """CREATE FUNCTION test_slow() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN IF nextval('test_slow_once') = 1 THEN PERFORM pg_sleep(20); END IF; RETURN NULL; END $$"""


def test_plain_create_losing_its_connection_is_settled_then_made_once(client: httpx.Client,
                                                                      database_url: str) -> None:
    """The one-statement create (the hot path): its statement is its commit. Its connection is
    lost mid-statement; the server asks the database whether the new id exists (it does not),
    so the create is made by the general path: one resource, never two."""
    body = {"resourceType": "Patient", "name": [{"family": "slow-create"}]}
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE SEQUENCE test_slow_once")
        conn.execute(SLOW_ONCE)
        conn.execute(SLOW_CREATE)
    try:
        pool, answer = _in_background(lambda: client.post("/Patient", json=body, headers=FHIR_JSON))
        _terminate(database_url, _server_backend(database_url, "wait_event = 'PgSleep'"))
        response = answer.result(timeout=30)
        pool.shutdown()
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("DROP TRIGGER test_slow ON resource_history")
            conn.execute("DROP FUNCTION test_slow()")
            conn.execute("DROP SEQUENCE test_slow_once")
    assert response.status_code == 201, response.text
    assert client.get("/Patient", params={"family": "slow-create"}).json()["total"] == 1
