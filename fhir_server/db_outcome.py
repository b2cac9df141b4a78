"""A COMMIT whose answer was lost: did it happen?

When the connection drops while COMMIT is on its way, the client cannot tell from the error
whether PostgreSQL committed. Reporting a failure for a write that happened makes clients
retry it (a second create) or believe it absent. So the transaction's id is read just before
COMMIT (``pg_current_xact_id_if_assigned()``, sent in the same round trip when the transaction
is pipelined) and, if COMMIT fails with the connection lost, a fresh connection asks
``pg_xact_status(xid)`` (https://www.postgresql.org/docs/current/functions-info.html#FUNCTIONS-PG-SNAPSHOT):
``committed`` is answered as the success it was, ``aborted`` as the failure it was, and when
the database cannot be asked in time the client gets 503 "outcome unknown" (``OutcomeUnknown``),
never a plain failure.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg import AsyncConnection, AsyncCursor

from .errors import OutcomeUnknown

__all__ = ["confirmed_transaction", "xact_status", "statement_committed"]

log = logging.getLogger(__name__)
XID_SQL = "SELECT pg_current_xact_id_if_assigned()::text"
NOTHING_WRITTEN = ""
UNKNOWN = ("The connection to the database was lost while the change was being committed, and the database"
           " could not be asked whether it was: read the resource before retrying a write that is not idempotent")
ASK_FOR_SECONDS = 5.0  # how long a lost COMMIT waits for the database to answer about it


@asynccontextmanager
async def confirmed_transaction(conn: AsyncConnection[Any], url: str,
                                pipelined: bool) -> AsyncIterator[AsyncConnection[Any]]:
    """``conn.transaction()`` (inside ``conn.pipeline()`` when ``pipelined``) whose COMMIT, if
    its answer is lost, is confirmed or refuted on a fresh connection."""
    xid_cursor: AsyncCursor[Any] | None = None
    try:
        if pipelined:
            async with conn.pipeline(), conn.transaction():
                yield conn
                xid_cursor = await conn.execute(XID_SQL)  # queued: it travels with the COMMIT
        else:
            async with conn.transaction():
                yield conn
                xid_cursor = await conn.execute(XID_SQL)
    except psycopg.OperationalError as exc:
        if xid_cursor is None or not conn.broken:
            raise  # failed before COMMIT was sent, or a statement's own error: not committed
        xid = await _xid(xid_cursor)
        if xid == NOTHING_WRITTEN:
            raise  # no transaction id was assigned: there was nothing to commit
        await _settle(exc, url, xid)


async def _settle(exc: psycopg.OperationalError, url: str, xid: str | None) -> None:
    """Return if the transaction committed, raise otherwise."""
    status = await xact_status(url, xid) if xid is not None else None
    if status == "committed":
        log.warning("the connection was lost during COMMIT of transaction %s, which committed", xid)
        return
    if status == "aborted":
        raise exc  # it did not happen: an ordinary lost connection (503 through the gate)
    log.error("the connection was lost during COMMIT of transaction %s; outcome unknown", xid)
    raise OutcomeUnknown(UNKNOWN) from exc


async def _xid(cursor: AsyncCursor[Any]) -> str | None:
    """The id read before COMMIT; None if its answer did not arrive before the connection was
    lost, ``NOTHING_WRITTEN`` if the transaction had no id (it wrote nothing)."""
    try:
        row = await cursor.fetchone()
    except psycopg.Error:
        return None
    if row is None:
        return None
    return NOTHING_WRITTEN if row[0] is None else str(row[0])


async def xact_status(url: str, xid: str, ask_for: float = ASK_FOR_SECONDS) -> str | None:
    """'committed', 'aborted' or None (unknown: the database could not be asked within
    ``ask_for`` seconds, or the transaction is still in progress)."""
    deadline = time.monotonic() + ask_for
    while True:
        try:
            async with await AsyncConnection.connect(url, autocommit=True, connect_timeout=2) as conn:
                cur = await conn.execute("SELECT pg_xact_status(%s::xid8)", (xid,))
                row = await cur.fetchone()
                status = row[0] if row else None
                if status in ("committed", "aborted"):
                    return str(status)
        except psycopg.Error:
            pass
        if time.monotonic() >= deadline:
            return None
        await asyncio.sleep(0.25)


async def statement_committed(url: str, backend_pid: int, probe: str, params: tuple[Any, ...],
                              ask_for: float = ASK_FOR_SECONDS) -> bool:
    """After the connection of a single autocommit statement was lost (it commits as it ends,
    so its answer may be lost after its commit): did it commit? Waits until the old backend
    has exited (its commit, if any, is then visible), then runs ``probe`` — a query that finds
    a row only that statement can have written. ``OutcomeUnknown`` if the database cannot be
    asked within ``ask_for`` seconds."""
    deadline = time.monotonic() + ask_for
    while time.monotonic() < deadline:
        try:
            async with await AsyncConnection.connect(url, autocommit=True, connect_timeout=2) as conn:
                while await (await conn.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s",
                                                (backend_pid,))).fetchone() is not None:
                    if time.monotonic() >= deadline:
                        break
                    await asyncio.sleep(0.05)
                else:
                    found = await (await conn.execute(probe, params)).fetchone() is not None  # type: ignore[arg-type]
                    log.warning("the connection was lost at the end of a statement, which %s",
                                "committed" if found else "did not commit")
                    return found
        except psycopg.Error:
            await asyncio.sleep(0.25)
    raise OutcomeUnknown(UNKNOWN)
