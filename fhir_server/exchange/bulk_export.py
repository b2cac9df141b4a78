"""Bulk Data $export jobs (FHIR Bulk Data Access 2.0, https://hl7.org/fhir/uv/bulkdata/export.html).

A kick-off stores a job row; background workers (in every server process) claim pending
jobs with ``FOR UPDATE SKIP LOCKED``, so several jobs run at once and a job interrupted by
a restart is claimed again (its partial files are dropped first). A job reads one
REPEATABLE READ snapshot, so the export matches its ``transactionTime`` exactly, and
streams rows through a server-side cursor into gzip-compressed NDJSON parts stored in
``export_file`` — never the whole result in memory.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from psycopg import AsyncConnection

from ..db import Database, set_local_timeouts
from ..errors import BadRequest, NotFound, ServiceUnavailable
from ..search.sqlfrag import fmt, join
from .export_scope import ExportScope, scope_filter

__all__ = ["ExportParams", "create_job", "job_status", "cancel_job", "ExportWorker", "OUTPUT_FORMATS"]

log = logging.getLogger(__name__)
OUTPUT_FORMATS = ("application/fhir+ndjson", "application/ndjson", "ndjson")
LINES_PER_FILE = 50_000
FETCH_ROWS = 2_000
STALE_AFTER = timedelta(seconds=60)  # a running job without heartbeat this long is re-claimed


@dataclass(frozen=True)
class ExportParams:
    types: list[str]
    since: datetime | None
    type_filters: dict[str, list[list[tuple[str, str]]]]
    output_format: str

    def to_json(self) -> dict[str, Any]:
        return {"types": self.types, "since": self.since.isoformat() if self.since else None,
                "type_filters": self.type_filters, "output_format": self.output_format}

    @staticmethod
    def from_json(raw: dict[str, Any]) -> ExportParams:
        since = datetime.fromisoformat(raw["since"]) if raw.get("since") else None
        filters = {k: [[(p[0], p[1]) for p in f] for f in v] for k, v in raw.get("type_filters", {}).items()}
        return ExportParams(raw["types"], since, filters, raw["output_format"])


async def create_job(db: Database, scope: ExportScope, params: ExportParams, request_url: str,
                     client_id: str | None = None, user: str | None = None) -> str:
    """A pending job owned by the kick-off's client and user (``user``: fhirUser, None for back ends)."""
    job_id = str(uuid.uuid4())
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO export_job (id, status, level, group_id, request_url, params, transaction_time, client_id,"
            " user_ref) VALUES (%s, 'pending', %s, %s, %s, %s::jsonb, now(), %s, %s)",
            (job_id, scope.level, scope.group_id, request_url, orjson.dumps(params.to_json()).decode(), client_id,
             user))
    return job_id


async def job_owner(db: Database, job_id: str) -> tuple[bool, tuple[str | None, str | None]]:
    """(exists, (client id, user) of the kick-off) of a job."""
    async with db.connection() as conn:
        row = await (await conn.execute("SELECT client_id, user_ref FROM export_job WHERE id::text = %s",
                                        (job_id,))).fetchone()
    return (row is not None, (row[0], row[1]) if row else (None, None))


async def job_status(db: Database, job_id: str) -> dict[str, Any]:
    async with db.connection() as conn:
        cur = await conn.execute(
            "SELECT status, progress, error, transaction_time, request_url FROM export_job WHERE id::text = %s",
            (job_id,))
        row = await cur.fetchone()
        if row is None or row[0] == "cancelled":
            raise NotFound(f"No export job {job_id} (unknown, cancelled or expired)")
        files = await (await conn.execute(
            "SELECT file_no, resource_type, kind, line_count FROM export_file WHERE job_id::text = %s"
            " ORDER BY file_no", (job_id,))).fetchall()
    return {"status": row[0], "progress": row[1], "error": row[2], "transaction_time": row[3],
            "request": row[4], "files": files}


async def cancel_job(db: Database, job_id: str) -> None:
    async with db.transaction() as conn:
        cur = await conn.execute(
            "UPDATE export_job SET status = 'cancelled', finished_at = now()"
            " WHERE id::text = %s AND status <> 'cancelled' RETURNING 1", (job_id,))
        if await cur.fetchone() is None:
            raise NotFound(f"No export job {job_id} to cancel")
        await conn.execute("DELETE FROM export_file WHERE job_id::text = %s", (job_id,))


class _PartWriter:
    """Buffers NDJSON lines of one type and stores them as gzip parts of LINES_PER_FILE lines."""

    def __init__(self, db: Database, job_id: str, first_file_no: int) -> None:
        self.db, self.job_id, self.file_no = db, job_id, first_file_no
        self.lines: list[bytes] = []

    async def add(self, rtype: str, line: bytes) -> None:
        self.lines.append(line)
        if len(self.lines) >= LINES_PER_FILE:
            await self.flush(rtype)

    async def flush(self, rtype: str) -> None:
        if not self.lines:
            return
        content = gzip.compress(b"\n".join(self.lines) + b"\n", compresslevel=1)
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO export_file (job_id, file_no, resource_type, line_count, content)"
                " VALUES (%s, %s, %s, %s, %s)", (self.job_id, self.file_no, rtype, len(self.lines), content))
        self.file_no += 1
        self.lines = []


class ExportWorker:
    """Claims and runs pending jobs until stopped; ``concurrency`` jobs at once per process."""

    def __init__(self, db: Database, concurrency: int = 2, poll_seconds: float = 0.5,
                 statement_timeout: float = 0) -> None:
        self.db, self.concurrency, self.poll_seconds = db, concurrency, poll_seconds
        self.statement_timeout = statement_timeout  # seconds for the snapshot's statements (0: none)
        self.tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self.tasks = [asyncio.create_task(self._loop()) for _ in range(self.concurrency)]

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _loop(self) -> None:
        while True:
            try:
                job = await self._claim()
                if job is None:
                    await asyncio.sleep(self.poll_seconds)
                    continue
                await self._run(*job)
            except asyncio.CancelledError:
                raise
            except ServiceUnavailable:  # the database is away: the job is claimed again when it is back
                await asyncio.sleep(self.poll_seconds * 4)
            except Exception:  # a broken job must not kill the worker; it is marked failed in _run
                log.exception("export worker error")
                await asyncio.sleep(self.poll_seconds)

    async def _claim(self) -> tuple[str, str, str | None, ExportParams] | None:
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "SELECT id::text, level, group_id, params FROM export_job"
                " WHERE status = 'pending' OR (status = 'running' AND heartbeat < now() - %s)"
                " ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED", (STALE_AFTER,))
            row = await cur.fetchone()
            if row is None:
                return None
            await conn.execute("UPDATE export_job SET status = 'running', heartbeat = now() WHERE id = %s",
                               (row[0],))
            await conn.execute("DELETE FROM export_file WHERE job_id = %s", (row[0],))
        return row[0], row[1], row[2], ExportParams.from_json(row[3])

    async def _run(self, job_id: str, level: str, group_id: str | None, params: ExportParams) -> None:
        try:
            async with self.db.connection() as conn:
                await conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                try:
                    # Longer limits than a request's: one statement may sort a whole type.
                    await set_local_timeouts(conn, self.statement_timeout, self.statement_timeout)
                    snapshot = (await (await conn.execute("SELECT now()")).fetchone() or (datetime.now(UTC),))[0]
                    await self._set_transaction_time(job_id, snapshot)
                    scope = ExportScope(level, group_id)
                    await self._export_types(conn, job_id, scope, params)
                finally:
                    await conn.execute("ROLLBACK")
            await self._finish(job_id, "complete", None)
        except JobCancelled:
            log.info("export job %s cancelled", job_id)
        except Exception as exc:
            log.exception("export job %s failed", job_id)
            await self._finish(job_id, "failed", f"{type(exc).__name__}: {exc}")

    async def _export_types(self, conn: AsyncConnection[Any], job_id: str, scope: ExportScope,
                            params: ExportParams) -> None:
        writer = _PartWriter(self.db, job_id, 1)
        for position, rtype in enumerate(params.types, start=1):
            await self._check_alive(job_id, f"{rtype} ({position}/{len(params.types)} types)")
            await self._export_type(conn, writer, job_id, scope, params, rtype)
            await writer.flush(rtype)

    async def _export_type(self, conn: AsyncConnection[Any], writer: _PartWriter, job_id: str,
                           scope: ExportScope, params: ExportParams, rtype: str) -> None:
        where = [fmt("r.resource_type = {}", rtype), fmt("NOT r.deleted")]
        if params.since is not None:
            where.append(fmt("r.last_updated > {}", params.since))
        where += await scope_filter(conn, scope, rtype, params.type_filters.get(rtype, []))
        query = fmt("SELECT coalesce(r.body, r.content::text) FROM resource r WHERE {} ORDER BY r.id",
                    join(" AND ", where))
        async with conn.cursor(name=f"export_{uuid.uuid4().hex}") as cursor:
            await cursor.execute(query.sql, query.params)
            while rows := await cursor.fetchmany(FETCH_ROWS):
                for (text,) in rows:
                    await writer.add(rtype, text.encode())
                await self._check_alive(job_id, None)

    async def _check_alive(self, job_id: str, progress: str | None) -> None:
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "UPDATE export_job SET heartbeat = now(), progress = coalesce(%s, progress)"
                " WHERE id = %s AND status = 'running' RETURNING 1", (progress, job_id))
            if await cur.fetchone() is None:
                raise JobCancelled(job_id)

    async def _set_transaction_time(self, job_id: str, moment: datetime) -> None:
        """transactionTime is the snapshot's time: the export holds nothing written after it."""
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE export_job SET transaction_time = %s WHERE id = %s", (moment, job_id))

    async def _finish(self, job_id: str, status: str, error: str | None) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE export_job SET status = %s, error = %s, finished_at = now(), progress = NULL"
                " WHERE id = %s AND status = 'running'", (status, error, job_id))


class JobCancelled(Exception):
    pass


def parse_types(raw: str | None, allowed: frozenset[str]) -> list[str]:
    if not raw:
        return sorted(allowed)
    types = [t.strip() for t in raw.split(",") if t.strip()]
    unknown = [t for t in types if t not in allowed]
    if unknown:
        raise BadRequest(f"_type names resource types this export cannot include: {', '.join(unknown)}")
    return types
