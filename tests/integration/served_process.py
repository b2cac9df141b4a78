"""``fhir-server serve`` as its users run it: a subprocess with its own embedded PostgreSQL in a
temporary data directory, on a free port (for tests that kill the database or the server)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from fhir_server.embedded import postmaster_pid

from ..conftest import free_port


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    base: str  # the FHIR base URL
    root: str  # scheme://host:port
    data_dir: Path
    log: Path

    def postmaster(self) -> int | None:
        return postmaster_pid(self.data_dir)

    def postgres_processes(self) -> list[str]:
        """Every process running from this data directory (the postmaster and its children)."""
        found = subprocess.run(["pgrep", "-af", f"-D {self.data_dir}"], capture_output=True, text=True)
        return [line for line in found.stdout.splitlines() if "pgrep" not in line]

    def stop(self, sig: int = signal.SIGTERM, within: float = 20.0) -> float:
        """Send ``sig``; the seconds until the process exited."""
        started = time.monotonic()
        self.process.send_signal(sig)
        self.process.wait(timeout=within)
        return time.monotonic() - started


def new_parent() -> Path:
    """A short path (the server's unix socket lives in the data directory: 108-byte limit) that
    pgserver's own system user can enter when the tests run as root."""
    parent = Path(tempfile.mkdtemp(prefix="fhirsv-", dir="/tmp"))
    parent.chmod(0o755)
    return parent


@contextmanager
def served(parent: Path | None = None, env: dict[str, str] | None = None) -> Iterator[Served]:
    """The server in ``parent`` (default: a new directory, removed afterwards)."""
    owned = parent is None
    parent = parent or new_parent()
    data_dir = parent / "pg"
    port = free_port()
    log = parent / f"serve-{port}.log"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FHIR_")}
    environment.update(env or {})
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "fhir_server.cli", "serve", "--auth", "off", "--data-dir", str(data_dir),
             "--port", str(port)], stdout=out, stderr=subprocess.STDOUT, env=environment)
    root = f"http://127.0.0.1:{port}"
    handle = Served(process, f"{root}/fhir", root, data_dir, log)
    try:
        _wait_until_ready(handle)
        yield handle
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        pid = postmaster_pid(data_dir)
        if pid is not None:  # never leave a database behind, whatever the test found
            os.kill(pid, signal.SIGKILL)
        if owned:
            shutil.rmtree(parent, ignore_errors=True)


def _wait_until_ready(handle: Served, within: float = 90.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if handle.process.poll() is not None:
            raise RuntimeError(f"fhir-server serve exited: {handle.log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{handle.root}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("fhir-server serve did not become ready")
