"""The database going away under a running server (issue 11, section 5; section 4's lost COMMIT).

``fhir-server serve`` runs as a subprocess with its own embedded PostgreSQL. Under a small
write load the postmaster is killed with SIGKILL: requests are answered 503 with
``Retry-After`` at once (not after the pool's 30 s), never 500; the server starts PostgreSQL
again by itself and answers again without a restart; every write it acknowledged is still there.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import httpx
import psycopg

from .served_process import Served, served

FHIR_JSON = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}


class WriteLoad:
    """One client PUTting new Patients one after another, noting every answer and its time."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.acknowledged: dict[str, str] = {}  # id -> versionId of a 2xx answer
        self.answers: list[tuple[float, int, float, str]] = []  # (sent at, status, seconds, Retry-After)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=40, headers=FHIR_JSON) as http:
            n = 0
            while not self.stopping.is_set():
                rid = f"w{n}"
                n += 1
                sent = time.monotonic()
                answer = http.put(f"{self.base}/Patient/{rid}", json={"resourceType": "Patient", "id": rid})
                took = time.monotonic() - sent
                self.answers.append((sent, answer.status_code, took, answer.headers.get("retry-after", "")))
                if answer.status_code in (200, 201):
                    self.acknowledged[rid] = answer.json()["meta"]["versionId"]
                else:
                    assert answer.json()["resourceType"] == "OperationOutcome"
                    time.sleep(0.05)

    def wait_for(self, predicate: str, count: int, within: float) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            statuses = [a[1] for a in self.answers]
            if (predicate == "ok" and sum(s in (200, 201) for s in statuses) >= count) or (
                    predicate == "503" and statuses.count(503) >= count):
                return
            time.sleep(0.05)
        raise AssertionError(f"no {count} answers {predicate} within {within} s: {self.answers[-5:]}")


def _kill_postmaster(server: Served) -> float:
    pid = server.postmaster()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    return time.monotonic()


def test_killed_database_gives_quick_503s_then_recovers_without_losing_acknowledged_writes() -> None:
    with served() as server:
        load = WriteLoad(server.base)
        load.thread.start()
        load.wait_for("ok", 20, within=30)
        killed_at = _kill_postmaster(server)
        load.wait_for("503", 1, within=10)  # the supervisor may have it back within a second
        with httpx.Client(timeout=10) as http:  # while it is down: refused at once, readiness says so
            health = http.get(f"{server.root}/health")
        load.wait_for("ok", len(load.acknowledged) + 10, within=40)  # back, without a restart
        load.stopping.set()
        load.thread.join(timeout=45)
        answers = list(load.answers)
        after = [a for a in answers if a[0] >= killed_at]
        statuses = {a[1] for a in answers}
        assert statuses <= {200, 201, 503}, statuses  # never a 500
        refused = [a for a in after if a[1] == 503]
        assert refused and all(a[3] == "2" for a in refused)  # Retry-After: 2
        # The first refusals may wait for a connection the pool is replacing; then at once.
        assert max(a[2] for a in refused) < 5.5, refused
        assert sorted(a[2] for a in refused)[len(refused) // 2] < 0.5, refused
        assert health.status_code in (200, 503)
        if health.status_code == 503:
            assert health.headers["retry-after"] == "2"
            assert health.json()["issue"][0]["code"] == "no-store"
        assert server.process.poll() is None  # the same server process throughout
        with httpx.Client(timeout=10, headers=FHIR_JSON) as http:
            for rid, version in load.acknowledged.items():
                read = http.get(f"{server.base}/Patient/{rid}")
                assert read.status_code == 200, (rid, read.text)
                assert read.json()["meta"]["versionId"] == version
        assert "runs again" in server.log.read_text()  # the supervisor started PostgreSQL again


def _admin_url(server: Served) -> str:
    return f"postgresql://postgres:@/postgres?host={server.data_dir}"


def _terminate_commits_while(admin: psycopg.Connection[tuple[object, ...]], writer: threading.Thread,
                             within: float = 20) -> int:
    """Terminate every backend whose COMMIT waits for the standby until ``writer`` is done (the
    audit sealer's commits wait too); how many were terminated."""
    terminated = 0
    deadline = time.monotonic() + within
    while writer.is_alive() and time.monotonic() < deadline:
        rows = admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                             " WHERE datname = 'fhir' AND wait_event = 'SyncRep'").fetchall()
        terminated += len(rows)
        writer.join(timeout=0.1)
    return terminated


def test_a_commit_whose_answer_is_lost_is_reported_as_the_success_it_was() -> None:
    """A synchronous standby that never answers holds COMMIT after it is durable locally; the
    backend is then terminated, so the server's connection drops during COMMIT although the
    write committed. Before: 500 for a write that happened. Now: the server asks
    pg_xact_status on a fresh connection and answers 200/201, or 503 "outcome unknown" when
    it cannot ask."""
    with served() as server, psycopg.connect(_admin_url(server), autocommit=True) as admin:
        admin.execute("SET synchronous_commit = local")  # this session's own commits do not wait
        admin.execute("ALTER SYSTEM SET synchronous_standby_names = 'nobody'")
        admin.execute("SELECT pg_reload_conf()")
        time.sleep(0.5)
        try:
            outcome: dict[str, httpx.Response] = {}

            def write(path: str, method: str, rid: str) -> None:
                body = {"resourceType": "Patient", "id": rid, "active": True} if method == "PUT" else {
                    "resourceType": "Patient", "identifier": [{"system": "urn:t", "value": rid}]}
                outcome[rid] = httpx.request(method, f"{server.base}/{path}", json=body, headers=FHIR_JSON,
                                             timeout=30)

            for path, method, rid in (("Patient/lost-put", "PUT", "lost-put"), ("Patient", "POST", "lost-post")):
                writer = threading.Thread(target=write, args=(path, method, rid))
                writer.start()
                assert _terminate_commits_while(admin, writer) >= 1
                assert outcome[rid].status_code == 201, (rid, outcome[rid].text)
            # Unknown: the postmaster is stopped (SIGSTOP) while the commit's backend is terminated,
            # so no connection can ask within the server's 5 s.
            writer = threading.Thread(target=write, args=("Patient/lost-unknown", "PUT", "lost-unknown"))
            writer.start()
            postmaster = server.postmaster()
            assert postmaster is not None
            while admin.execute("SELECT 1 FROM pg_stat_activity WHERE wait_event = 'SyncRep'").fetchone() is None:
                time.sleep(0.05)
            os.kill(postmaster, signal.SIGSTOP)
            try:
                assert _terminate_commits_while(admin, writer) >= 1
            finally:
                os.kill(postmaster, signal.SIGCONT)
            unknown = outcome["lost-unknown"]
            assert unknown.status_code == 503 and unknown.headers["retry-after"] == "2"
            assert unknown.json()["issue"][0]["code"] == "transient"
            assert "could not be asked whether it was" in unknown.json()["issue"][0]["diagnostics"]
        finally:
            admin.execute("ALTER SYSTEM RESET synchronous_standby_names")
            admin.execute("SELECT pg_reload_conf()")
        with httpx.Client(timeout=10, headers=FHIR_JSON) as http:
            deadline = time.monotonic() + 10
            while (later := http.get(f"{server.base}/Patient/lost-unknown")).status_code == 503:
                assert time.monotonic() < deadline
                time.sleep(0.1)
            assert later.status_code == 200  # it had committed: "unknown" was right not to say "failed"
            put = http.get(f"{server.base}/Patient/lost-put")
            assert put.status_code == 200 and put.json()["meta"]["versionId"] == "1"
            created = outcome["lost-post"].json()
            again = http.get(f"{server.base}/Patient/{created['id']}")
            assert again.status_code == 200
            assert again.json()["identifier"] == [{"system": "urn:t", "value": "lost-post"}]
            found = http.get(f"{server.base}/Patient", params={"identifier": "urn:t|lost-post"}).json()
            assert found["total"] == 1  # created once: the lost answer was not replayed as a second create
        log = server.log.read_text()
        assert "COMMIT of transaction" in log and "which committed" in log  # the PUT
        assert "end of a statement, which committed" in log  # the one-statement create
