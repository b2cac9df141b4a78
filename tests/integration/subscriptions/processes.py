"""``fhir-server serve`` subprocesses sharing one test database (for several processes and kill -9)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from ...conftest import free_port

FAST = {"FHIR_SUBSCRIPTION_POLL": "0.2", "FHIR_SUBSCRIPTION_RETRY_BASE": "0.2", "FHIR_SUBSCRIPTION_RETRY_MAX": "0.4",
        "FHIR_SUBSCRIPTION_TIMEOUT": "10"}


@contextmanager
def serve(database_url: str, log: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FHIR_")}
    env.update(FAST, FHIR_DATABASE_URL=database_url, FHIR_LOG_LEVEL="warning")
    with log.open("ab") as out:
        process = subprocess.Popen([sys.executable, "-m", "fhir_server.cli", "serve", "--auth", "off",
                                    "--port", str(port)], stdout=out, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}/fhir"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"server did not start: {log.read_text()[-2000:]}")
        time.sleep(0.1)
    try:
        yield process, base
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
