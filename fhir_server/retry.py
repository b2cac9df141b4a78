"""A write's transaction, re-run when PostgreSQL aborts it for a concurrency reason.

Two transactions that lock the same rows in opposite orders deadlock; PostgreSQL aborts one
of them (SQLSTATE 40P01) and a serializable one may fail to serialize (40001). Both roll
back completely, so the whole unit of work is run again, a bounded number of times with a
short randomised back-off; if it still fails the answer is 503 with ``Retry-After``, never a
500 (http://hl7.org/fhir/R4/http.html#concurrency). The same applies to a connection lost
before COMMIT was sent (nothing was written). A connection lost while COMMIT was on its way
is different: the write may have happened, so it is neither re-run nor reported as failed,
but answered 503 "outcome unknown" (https://www.postgresql.org/docs/current/errcodes-appendix.html).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import PoolTimeout

from .db import Database
from .errors import DatabaseUnavailable, OutcomeUnknown, ServiceUnavailable

__all__ = ["ATTEMPTS", "in_transaction", "outcome_unknown_if_lost"]

log = logging.getLogger(__name__)

T = TypeVar("T")
ATTEMPTS = 4  # the first run and three re-runs
BACKOFF_SECONDS = 0.02  # the n-th re-run waits up to n times this, at random: the rivals drift apart
RETRY_AFTER = 1
ROLLED_BACK = frozenset({"40P01", "40001"})  # deadlock_detected, serialization_failure
# The backend went away (killed, shut down) or the connection broke (no SQLSTATE at all).
CONNECTION_LOST_STATES = frozenset({"57P01", "57P02", "57P03"})


def _connection_lost(exc: psycopg.OperationalError) -> bool:
    if isinstance(exc, PoolTimeout):  # no connection was had: the pool's own error, not a loss
        return False
    state = exc.sqlstate
    return state is None or state.startswith("08") or state in CONNECTION_LOST_STATES


async def in_transaction(db: Database, work: Callable[[AsyncConnection[Any]], Awaitable[T]],
                         pipelined: bool = False, on_retry: Callable[[], None] | None = None) -> T:
    """``work(conn)`` inside ``db.transaction()``, re-run on deadlock or serialization failure.

    ``work`` must be safe to re-run: everything it does to the database is rolled back first;
    ``on_retry`` undoes what it did to its own inputs (e.g. references rewritten in place).
    """
    for attempt in range(1, ATTEMPTS + 1):
        committing = False
        try:
            async with db.transaction(pipelined) as conn:
                result = await work(conn)
                committing = True  # leaving the block sends COMMIT
            return result
        except psycopg.OperationalError as exc:
            _give_up_unless_retryable(exc, committing, attempt)
            log.info("transaction re-run %d after %s", attempt, exc.sqlstate or "a lost connection")
        except DatabaseUnavailable as exc:
            # db.py answers a lost connection as 503; lost before COMMIT (nothing was written) it is
            # worth another connection, unless the database is down (then the gate refuses at once).
            lost = exc.__cause__
            if committing or attempt == ATTEMPTS or not isinstance(lost, psycopg.OperationalError) \
                    or not _connection_lost(lost):
                raise
            log.info("transaction re-run %d after a lost connection", attempt)
        if on_retry is not None:
            on_retry()
        await asyncio.sleep(random.uniform(0, BACKOFF_SECONDS * attempt))
    raise AssertionError("unreachable")  # the last attempt returns or raises


def outcome_unknown_if_lost(exc: psycopg.OperationalError) -> None:
    """Raise ``OutcomeUnknown`` when ``exc`` is a connection lost while a write was committing
    (for a write that is a single autocommit statement: while that statement ran)."""
    if _connection_lost(exc):
        raise OutcomeUnknown("The database connection was lost while the change was being committed: "
                             "whether it was stored is unknown. Read the resource to find out before "
                             "repeating the request", RETRY_AFTER) from exc


def _give_up_unless_retryable(exc: psycopg.OperationalError, committing: bool, attempt: int) -> None:
    """Return when the unit of work may run again; raise what the client should get otherwise."""
    if committing:
        outcome_unknown_if_lost(exc)
    lost = _connection_lost(exc)
    if not lost and exc.sqlstate not in ROLLED_BACK:
        raise exc  # e.g. a statement timeout: not a concurrency failure, not ours to map
    if attempt == ATTEMPTS:
        reason = "the database connection was lost" if lost else "of contention with concurrent writes"
        raise ServiceUnavailable(f"The change was not made because {reason} ({ATTEMPTS} attempts): "
                                 "try again", RETRY_AFTER) from exc
