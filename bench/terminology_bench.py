"""Terminology benchmark (issue 13): ``$expand`` of a 1,000-code value set with a text filter,
and token ``:in`` search over a 500-code value set, through the real server over HTTP.

What is measured, and why:

- Terminology: a generated CodeSystem of 1,000 codes (a tree: 10 groups of 99 children) and two
  ValueSets over it, placed in a temporary ``terminology/`` folder (``FHIR_TERMINOLOGY_DIR``) as
  a hospital would: ``bench-1000`` (the whole system) and ``bench-500`` (500 enumerated codes).
- ``$expand``: ``GET /fhir/ValueSet/$expand?url=...bench-1000&filter=<words>`` with a different
  pair of words per request (10 to 100 codes match). Target p95 < 50 ms.
- ``:in``: ``--resources`` Observations (default 300,000) stored with SQL and indexed by the
  server's own indexer, each coded with one of 2,000 codes (the 1,000 of the system and 1,000
  others); ``GET /fhir/Observation?code:in=...bench-500`` (first page of 20) for a fixed value
  set, and with ``&subject=Patient/p<n>`` for a changing patient. Target p95 < 100 ms.
- Floor: a read by id (``GET /fhir/Observation/o<n>``) measured the
  same way: HTTP + rendering of one resource, which neither operation can beat.

Run: ``.venv/bin/python bench/terminology_bench.py [--resources 300000] [--runs 40]
[--database-url URL]`` (a URL receives the data: give it a scratch database).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.search_bench import free_port  # noqa: E402
from fhir_server.db import Database, migrate  # noqa: E402
from fhir_server.search import indexer  # noqa: E402

SYSTEM = "http://example.org/bench/CodeSystem/generated"
VS = "http://example.org/bench/ValueSet/"
WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"]
INSERT = ("INSERT INTO resource (resource_type, id, version_id, txid, last_updated, content)"
          " VALUES (%s, %s, 1, nextval('fhir_txid_seq'), now(), %s::jsonb) ON CONFLICT DO NOTHING")


def _display(i: int) -> str:
    return f"{WORDS[i % 10]} {WORDS[(i // 10) % 10]} concept {i}"


def write_terminology(folder: Path) -> None:
    groups = [{"code": f"G{g}", "display": f"group {g}",
               "concept": [{"code": f"C{g * 100 + k}", "display": _display(g * 100 + k)} for k in range(1, 100)]}
              for g in range(10)]
    code_system = {"resourceType": "CodeSystem", "url": SYSTEM, "status": "active", "content": "complete",
                   "name": "Generated", "concept": groups}
    whole = {"resourceType": "ValueSet", "url": VS + "bench-1000", "status": "active",
             "compose": {"include": [{"system": SYSTEM}]}}
    five_hundred = {"resourceType": "ValueSet", "url": VS + "bench-500", "status": "active",
                    "compose": {"include": [{"system": SYSTEM, "concept": [
                        {"code": f"C{g * 100 + k}"} for g in range(10) for k in range(1, 51)]}]}}
    (folder / "bench.json").write_bytes(orjson.dumps([code_system, whole, five_hundred]))


def _observation(i: int) -> dict[str, Any]:
    n = i % 2000
    code = f"C{(n // 99) * 100 + n % 99 + 1}" if n < 990 else f"X{n}"
    return {"resourceType": "Observation", "id": f"o{i}", "status": "final",
            "subject": {"reference": f"Patient/p{i % 1000}"}, "code": {"coding": [{"system": SYSTEM, "code": code}]}}


async def load(url: str, count: int) -> None:
    db = Database(url, 1, 4)
    await db.open()
    started = time.monotonic()
    try:
        for first in range(0, count, 2000):
            batch = [_observation(i) for i in range(first, min(count, first + 2000))]
            async with db.transaction() as conn:
                async with conn.cursor() as cur:
                    await cur.executemany(INSERT, [("Observation", r["id"], orjson.dumps(r).decode()) for r in batch])
                for r in batch:
                    await indexer.index_resource(conn, "Observation", r["id"], r)
            if (first // 2000) % 25 == 0:
                done = first + len(batch)
                print(f"  {done} Observations, {done / (time.monotonic() - started):.0f}/s", flush=True)
        async with db.connection() as conn:
            await conn.execute("VACUUM ANALYZE")
    finally:
        await db.close()


def start_server(url: str, port: int, folder: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "FHIR_TERMINOLOGY_DIR": str(folder)}
    argv = [sys.executable, "-m", "fhir_server.cli", "serve", "--database-url", url, "--auth", "off", "--port",
            str(port)]
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/fhir/metadata", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("server did not start: " + (proc.stderr.read().decode() if proc.stderr else ""))


def measure(base: str, families: dict[str, Callable[[], str]], runs: int) -> dict[str, tuple[float, float, int]]:
    results = {}
    with httpx.Client(base_url=base, timeout=60) as client:
        for name, make in families.items():
            for _ in range(3):
                client.get(make())  # warm-up
            times, sizes = [], []
            for _ in range(runs):
                path = make()
                started = time.perf_counter()
                response = client.get(path)
                times.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    raise SystemExit(f"{path}: {response.status_code} {response.text[:300]}")
                body = response.json()
                sizes.append(len(body.get("entry", [])) if body["resourceType"] == "Bundle" else
                             len(body.get("expansion", {}).get("contains", [])) if body["resourceType"] == "ValueSet"
                             else 1)
            times.sort()
            p95 = times[min(len(times) - 1, int(round(0.95 * len(times))) - 1)]
            results[name] = (statistics.median(times), p95, int(statistics.median(sizes)))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--resources", type=int, default=300_000)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    server = None
    url = args.database_url
    if url is None:
        import pgserver

        server = pgserver.get_server(Path(tempfile.mkdtemp(prefix="tbench-", dir="/tmp")), cleanup_mode="delete")
        url = server.get_uri()
    migrate(url)
    folder = Path(tempfile.mkdtemp(prefix="tbench-terminology-"))
    write_terminology(folder)
    print(f"loading {args.resources} Observations ...", flush=True)
    asyncio.run(load(url, args.resources))
    rnd = random.Random(13)
    families: dict[str, Callable[[], str]] = {
        "floor: read Observation by id": lambda: f"/Observation/o{rnd.randrange(args.resources)}",
        "$expand 1,000 codes + filter": lambda: f"/ValueSet/$expand?url={VS}bench-1000&filter="
                                                f"{rnd.choice(WORDS)}%20{rnd.choice(WORDS)}",
        "Observation?code:in (500 codes)": lambda: f"/Observation?code:in={VS}bench-500",
        "Observation?code:in&subject": lambda: f"/Observation?code:in={VS}bench-500"
                                               f"&subject=Patient/p{rnd.randrange(1000)}",
    }
    port = free_port()
    proc = start_server(url, port, folder)
    try:
        results = measure(f"http://127.0.0.1:{port}/fhir", families, args.runs)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    targets = {"$expand 1,000 codes + filter": 50.0}
    print(f"\n{args.resources} Observations; {args.runs} sequential requests per family; times in ms")
    print("| family | p50 | p95 | items (median) | target p95 | met |\n|---|---|---|---|---|---|")
    for name, (p50, p95, n) in results.items():
        target = targets.get(name, 100.0) if not name.startswith("floor") else None
        met = "" if target is None else ("yes" if p95 < target else "NO")
        print(f"| {name} | {p50:.1f} | {p95:.1f} | {n} | {target or ''} | {met} |")
    if server is not None:
        server.cleanup()


if __name__ == "__main__":
    main()
