"""Pharmacy tests run on the shared server fixtures, with every writer held to the prescriber rule
(FHIR_PRESCRIBER_CHECK=all: authorization is off here, and "users" would exempt that writer)."""

from __future__ import annotations

import pytest

from fhir_server.config import Settings
from tests.conftest import free_port


@pytest.fixture(scope="module")
def server_settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, host="127.0.0.1", port=free_port(), auth="off",
                    max_body_bytes=2 * 1024 * 1024, pool_min=1, pool_max=12, log_level="warning",
                    prescriber_check="all")
