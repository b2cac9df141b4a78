"""Fixtures for the SMART authorization server tests: the real app with auth on, under uvicorn.

Until app.py wires SMART itself (include_router + startup in the lifespan + security in
/metadata), ``build_app`` does that wiring here, exactly as documented for the lead; when
app.py already does it, nothing is added twice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from fastapi import FastAPI

from fhir_server.config import Settings
from fhir_server.smart_auth import SmartContext, router, security_component, startup
from tests.conftest import free_port


def build_app(settings: Settings) -> FastAPI:
    from fhir_server.app import create_app

    try:
        app = create_app(settings)
    except SystemExit:  # app.py refuses auth on until SMART is wired: wire it here
        app = create_app(replace(settings, auth="off"))
        app.state.settings = settings
    if not any(getattr(route, "path", None) == "/auth/token" for route in app.router.routes):
        before = len(app.router.routes)
        app.include_router(router)
        added = app.router.routes[before:]
        # Discovery lives under /fhir: it must precede the /fhir/{type}/{id} routes.
        app.router.routes[:] = added + app.router.routes[:before]

    @app.get("/test/whoami")
    async def whoami(access: SmartContext) -> dict[str, Any]:
        return {"client_id": access.client_id, "user": access.user, "patient": access.patient,
                "encounter": access.encounter, "kind": access.kind, "scopes": access.scopes.to_list(),
                "can_read_observation": access.can("Observation", "r")}

    original = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(inner: FastAPI) -> AsyncIterator[None]:
        async with original(inner):
            await startup(inner)
            statement = orjson.loads(inner.state.capability)
            rest = statement["rest"][0]
            if "security" not in rest:
                rest["security"] = security_component(settings.public_base)
                inner.state.capability = orjson.dumps(statement)
            yield

    app.router.lifespan_context = lifespan
    return app


@pytest.fixture(scope="module")
def server_settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, host="127.0.0.1", port=free_port(), auth="on",
                    max_body_bytes=2 * 1024 * 1024, pool_min=1, pool_max=8, log_level="warning")


@pytest.fixture(scope="module")
def server_url(server_settings: Settings) -> Iterator[str]:
    config = uvicorn.Config(build_app(server_settings), host=server_settings.host, port=server_settings.port,
                            log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    yield server_settings.public_base
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def root_url(server_url: str) -> str:
    return server_url.rsplit("/fhir", 1)[0]


@pytest.fixture()
def browser(server_url: str) -> Iterator[httpx.Client]:
    """A user agent with its own cookie jar that does not follow redirects."""
    with httpx.Client(timeout=30, follow_redirects=False) as http:
        yield http
