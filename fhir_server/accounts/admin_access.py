"""Who may use the /admin/ API: a bearer token (checked like any FHIR request's: live, unrevoked)
whose user holds the role ``admin`` and is active. Anyone else: 403 (401 without a token).
With ``FHIR_AUTH=off`` (development) the API is open, like the FHIR API."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from ..errors import Forbidden
from ..smart_auth import grant_store, roles
from ..smart_auth.dependencies import access_context

__all__ = ["Admin", "require_admin"]


@dataclass(frozen=True)
class Admin:
    username: str | None  # None: auth off
    fhir_user: str | None
    client_id: str | None


async def require_admin(request: Request) -> Admin:
    access = await access_context(request)  # 401 for a missing, invalid or revoked token
    if access.kind == "dev":
        return Admin(None, None, None)
    db = request.app.state.db
    token = await grant_store.find_access_token(db, access.jti or "")
    username = token.subject.username if token else None
    if username is None or "admin" not in await roles.user_roles(db, username):
        raise Forbidden("The admin API needs a token of a user with the role admin")
    return Admin(username, access.user, access.client_id)
