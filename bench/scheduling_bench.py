"""Scheduling benchmark (issue 14): $find latency and $book throughput, and zero double bookings.

Full size (the issue's figures; the lead runs it): 100 practitioners x 90 days x 8 slots (72,000
Slots), 30,000 of them booked, then 10,000 $book attempts from 32 concurrent clients against
``fhir-server serve --workers 2``, 20 % of them aimed at a Slot another client is booking at the
same moment. Small run to prove it works: ``--practitioners 10 --days 7 --attempts 500``.

Targets: $find for one practitioner over 14 days p95 < 50 ms; over all practitioners of one
specialty for one day p95 < 100 ms; $book >= 300 bookings/s; and zero double bookings, counted
afterwards by SQL straight from the stored Appointments (not from the side table that enforces it).
Figures are written to bench/README.md between the scheduling-bench markers.

    .venv/bin/python bench/scheduling_bench.py --practitioners 10 --days 7 --attempts 500
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
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "bench" / "README.md"
BEGIN, END = "<!-- scheduling-bench:begin -->", "<!-- scheduling-bench:end -->"
SPECIALTIES = 10
DAY_HOURS = [{"availableStartTime": "09:00:00", "availableEndTime": "17:00:00"}]  # 8 one-hour slots, every day


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

    server = pgserver.get_server(Path(tempfile.mkdtemp(prefix="schedbench-", dir="/tmp")), cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


@contextmanager
def _server(url: str, workers: int) -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "FHIR_LOG_LEVEL": "warning", "FHIR_TIMEZONE": "UTC"}
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


def _setup(http: httpx.Client, practitioners: int) -> None:
    entries = []
    for i in range(practitioners):
        specialty = [{"coding": [{"system": "urn:bench:specialty", "code": f"spec-{i % SPECIALTIES}"}]}]
        entries.append({"resource": {"resourceType": "PractitionerRole", "id": f"bench-role-{i}", "active": True,
                                     "practitioner": {"reference": f"Practitioner/bench-dr-{i}"},
                                     "availableTime": DAY_HOURS, "specialty": specialty},
                        "request": {"method": "PUT", "url": f"PractitionerRole/bench-role-{i}"}})
        entries.append({"resource": {"resourceType": "Schedule", "id": f"bench-sched-{i}", "active": True,
                                     "specialty": specialty, "actor": [
                                         {"reference": f"PractitionerRole/bench-role-{i}"},
                                         {"reference": f"Practitioner/bench-dr-{i}"}]},
                        "request": {"method": "PUT", "url": f"Schedule/bench-sched-{i}"}})
    response = http.post("/", json={"resourceType": "Bundle", "type": "transaction", "entry": entries})
    response.raise_for_status()


async def _generate(base: str, practitioners: int, first: date, days: int) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=600) as http:
        gate = asyncio.Semaphore(2)

        async def one(i: int) -> None:
            async with gate:
                response = await http.post(f"/Schedule/bench-sched-{i}/$generate-slots", json={
                    "resourceType": "Parameters", "parameter": [
                        {"name": "start", "valueDate": first.isoformat()},
                        {"name": "end", "valueDate": (first + timedelta(days=days - 1)).isoformat()}]})
                response.raise_for_status()
        await asyncio.gather(*(one(i) for i in range(practitioners)))


def _slots(url: str) -> list[tuple[str, str, datetime, datetime]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT slot_id, schedule_id, lower(during), upper(during) FROM scheduling_slot"
                            " ORDER BY slot_id").fetchall()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def _appointment(slot: tuple[str, str, datetime, datetime], patient: str) -> dict[str, Any]:
    doctor = slot[1].replace("bench-sched-", "bench-dr-")
    return {"resourceType": "Appointment", "status": "proposed",
            "start": slot[2].astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "end": slot[3].astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "slot": [{"reference": f"Slot/{slot[0]}"}],
            "participant": [{"actor": {"reference": f"Practitioner/{doctor}"}, "status": "accepted"},
                            {"actor": {"reference": f"Patient/{patient}"}, "status": "accepted"}]}


async def _prebook(base: str, slots: list[tuple[str, str, datetime, datetime]]) -> int:
    """Book through batch bundles of plain booked Appointments (the write rule books each Slot)."""
    booked = 0
    async with httpx.AsyncClient(base_url=base, timeout=600) as http:
        gate = asyncio.Semaphore(4)

        async def batch(chunk: list[tuple[str, str, datetime, datetime]], offset: int) -> int:
            entries = [{"resource": {**_appointment(s, f"bench-pre-{offset + k}"), "status": "booked"},
                        "request": {"method": "POST", "url": "Appointment"}} for k, s in enumerate(chunk)]
            async with gate:
                response = await http.post("/", json={"resourceType": "Bundle", "type": "batch", "entry": entries})
            response.raise_for_status()
            return sum(e["response"]["status"].startswith("201") for e in response.json()["entry"])
        counts = await asyncio.gather(*(batch(slots[i:i + 100], i) for i in range(0, len(slots), 100)))
        booked = sum(counts)
    return booked


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _find_latencies(base: str, params: list[dict[str, str]]) -> list[float]:
    out = []
    with httpx.Client(base_url=base, timeout=60) as http:
        for query in params[:5]:  # warm-up
            http.get("/Appointment/$find", params=query)
        for query in params:
            began = time.perf_counter()
            response = http.get("/Appointment/$find", params=query)
            out.append((time.perf_counter() - began) * 1000)
            response.raise_for_status()
    return out


async def _book_race(base: str, free: list[tuple[str, str, datetime, datetime]], attempts: int,
                     clients: int) -> tuple[int, int, int, float]:
    """``attempts`` $book calls: 80 % on Slots nobody else wants, 20 % in pairs on one Slot at once."""
    random.shuffle(free)
    contested = int(attempts * 0.2) // 2
    single = attempts - 2 * contested
    if contested + single > len(free):
        raise SystemExit(f"only {len(free)} free Slots for {contested + single} targets: lower --attempts")
    # A pair's two attempts stay adjacent in the queue, so both are in flight together; pairs are
    # spread among the single attempts.
    units = [[slot] for slot in free[:single]] + [[slot, slot] for slot in free[single:single + contested]]
    random.shuffle(units)
    plan = [slot for unit in units for slot in unit]
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(plan)):
        queue.put_nowait(i)
    codes: dict[int, int] = {}
    async with httpx.AsyncClient(base_url=base, timeout=60,
                                 limits=httpx.Limits(max_connections=clients)) as http:
        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                response = await http.post("/Appointment/$book", json=_appointment(plan[i], f"bench-pt-{i}"))
                codes[response.status_code] = codes.get(response.status_code, 0) + 1
        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - began
    return codes.get(200, 0), codes.get(409, 0), sum(v for k, v in codes.items() if k not in (200, 409)), elapsed


def _double_bookings(url: str) -> int:
    """Pairs of time-holding Appointments sharing a Slot, or an actor at overlapping times, read from
    the stored Appointments themselves."""
    holding = "('pending', 'booked', 'arrived', 'checked-in')"
    with psycopg.connect(url) as conn:
        by_slot = conn.execute(
            "SELECT count(*) FROM (SELECT s->>'reference' FROM resource a, jsonb_array_elements(a.content->'slot') s"
            f" WHERE a.resource_type = 'Appointment' AND NOT a.deleted AND a.content->>'status' IN {holding}"
            " GROUP BY 1 HAVING count(*) > 1) t").fetchone()
        by_actor = conn.execute(
            "WITH b AS (SELECT a.id, p->'actor'->>'reference' AS actor,"
            " tstzrange((a.content->>'start')::timestamptz, (a.content->>'end')::timestamptz) AS during"
            " FROM resource a, jsonb_array_elements(a.content->'participant') p"
            f" WHERE a.resource_type = 'Appointment' AND NOT a.deleted AND a.content->>'status' IN {holding})"
            " SELECT count(*) FROM b x JOIN b y ON x.actor = y.actor AND x.id < y.id AND x.during && y.during"
        ).fetchone()
    return int((by_slot or [0])[0]) + int((by_actor or [0])[0])


def _write_readme(lines: list[str]) -> None:
    text = README.read_text()
    block = "\n".join([BEGIN, *lines, END])
    if BEGIN in text:
        text = text[:text.index(BEGIN)] + block + text[text.index(END) + len(END):]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    README.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--practitioners", type=int, default=100)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--booked-fraction", type=float, default=30000 / 72000)
    parser.add_argument("--attempts", type=int, default=10000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--finds", type=int, default=200)
    parser.add_argument("--database-url", help="a scratch database (default: an embedded PostgreSQL)")
    args = parser.parse_args()
    first = datetime.now(UTC).date() + timedelta(days=1)
    with _database(args.database_url) as url, _server(url, args.workers) as base:
        with httpx.Client(base_url=base, timeout=600) as http:
            _setup(http, args.practitioners)
        asyncio.run(_generate(base, args.practitioners, first, args.days))
        slots = _slots(url)
        random.seed(14)
        random.shuffle(slots)
        cut = int(len(slots) * args.booked_fraction)
        prebooked = asyncio.run(_prebook(base, slots[:cut]))
        window = min(14, args.days)
        one = [{"practitioner": f"bench-dr-{random.randrange(args.practitioners)}", "start": f"{first}T00:00:00Z",
                "end": f"{first + timedelta(days=window)}T00:00:00Z", "_count": "50"} for _ in range(args.finds)]
        spec = []
        for _ in range(args.finds):
            day = first + timedelta(days=random.randrange(args.days))
            spec.append({"specialty": f"urn:bench:specialty|spec-{random.randrange(SPECIALTIES)}",
                         "start": f"{day}T00:00:00Z", "end": f"{day + timedelta(days=1)}T00:00:00Z", "_count": "100"})
        find_one, find_spec = _find_latencies(base, one), _find_latencies(base, spec)
        ok, conflicts, other, elapsed = asyncio.run(_book_race(base, slots[cut:], args.attempts, args.clients))
        doubles = _double_bookings(url)
    lines = [
        "## Scheduling: $find and $book (issue 14)", "",
        f"`bench/scheduling_bench.py --practitioners {args.practitioners} --days {args.days} --attempts "
        f"{args.attempts}` ({len(slots)} Slots, {prebooked} booked beforehand, `--workers {args.workers}`, "
        f"{args.clients} clients, run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC).", "",
        "| measure | result | target |", "|---|---|---|",
        f"| $find one practitioner, {window} days: p50 / p95 | {statistics.median(find_one):.1f} / "
        f"{_p(find_one, 0.95):.1f} ms | p95 < 50 ms |",
        f"| $find one specialty, one day: p50 / p95 | {statistics.median(find_spec):.1f} / "
        f"{_p(find_spec, 0.95):.1f} ms | p95 < 100 ms |",
        f"| $book: bookings/s ({ok} booked, {conflicts} x 409, {other} other, {elapsed:.1f} s) | "
        f"{ok / elapsed:.0f} | >= 300 |",
        f"| double bookings counted by SQL afterwards | {doubles} | 0 |",
    ]
    _write_readme(lines)
    print("\n".join(lines))
    return 0 if doubles == 0 and other == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
