"""``fhir-server serve --demo`` as ``make serve`` runs it, in a subprocess on a new embedded
PostgreSQL: short start-up output that says where the API, the data and the demo logins are."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tests.conftest import free_port

SCRIPT = str(Path(sys.executable).parent / "fhir-server")


def _read_until(proc: subprocess.Popen[str], marker: str, timeout: float) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if marker in line:
            return lines
    raise AssertionError("no start-up: " + "\n".join(lines))


def test_serve_demo_prints_a_short_banner_and_answers() -> None:
    parent = Path(tempfile.mkdtemp(prefix="fhirserve-", dir="/tmp"))
    data_dir, port = parent / "pg", free_port()
    proc = subprocess.Popen([SCRIPT, "serve", "--demo", "--port", str(port), "--data-dir", str(data_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = _read_until(proc, "Uvicorn running on", 180)
        root = f"http://127.0.0.1:{port}"
        start = lines.index(f"fhir_server is ready: {root}/")
        assert lines[start:start + 8] == [
            f"fhir_server is ready: {root}/",
            f"  FHIR API      {root}/fhir",
            f"  capabilities  {root}/fhir/metadata",
            f"  hospital app  {root}/app/",
            f"  data          embedded PostgreSQL in {data_dir}",
            f"  authorization on (SMART on FHIR): {root}/fhir/.well-known/smart-configuration",
            "  demo users    dr.demo (Practitioner/demo-practitioner), amy (Patient/demo-patient); "
            "password demo-password",
            "  demo app      client_id demo-app (public, PKCE), redirect http://127.0.0.1:9090/callback"]
        assert [line for line in lines if "pgserver" in line or "initdb" in line] == []
        # uvicorn's four lines, two of the embedded server, the demo data's, the banner; and one per migration
        assert len([line for line in lines if "applied migration" not in line]) <= 15, "\n".join(lines)
        assert httpx.get(root + "/").status_code == 200
        assert httpx.get(root + "/fhir/metadata").status_code == 200
        assert httpx.get(root + "/app/").status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        if proc.stdout:
            proc.stdout.close()
        _stop_embedded(data_dir)
        shutil.rmtree(parent, ignore_errors=True)


def _stop_embedded(data_dir: Path) -> None:
    """Stop the embedded PostgreSQL if the server left it running (its shutdown is not what this tests):
    SIGINT to its postmaster (a fast shutdown), by the pid in its postmaster.pid."""
    pid_file = data_dir / "postmaster.pid"
    if pid_file.exists():
        pid = int(pid_file.read_text().split()[0])
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + 30
        while pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
