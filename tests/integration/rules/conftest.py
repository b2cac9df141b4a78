"""A server whose write rules include the probe rule module, on a database with its side tables."""

from __future__ import annotations

import psycopg
import pytest

from fhir_server.config import Settings
from tests.conftest import free_port

from .probe_rules import SIDE_TABLES

PROBE_MODULE = "tests.integration.rules.probe_rules"


@pytest.fixture(scope="module")
def server_settings(database_url: str) -> Settings:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(SIDE_TABLES)  # type: ignore[arg-type]  # trusted test DDL
    return Settings(database_url=database_url, host="127.0.0.1", port=free_port(), auth="off",
                    max_body_bytes=2 * 1024 * 1024, pool_min=1, pool_max=8, log_level="warning",
                    rule_modules=(PROBE_MODULE,))
