"""Time limits on a request's database work (issue 11, section 1: statement_timeout, a client
that disconnects cancels its query).

The slow statement is real: a PUT whose row another session holds locked (``SELECT ... FOR
UPDATE`` in an open transaction) waits inside PostgreSQL, visible in ``pg_stat_activity``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from fhir_server.config import Settings
from fhir_server.db import Database, SessionTimeouts

from ..conftest import serving

FHIR_JSON = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
STATEMENT_TIMEOUT = 2.0


@pytest.fixture(scope="module")
def base(server_settings: Settings) -> Iterator[str]:
    from fhir_server.app import create_app

    settings = dataclasses.replace(server_settings, statement_timeout=STATEMENT_TIMEOUT)
    with serving(create_app(settings), settings) as url:
        yield url


@pytest.fixture
def locked(base: str, database_url: str) -> Iterator[psycopg.Connection[Any]]:
    """Patient/held (version 1), its row locked by another session until the test ends."""
    assert httpx.put(f"{base}/Patient/held", json={"resourceType": "Patient", "id": "held"},
                     headers=FHIR_JSON).status_code in (200, 201)
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute("BEGIN")
        admin.execute("SELECT 1 FROM resource WHERE resource_type = 'Patient' AND id = 'held' FOR UPDATE")
        yield admin
        admin.execute("ROLLBACK")


def _lock_waiters(admin: psycopg.Connection[Any]) -> int:
    row = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                        " AND wait_event_type = 'Lock'").fetchone()
    return int(row[0]) if row else 0


def _update(base: str, timeout: float) -> httpx.Response:
    return httpx.put(f"{base}/Patient/held", json={"resourceType": "Patient", "id": "held", "active": True},
                     headers=FHIR_JSON, timeout=timeout)


def test_a_statement_over_the_limit_is_cancelled_and_answered_503_too_costly(
        base: str, locked: psycopg.Connection[Any]) -> None:
    started = time.monotonic()
    answer = _update(base, timeout=30)
    took = time.monotonic() - started
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "2"
    issue = answer.json()["issue"][0]
    assert (issue["severity"], issue["code"]) == ("error", "too-costly")
    assert "canceling statement due to statement timeout" in issue["diagnostics"]
    assert STATEMENT_TIMEOUT - 0.1 < took < STATEMENT_TIMEOUT + 2, took
    assert _lock_waiters(locked) == 0


def test_the_write_cancelled_by_the_timeout_changed_nothing(base: str) -> None:
    read = httpx.get(f"{base}/Patient/held", headers=FHIR_JSON)
    assert read.json()["meta"]["versionId"] == "1" and "active" not in read.json()
    again = _update(base, timeout=30)  # the lock is gone: the same write now succeeds
    assert again.status_code == 200 and again.json()["meta"]["versionId"] == "2"


def test_a_client_that_disconnects_cancels_its_query(base: str, locked: psycopg.Connection[Any]) -> None:
    with pytest.raises(httpx.ReadTimeout):
        _update(base, timeout=0.5)  # the client gives up and closes its connection
    gave_up = time.monotonic()
    assert _lock_waiters(locked) in (0, 1)
    while _lock_waiters(locked) != 0:
        assert time.monotonic() - gave_up < 1.0, "the abandoned request's statement still runs"
        time.sleep(0.02)
    assert time.monotonic() - gave_up < 1.0  # well before the statement timeout would have ended it


def test_every_pooled_connection_carries_the_limits_and_keeps_the_urls_options(database_url: str) -> None:
    url = f"{database_url}{'&' if '?' in database_url else '?'}options=-c%20work_mem%3D8MB"

    async def settings() -> Any:
        db = Database(url, 1, 1, timeouts=SessionTimeouts(statement=30, idle_in_transaction=60))
        await db.open()
        try:
            async with db.connection() as conn:
                cur = await conn.execute("SELECT current_setting('statement_timeout'),"
                                         " current_setting('idle_in_transaction_session_timeout'),"
                                         " current_setting('work_mem')")
                return await cur.fetchone()
        finally:
            await db.close()

    assert asyncio.run(settings()) == ("30s", "1min", "8MB")
