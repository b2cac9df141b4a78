"""Writing audit records: inside the write's own transaction for changes (nothing changes
without its record), and through a small in-process buffer for reads, flushed in batches
every ``flush_seconds`` so that auditing a read costs no extra round trip on its path.
The sealer (chain.seal_pending) runs after each flush, and, when a checkpoint directory is
configured, a signed checkpoint of the chain (chain.write_checkpoint_file) is written there
every ``checkpoint_seconds``."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from psycopg import AsyncConnection

from ..db import Database
from ..errors import ServiceUnavailable
from ..jsonio import dumps
from .chain import seal_pending, write_checkpoint_file
from .events import AuditRecord

__all__ = ["AuditRecorder", "insert_records", "insert_cte", "cte_values"]

log = logging.getLogger(__name__)
COLUMNS = ("id, recorded, action, subtype, outcome, client_id, user_ref, patient_refs, entity_refs, request_id,"
           " content, mac")
INSERT = f"INSERT INTO audit_event ({COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s)"


def insert_cte(first: int) -> str:
    """One record's INSERT as the CTE ``audit`` of a larger statement, its values in ``$first``..
    ``$first+11`` (``cte_values``): a create writes its record in its own single statement."""
    slots = [f"${first + k}" for k in range(12)]
    slots[7] += "::text[]"
    slots[8] += "::text[]"
    slots[10] += "::jsonb"
    slots[11] += "::bytea"
    return f"audit AS (INSERT INTO audit_event ({COLUMNS}) VALUES ({', '.join(slots)}))"


def cte_values(record: AuditRecord) -> tuple[Any, ...]:
    return _row(record, _array_literal)


def _row(record: AuditRecord, array: Callable[[tuple[str, ...]], Any] = list) -> tuple[Any, ...]:
    return (record.id, record.recorded, record.action, record.subtype, record.outcome, record.client_id,
            record.user_ref, array(record.patient_refs), array(record.entity_refs), record.request_id,
            dumps(record.content).decode(), record.mac)


def _array_literal(values: tuple[str, ...]) -> str:
    """A text[] in PostgreSQL's input syntax (COPY parses it; psycopg's list dumper is slow Python)."""
    return "{" + ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "}"


COPY = f"COPY audit_event ({COLUMNS}) FROM STDIN"


async def insert_records(conn: AsyncConnection[Any], records: list[AuditRecord]) -> None:
    async with conn.cursor() as cur:
        if len(records) == 1:  # a write's own record: executemany would enter pipeline mode for one row
            await cur.execute(INSERT, _row(records[0]))
            return
        if len(records) < 8:
            await cur.executemany(INSERT, [_row(r) for r in records])
            return
        async with cur.copy(COPY) as copy:  # batches from the read buffer: one COPY, not N inserts
            for record in records:
                await copy.write_row(_row(record, _array_literal))


class AuditRecorder:
    def __init__(self, db: Database, key: bytes, flush_seconds: float = 0.2, checkpoint_dir: Path | None = None,
                 checkpoint_seconds: float = 3600) -> None:
        self.db = db
        self.key = key  # the audit key (keyring.py): chain links are HMACs with it
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_seconds = checkpoint_seconds
        self.next_checkpoint = time.monotonic() + checkpoint_seconds
        self.flush_seconds = flush_seconds
        self.pending: list[Any] = []
        self.task: asyncio.Task[None] | None = None
        # Turns pending drafts into records inside the flush transaction (patients looked up there).
        self.enrich: Callable[[AsyncConnection[Any], list[Any]], Awaitable[list[AuditRecord]]] | None = None

    async def record_in(self, conn: AsyncConnection[Any], record: AuditRecord) -> None:
        """Record inside the caller's transaction: it commits or rolls back with the change."""
        await insert_records(conn, [record])

    def record_later(self, record: Any) -> None:
        self.pending.append(record)

    async def flush(self) -> None:
        batch, self.pending = self.pending, []
        if batch:
            try:
                async with self.db.transaction() as conn:
                    records = await self.enrich(conn, batch) if self.enrich is not None else batch
                    await insert_records(conn, records)
            except Exception:
                self.pending[:0] = batch  # retried on the next flush rather than lost
                raise
        await seal_pending(self.db, self.key)

    def start(self) -> None:
        self.task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        await self.flush()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.flush_seconds)
            try:
                await self.flush()
                await self._checkpoint_if_due()
            except asyncio.CancelledError:
                raise
            except ServiceUnavailable:  # the database is away (already logged by the gate): kept pending
                await asyncio.sleep(1.0)
            except Exception:  # keep auditing alive; the batch stays pending
                log.exception("audit flush failed")

    async def _checkpoint_if_due(self) -> None:
        if self.checkpoint_dir is None or time.monotonic() < self.next_checkpoint:
            return
        self.next_checkpoint = time.monotonic() + self.checkpoint_seconds
        await write_checkpoint_file(self.db, self.key, self.checkpoint_dir)
