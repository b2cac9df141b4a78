"""Core benchmark (issue 2): read-by-id and create against the real server and a floor, in one run.

What is measured, and why:

- ``read``: ``GET /fhir/{type}/{id}`` for ids picked at random from the loaded data (Patients and
  Observations), at ``--connections`` concurrent keep-alive connections. The floor
  (bench/floor_app.py) returns the same stored bytes from the same rows through the same stack
  (uvicorn, FastAPI, psycopg pool) without FHIR logic, so ``real / floor`` is the price of the
  FHIR layer on the read path. Target: >= 80 % of the floor and >= 1,000 requests/s.
- ``create``: ``POST /fhir/Observation`` with Synthea-like Observations (full R4 validation,
  history row, search index). The "create floor" inserts the body as-is into a scratch table.
  Target: >= 500 requests/s.

Both servers run as separate processes, as users run them (``fhir-server serve``; one uvicorn
worker each), against one PostgreSQL (embedded in a temp dir unless ``--database-url`` is given:
the benchmark then writes into that database, so give it a scratch one). Data are loaded through
the real API. Load comes from ``wrk`` (C, one thread by default, so it takes little of the
server's CPU) with the Lua scripts in bench/lua/. Rounds alternate the order real/floor; the
report gives medians over rounds and per-round ratios to the floor, because the machine is noisy.

Run: ``.venv/bin/python bench/core_bench.py [--database-url URL] [--duration 10] [--connections 32]
[--rounds 3]``. Needs ``wrk`` (Debian/Ubuntu: ``apt-get install -y wrk``).
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import copy
import datetime as dt
import gzip
import json
import os
import platform
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
VENV_BIN = Path(sys.executable).parent
SYNTHEA_DIR = REPO.parent / "shared" / "data" / "synthea-r4-100"
LUA_DIR = BENCH_DIR / "lua"
RESULTS_DIR = BENCH_DIR / "results"
OBS_DROP = ("id", "meta", "encounter", "hasMember", "derivedFrom", "basedOn", "partOf", "focus",
            "specimen", "device", "performer")
CREATE_BODIES = 200
LOAD_CONCURRENCY = 16
START_TIMEOUT_S = 120.0


@dataclass
class Result:
    """One wrk run: one workload against one server."""

    workload: str
    server: str
    round_no: int
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int
    cpu_ms_per_req: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


@dataclass
class Server:
    """A server process under test."""

    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


# --- processes -------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_process(name: str, argv: list[str], workdir: Path) -> Server:
    port = free_port()
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([*argv, "--port", str(port)], cwd=workdir, stdout=log,
                                stderr=subprocess.STDOUT)
    return Server(name, port, proc, log_path)


def wait_ready(server: Server, probe: str) -> None:
    """Poll until the server answers HTTP (uvicorn binds only after its lifespan start-up)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            tail = server.log_path.read_text(errors="replace")[-3000:]
            raise SystemExit(f"{server.name} exited with {server.proc.returncode}:\n{tail}")
        try:
            httpx.get(server.url + probe, timeout=2.0)
            return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise SystemExit(f"{server.name} did not answer within {START_TIMEOUT_S:.0f}s; see {server.log_path}")


def stop(server: Server) -> None:
    if server.proc.poll() is None:
        server.proc.terminate()
        try:
            server.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait(timeout=5)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (0 where /proc is unavailable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- data ------------------------------------------------------------------------------------

def synthea_sources(limit_files: int = 100) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """(Patient, its Observations) per Synthea bundle; empty when the shared data set is absent."""
    sources = []
    for path in sorted(SYNTHEA_DIR.glob("*.json.gz"))[:limit_files]:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            bundle = json.load(handle)
        resources = [e["resource"] for e in bundle.get("entry", []) if "resource" in e]
        patients = [r for r in resources if r.get("resourceType") == "Patient"]
        observations = [r for r in resources if r.get("resourceType") == "Observation"]
        if patients and observations:
            sources.append((patients[0], observations))
    return sources


def synthetic_sources() -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Simple stand-ins for when /work/shared is absent: one Patient and a few vital signs."""
    patient = {"resourceType": "Patient", "name": [{"family": "Bench", "given": ["Ada"]}],
               "gender": "female", "birthDate": "1970-01-01"}
    codes = [("8302-2", "Body Height", "cm"), ("29463-7", "Body Weight", "kg"), ("8867-4", "Heart rate", "/min")]
    observations = [{
        "resourceType": "Observation", "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "vital-signs"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": code, "display": text}], "text": text},
        "effectiveDateTime": "2020-01-01T10:00:00+00:00",
        "valueQuantity": {"value": 70 + i, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
    } for i, (code, text, unit) in enumerate(codes)]
    return [(patient, observations)]


def patient_copy(source: dict[str, Any], copy_no: int) -> dict[str, Any]:
    patient = {k: copy.deepcopy(v) for k, v in source.items() if k not in ("id", "meta")}
    for ident in patient.get("identifier", []):
        if copy_no and "value" in ident:
            ident["value"] = f"{ident['value']}-{copy_no}"
    return patient


def observation_for(source: dict[str, Any], patient_id: str) -> dict[str, Any]:
    obs = {k: copy.deepcopy(v) for k, v in source.items() if k not in OBS_DROP}
    obs["subject"] = {"reference": f"Patient/{patient_id}"}
    return obs


# --- loading ---------------------------------------------------------------------------------

async def post_all(base: str, rtype: str, bodies: list[dict[str, Any]]) -> list[str | None]:
    """POST every body to base/rtype with bounded concurrency; the created ids (None on failure)."""
    ids: list[str | None] = [None] * len(bodies)
    failures: list[str] = []
    queue = list(enumerate(bodies))
    headers = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
    async with httpx.AsyncClient(base_url=base, timeout=60.0, headers=headers) as client:
        async def worker() -> None:
            while queue:
                index, body = queue.pop()
                resp = await client.post(f"/fhir/{rtype}", content=json.dumps(body))
                if resp.status_code in (200, 201):
                    ids[index] = resp.json()["id"]
                else:
                    failures.append(f"{resp.status_code} {resp.text[:300]}")
        await asyncio.gather(*(worker() for _ in range(LOAD_CONCURRENCY)))
    if failures:
        print(f"  {len(failures)} of {len(bodies)} {rtype} creates failed; first: {failures[0]}")
    return ids


def load_data(server: Server, n_patients: int, n_obs: int) -> tuple[list[str], list[dict[str, Any]]]:
    """Load Patients then Observations through the API; return ("Type/id" refs, create bodies)."""
    sources = synthea_sources()
    if not sources:
        print(f"  {SYNTHEA_DIR} is absent: loading synthesized resources instead of Synthea")
        sources = synthetic_sources()
    patients = [patient_copy(sources[i % len(sources)][0], i // len(sources)) for i in range(n_patients)]
    started = time.monotonic()
    patient_ids = asyncio.run(post_all(server.url, "Patient", patients))
    live = [(i, pid) for i, pid in enumerate(patient_ids) if pid]
    if not live:
        raise SystemExit("no Patient could be created; see the message above")
    per_patient = max(1, n_obs // len(live))
    observations = []
    for i, pid in live:
        pool = sources[i % len(sources)][1]
        first = (i // len(sources)) * per_patient
        observations += [observation_for(pool[(first + j) % len(pool)], pid) for j in range(per_patient)]
    obs_ids = asyncio.run(post_all(server.url, "Observation", observations[:n_obs]))
    took = time.monotonic() - started
    refs = [f"Patient/{p}" for _, p in live] + [f"Observation/{o}" for o in obs_ids if o]
    print(f"  loaded {len(refs)} resources through the API in {took:.1f}s ({len(refs) / took:.0f}/s)")
    rng = random.Random(7)
    all_obs = [o for _, pool in sources for o in pool]
    bodies = [observation_for(rng.choice(all_obs), rng.choice(live)[1]) for _ in range(CREATE_BODIES)]
    return refs, bodies


def load_direct(url: str, n_patients: int, n_obs: int) -> tuple[list[str], list[dict[str, Any]]]:
    """--floor-only: apply the migrations and insert rows with SQL (no real server needed)."""
    from fhir_server.db import migrate

    migrate(url)
    sources = synthea_sources() or synthetic_sources()
    rows = [("Patient", patient_copy(sources[i % len(sources)][0], 0)) for i in range(n_patients)]
    rows += [("Observation", observation_for(sources[i % len(sources)][1][0], "x")) for i in range(n_obs)]
    refs = []
    with psycopg.connect(url, autocommit=True) as conn, conn.cursor() as cur:
        for rtype, content in rows:
            rid = str(uuid.uuid4())
            content = {"resourceType": rtype, "id": rid, "meta": {"versionId": "1"}, **content}
            cur.execute("INSERT INTO resource (resource_type, id, version_id, txid, last_updated, content) "
                        "VALUES (%s, %s, 1, nextval('fhir_txid_seq'), now(), %s::jsonb)",
                        (rtype, rid, json.dumps(content)))
            refs.append(f"{rtype}/{rid}")
    return refs, [observation_for(sources[0][1][0], refs[0].split("/")[1])] * CREATE_BODIES


# --- measuring -------------------------------------------------------------------------------

BENCH_LINE = re.compile(r"^BENCH (.*)$", re.MULTILINE)


def wrk_argv(args: argparse.Namespace, server: Server, workload: str, files: dict[str, Path],
             duration: float) -> list[str]:
    base = ["wrk", "-t", str(args.wrk_threads), "-c", str(args.connections), "-d", f"{duration:g}s",
            "--timeout", "10s"]
    if workload == "read":
        return [*base, "-s", str(LUA_DIR / "read.lua"), server.url, "--", str(files["ids"])]
    return [*base, "-s", str(LUA_DIR / "create.lua"), server.url, "--", "Observation", str(files["bodies"])]


def run_wrk(args: argparse.Namespace, server: Server, workload: str, files: dict[str, Path],
            round_no: int, duration: float) -> Result:
    cpu_before = cpu_seconds(server.proc.pid)
    done = subprocess.run(wrk_argv(args, server, workload, files, duration), capture_output=True,
                          text=True, timeout=duration + 60, check=False)
    cpu_used = cpu_seconds(server.proc.pid) - cpu_before
    match = BENCH_LINE.search(done.stdout)
    if done.returncode != 0 or match is None:
        raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    values = {k: int(v) for k, v in (pair.split("=") for pair in match.group(1).split())}
    requests = values["requests"]
    return Result(workload, server.name, round_no, requests, values["duration_us"] / 1e6,
                  values["p50_us"] / 1e3, values["p95_us"] / 1e3, values["p99_us"] / 1e3,
                  values["errors_status"] + values["errors_other"],
                  1e3 * cpu_used / requests if requests else 0.0)


def run_rounds(args: argparse.Namespace, servers: list[Server], files: dict[str, Path]) -> list[Result]:
    """Warm up, then ``rounds`` rounds; each round alternates which server goes first."""
    for server in servers:
        for workload in ("read", "create"):
            run_wrk(args, server, workload, files, 0, args.warmup)
    results = []
    for round_no in range(1, args.rounds + 1):
        order = servers if round_no % 2 else list(reversed(servers))
        for workload in ("read", "create"):
            for server in order:
                result = run_wrk(args, server, workload, files, round_no, args.duration)
                print(f"  round {round_no} {workload:6} {server.name:5} {result.rps:8.0f} req/s  "
                      f"p50 {result.p50_ms:6.2f}  p95 {result.p95_ms:6.2f}  p99 {result.p99_ms:6.2f} ms  "
                      f"errors {result.errors}")
                results.append(result)
    return results


def check_same_bytes(real: Server, floor: Server, refs: list[str]) -> str:
    """Whether both servers return identical bodies for a sample of ids (the floor's premise)."""
    sample = random.Random(3).sample(refs, min(20, len(refs)))
    same = sum(httpx.get(f"{real.url}/fhir/{ref}").content == httpx.get(f"{floor.url}/fhir/{ref}").content
               for ref in sample)
    return f"{same}/{len(sample)} sampled reads byte-identical between real and floor"


# --- reporting -------------------------------------------------------------------------------

def median_of(results: list[Result], workload: str, server: str, attr: str) -> float:
    values = [getattr(r, attr) for r in results if r.workload == workload and r.server == server]
    return statistics.median(values) if values else float("nan")


def ratios(results: list[Result], workload: str) -> list[float]:
    """Per-round real/floor requests/s ratios."""
    by_round: dict[int, dict[str, float]] = {}
    for r in results:
        if r.workload == workload:
            by_round.setdefault(r.round_no, {})[r.server] = r.rps
    return [v["real"] / v["floor"] for v in by_round.values() if v.get("floor") and "real" in v]


def figures_table(results: list[Result], servers: list[str]) -> list[str]:
    lines = ["| Workload | Server | req/s (median) | req/s per round | p50 ms | p95 ms | p99 ms "
             "| server CPU ms/req | errors | real / floor req/s |",
             "|---|---|---:|---|---:|---:|---:|---:|---:|---|"]
    for workload in ("read", "create"):
        rs = ratios(results, workload)
        ratio = f"median {statistics.median(rs):.2f} (rounds: {', '.join(f'{x:.2f}' for x in rs)})" if rs else "-"
        for name in servers:
            mine = [r for r in results if r.workload == workload and r.server == name]
            label = "floor" if name == "floor" else "fhir_server"
            per_round = ", ".join(f"{r.rps:.0f}" for r in mine)
            med = {a: median_of(results, workload, name, a) for a in ("rps", "p50_ms", "p95_ms", "p99_ms",
                                                                       "cpu_ms_per_req")}
            lines.append(f"| {workload} | {label} | {med['rps']:.0f} | {per_round} | {med['p50_ms']:.2f} "
                         f"| {med['p95_ms']:.2f} | {med['p99_ms']:.2f} | {med['cpu_ms_per_req']:.2f} "
                         f"| {sum(r.errors for r in mine)} | {ratio if name == 'real' else ''} |")
    return lines


def verdicts(results: list[Result]) -> list[str]:
    read_rps = median_of(results, "read", "real", "rps")
    create_rps = median_of(results, "create", "real", "rps")
    read_ratio = ratios(results, "read")
    ratio = statistics.median(read_ratio) if read_ratio else float("nan")
    def mark(ok: bool) -> str:
        return "met" if ok else "MISSED"
    return [f"- read-by-id >= 1,000 req/s: {read_rps:.0f} -> {mark(read_rps >= 1000)}",
            f"- read-by-id >= 80 % of floor: {ratio:.0%} -> {mark(ratio >= 0.8)}",
            f"- create (full R4 validation) >= 500 req/s: {create_rps:.0f} -> {mark(create_rps >= 500)}"]


def machine(url: str) -> dict[str, str]:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    mem_kb = re.search(r"^MemTotal:\s*(\d+)", meminfo, re.MULTILINE)
    with psycopg.connect(url) as conn:
        pg = conn.execute("SHOW server_version").fetchone()
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False).stdout.split("\n")[0]
    return {"nproc": str(os.cpu_count()), "RAM": f"{int(mem_kb.group(1)) / 2**20:.1f} GiB" if mem_kb else "?",
            "CPU": model.group(1).strip() if model else platform.processor(),
            "Python": platform.python_version(), "PostgreSQL": pg[0] if pg else "?",
            "wrk": wrk.strip() or "?", "OS": platform.platform()}


def data_size(url: str) -> str:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT resource_type, count(*) FROM resource GROUP BY 1 ORDER BY 1").fetchall()
        size = conn.execute("SELECT pg_size_pretty(pg_total_relation_size('resource'))").fetchone()
    counts = ", ".join(f"{t} {n}" for t, n in rows)
    return f"{sum(n for _, n in rows)} rows in `resource` ({counts}; {size[0] if size else '?'})"


def report(args: argparse.Namespace, results: list[Result], info: dict[str, str], before: str,
           after: str, same_bytes: str, servers: list[str]) -> str:
    now = dt.datetime.now().astimezone()
    lines = [f"### Core benchmark, {now:%Y-%m-%d %H:%M %Z}", "",
             f"- machine: {info['nproc']} CPUs ({info['CPU']}), {info['RAM']} RAM, {info['OS']}",
             f"- Python {info['Python']}, PostgreSQL {info['PostgreSQL']} "
             f"({'given URL' if args.database_url else 'embedded, pgserver'}), {info['wrk']}",
             f"- data: {before} before the runs; {after} after (creates add rows)",
             f"- load: wrk, {args.wrk_threads} thread(s), {args.connections} connections, "
             f"{args.duration:g}s per run, {args.rounds} rounds (order real/floor alternating), "
             f"{args.warmup:g}s warm-up per server and workload",
             "- servers: one uvicorn worker each, on the same PostgreSQL; `--auth off`",
             f"- {same_bytes}", "", *figures_table(results, servers), ""]
    if "real" in servers:
        lines += ["Targets (issue 2):", "", *verdicts(results), ""]
    return "\n".join(lines)


# --- main ------------------------------------------------------------------------------------

def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--database-url", help="PostgreSQL to use (default: embedded, in a temp dir)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measured run (10)")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections (32)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; medians are reported (3)")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds per run kind (3)")
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--observations", type=int, default=5000)
    parser.add_argument("--server-workers", type=int, default=1,
                        help="worker processes of the real server (the floor keeps one: compare ratios at 1)")
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (1: leave CPU to servers)")
    parser.add_argument("--floor-only", action="store_true",
                        help="measure the floor alone, data inserted with SQL (when the server cannot start)")
    return parser.parse_args()


def start_servers(args: argparse.Namespace, url: str, workdir: Path) -> list[Server]:
    servers = []
    if not args.floor_only:
        real_argv = [str(VENV_BIN / "python"), "-m", "fhir_server.cli", "serve", "--database-url", url,
                     "--auth", "off", "--workers", str(args.server_workers)]
        servers.append(start_process("real", real_argv, workdir))
        wait_ready(servers[0], "/fhir/metadata")  # the real server migrates: start the floor after it
    floor_argv = [str(VENV_BIN / "python"), str(BENCH_DIR / "floor_app.py"), "--database-url", url]
    servers.append(start_process("floor", floor_argv, workdir))
    wait_ready(servers[-1], "/fhir/Patient/none")
    return servers


def write_inputs(workdir: Path, refs: list[str], bodies: list[dict[str, Any]]) -> dict[str, Path]:
    files = {"ids": workdir / "ids.txt", "bodies": workdir / "bodies.ndjson"}
    files["ids"].write_text("\n".join(refs) + "\n")
    files["bodies"].write_text("\n".join(json.dumps(b, separators=(",", ":")) for b in bodies) + "\n")
    return files


def benchmark(args: argparse.Namespace, url: str, workdir: Path) -> str:
    servers = start_servers(args, url, workdir)
    try:
        print("loading data ...")
        if args.floor_only:
            refs, bodies = load_direct(url, args.patients, args.observations)
        else:
            refs, bodies = load_data(servers[0], args.patients, args.observations)
        files = write_inputs(workdir, refs, bodies)
        before = data_size(url)
        same = (check_same_bytes(servers[0], servers[1], refs) if len(servers) == 2
                else "byte check skipped (floor only)")
        print(f"  {before}; {same}\nmeasuring ...")
        results = run_rounds(args, servers, files)
        return report(args, results, machine(url), before, data_size(url), same, [s.name for s in servers])
    finally:
        for server in servers:
            stop(server)


def main() -> int:
    args = parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: install it (Debian/Ubuntu: apt-get install -y wrk; macOS: brew install wrk)")
        return 2
    os.chdir(REPO)
    workdir = Path(tempfile.mkdtemp(prefix="fhir-core-bench-"))
    # Registered before the embedded server's own exit hook, so it runs after PostgreSQL has stopped.
    atexit.register(shutil.rmtree, workdir, ignore_errors=True)
    url = args.database_url
    if url is None:
        from fhir_server.embedded import start_embedded

        url = start_embedded(workdir / "pg", database="bench")
    text = benchmark(args, url, workdir)
    if args.database_url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DROP TABLE IF EXISTS bench_floor_create")
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / f"core-{dt.datetime.now():%Y%m%d-%H%M%S}.md"
    out.write_text(text)
    print(f"\n{text}\nwritten to {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
