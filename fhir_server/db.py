"""Connection pool, the one place that commits, and start-up migrations.

``Database.transaction()`` is the only code path that commits or rolls back: repositories
receive the connection it yields and never call ``commit()`` themselves.
Migrations are ``migrations/NNN_name.sql``, applied in order under a session advisory lock,
each in its own transaction, recorded in ``schema_migration`` (idempotent, safe when two
processes start at once).
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

__all__ = ["Database", "migrate", "REQUIRED_EXTENSIONS"]

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
MIGRATION_LOCK_KEY = 0x46484952  # "FHIR": one constant so every process contends for one lock
REQUIRED_EXTENSIONS = ("pg_trgm", "btree_gist")
MIN_SERVER_VERSION = 150000


class Database:
    """An async connection pool with a transaction helper."""

    def __init__(self, url: str, min_size: int = 2, max_size: int = 20) -> None:
        self.url = url
        self.pool: AsyncConnectionPool[AsyncConnection[TupleRow]] = AsyncConnectionPool(
            url, min_size=min_size, max_size=max_size, open=False,
            kwargs={"autocommit": True, "prepare_threshold": 5},
        )

    async def open(self) -> None:
        await self.pool.open(wait=True, timeout=30)

    async def close(self) -> None:
        await self.pool.close()

    def connection(self) -> AbstractAsyncContextManager[AsyncConnection[TupleRow]]:
        """A pooled connection in autocommit mode, for single-statement reads (the pool's own
        context manager: no extra generator layer on the read path)."""
        return self.pool.connection()

    @asynccontextmanager
    async def transaction(self, pipelined: bool = False) -> AsyncIterator[AsyncConnection[TupleRow]]:
        """Commit when the block exits normally, roll back when it raises.

        ``pipelined``: statements (BEGIN and COMMIT included) are sent without waiting for each
        answer, for writes whose results are mostly not read back; a statement whose result is
        fetched still waits for it, and an error still raises before the block is left.
        """
        async with self.pool.connection() as conn:
            if not pipelined:
                async with conn.transaction():
                    yield conn
                return
            async with conn.pipeline(), conn.transaction():
                yield conn


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
