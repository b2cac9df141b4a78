"""Tamper evidence for the audit trail: a keyed hash chain over audit rows, signed checkpoints,
and their verification.

Rows are chained in sealing order (``chain_seq``), not insertion order, because rows commit
out of order; the sealer chains every committed unsealed row, holding a transaction-level
advisory lock so only one sealer runs at a time. Each link is
``HMAC-SHA256(key, prev_hash || row text || writer MAC)`` (``keyring.link``), the row text being
PostgreSQL's canonical text of the audited columns, and the key living outside the database.
``verify`` detects, without trusting the database:

- a changed sealed row, a deleted row (a gap), a re-ordered chain, and a chain recomputed by
  someone without the key (every link is checked with the key);
- a row inserted with plain SQL instead of through the server's writer: it has no valid
  writer MAC, and is reported even after sealing (the sealer chains it, it never vouches for it);
- against a checkpoint (``make_checkpoint``: chain length, head hash and time, signed with the
  key, kept outside the database): removal of the newest rows, truncation of both tables, or a
  replaced chain.

What it cannot prove: that rows newer than the last checkpoint were not removed (the chain's
end is only known from a checkpoint), that the server recorded every event it should have, or
anything at all against someone who holds the key. Links sealed before migration 065 are
plain SHA-256 (``keyed`` false, rows without MAC): they prove only internal consistency.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from psycopg import AsyncConnection

from ..db import Database
from ..jsonio import parse_json
from .keyring import link, row_mac, sign

__all__ = ["seal_pending", "verify_chain", "ChainReport", "make_checkpoint", "check_checkpoint",
           "Checkpoint", "write_checkpoint_file"]

SEALER_LOCK = 0x41554454  # "AUDT"
ROW_TEXT = ("row(a.id, a.recorded, a.action, a.subtype, a.outcome, a.client_id, a.user_ref, a.patient_refs,"
            " a.entity_refs, a.request_id, a.content)::text")
# The columns the writer MAC covers, as Python values (content as text: parsed here, see _mac_row).
ROW_COLUMNS = ("a.id, a.recorded, a.action, a.subtype, a.outcome, a.client_id, a.user_ref, a.patient_refs,"
               " a.entity_refs, a.request_id, a.content::text, a.mac")
GENESIS = b"\x00" * 32
CHAIN_COPY = "COPY audit_chain (chain_seq, seq, prev_hash, hash, keyed) FROM STDIN"
CHECKPOINT_FORMAT = "fhir-server-audit-checkpoint/1"


async def _head(conn: AsyncConnection[Any]) -> tuple[int, bytes]:
    cur = await conn.execute("SELECT chain_seq, hash FROM audit_chain ORDER BY chain_seq DESC LIMIT 1")
    row = await cur.fetchone()
    return (row[0], bytes(row[1])) if row else (0, GENESIS)


async def seal_pending(db: Database, key: bytes, batch: int = 5000) -> int:
    """Chain every committed unsealed row (up to ``batch``); return how many were sealed."""
    async with db.transaction() as conn:
        locked = await (await conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (SEALER_LOCK,))).fetchone()
        if not locked or not locked[0]:
            return 0
        head_seq, prev = await _head(conn)
        rows = await (await conn.execute(
            f"SELECT q.seq, {ROW_TEXT}, a.mac FROM audit_unsealed q JOIN audit_event a ON a.seq = q.seq"
            " ORDER BY q.seq LIMIT %s", (batch,))).fetchall()
        if not rows:
            return 0
        async with conn.cursor() as cur, cur.copy(CHAIN_COPY) as copy:
            for chain_seq, (seq, text, mac) in enumerate(rows, start=head_seq + 1):
                digest = link(key, prev, text, bytes(mac) if mac is not None else None)
                await copy.write_row((chain_seq, seq, prev, digest, True))
                prev = digest
        # The queue entries of exactly the rows just chained (no id list to send back).
        await conn.execute("DELETE FROM audit_unsealed q USING audit_chain c"
                           " WHERE c.chain_seq > %s AND q.seq = c.seq", (head_seq,))
        return len(rows)


@dataclass(frozen=True)
class Checkpoint:
    """The chain's length and head at one moment, signed with the audit key."""

    chain_seq: int
    head: str
    time: str

    def text(self) -> str:
        return f"{CHECKPOINT_FORMAT}|{self.chain_seq}|{self.head}|{self.time}"


@dataclass
class ChainReport:
    sealed: int = 0
    unsealed: int = 0
    legacy: int = 0  # unkeyed links from before migration 065
    head: str = GENESIS.hex()
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class _Walk:
    key: bytes
    report: ChainReport
    checkpoint: Checkpoint | None
    expected_seq: int = 1
    prev: bytes = GENESIS
    keyed_seen: bool = False


def _mac_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return (*row[:10], parse_json(row[10].encode(), None))  # Decimal where a float would lose digits


def _check_link(walk: _Walk, chain_seq: int, prev_hash: bytes, digest: bytes, keyed: bool, seq: int,
                text: str | None, columns: tuple[Any, ...] | None) -> None:
    problems = walk.report.problems
    if chain_seq != walk.expected_seq:
        problems.append(f"chain_seq {walk.expected_seq}..{chain_seq - 1} missing (links deleted)")
    if prev_hash != walk.prev:
        problems.append(f"chain_seq {chain_seq} (row {seq}): previous-hash link broken")
    if not keyed and walk.keyed_seen:
        problems.append(f"chain_seq {chain_seq} (row {seq}): unkeyed link after keyed ones (chain recomputed)")
    walk.keyed_seen |= keyed
    walk.report.legacy += not keyed
    if text is None or columns is None:
        problems.append(f"chain_seq {chain_seq}: audit row {seq} deleted after sealing")
        return
    mac = bytes(columns[11]) if columns[11] is not None else None
    if link(walk.key if keyed else None, prev_hash, text, mac) != digest:
        problems.append(f"chain_seq {chain_seq} (row {seq}): content altered after sealing, or the link was"
                        " not made with this audit key")
    elif keyed and (mac is None or row_mac(walk.key, _mac_row(columns[:11])) != mac):
        problems.append(f"chain_seq {chain_seq} (row {seq}): not written by the server (no valid writer MAC)")


def _check_checkpoint_link(walk: _Walk, chain_seq: int, digest: bytes) -> None:
    if walk.checkpoint is not None and chain_seq == walk.checkpoint.chain_seq and digest.hex() != walk.checkpoint.head:
        walk.report.problems.append(f"chain_seq {chain_seq} differs from the checkpoint's head (rows altered or"
                                    " removed and the chain recomputed)")


async def verify_chain(db: Database, key: bytes, checkpoint: Checkpoint | None = None) -> ChainReport:
    """Walk the whole chain; report every broken link, gap, altered or foreign row, and (given a
    checkpoint) any of the rows it covers that are gone."""
    walk = _Walk(key, ChainReport(), checkpoint)
    async with db.connection() as conn, conn.cursor(name="audit_verify") as cursor:
        await conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        await cursor.execute(f"SELECT c.chain_seq, c.prev_hash, c.hash, c.keyed, c.seq, CASE WHEN a.seq IS NOT NULL"
                             f" THEN {ROW_TEXT} END, {ROW_COLUMNS} FROM audit_chain c"
                             " LEFT JOIN audit_event a ON a.seq = c.seq ORDER BY c.chain_seq")
        while rows := await cursor.fetchmany(2000):
            for chain_seq, prev_hash, digest, keyed, seq, text, *columns in rows:
                digest = bytes(digest)
                _check_link(walk, chain_seq, bytes(prev_hash), digest, keyed, seq, text,
                            tuple(columns) if text is not None else None)
                _check_checkpoint_link(walk, chain_seq, digest)
                walk.prev, walk.expected_seq = digest, chain_seq + 1
                walk.report.sealed += 1
        counts = await (await conn.execute(
            "SELECT (SELECT count(*) FROM audit_unsealed),"
            " (SELECT count(*) FROM audit_event a WHERE NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.seq = a.seq)"
            "  AND NOT EXISTS (SELECT 1 FROM audit_unsealed q WHERE q.seq = a.seq))")).fetchone()
        await conn.execute("ROLLBACK")
    report = walk.report
    unsealed, orphans = (int(counts[0]), int(counts[1])) if counts else (0, 0)
    if orphans:
        report.problems.append(f"{orphans} audit row(s) neither sealed nor queued for sealing (queue tampered)")
    if checkpoint is not None and walk.expected_seq - 1 < checkpoint.chain_seq:
        report.problems.append(f"the chain has {walk.expected_seq - 1} links but the checkpoint of {checkpoint.time}"
                               f" covers {checkpoint.chain_seq}: sealed rows were removed or the tables truncated")
    report.unsealed = unsealed
    report.head = walk.prev.hex()
    return report


async def make_checkpoint(db: Database, key: bytes) -> dict[str, Any]:
    """Seal what is pending, then sign the chain's length and head (to be kept outside the database)."""
    while await seal_pending(db, key):
        pass
    async with db.connection() as conn:
        chain_seq, head = await _head(conn)
    point = Checkpoint(chain_seq, head.hex(), datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"))
    return {"format": CHECKPOINT_FORMAT, "chain_seq": point.chain_seq, "head": point.head, "time": point.time,
            "hmac": sign(key, point.text())}


def check_checkpoint(data: Any, key: bytes) -> Checkpoint:
    """A checkpoint file's content, once its signature is checked; ValueError when it is not genuine."""
    try:
        point = Checkpoint(int(data["chain_seq"]), str(data["head"]), str(data["time"]))
        signature = str(data["hmac"])
        genuine = data.get("format") == CHECKPOINT_FORMAT and hmac.compare_digest(sign(key, point.text()), signature)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ValueError("not an audit checkpoint file") from None
    if not genuine:
        raise ValueError("the checkpoint's signature is not valid for this audit key (edited or foreign)")
    return point


async def write_checkpoint_file(db: Database, key: bytes, directory: Path) -> Path:
    """A checkpoint as ``checkpoint-<time>-<pid>.json`` in ``directory`` (written whole, then renamed)."""
    point = await make_checkpoint(db, key)
    stamp = str(point["time"]).replace(":", "").replace("-", "")
    path = directory / f"checkpoint-{stamp}-{os.getpid()}.json"

    def write() -> None:
        directory.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        partial.write_text(json.dumps(point, indent=1) + "\n")
        partial.replace(path)

    await asyncio.to_thread(write)
    return path
