"""Fixtures for the SMART authorization server tests: the real app with auth on, under uvicorn."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from fhir_server.app import create_app
from fhir_server.config import Settings
from fhir_server.smart_auth import SmartContext
from tests.conftest import free_port, serving


def build_app(settings: Settings) -> FastAPI:
    """The real app (SMART wired by app.py) plus one probe route showing the SmartContext."""
    app = create_app(settings)

    @app.get("/test/whoami")
    async def whoami(access: SmartContext) -> dict[str, Any]:
        return {"client_id": access.client_id, "user": access.user, "patient": access.patient,
                "encounter": access.encounter, "kind": access.kind, "scopes": access.scopes.to_list(),
                "can_read_observation": access.can("Observation", "r")}

    return app


@pytest.fixture(scope="module")
def server_settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, host="127.0.0.1", port=free_port(), auth="on",
                    max_body_bytes=2 * 1024 * 1024, pool_min=1, pool_max=8, log_level="warning")


@pytest.fixture(scope="module")
def server_url(server_settings: Settings) -> Iterator[str]:
    with serving(build_app(server_settings), server_settings) as base:
        yield base


@pytest.fixture(scope="module")
def root_url(server_url: str) -> str:
    return server_url.rsplit("/fhir", 1)[0]


@pytest.fixture()
def browser(server_url: str) -> Iterator[httpx.Client]:
    """A user agent with its own cookie jar that does not follow redirects."""
    with httpx.Client(timeout=30, follow_redirects=False) as http:
        yield http
