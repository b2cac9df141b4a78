"""Bulk ingest for ``fhir-server load PATH...``: transaction/batch bundles, single resources and
NDJSON files (also gzipped), directories recursively.

Each file goes through the same interaction code as the HTTP API (validation, history,
indexes). Bundles keep their semantics (a transaction loads whole or not at all); NDJSON
lines are written one by one inside chunked transactions with a savepoint per line, so a
bad line is reported and skipped. A file is recorded in ``load_manifest`` by its SHA-256
once loaded, so a re-run skips it (resumable). Several worker processes share the files.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..audit.recorder import AuditRecorder
from ..audit.trail import AuditTrail, record_versions
from ..db import Database
from ..errors import FhirError
from ..jsonio import parse_json
from ..resources import interactions
from ..resources.versions import Version
from ..rules import load_rule_modules
from ..search import indexer
from ..smart_auth.context import AccessContext
from ..smart_auth.policy import Policy
from ..smart_auth.scopes import ScopeSet
from .bundle import BundleContext, process_batch, process_transaction
from .entries import parse_entries

__all__ = ["discover", "FileReport", "load_file", "init_worker", "load_in_worker"]

SUFFIXES = (".json", ".json.gz", ".ndjson", ".ndjson.gz")
NDJSON_CHUNK = 500


@dataclass
class FileReport:
    path: str
    size: int
    loaded: int = 0
    skipped: bool = False
    rejected: list[str] = field(default_factory=list)


def discover(paths: list[Path]) -> list[Path]:
    """Every loadable file under the given files and directories, in a stable order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(SUFFIXES)))
        elif path.is_file():
            found.append(path)
        else:
            raise SystemExit(f"{path}: no such file or directory")
    return found


async def _already_loaded(db: Database, digest: str) -> bool:
    async with db.connection() as conn:
        cur = await conn.execute("SELECT 1 FROM load_manifest WHERE sha256 = %s", (digest,))
        return await cur.fetchone() is not None


async def _record(db: Database, digest: str, path: Path, count: int) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO load_manifest (sha256, file_name, resources) VALUES (%s, %s, %s)"
            " ON CONFLICT (sha256) DO NOTHING", (digest, path.name, count))


async def _load_resource(ctx: BundleContext, resource: Any) -> None:
    async with ctx.db.transaction() as conn:
        version = await _write_one(conn, resource)
        await record_versions(ctx.trail, conn, ctx.policy.access, "create", [version])


async def _write_one(conn: Any, resource: Any) -> Version:
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        raise FhirError("not a FHIR resource (no resourceType)")
    rtype, rid = resource["resourceType"], resource.get("id")
    if rid:  # keep the source's ids: re-loading the same file then updates instead of duplicating
        return (await interactions.update(conn, indexer, rtype, str(rid), resource)).version
    return (await interactions.create(conn, indexer, rtype, resource)).version


async def _load_bundle(ctx: BundleContext, bundle: dict[str, Any], report: FileReport) -> None:
    kind, entries = parse_entries(bundle, ctx.base, 1_000_000)
    if kind == "transaction":
        await process_transaction(ctx, entries)
        report.loaded += len(entries)
        return
    for entry, result in zip(entries, await process_batch(ctx, entries), strict=True):
        if result.outcome is not None:
            report.rejected.append(f"entry {entry.index}: {result.status}: {_first_issue(result.outcome)}")
        else:
            report.loaded += 1


def _first_issue(outcome: dict[str, Any]) -> str:
    issues = outcome.get("issue") or [{}]
    return str(issues[0].get("diagnostics", "rejected"))


def _ndjson_lines(data: bytes) -> Iterator[tuple[int, bytes]]:
    for number, line in enumerate(data.splitlines(), start=1):
        if line.strip():
            yield number, line


async def _load_ndjson(ctx: BundleContext, data: bytes, report: FileReport) -> None:
    lines = list(_ndjson_lines(data))
    for start in range(0, len(lines), NDJSON_CHUNK):
        async with ctx.db.transaction() as conn:
            written = []
            for number, line in lines[start:start + NDJSON_CHUNK]:
                try:
                    async with conn.transaction():  # a savepoint: one bad line does not undo the chunk
                        written.append(await _write_one(conn, parse_json(line, None)))
                    report.loaded += 1
                except FhirError as exc:
                    report.rejected.append(f"line {number}: {exc.message}")
            await record_versions(ctx.trail, conn, ctx.policy.access, "create", written)


async def load_file(ctx: BundleContext, path: Path, force: bool = False) -> FileReport:
    raw = path.read_bytes()
    report = FileReport(str(path), len(raw))
    digest = hashlib.sha256(raw).hexdigest()
    if not force and await _already_loaded(ctx.db, digest):
        report.skipped = True
        return report
    data = gzip.decompress(raw) if path.name.endswith(".gz") else raw
    try:
        if ".ndjson" in path.name:
            await _load_ndjson(ctx, data, report)
        else:
            document = parse_json(data, None)
            if isinstance(document, dict) and document.get("resourceType") == "Bundle" and \
                    document.get("type") in ("transaction", "batch"):
                await _load_bundle(ctx, document, report)
            else:
                await _load_resource(ctx, document)
                report.loaded += 1
    except FhirError as exc:
        report.rejected.append(exc.message)
        return report
    await _record(ctx.db, digest, path, report.loaded)
    return report


_WORKER: dict[str, Any] = {}
# The console operator: unrestricted (like auth off), named in the audit trail as its own client.
LOAD_CLI = AccessContext("fhir-server load", None, None, None, ScopeSet.everything(), "system")


def init_worker(url: str, base: str, audit_key: bytes, rule_modules: tuple[str, ...] = ()) -> None:
    """Process-pool initializer: one event loop and one small pool per worker process, and the
    write rules registered in this process (however the pool starts its workers)."""
    load_rule_modules(rule_modules)
    loop = asyncio.new_event_loop()
    db = Database(url, 1, 2)
    loop.run_until_complete(db.open())
    trail = AuditTrail(AuditRecorder(db, audit_key), base)  # changes only: recorded inside their transactions
    _WORKER.update(loop=loop, ctx=BundleContext(db, indexer, base, 1_000_000, Policy(LOAD_CLI), trail))


def load_in_worker(path: str, force: bool) -> FileReport:
    loop: asyncio.AbstractEventLoop = _WORKER["loop"]
    return loop.run_until_complete(load_file(_WORKER["ctx"], Path(path), force))
