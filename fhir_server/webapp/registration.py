"""The app as a confidential SMART client of this server, registered at every start-up.

The client secret is a server secret (``smart_secret`` table, made on first use and shared by
every server process), so no secret is ever in the repository or the environment; the
registration is refreshed each start so the redirect URI follows ``FHIR_BASE_URL``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..db import Database
from ..smart_auth.hashing import digest
from ..smart_auth.storage import server_secret

__all__ = ["AppClient", "startup", "CLIENT_ID", "SCOPE"]

CLIENT_ID = "hospital-app"
CLIENT_NAME = "Hospital app"
# The patient portal: a patient's own record (a clinician would get the picker: later pages).
SCOPE = "openid fhirUser launch/patient patient/*.cruds"


@dataclass(frozen=True)
class AppClient:
    client_id: str
    secret: str
    redirect_uri: str
    root: str  # scheme://host[:port][/prefix] of this server, without /fhir


async def _register(db: Database, secret: str, redirect_uri: str) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO smart_client (client_id, name, auth_method, scope, redirect_uris, secret_hash)"
            " VALUES (%s, %s, 'client_secret', %s, %s, %s) ON CONFLICT (client_id) DO UPDATE SET"
            " name = EXCLUDED.name, auth_method = EXCLUDED.auth_method, scope = EXCLUDED.scope,"
            " redirect_uris = EXCLUDED.redirect_uris, secret_hash = EXCLUDED.secret_hash",
            (CLIENT_ID, CLIENT_NAME, SCOPE, [redirect_uri], digest(secret)))


async def startup(app: Any) -> AppClient:
    """Register (or refresh) the client and keep its settings in ``app.state.webapp``."""
    db: Database = app.state.db
    root = app.state.settings.public_base.rsplit("/fhir", 1)[0]
    secret = (await server_secret(db, "webapp-client")).hex()
    client = AppClient(CLIENT_ID, secret, f"{root}/app/callback", root)
    await _register(db, secret, client.redirect_uri)
    app.state.webapp = client
    return client
