"""Tamper evidence for the audit trail: a SHA-256 hash chain over audit rows, and its verification.

Rows are chained in sealing order (``chain_seq``), not insertion order, because rows commit
out of order; the sealer chains every committed unsealed row, holding a transaction-level
advisory lock so only one sealer runs at a time. ``hash = sha256(prev_hash || row text)``
where the row text is PostgreSQL's canonical text of all audited columns, so any change to
a sealed row, a deleted row (a gap in chain_seq) or a re-ordered chain is detected by
``verify``. The links live in their own insert-only table (``audit_chain``) and unsealed rows
in a queue (``audit_unsealed``, filled by a trigger), so sealing never rewrites an audit row.
Limitation: removing the newest sealed rows is only detectable against a chain head recorded
elsewhere (``verify`` prints the head to keep).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from psycopg import AsyncConnection

from ..db import Database

__all__ = ["seal_pending", "verify_chain", "ChainReport"]

SEALER_LOCK = 0x41554454  # "AUDT"
ROW_TEXT = ("row(a.id, a.recorded, a.action, a.subtype, a.outcome, a.client_id, a.user_ref, a.patient_refs,"
            " a.entity_refs, a.request_id, a.content)::text")
GENESIS = b"\x00" * 32
CHAIN_COPY = "COPY audit_chain (chain_seq, seq, prev_hash, hash) FROM STDIN"


def _link(prev: bytes, row_text: str) -> bytes:
    return hashlib.sha256(prev + row_text.encode()).digest()


async def _head(conn: AsyncConnection[Any]) -> tuple[int, bytes]:
    cur = await conn.execute("SELECT chain_seq, hash FROM audit_chain ORDER BY chain_seq DESC LIMIT 1")
    row = await cur.fetchone()
    return (row[0], bytes(row[1])) if row else (0, GENESIS)


async def seal_pending(db: Database, batch: int = 5000) -> int:
    """Chain every committed unsealed row (up to ``batch``); return how many were sealed."""
    async with db.transaction() as conn:
        locked = await (await conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (SEALER_LOCK,))).fetchone()
        if not locked or not locked[0]:
            return 0
        head_seq, prev = await _head(conn)
        rows = await (await conn.execute(
            f"SELECT q.seq, {ROW_TEXT} FROM audit_unsealed q JOIN audit_event a ON a.seq = q.seq"
            " ORDER BY q.seq LIMIT %s", (batch,))).fetchall()
        if not rows:
            return 0
        async with conn.cursor() as cur, cur.copy(CHAIN_COPY) as copy:
            for chain_seq, (seq, text) in enumerate(rows, start=head_seq + 1):
                digest = _link(prev, text)
                await copy.write_row((chain_seq, seq, prev, digest))
                prev = digest
        # The queue entries of exactly the rows just chained (no id list to send back).
        await conn.execute("DELETE FROM audit_unsealed q USING audit_chain c"
                           " WHERE c.chain_seq > %s AND q.seq = c.seq", (head_seq,))
        return len(rows)


@dataclass
class ChainReport:
    sealed: int = 0
    unsealed: int = 0
    head: str = GENESIS.hex()
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _check_link(report: ChainReport, expected_seq: int, prev: bytes, chain_seq: int, prev_hash: bytes,
                digest: bytes, seq: int, text: str | None) -> None:
    if chain_seq != expected_seq:
        report.problems.append(f"chain_seq {expected_seq}..{chain_seq - 1} missing (links deleted)")
    if prev_hash != prev:
        report.problems.append(f"chain_seq {chain_seq} (row {seq}): previous-hash link broken")
    if text is None:
        report.problems.append(f"chain_seq {chain_seq}: audit row {seq} deleted after sealing")
    elif _link(prev_hash, text) != digest:
        report.problems.append(f"chain_seq {chain_seq} (row {seq}): content altered after sealing")


async def verify_chain(db: Database) -> ChainReport:
    """Walk the whole chain; report every broken link, gap or altered row."""
    report = ChainReport()
    expected_seq, prev = 1, GENESIS
    async with db.connection() as conn, conn.cursor(name="audit_verify") as cursor:
        await conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        await cursor.execute(f"SELECT c.chain_seq, c.prev_hash, c.hash, c.seq, CASE WHEN a.seq IS NOT NULL"
                             f" THEN {ROW_TEXT} END FROM audit_chain c LEFT JOIN audit_event a ON a.seq = c.seq"
                             " ORDER BY c.chain_seq")
        while rows := await cursor.fetchmany(2000):
            for chain_seq, prev_hash, digest, seq, text in rows:
                _check_link(report, expected_seq, prev, chain_seq, bytes(prev_hash), bytes(digest), seq, text)
                prev, expected_seq = bytes(digest), chain_seq + 1
                report.sealed += 1
        counts = await (await conn.execute(
            "SELECT (SELECT count(*) FROM audit_unsealed),"
            " (SELECT count(*) FROM audit_event a WHERE NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.seq = a.seq)"
            "  AND NOT EXISTS (SELECT 1 FROM audit_unsealed q WHERE q.seq = a.seq))")).fetchone()
        await conn.execute("ROLLBACK")
    unsealed, orphans = (int(counts[0]), int(counts[1])) if counts else (0, 0)
    if orphans:
        report.problems.append(f"{orphans} audit row(s) neither sealed nor queued for sealing (queue tampered)")
    report.unsealed = unsealed
    report.head = prev.hex()
    return report
