"""``fhir-server serve`` ends cleanly on SIGTERM/SIGINT in every state, and stops its embedded
PostgreSQL (issue 11, section 5): idle, after an earlier server was killed with SIGKILL (its pid
stayed in pgserver's list of users and kept PostgreSQL running forever), while the database is
down, and with a request still running."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from .served_process import Served, new_parent, served

FHIR_JSON = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}


# uvicorn re-raises the signal it handled once it has shut down, so that a supervisor sees it.
CLEAN_EXIT = {0, -signal.SIGTERM, 130}


@pytest.fixture(scope="module")
def parent() -> Iterator[Path]:
    """One data directory for the module's servers, one after another (initdb once)."""
    path = new_parent()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _assert_nothing_left(server: Served) -> None:
    assert server.postmaster() is None
    assert server.postgres_processes() == []


def test_sigterm_stops_the_server_and_its_postgres_also_after_an_earlier_server_was_killed(parent: Path) -> None:
    with served(parent) as first:
        first.process.kill()  # SIGKILL: no shutdown at all, PostgreSQL keeps running
        first.process.wait(timeout=10)
        assert first.postmaster() is not None
        with served(parent) as second:  # attaches to the PostgreSQL left running
            took = second.stop(signal.SIGTERM)
            assert second.process.returncode in CLEAN_EXIT
            assert took < 10, took
            _assert_nothing_left(second)


def test_sigint_while_the_database_is_down(parent: Path) -> None:
    with served(parent) as server:
        pid = server.postmaster()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        with httpx.Client(timeout=10, headers=FHIR_JSON) as http:
            while http.get(f"{server.base}/Patient/x").status_code != 503:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        took = server.stop(signal.SIGINT)
        assert took < 15, took
        assert server.process.returncode in CLEAN_EXIT
        assert "Traceback" not in server.log.read_text()
        _assert_nothing_left(server)


def test_sigterm_with_a_request_waiting_on_a_lock() -> None:
    """A PUT blocked behind another session's row lock is cancelled after the shutdown grace
    (FHIR_SHUTDOWN_GRACE=1); the process ends and PostgreSQL stops (its sessions are ended).
    It runs on its own data directory, so that it does not depend on how the previous test left
    its PostgreSQL."""
    with served(env={"FHIR_SHUTDOWN_GRACE": "1"}) as server:
        with httpx.Client(timeout=10, headers=FHIR_JSON) as http:
            assert http.put(f"{server.base}/Patient/locked", json={"resourceType": "Patient", "id": "locked"}
                            ).status_code == 201
        admin = psycopg.connect(f"postgresql://postgres:@/fhir?host={server.data_dir}", autocommit=True)
        admin.execute("BEGIN")
        admin.execute("SELECT 1 FROM resource WHERE resource_type = 'Patient' AND id = 'locked' FOR UPDATE")
        answers: list[int | str] = []

        def blocked_put() -> None:
            try:
                answers.append(httpx.put(f"{server.base}/Patient/locked", headers=FHIR_JSON, timeout=30,
                                         json={"resourceType": "Patient", "id": "locked", "active": True}
                                         ).status_code)
            except httpx.HTTPError as exc:
                answers.append(type(exc).__name__)

        writer = threading.Thread(target=blocked_put)
        writer.start()
        deadline = time.monotonic() + 10
        while admin.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = 'fhir'"
                            " AND wait_event_type = 'Lock'").fetchone() != (1,):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        took = server.stop(signal.SIGTERM)
        writer.join(timeout=10)
        admin.close()
        assert took < 10, took
        assert server.process.returncode in CLEAN_EXIT
        assert answers and answers[0] != 200  # it never got its lock: not written
        _assert_nothing_left(server)
