"""Is the database there? A gate in front of the connection pool.

When PostgreSQL goes away (killed, restarting, unreachable) a pool only notices one connection
at a time and every request would wait the pool's whole timeout before failing. Instead, the
first connection error starts one probe that connects directly (not through the pool); while
that fails the gate is *down* and every request is answered at once with 503 and
``Retry-After`` (https://www.rfc-editor.org/rfc/rfc9110#name-503-service-unavailable). The
probe keeps trying with a short back-off; when it connects again it has the pool check its idle
connections (dropping the ones broken meanwhile) and opens the gate: recovery needs no restart.
A single lost connection (one backend killed) costs one probe that succeeds at once, so other
requests are not refused for it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from .errors import DatabaseUnavailable, FhirError, TooCostly

__all__ = ["Availability", "RETRY_AFTER_SECONDS"]

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 2
PROBE_CONNECT_TIMEOUT = 2  # seconds; a dead unix socket refuses at once, a dead host does not
PROBE_MAX_DELAY = 1.0


class Availability:
    def __init__(self, url: str, pool: AsyncConnectionPool[Any]) -> None:
        self.url, self.pool = url, pool
        self.down_since: float | None = None
        self._probe: asyncio.Task[None] | None = None

    @property
    def up(self) -> bool:
        return self.down_since is None

    def check(self) -> None:
        """Refuse at once while the database is known to be unreachable."""
        if self.down_since is not None:
            raise DatabaseUnavailable(
                f"The database has been unreachable for {time.monotonic() - self.down_since:.0f} s;"
                " the server reconnects by itself, retry shortly", RETRY_AFTER_SECONDS)

    def translate(self, exc: BaseException, conn: psycopg.AsyncConnection[Any] | None) -> FhirError | None:
        """The FHIR error a database failure means for the client (None: not a failure of the
        database itself, e.g. a constraint violation or a deadlock, which callers map)."""
        if isinstance(exc, psycopg.errors.QueryCanceled):  # statement_timeout (57014)
            return TooCostly("The request took longer than the server allows a database statement"
                             f" and was cancelled ({exc.diag.message_primary})", RETRY_AFTER_SECONDS)
        if isinstance(exc, PoolTimeout):
            self.suspect()
            return DatabaseUnavailable("No database connection became free in time (the server is"
                                       " overloaded or the database is unreachable); retry shortly",
                                       RETRY_AFTER_SECONDS)
        if isinstance(exc, psycopg.OperationalError) and _connection_lost(exc, conn):
            self.suspect()
            return DatabaseUnavailable("The connection to the database was lost; retry shortly",
                                       RETRY_AFTER_SECONDS)
        return None

    def suspect(self) -> None:
        """Start the probe unless one runs already."""
        if self._probe is None or self._probe.done():
            self._probe = asyncio.get_running_loop().create_task(self._watch())

    async def close(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            await asyncio.gather(self._probe, return_exceptions=True)

    async def _watch(self) -> None:
        delay = 0.1
        while not await self._reachable():
            if self.down_since is None:
                self.down_since = time.monotonic()
                log.error("the database is unreachable: answering 503 until it is back")
            await asyncio.sleep(delay)
            delay = min(delay * 2, PROBE_MAX_DELAY)
        if self.down_since is not None:
            await self.pool.check()  # idle connections broken while it was away are replaced
            log.warning("the database is reachable again after %.1f s", time.monotonic() - self.down_since)
            self.down_since = None

    async def _reachable(self) -> bool:
        try:
            conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True,
                                                         connect_timeout=PROBE_CONNECT_TIMEOUT)
        except psycopg.Error:
            return False
        try:
            await conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False
        finally:
            await conn.close()


def _connection_lost(exc: psycopg.OperationalError, conn: psycopg.AsyncConnection[Any] | None) -> bool:
    """The connection itself failed: no SQLSTATE (the socket closed), class 08 (connection
    exception) or 57P (the server shutting down, crashed, or not yet accepting connections)."""
    state = exc.sqlstate
    return (conn is not None and conn.broken) or state is None or state.startswith(("08", "57P"))
