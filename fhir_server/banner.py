"""What ``fhir-server serve`` prints once it is ready: where the API is, where the data lives,
and (with ``--demo``) the demo users and app; plus the quieting of the embedded PostgreSQL's
start-up chatter (the ``pgserver`` logger's INFO lines), which a user never needs."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from fastapi import FastAPI

from .config import Settings
from .smart_auth.cli import DEMO_CLIENT_ID, DEMO_PASSWORD, DEMO_REDIRECTS, DEMO_USERS

__all__ = ["banner_lines", "announce_when_ready", "quiet_embedded_logs"]


def quiet_embedded_logs() -> None:
    logging.getLogger("pgserver").setLevel(logging.WARNING)


def _where_data_lives(settings: Settings) -> str:
    if not settings.database_url:
        return f"embedded PostgreSQL in {settings.data_dir.resolve()}"
    parts = urlsplit(settings.database_url)
    if parts.password is not None:  # never print a password
        netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        parts = parts._replace(netloc=netloc)
    return f"PostgreSQL at {urlunsplit(parts)}"


def banner_lines(settings: Settings) -> list[str]:
    base = settings.public_base
    root = base.removesuffix("/fhir")
    lines = [f"fhir_server is ready: {root}/",
             f"  FHIR API      {base}",
             f"  capabilities  {base}/metadata",
             f"  hospital app  {root}/app/",
             f"  data          {_where_data_lives(settings)}"]
    if settings.auth == "on":
        lines.append(f"  authorization on (SMART on FHIR): {base}/.well-known/smart-configuration")
    else:
        lines.append("  authorization OFF: every client can read and write everything (development only)")
    if settings.demo:
        users = ", ".join(f"{name} ({ref})" for name, ref in DEMO_USERS)
        lines.append(f"  demo users    {users}; password {DEMO_PASSWORD}")
        lines.append(f"  demo app      client_id {DEMO_CLIENT_ID} (public, PKCE), redirect {DEMO_REDIRECTS[0]}")
    return lines


def announce_when_ready(app: FastAPI, lines: list[str], out: Any = None) -> None:
    """Print ``lines`` once the app's start-up (database, migrations, demo data) has finished."""
    inner: Callable[[Any], AbstractAsyncContextManager[Any]] = app.router.lifespan_context

    @asynccontextmanager
    async def announced(application: Any) -> AsyncIterator[Any]:
        async with inner(application) as state:
            print("\n".join(lines), file=out or sys.stdout, flush=True)
            yield state

    app.router.lifespan_context = announced
