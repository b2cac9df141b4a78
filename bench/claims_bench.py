"""Claims benchmark (issue 16): Claim/$submit throughput and latency, adjudicated here, and no
second Claim when every submission is sent twice.

Each submission is a PAS-shaped Bundle in the shape of a Synthea claim (Claim + Patient + Coverage
+ Encounter, 1-4 items of Synthea's codes; generated here so the run needs no data set), to the
payer this server adjudicates (``FHIR_CLAIMS_ADJUDICATED_INSURERS=payer-bench``), from 16 concurrent
clients against ``fhir-server serve --workers 2``. ``--duplicates`` of them are submitted a second
time concurrently with the first; afterwards SQL counts the stored Claims per identifier.
Targets (the issue's): >= 200 claims/s, p95 < 100 ms. Figures go to bench/README.md between the
claims-bench markers.

    .venv/bin/python bench/claims_bench.py --claims 500
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "bench" / "README.md"
BEGIN, END = "<!-- claims-bench:begin -->", "<!-- claims-bench:end -->"
SNOMED = "http://snomed.info/sct"
CODES = [("185349003", 120.0), ("410620009", 95.0), ("162673000", 80.0), ("430193006", 40.0), ("710824005", 55.0)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _database(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    import pgserver

    server = pgserver.get_server(Path(tempfile.mkdtemp(prefix="claimsbench-", dir="/tmp")), cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


@contextmanager
def _server(url: str, workers: int) -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "FHIR_LOG_LEVEL": "warning", "FHIR_CLAIMS_ADJUDICATED_INSURERS": "payer-bench"}
    proc = subprocess.Popen([sys.executable, "-m", "fhir_server.cli", "serve", "--database-url", url, "--auth", "off",
                             "--port", str(port), "--workers", str(workers)], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}/fhir"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/metadata", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("server did not start")
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _bundle(n: int, rng: random.Random) -> dict[str, Any]:
    pat, cov, enc = (f"urn:uuid:{uuid.uuid4()}" for _ in range(3))
    items = [{"sequence": i + 1, "productOrService": {"coding": [{"system": SNOMED, "code": code}]},
              "servicedDate": "2031-03-04", "encounter": [{"reference": enc}], "quantity": {"value": 1},
              "unitPrice": {"value": price, "currency": "USD"}}
             for i, (code, price) in enumerate(rng.sample(CODES, rng.randint(1, 4)))]
    claim = {"resourceType": "Claim", "identifier": [{"system": "urn:bench:claims", "value": f"bench-{n}"}],
             "status": "active", "use": "claim", "created": "2031-03-04",
             "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type",
                                  "code": "professional"}]},
             "patient": {"reference": pat}, "insurer": {"reference": "Organization/payer-bench"},
             "provider": {"reference": "Organization/payer-bench"},
             "priority": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/processpriority",
                                      "code": "normal"}]},
             "insurance": [{"sequence": 1, "focal": True, "coverage": {"reference": cov}}], "item": items}
    return {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": claim},
        {"fullUrl": pat, "resource": {"resourceType": "Patient", "name": [{"family": f"Bench{n}"}]}},
        {"fullUrl": cov, "resource": {"resourceType": "Coverage", "status": "active", "beneficiary": {"reference": pat},
                                      "payor": [{"reference": "Organization/payer-bench"}],
                                      "period": {"start": "2031-01-01"}, "costToBeneficiary": [
                                          {"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                                                          "coverage-copay-type", "code": "copay"}]},
                                           "valueMoney": {"value": 20, "currency": "USD"}}]}},
        {"fullUrl": enc, "resource": {"resourceType": "Encounter", "status": "finished",
                                      "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                                "code": "AMB"}, "subject": {"reference": pat}}}]}


async def _submit_all(base: str, bundles: list[dict[str, Any]], clients: int) -> tuple[list[float], int, float]:
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for bundle in bundles:
        queue.put_nowait(bundle)
    latencies: list[float] = []
    failures = 0

    async def worker(http: httpx.AsyncClient) -> None:
        nonlocal failures
        while not queue.empty():
            bundle = queue.get_nowait()
            start = time.perf_counter()
            response = await http.post("/Claim/$submit", json=bundle)
            latencies.append((time.perf_counter() - start) * 1000)
            if response.status_code != 200:
                failures += 1

    began = time.perf_counter()
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        await asyncio.gather(*(worker(http) for _ in range(clients)))
    return latencies, failures, time.perf_counter() - began


def _claims_per_identifier(url: str) -> tuple[int, int]:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*), count(DISTINCT content->'identifier'->0->>'value') FROM resource"
                           " WHERE resource_type = 'Claim' AND version_id > 0 AND NOT deleted").fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _write_readme(lines: list[str]) -> None:
    block = "\n".join([BEGIN, *lines, END])
    text = README.read_text()
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + block + text[text.index(END) + len(END):]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    README.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=5000)
    parser.add_argument("--duplicates", type=float, default=0.1, help="share of claims submitted twice at once")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", help="a scratch database (default: an embedded PostgreSQL)")
    args = parser.parse_args()
    rng = random.Random(16)
    bundles = [_bundle(n, rng) for n in range(args.claims)]
    twice = bundles + rng.sample(bundles, int(args.claims * args.duplicates))
    rng.shuffle(twice)
    with _database(args.database_url) as url, _server(url, args.workers) as base:
        httpx.put(f"{base}/Organization/payer-bench", json={"resourceType": "Organization", "id": "payer-bench",
                                                            "name": "Bench Health Plan"}).raise_for_status()
        latencies, failures, elapsed = asyncio.run(_submit_all(base, twice, args.clients))
        stored, distinct = _claims_per_identifier(url)
    lines = [
        "## Claims: $submit (issue 16)", "",
        f"`bench/claims_bench.py --claims {args.claims}` ({len(twice)} submissions of PAS-shaped Bundles, "
        f"{len(twice) - args.claims} of them a second copy sent concurrently, `--workers {args.workers}`, "
        f"{args.clients} clients, run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC).", "",
        "| measure | result | target |", "|---|---|---|",
        f"| submissions/s ({failures} not 200, {elapsed:.1f} s) | {len(twice) / elapsed:.0f} | >= 200 |",
        f"| latency p50 / p95 | {statistics.median(latencies):.1f} / {_p(latencies, 0.95):.1f} ms | p95 < 100 ms |",
        f"| Claims stored / distinct identifiers | {stored} / {distinct} | equal ({args.claims}) |",
    ]
    _write_readme(lines)
    print("\n".join(lines))
    return 0 if stored == distinct == args.claims and failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
