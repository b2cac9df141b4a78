"""Connection pool, the one place that commits, and start-up migrations.

``Database.transaction()`` is the only code path that commits or rolls back: repositories
receive the connection it yields and never call ``commit()`` themselves.
Migrations are ``migrations/NNN_name.sql``, applied in order under a session advisory lock,
each in its own transaction, recorded in ``schema_migration`` (idempotent, safe when two
processes start at once).

Failures of the database itself leave here as FHIR errors (``db_health``): a statement
cancelled by ``statement_timeout`` as 503 too-costly, a lost connection or an exhausted pool as
503 no-store with ``Retry-After``, and while the database is unreachable every request is
refused at once instead of waiting for the pool. A COMMIT whose answer was lost is confirmed or
refuted on a fresh connection (``db_outcome``). Server time limits:
https://www.postgresql.org/docs/current/runtime-config-client.html#GUC-STATEMENT-TIMEOUT
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

from .db_health import Availability
from .db_outcome import confirmed_transaction, statement_committed

__all__ = ["Database", "SessionTimeouts", "set_local_timeouts", "migrate", "REQUIRED_EXTENSIONS"]

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
MIGRATION_LOCK_KEY = 0x46484952  # "FHIR": one constant so every process contends for one lock
REQUIRED_EXTENSIONS = ("pg_trgm", "btree_gist")
MIN_SERVER_VERSION = 150000


@dataclass(frozen=True)
class SessionTimeouts:
    """Server-side limits of every pooled connection, in seconds (0: none)."""

    statement: float
    idle_in_transaction: float

    def options(self) -> str:
        """As libpq ``options`` (set at connect: no extra round trip per connection or request)."""
        return (f"-c statement_timeout={_ms(self.statement)}"
                f" -c idle_in_transaction_session_timeout={_ms(self.idle_in_transaction)}")


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


def _connect_kwargs(url: str, timeouts: SessionTimeouts | None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"autocommit": True, "prepare_threshold": 5}
    if timeouts is not None:  # keyword options replace the URL's own: keep those in front
        given = conninfo_to_dict(url).get("options")
        kwargs["options"] = f"{given} {timeouts.options()}" if given else timeouts.options()
    return kwargs


async def set_local_timeouts(conn: AsyncConnection[Any], statement: float, idle_in_transaction: float) -> None:
    """Other limits for the rest of the current transaction (long background work, e.g. $export)."""
    await conn.execute("SELECT set_config('statement_timeout', %s, true),"
                       " set_config('idle_in_transaction_session_timeout', %s, true)",
                       (str(_ms(statement)), str(_ms(idle_in_transaction))))


class Database:
    """An async connection pool with a transaction helper.

    ``timeouts``: server-side limits of every connection (None: PostgreSQL's settings, as the
    CLI tools use); ``wait_timeout``: seconds to wait for a free connection before 503."""

    def __init__(self, url: str, min_size: int = 2, max_size: int = 20, *,
                 timeouts: SessionTimeouts | None = None, wait_timeout: float = 30.0) -> None:
        self.url = url
        self.wait_timeout = wait_timeout
        self.pool: AsyncConnectionPool[AsyncConnection[TupleRow]] = AsyncConnectionPool(
            url, min_size=min_size, max_size=max_size, open=False, timeout=wait_timeout,
            kwargs=_connect_kwargs(url, timeouts),
        )
        self.availability = Availability(url, self.pool)

    async def open(self) -> None:
        await self.pool.open(wait=True, timeout=30)

    async def close(self, timeout: float = 5.0) -> None:
        await self.availability.close()
        await self.pool.close(timeout=timeout)

    def connection(self) -> AbstractAsyncContextManager[AsyncConnection[TupleRow]]:
        """A pooled connection in autocommit mode, for single-statement reads; refused at once
        (503) while the database is unreachable."""
        return _Checkout(self)

    @asynccontextmanager
    async def transaction(self, pipelined: bool = False) -> AsyncIterator[AsyncConnection[TupleRow]]:
        """Commit when the block exits normally, roll back when it raises.

        ``pipelined``: statements (BEGIN and COMMIT included) are sent without waiting for each
        answer, for writes whose results are mostly not read back; a statement whose result is
        fetched still waits for it, and an error still raises before the block is left.
        """
        async with self.connection() as conn, confirmed_transaction(conn, self.url, pipelined) as tx:
            yield tx

    async def statement_committed(self, backend_pid: int, probe: str, params: tuple[Any, ...]) -> bool:
        """Whether a single autocommit statement whose connection was lost committed (``probe``
        finds a row only it can have written); see ``db_outcome.statement_committed``."""
        return await statement_committed(self.url, backend_pid, probe, params)


class _Checkout:
    """The pool's connection context, behind the availability gate, translating failures of
    the database into FHIR errors (a class, not a generator: it is on every request's path)."""

    __slots__ = ("db", "inner", "conn")

    def __init__(self, db: Database) -> None:
        self.db = db
        self.inner: AbstractAsyncContextManager[AsyncConnection[TupleRow]] | None = None
        self.conn: AsyncConnection[TupleRow] | None = None

    async def __aenter__(self) -> AsyncConnection[TupleRow]:
        gate = self.db.availability
        gate.check()
        self.inner = self.db.pool.connection()
        try:
            self.conn = await self.inner.__aenter__()
        except Exception as exc:
            translated = gate.translate(exc, None)
            if translated is None:
                raise
            raise translated from exc
        return self.conn

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        assert self.inner is not None
        await self.inner.__aexit__(kind, exc, tb)  # back to the pool (rolled back, or dropped if broken)
        if exc is not None and (translated := self.db.availability.translate(exc, self.conn)) is not None:
            raise translated from exc


def _migration_files() -> list[tuple[int, str, Path]]:
    files = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        match = re.match(r"(\d+)_(.+)\.sql$", path.name)
        if match:
            files.append((int(match.group(1)), match.group(2), path))
    return files


def _check_server(conn: psycopg.Connection[TupleRow]) -> None:
    version = conn.info.server_version
    if version < MIN_SERVER_VERSION:
        raise SystemExit(f"PostgreSQL {version // 10000} is too old: fhir_server needs 15 or newer")
    available = {row[0] for row in conn.execute("SELECT name FROM pg_available_extensions")}
    missing = [ext for ext in REQUIRED_EXTENSIONS if ext not in available]
    if missing:
        raise SystemExit(
            f"PostgreSQL extension(s) {', '.join(missing)} not available on this server: "
            "install the PostgreSQL contrib package (e.g. postgresql-contrib) and restart"
        )


def migrate(url: str) -> list[str]:
    """Apply pending migrations; return the names applied by this call."""
    applied_now: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        _check_server(conn)
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migration ("
                " version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {row[0] for row in conn.execute("SELECT version FROM schema_migration")}
            for version, name, path in _migration_files():
                if version in done:
                    continue
                with conn.transaction():
                    conn.execute(path.read_text())  # type: ignore[arg-type]  # trusted file
                    conn.execute("INSERT INTO schema_migration (version, name) VALUES (%s, %s)",
                                 (version, name))
                log.info("applied migration %03d_%s", version, name)
                applied_now.append(f"{version:03d}_{name}")
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
    return applied_now
