"""The embedded PostgreSQL starts with settings for a write-heavy FHIR server, on its first start.

initdb's defaults (128 MB of shared buffers, a checkpoint every 1 GB of WAL) halve bulk-ingest
speed at a few hundred thousand resources (bench/README.md); the embedded server raises them
(the WAL between checkpoints to an eighth of the free disk, 1-16 GB).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SCRIPT = """
import json, sys
from pathlib import Path
import psycopg
from fhir_server.embedded import start_embedded
url = start_embedded(Path(sys.argv[1]), "probe")
with psycopg.connect(url) as conn:
    rows = conn.execute("SELECT name, setting, unit FROM pg_settings WHERE name IN"
                        " ('shared_buffers', 'max_wal_size', 'checkpoint_timeout')").fetchall()
print(json.dumps({name: [setting, unit] for name, setting, unit in rows}))
"""


def _settings_in_new_process(data_dir: Path) -> dict[str, list[str]]:
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(data_dir)], capture_output=True, text=True,
                          timeout=120, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _wal_gb(path: Path) -> int:
    """An eighth of the free disk, in whole GB, between 1 and 16."""
    return max(1, min(16, shutil.disk_usage(path).free // 8 // 1024**3))


def test_first_start_applies_the_settings_and_later_starts_keep_them() -> None:
    ram_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024)
    buffers_mb = min(2048, max(128, ram_mb // 4))
    parent = Path(tempfile.mkdtemp(prefix="fhiremb-", dir="/tmp"))
    data_dir = parent / "pg"
    wal_before = _wal_gb(parent)
    try:
        first = _settings_in_new_process(data_dir)  # a new directory: restarted at once
        second = _settings_in_new_process(data_dir)  # the next start reads them from its config
        # the free disk may cross a GB boundary while the directory is created
        wal_sizes = {wal_before, _wal_gb(parent)}
        for settings in (first, second):
            wal = settings.pop("max_wal_size")
            assert wal[1] == "MB" and int(wal[0]) in {gb * 1024 for gb in wal_sizes}
            assert settings == {"shared_buffers": [str(buffers_mb * 1024 // 8), "8kB"],  # in 8 kB pages
                                "checkpoint_timeout": ["900", "s"]}
        stopped = subprocess.run(["pgrep", "-f", str(data_dir)], capture_output=True, text=True)
        assert stopped.stdout.strip() == ""  # the last process using it stopped it on exit
    finally:
        shutil.rmtree(parent, ignore_errors=True)


RESTART_SCRIPT = """
import sys
from pathlib import Path
import psycopg
from fhir_server import embedded
data_dir = Path(sys.argv[1])
for attempt in (1, 2):
    url = embedded.start_embedded(data_dir, "probe")
    with psycopg.connect(url) as conn:
        print(attempt, conn.execute("SELECT 1").fetchone()[0], flush=True)
    embedded._stop_postmaster(data_dir)  # what Supervisor.stop does when the server stops
    print("stopped", embedded.postmaster_pid(data_dir), flush=True)
"""


def test_a_process_starts_the_server_again_after_it_stopped_it() -> None:
    """pgserver hands the same process its old handle again; it named the stopped postmaster,
    and the second start was refused (connection to the old socket) before the handle was
    started afresh."""
    parent = Path(tempfile.mkdtemp(prefix="fhiremb-", dir="/tmp"))
    try:
        done = subprocess.run([sys.executable, "-c", RESTART_SCRIPT, str(parent / "pg")], capture_output=True,
                              text=True, timeout=180)
        lines = [line for line in done.stdout.splitlines() if line]
        assert lines == ["1 1", "stopped None", "2 1", "stopped None"], done.stderr[-2000:]
    finally:
        shutil.rmtree(parent, ignore_errors=True)
