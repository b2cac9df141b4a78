"""The hospital app's HTTP tests: the real app with auth on, under uvicorn, one per module."""

from __future__ import annotations

import pytest

from fhir_server.config import Settings
from tests.conftest import free_port


@pytest.fixture(scope="module")
def server_settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, host="127.0.0.1", port=free_port(), auth="on",
                    max_body_bytes=2 * 1024 * 1024, pool_min=1, pool_max=8, log_level="warning",
                    hospital_name="St. Example Hospital", login_failure_delay=0.0)


@pytest.fixture(scope="module")
def root_url(server_url: str) -> str:
    return server_url.rsplit("/fhir", 1)[0]
