"""US Core validation cost (issue 13): server CPU per resource validated against a US Core 6.1.0
profile, against base R4 validation of the same resource, in one run.

What is measured: ``POST /fhir/{type}/$validate`` of Synthea resources (Patient, Encounter,
Condition, Observation, Procedure, Immunization, MedicationRequest from ../shared/data), once
with their ``meta.profile`` removed (base R4: structure, datatypes, bindings, invariants) and once
claiming the matching US Core 6.1.0 profile (base + the profile's constraints, slicing, bindings,
invariants). ``$validate`` writes nothing, so the server's CPU time per request is validation plus
the same fixed HTTP cost in both modes; the ratio ``profile / base`` is the price of the profile.
Target: at most 2x. Rounds alternate the order of the two modes; medians are reported.

The server runs as users run it (``fhir-server serve``, one worker, US Core installed with
``fhir-server ig install`` into a scratch profiles folder) on an embedded PostgreSQL in a temp dir.
Needs ../shared/igs/us_core_610.tgz and ../shared/data/synthea-r4-100 (it says so and stops
without them).

    .venv/bin/python bench/profile_bench.py [--bundles 10] [--rounds 3] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from core_bench import SYNTHEA_DIR, VENV_BIN, cpu_seconds, start_process, stop, wait_ready  # noqa: E402

US_CORE = Path(__file__).resolve().parents[2] / "shared" / "igs" / "us_core_610.tgz"
SD = "http://hl7.org/fhir/us/core/StructureDefinition/"
PROFILE_OF = {"Patient": "us-core-patient", "Encounter": "us-core-encounter", "Procedure": "us-core-procedure",
              "Condition": "us-core-condition-encounter-diagnosis", "Immunization": "us-core-immunization",
              "MedicationRequest": "us-core-medicationrequest"}
OBSERVATION_PROFILE = {"vital-signs": "us-core-vital-signs", "laboratory": "us-core-observation-lab"}


def _profile(resource: dict[str, Any]) -> str | None:
    if resource["resourceType"] != "Observation":
        name = PROFILE_OF.get(resource["resourceType"])
        return SD + name if name else None
    for category in resource.get("category") or []:
        for coding in category.get("coding") or []:
            if coding.get("code") in OBSERVATION_PROFILE:
                return SD + OBSERVATION_PROFILE[coding["code"]]
    return None


def resources(bundles: int) -> list[tuple[dict[str, Any], str]]:
    """(resource without meta.profile, its US Core profile) from the first ``bundles`` Synthea bundles."""
    found = []
    for path in sorted(SYNTHEA_DIR.glob("*.json.gz"))[:bundles]:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            bundle = json.load(handle)
        for entry in bundle.get("entry", []):
            resource = entry.get("resource") or {}
            profile = _profile(resource) if "resourceType" in resource else None
            if profile is None:
                continue
            resource.get("meta", {}).pop("profile", None)
            found.append((resource, profile))
    return found


async def _post_all(base: str, items: list[tuple[dict[str, Any], str]], with_profile: bool,
                    concurrency: int) -> dict[str, int]:
    statuses: dict[str, int] = {}
    queue: asyncio.Queue[tuple[dict[str, Any], str]] = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)
    async with httpx.AsyncClient(timeout=60, headers={"Content-Type": "application/fhir+json"}) as http:
        async def worker() -> None:
            while not queue.empty():
                resource, profile = queue.get_nowait()
                body = {**resource, "meta": {**resource.get("meta", {}), "profile": [profile]}} \
                    if with_profile else resource
                answer = await http.post(f"{base}/fhir/{resource['resourceType']}/$validate", json=body)
                invalid = any(i.get("severity") in ("error", "fatal") for i in answer.json().get("issue", []))
                key = f"{answer.status_code} {'with errors' if invalid else 'valid'}"
                statuses[key] = statuses.get(key, 0) + 1
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return statuses


def measure(base: str, pid: int, items: list[tuple[dict[str, Any], str]], with_profile: bool,
            concurrency: int) -> tuple[float, float, dict[str, int]]:
    """(server CPU ms per resource, resources/s, statuses) for one pass over ``items``."""
    cpu, started = cpu_seconds(pid), time.monotonic()
    statuses = asyncio.run(_post_all(base, items, with_profile, concurrency))
    seconds, used = time.monotonic() - started, cpu_seconds(pid) - cpu
    return used * 1000 / len(items), len(items) / seconds, statuses


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--bundles", type=int, default=10, help="Synthea bundles to take resources from (10)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    if not US_CORE.is_file() or not SYNTHEA_DIR.is_dir():
        print(f"needs {US_CORE} and {SYNTHEA_DIR}: not found", file=sys.stderr)
        return 2
    items = resources(args.bundles)
    workdir = Path(tempfile.mkdtemp(prefix="profilebench-", dir="/tmp"))
    profiles = workdir / "profiles"
    subprocess.run([str(VENV_BIN / "fhir-server"), "ig", "install", str(US_CORE), "--no-deps", "--profiles-dir",
                    str(profiles)], check=True, capture_output=True)
    os.environ.update({"FHIR_PROFILES_DIR": str(profiles), "FHIR_LOG_LEVEL": "warning",
                       "FHIR_AUDIT_KEY": os.environ.get("FHIR_AUDIT_KEY", os.urandom(16).hex())})
    server = start_process("fhir_server", [str(VENV_BIN / "fhir-server"), "serve", "--auth", "off", "--data-dir",
                                           str(workdir / "pg")], workdir)
    try:
        wait_ready(server, "/fhir/metadata")
        measure(server.url, server.proc.pid, items[:200], True, args.concurrency)  # warm-up: caches, profiles
        measure(server.url, server.proc.pid, items[:200], False, args.concurrency)
        runs: dict[bool, list[tuple[float, float, dict[str, int]]]] = {False: [], True: []}
        for round_no in range(args.rounds):
            for with_profile in ((False, True) if round_no % 2 == 0 else (True, False)):
                runs[with_profile].append(measure(server.url, server.proc.pid, items, with_profile, args.concurrency))
    finally:
        stop(server)
    report(args, items, runs)
    return 0


def report(args: argparse.Namespace, items: list[tuple[dict[str, Any], str]],
           runs: dict[bool, list[tuple[float, float, dict[str, int]]]]) -> None:
    base_cpu = statistics.median(r[0] for r in runs[False])
    profile_cpu = statistics.median(r[0] for r in runs[True])
    ratios = [p[0] / b[0] for b, p in zip(runs[False], runs[True], strict=True)]
    kinds: dict[str, int] = {}
    for resource, _ in items:
        kinds[resource["resourceType"]] = kinds.get(resource["resourceType"], 0) + 1
    print(f"US Core validation cost, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    print(f"  {len(items)} resources per pass from {args.bundles} Synthea bundles: "
          + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    for label, key in (("base R4", False), ("US Core 6.1.0", True)):
        rounds = runs[key]
        print(f"  {label:14s} server CPU ms/resource {statistics.median(r[0] for r in rounds):.2f} "
              f"(rounds {', '.join(f'{r[0]:.2f}' for r in rounds)}); resources/s "
              f"{statistics.median(r[1] for r in rounds):.0f}; verdicts {rounds[-1][2]}")
    print(f"  profile / base CPU: median {profile_cpu / base_cpu:.2f} (rounds {', '.join(f'{r:.2f}' for r in ratios)});"
          f" target <= 2.00 -> {'met' if profile_cpu / base_cpu <= 2 else 'MISSED'}")


if __name__ == "__main__":
    raise SystemExit(main())
