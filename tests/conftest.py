"""Test fixtures: real PostgreSQL and the real HTTP app.

One PostgreSQL per test session: the embedded one (pgserver) by default, or the server at
FHIR_TEST_DATABASE_URL. A migrated template database is built once; each test module gets
its own copy (CREATE DATABASE ... TEMPLATE, cheap) and its own uvicorn server on a free port.
"""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import pytest
import uvicorn
from psycopg import sql

from fhir_server.config import Settings
from fhir_server.db import migrate
from fhir_server.embedded import CREATE_DATABASE

TEMPLATE_DB = "fhir_test_template"


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    external = os.environ.get("FHIR_TEST_DATABASE_URL")
    if external:
        yield external
        return
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

        # A short path: the server's unix socket lives in the data directory (108-byte limit).
        data_dir = Path(tempfile.mkdtemp(prefix="fhirpg-", dir="/tmp"))
        server = pgserver.get_server(data_dir, cleanup_mode="delete")
    yield server.get_uri()
    server.cleanup()


@pytest.fixture(scope="session")
def template_url(pg_admin_url: str) -> str:
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(TEMPLATE_DB)))
        conn.execute(sql.SQL(CREATE_DATABASE).format(sql.Identifier(TEMPLATE_DB)))  # as the server makes it
    url = _with_database(pg_admin_url, TEMPLATE_DB)
    migrate(url)
    return url


@pytest.fixture(scope="module")
def database_url(pg_admin_url: str, template_url: str) -> Iterator[str]:
    """A fresh, migrated database for one test module."""
    name = f"fhir_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(TEMPLATE_DB)))
    yield _with_database(pg_admin_url, name)
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server_settings(database_url: str) -> Settings:
    port = free_port()
    return Settings(database_url=database_url, host="127.0.0.1", port=port, auth="off",
                    max_body_bytes=2 * 1024 * 1024, pool_min=1, pool_max=8, log_level="warning")


@contextmanager
def serving(app: Any, settings: Settings) -> Iterator[str]:
    """``app`` under uvicorn in a background thread, as users run it; yields the FHIR base URL."""
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning", access_log=False,
                            lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    try:
        yield settings.public_base
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def server_url(server_settings: Settings) -> Iterator[str]:
    """The real app under uvicorn in a background thread; yields the FHIR base URL."""
    from fhir_server.app import create_app

    with serving(create_app(server_settings), server_settings) as base:
        yield base


@pytest.fixture(scope="module")
def client(server_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server_url, timeout=30,
                      headers={"Accept": "application/fhir+json"}) as http:
        yield http
