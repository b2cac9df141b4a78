"""Tamper evidence for the audit trail: a SHA-256 hash chain over audit rows, and its verification.

Rows are chained in sealing order (``chain_seq``), not insertion order, because rows commit
out of order; the sealer chains every committed unsealed row, holding a transaction-level
advisory lock so only one sealer runs at a time. ``hash = sha256(prev_hash || row text)``
where the row text is PostgreSQL's canonical text of all audited columns, so any change to
a sealed row, a deleted row (a gap in chain_seq) or a re-ordered chain is detected by
``verify``. Limitation: removing the newest sealed rows is only detectable against a chain
head recorded elsewhere (``verify`` prints the head to keep).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from psycopg import AsyncConnection

from ..db import Database

__all__ = ["seal_pending", "verify_chain", "ChainReport"]

SEALER_LOCK = 0x41554454  # "AUDT"
ROW_TEXT = ("row(id, recorded, action, subtype, outcome, client_id, user_ref, patient_refs, entity_refs,"
            " request_id, content)::text")
GENESIS = b"\x00" * 32


def _link(prev: bytes, row_text: str) -> bytes:
    return hashlib.sha256(prev + row_text.encode()).digest()


async def _head(conn: AsyncConnection[Any]) -> tuple[int, bytes]:
    cur = await conn.execute("SELECT chain_seq, hash FROM audit_event WHERE chain_seq IS NOT NULL"
                             " ORDER BY chain_seq DESC LIMIT 1")
    row = await cur.fetchone()
    return (row[0], bytes(row[1])) if row else (0, GENESIS)


async def seal_pending(db: Database, batch: int = 5000) -> int:
    """Chain every committed unsealed row (up to ``batch``); return how many were sealed."""
    async with db.transaction() as conn:
        locked = await (await conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (SEALER_LOCK,))).fetchone()
        if not locked or not locked[0]:
            return 0
        chain_seq, prev = await _head(conn)
        rows = await (await conn.execute(
            f"SELECT seq, {ROW_TEXT} FROM audit_event WHERE chain_seq IS NULL ORDER BY seq LIMIT %s",
            (batch,))).fetchall()
        updates = []
        for seq, text in rows:
            chain_seq += 1
            digest = _link(prev, text)
            updates.append((chain_seq, prev, digest, seq))
            prev = digest
        if updates:  # one statement for the whole batch: a row-by-row UPDATE doubled the cost of auditing
            await conn.execute(
                "UPDATE audit_event a SET chain_seq = u.chain_seq, prev_hash = u.prev_hash, hash = u.hash"
                " FROM unnest(%s::bigint[], %s::bytea[], %s::bytea[], %s::bigint[])"
                " AS u(chain_seq, prev_hash, hash, seq)"
                " WHERE a.seq = u.seq",
                ([u[0] for u in updates], [u[1] for u in updates], [u[2] for u in updates], [u[3] for u in updates]))
        return len(updates)


@dataclass
class ChainReport:
    sealed: int = 0
    unsealed: int = 0
    head: str = GENESIS.hex()
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


async def verify_chain(db: Database) -> ChainReport:
    """Walk the whole chain; report every broken link, gap or altered row."""
    report = ChainReport()
    expected_seq, prev = 1, GENESIS
    async with db.connection() as conn, conn.cursor(name="audit_verify") as cursor:
        await conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        await cursor.execute(f"SELECT chain_seq, prev_hash, hash, seq, {ROW_TEXT} FROM audit_event"
                             " WHERE chain_seq IS NOT NULL ORDER BY chain_seq")
        while rows := await cursor.fetchmany(2000):
            for chain_seq, prev_hash, digest, seq, text in rows:
                if chain_seq != expected_seq:
                    report.problems.append(f"chain_seq {expected_seq}..{chain_seq - 1} missing (rows deleted)")
                if bytes(prev_hash) != prev:
                    report.problems.append(f"chain_seq {chain_seq} (row {seq}): previous-hash link broken")
                if _link(bytes(prev_hash), text) != bytes(digest):
                    report.problems.append(f"chain_seq {chain_seq} (row {seq}): content altered after sealing")
                prev, expected_seq = bytes(digest), chain_seq + 1
                report.sealed += 1
        unsealed = await (await conn.execute(
            "SELECT count(*) FROM audit_event WHERE chain_seq IS NULL")).fetchone()
        await conn.execute("ROLLBACK")
    report.unsealed = int(unsealed[0]) if unsealed else 0
    report.head = prev.hex()
    return report
