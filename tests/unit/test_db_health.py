"""Which database failures mean what to a client (fhir_server/db_health.py), without a database."""

from __future__ import annotations

import asyncio

import psycopg
from psycopg import errors
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from fhir_server.db_health import Availability
from fhir_server.errors import DatabaseUnavailable, TooCostly


def _gate() -> Availability:
    pool: AsyncConnectionPool = AsyncConnectionPool("host=/nonexistent", open=False)
    return Availability("host=/nonexistent dbname=x", pool)


def test_a_cancelled_statement_is_too_costly_and_does_not_suspect_the_database() -> None:
    gate = _gate()
    error = gate.translate(errors.QueryCanceled("canceling statement due to statement timeout"), None)
    assert isinstance(error, TooCostly)
    assert (error.status, error.issues[0].code, error.headers) == (503, "too-costly", {"Retry-After": "2"})
    assert gate._probe is None and gate.up


def test_lost_connections_and_server_shutdowns_are_no_store() -> None:
    async def run() -> list[object]:
        gate = _gate()
        found = [gate.translate(exc, None) for exc in (
            psycopg.OperationalError("server closed the connection unexpectedly"),  # no SQLSTATE
            errors.AdminShutdown("terminating connection due to administrator command"),  # 57P01
            errors.CannotConnectNow("the database system is starting up"),  # 57P03
            PoolTimeout("couldn't get a connection after 5.00 sec"))]
        await asyncio.sleep(0.3)  # the probe cannot connect: the gate closes
        assert not gate.up
        await gate.close()
        return found

    found = asyncio.run(run())
    assert all(isinstance(e, DatabaseUnavailable) for e in found)
    assert {(e.status, e.issues[0].code) for e in found if isinstance(e, DatabaseUnavailable)} == {(503, "no-store")}


def test_errors_of_the_statement_itself_are_left_to_their_callers() -> None:
    gate = _gate()
    for exc in (errors.DeadlockDetected("deadlock detected"), errors.SerializationFailure("could not serialize"),
                errors.UniqueViolation("duplicate key"), ValueError("not a database error")):
        assert gate.translate(exc, None) is None
    assert gate._probe is None


def test_a_closed_gate_refuses_at_once() -> None:
    gate = _gate()
    gate.down_since = 0.0
    try:
        gate.check()
    except DatabaseUnavailable as exc:
        assert exc.headers == {"Retry-After": "2"} and "unreachable" in exc.message
    else:
        raise AssertionError("an unreachable database must refuse")
