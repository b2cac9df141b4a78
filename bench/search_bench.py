"""Search benchmark (issue 3): p50/p95 per query family at ~300,000 resources, plus plan checks.

What is measured, and why:

- Data: the Synthea bundles in ``../shared/data/synthea-r4-100`` (~28,000 resources) copied
  ``--copies`` times (ids suffixed per copy, ``urn:uuid`` references rewritten to ``Type/id``),
  stored with SQL and indexed by the server's own indexer (``fhir_server.search.indexer``) —
  the HTTP create path has its own benchmark (core_bench.py); here only search is timed.
- Queries go through the real server (``fhir-server serve`` in its own process) over HTTP, one
  connection, sequentially; each family runs ``--runs`` times with parameters drawn from the
  data (different patients, names, codes), after one warm-up pass. The floor is a read by id
  (``GET /fhir/Patient/{id}``) measured the same way: the cost of HTTP + FHIR rendering for one
  resource, which no search can beat.
- Plans: every family's statement is EXPLAINed on the loaded data; a ``Seq Scan`` on
  ``resource`` or a ``search_*`` table is reported as a failure.

Target: p95 < 50 ms per family. Run: ``.venv/bin/python bench/search_bench.py [--copies 11]
[--runs 40] [--database-url URL]`` (a URL receives the data: give it a scratch database).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "synthea-r4-100"

from fhir_server.db import Database, migrate  # noqa: E402
from fhir_server.search import indexer  # noqa: E402
from fhir_server.search.criteria import Context  # noqa: E402
from fhir_server.search.parse import parse_request  # noqa: E402
from fhir_server.search.query import build_scope, page_statement  # noqa: E402
from fhir_server.search.sort import sort_columns  # noqa: E402

INSERT = ("INSERT INTO resource (resource_type, id, version_id, txid, last_updated, content)"
          " VALUES (%s, %s, 1, nextval('fhir_txid_seq'), now(), %s::jsonb) ON CONFLICT DO NOTHING")


def _rewrite(value: Any, mapping: dict[str, str]) -> Any:
    if isinstance(value, dict):
        out = {k: _rewrite(v, mapping) for k, v in value.items()}
        if isinstance(out.get("reference"), str) and out["reference"] in mapping:
            out["reference"] = mapping[out["reference"]]
        return out
    if isinstance(value, list):
        return [_rewrite(v, mapping) for v in value]
    return value


def bundle_copy(bundle: dict[str, Any], k: int) -> list[dict[str, Any]]:
    mapping = {e["fullUrl"]: f"{e['resource']['resourceType']}/{e['resource']['id']}-{k}"
               for e in bundle["entry"] if "fullUrl" in e}
    out = []
    for entry in bundle["entry"]:
        resource = _rewrite(entry["resource"], mapping)
        resource["id"] = f"{resource['id']}-{k}"
        for ident in resource.get("identifier") or ():
            if isinstance(ident, dict) and "value" in ident:
                ident["value"] = f"{ident['value']}-{k}"
        out.append(resource)
    return out


async def _load_bundle(db: Database, resources: list[dict[str, Any]]) -> None:
    async with db.transaction() as conn:
        async with conn.cursor() as cur:
            await cur.executemany(INSERT, [(r["resourceType"], r["id"], orjson.dumps(r).decode()) for r in resources])
        for r in resources:
            await indexer.index_resource(conn, r["resourceType"], r["id"], r)


async def load(url: str, copies: int) -> int:
    bundles = [orjson.loads(gzip.open(p).read()) for p in sorted(DATA.glob("*.json.gz"))]
    db = Database(url, 1, 4)
    await db.open()
    total, started = 0, time.monotonic()
    try:
        for k in range(copies):
            work = [bundle_copy(b, k) for b in bundles]
            for i in range(0, len(work), 3):
                await asyncio.gather(*(_load_bundle(db, w) for w in work[i:i + 3]))
            total += sum(len(w) for w in work)
            print(f"  copy {k + 1}/{copies}: {total} resources, {total / (time.monotonic() - started):.0f}/s",
                  flush=True)
        async with db.connection() as conn:
            # What autovacuum does to a table after a bulk load: statistics and the visibility
            # map (without which no index-only scan is possible).
            await conn.execute("VACUUM ANALYZE")
    finally:
        await db.close()
    return total


async def samples(url: str) -> dict[str, list[Any]]:
    db = Database(url, 1, 2)
    await db.open()
    try:
        async with db.connection() as conn:
            async def q(text: str) -> list[Any]:
                return [r for r in await (await conn.execute(text)).fetchall()]
            return {
                "patients": await q("SELECT id, content->'name'->0->>'family', content->>'birthDate',"
                                    " content->'identifier'->1->>'system', content->'identifier'->1->>'value'"
                                    " FROM resource WHERE resource_type = 'Patient' ORDER BY random() LIMIT 200"),
                "codes": await q("SELECT code FROM search_token WHERE resource_type = 'Observation' AND param = 'code'"
                                 " AND system = 'http://loinc.org' GROUP BY code HAVING count(*) > 50 LIMIT 40"),
            }
    finally:
        await db.close()


def families(s: dict[str, list[Any]], rnd: random.Random) -> dict[str, Any]:
    def pat() -> tuple[Any, ...]:
        return rnd.choice(s["patients"])

    def code() -> str:
        return rnd.choice(s["codes"])[0]

    def month() -> tuple[str, str]:
        y, m = rnd.randint(2012, 2019), rnd.randint(1, 12)
        return f"{y}-{m:02d}-01", f"{y + (m == 12)}-{m % 12 + 1:02d}-01"

    return {
        "floor: read Patient by id": lambda: f"/Patient/{pat()[0]}",
        "Patient?name": lambda: f"/Patient?name={pat()[1]}",
        "Patient?identifier": lambda: "/Patient?identifier={}|{}".format(*pat()[3:5]),
        "Patient?birthdate": lambda: f"/Patient?birthdate={pat()[2]}",
        "Observation?patient&code": lambda: f"/Observation?patient={pat()[0]}&code=http://loinc.org|{code()}",
        "Observation?code&date range": lambda: "/Observation?code=http://loinc.org|{}&date=ge{}&date=lt{}".format(
            code(), *month()),
        "Observation?category&date": lambda: "/Observation?category=vital-signs&date=ge{}&date=lt{}".format(*month()),
        "Observation?subject:Patient.name": lambda: f"/Observation?subject:Patient.name={pat()[1]}",
        "Patient?_has:Observation": lambda: f"/Patient?_has:Observation:patient:code={code()}&name={pat()[1]}",
        "Observation?_include": lambda: f"/Observation?patient={pat()[0]}&_include=Observation:subject"
                                        "&_include=Observation:encounter",
        "Patient?_revinclude": lambda: f"/Patient?_id={pat()[0]}&_revinclude=Encounter:subject",
        "Observation?patient&_sort=-date": lambda: f"/Observation?patient={pat()[0]}&_sort=-date",
        "Observation?code&_total=accurate": lambda: f"/Observation?code=http://loinc.org|{code()}&_total=accurate",
    }


def seq_scans(plan: Any) -> list[str]:
    found = []
    if isinstance(plan, dict):
        if plan.get("Node Type") == "Seq Scan" and (plan.get("Relation Name") == "resource"
                                                    or str(plan.get("Relation Name", "")).startswith("search_")):
            found.append(plan["Relation Name"])
        for value in plan.values():
            found += seq_scans(value)
    elif isinstance(plan, list):
        for value in plan:
            found += seq_scans(value)
    return found


async def check_plans(url: str, queries: dict[str, str]) -> dict[str, list[str]]:
    db = Database(url, 1, 2)
    await db.open()
    out = {}
    try:
        async with db.connection() as conn:
            for name, path in queries.items():
                parts = urlsplit(path)
                rtype = parts.path.strip("/").split("/")[0]
                if "?" not in path:
                    continue
                req = parse_request(parse_qsl(parts.query))
                scope = build_scope([rtype], req.params, Context(None, datetime.now(UTC)))
                statement = page_statement(scope, sort_columns(rtype, req.sort), None, 20)
                cur = await conn.execute(b"EXPLAIN (FORMAT JSON) " + statement.sql.as_bytes(conn), statement.params)
                out[name] = seq_scans((await cur.fetchone())[0])  # type: ignore[index]
    finally:
        await db.close()
    return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(url: str, port: int) -> subprocess.Popen[bytes]:
    # SEARCH_BENCH_PRELOAD names a module imported first (local debugging shims only).
    preload = os.environ.get("SEARCH_BENCH_PRELOAD")
    code = (f"import {preload}; " if preload else "") + "from fhir_server.cli import main; import sys; sys.exit(main())"
    argv = [sys.executable, "-c", code, "serve", "--database-url", url, "--auth", "off", "--port", str(port)]
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/fhir/metadata", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("server did not start: " + (proc.stderr.read().decode() if proc.stderr else ""))


def measure(base: str, fams: dict[str, Any], runs: int) -> dict[str, tuple[float, float, int]]:
    results = {}
    with httpx.Client(base_url=base, timeout=60) as client:
        for name, make in fams.items():
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
                sizes.append(len(body.get("entry", [])) if body.get("resourceType") == "Bundle" else 1)
            times.sort()
            p95 = times[min(len(times) - 1, int(round(0.95 * len(times))) - 1)]
            results[name] = (statistics.median(times), p95, int(statistics.median(sizes)))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--copies", type=int, default=11)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    server = None
    url = args.database_url
    if url is None:
        import pgserver

        server = pgserver.get_server(Path(tempfile.mkdtemp(prefix="sbench-", dir="/tmp")), cleanup_mode="delete")
        url = server.get_uri()
    migrate(url)
    print(f"loading {args.copies} copies of {DATA.name} ...", flush=True)
    total = asyncio.run(load(url, args.copies))
    rnd = random.Random(7)
    fams = families(asyncio.run(samples(url)), rnd)
    port = free_port()
    proc = start_server(url, port)
    try:
        results = measure(f"http://127.0.0.1:{port}/fhir", fams, args.runs)
        plans = asyncio.run(check_plans(url, {name: make() for name, make in fams.items()}))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(f"\n{total} resources; {args.runs} sequential requests per family; times in ms")
    print("| family | p50 | p95 | entries (median) | seq scans | p95 < 50 ms |\n|---|---|---|---|---|---|")
    for name, (p50, p95, n) in results.items():
        scans = ", ".join(plans.get(name, [])) or "none"
        print(f"| {name} | {p50:.1f} | {p95:.1f} | {n} | {scans} | {'yes' if p95 < 50 else 'NO'} |")
    if server is not None:
        server.cleanup()


if __name__ == "__main__":
    main()
