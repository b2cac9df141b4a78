"""Record-exchange benchmark (issue 4): Synthea transaction bundles through ``POST /fhir``, the
``fhir-server load`` CLI, and Bulk Data ``$export`` — at an empty database and again after
growing it past ``--target`` resources — each against a floor measured in the same run:
a raw ``COPY`` of the same resource JSON into a scratch table (no validation, no history, no
indexes) for ingest, and ``COPY (SELECT content::text FROM resource) TO STDOUT`` for export.

Run: ``.venv/bin/python bench/exchange_bench.py [--database-url URL] [--target 300000]``.
Without a URL it starts an embedded PostgreSQL in a temporary directory. Needs ../shared.
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import orjson
import psycopg

ROOT = Path(__file__).resolve().parents[1]
SYNTHEA = ROOT.parent / "shared" / "data" / "synthea-r4-100"
PY = sys.executable
BUNDLES = 40  # per measurement: POST the first 40 Synthea bundles, load the next 40


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database_url(args: argparse.Namespace) -> str:
    if args.database_url:
        return str(args.database_url)
    sys.path.insert(0, str(ROOT))
    from fhir_server.embedded import start_embedded

    return start_embedded(Path(tempfile.mkdtemp(prefix="xbench-", dir="/tmp")), "bench")


def start_server(url: str, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([PY, "-m", "fhir_server.cli", "serve", "--database-url", url, "--port", str(port),
                             "--auth", "off"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/fhir/metadata", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("server did not start")


def resource_count(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM resource WHERE NOT deleted").fetchone()
    return int(row[0]) if row else 0


def post_bundles(base: str, files: list[Path], clients: int) -> tuple[int, float]:
    """POST each bundle as a transaction; return (resources, seconds)."""
    bodies = [gzip.decompress(f.read_bytes()) for f in files]

    def send(body: bytes) -> int:
        with httpx.Client(timeout=300) as http:
            response = http.post(base, content=body, headers={"Content-Type": "application/fhir+json"})
            response.raise_for_status()
            return len(response.json()["entry"])

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        total = sum(pool.map(send, bodies))
    return total, time.perf_counter() - started


def cli_load(url: str, files: list[Path], workers: int) -> tuple[int, float, float]:
    """(resources, wall seconds of the whole command, seconds the loader itself reports): the
    difference is the interpreter start-up and imports (~1.5 s), paid once per command."""
    before = resource_count(url)
    started = time.perf_counter()
    done = subprocess.run([PY, "-m", "fhir_server.cli", "load", *map(str, files), "--database-url", url, "--force",
                           "--workers", str(workers)], cwd=ROOT, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - started
    reported = re.search(r"resources from \d+ files in ([\d,.]+) s", done.stdout)
    return resource_count(url) - before, wall, float(reported.group(1).replace(",", "")) if reported else wall


def copy_floor(url: str, files: list[Path]) -> tuple[int, float]:
    """Raw COPY of the same resources' JSON: what ingest costs with no FHIR work at all."""
    lines = [e for f in files for e in orjson.loads(gzip.decompress(f.read_bytes()))["entry"]]
    started = time.perf_counter()
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TEMP TABLE floor_copy (content jsonb)")
        with conn.cursor().copy("COPY floor_copy (content) FROM STDIN") as copy:
            for entry in lines:
                copy.write_row((orjson.dumps(entry["resource"]).decode(),))
    return len(lines), time.perf_counter() - started


def export_all(base: str) -> tuple[int, float]:
    started = time.perf_counter()
    with httpx.Client(timeout=600) as http:
        kick = http.get(f"{base}/$export", headers={"Prefer": "respond-async", "Accept": "application/fhir+json"})
        status_url = kick.headers["content-location"]
        while (status := http.get(status_url)).status_code == 202:
            time.sleep(0.2)
        total = 0
        for item in status.json()["output"]:
            with http.stream("GET", item["url"], headers={"Accept-Encoding": "gzip"}) as response:
                for _ in response.iter_raw():
                    pass
            total += item["count"]
    return total, time.perf_counter() - started


def export_floor(url: str) -> tuple[int, float]:
    started = time.perf_counter()
    rows = 0
    with psycopg.connect(url) as conn, conn.cursor().copy(
            "COPY (SELECT coalesce(body, content::text) FROM resource WHERE NOT deleted) TO STDOUT") as copy:
        for _ in copy.rows():
            rows += 1
    return rows, time.perf_counter() - started


def rate(pair: tuple[int, float]) -> str:
    count, seconds = pair
    return f"{count:,} in {seconds:,.1f} s = **{count / seconds:,.0f}/s**"


def measure(url: str, base: str, files: list[Path], label: str) -> list[str]:
    size = resource_count(url)
    http = post_bundles(base, files[:BUNDLES], clients=2)
    loaded, load_wall, load_own = cli_load(url, files[BUNDLES:2 * BUNDLES], workers=2)
    load = (loaded, load_wall)
    floor = copy_floor(url, files[:BUNDLES])
    export = export_all(base)
    export_base = export_floor(url)
    return [
        f"### {label}: {size:,} resources stored before the runs",
        f"- POST /fhir transactions ({BUNDLES} bundles, 2 clients): {rate(http)}; ratio to COPY floor "
        f"{(http[0] / http[1]) / (floor[0] / floor[1]):.3f}",
        f"- fhir-server load ({BUNDLES} bundles, 2 workers), whole command incl. start-up: {rate(load)}; "
        f"as the loader reports it (after start-up): {rate((loaded, load_own))}; ratio to COPY floor "
        f"{(load[0] / load[1]) / (floor[0] / floor[1]):.3f}",
        f"- floor, raw COPY of the same JSON: {rate(floor)}",
        f"- $export of everything (kick-off to last byte): {rate(export)}; COPY-out floor {rate(export_base)}",
        "",
    ]


def grow(url: str, files: list[Path], target: int) -> list[str]:
    """Load all the bundles again and again (``--force``) until ``target``: each step is itself a
    bigger ``fhir-server load`` measurement (all files, 2 workers) at a growing size."""
    steps = []
    while (size := resource_count(url)) < target:
        loaded, wall, own = cli_load(url, files, workers=2)
        steps.append(f"| {size:,} | {loaded:,} | {loaded / wall:,.0f} | {loaded / own:,.0f} |")
        print(f"  grown to {resource_count(url):,} resources", file=sys.stderr)
    return [f"### growing: `fhir-server load` of all {len(files)} bundles per step, 2 workers", "",
            "| stored before | loaded | res/s whole command | res/s as the loader reports it |",
            "|---:|---:|---:|---:|", *steps, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url")
    parser.add_argument("--target", type=int, default=300_000)
    args = parser.parse_args()
    files = sorted(SYNTHEA.glob("*.json.gz"))
    if len(files) < 40:
        raise SystemExit(f"needs the Synthea sample in {SYNTHEA}")
    url = database_url(args)
    port = free_port()
    server = start_server(url, port)
    base = f"http://127.0.0.1:{port}/fhir"
    try:
        report = [f"## Exchange benchmark {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
                  f"machine: {os.cpu_count()} CPUs, {platform.platform()}, Python {platform.python_version()}", ""]
        report += measure(url, base, files, "empty database")
        report += grow(url, files, args.target)
        report += measure(url, base, files, f"after growing past {args.target:,}")
    finally:
        server.terminate()
        server.wait(timeout=30)
    text = "\n".join(report)
    out = ROOT / "bench" / "results" / f"exchange-{time.strftime('%Y%m%d-%H%M%S')}.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
