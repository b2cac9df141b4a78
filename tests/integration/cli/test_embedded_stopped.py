"""A command other than serve that starts the embedded PostgreSQL stops it when it ends
(a regression guard: pgserver stops it at exit once no other live process is listed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from fhir_server.embedded import postmaster_pid

CLI = str(Path(sys.executable).parent / "fhir-server")


def test_a_command_leaves_no_embedded_postgresql_running(tmp_path: Path) -> None:
    data = tmp_path / "pg"
    done = subprocess.run([CLI, "user", "list", "--data-dir", str(data)], capture_output=True, text=True,
                          timeout=180, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (data / "PG_VERSION").exists()  # it did start one
    assert postmaster_pid(data) is None
