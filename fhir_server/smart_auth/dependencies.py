"""``SmartContext``: who is calling the FHIR API and what they may do (habit 9).

Use as a typed dependency in routes::

    async def read(resource_type: str, id: str, access: SmartContext) -> Response: ...

The bearer token (RFC 6750, https://www.rfc-editor.org/rfc/rfc6750) must be an access
token this server issued for this FHIR base (``aud``), unexpired and unrevoked (checked
against the database on every request). Scope semantics: SMART App Launch 2.2
https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html. With ``auth off``
every request gets the unrestricted development context (kind ``dev``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import Depends
from starlette.requests import Request

from ..errors import ServerError, Unauthorized
from .context import DEV_CONTEXT, AccessContext, context_from_claims
from .keys import InvalidToken
from .policy import Policy
from .storage import client_organization

__all__ = ["AccessContext", "access_context", "SmartContext", "DEV_CONTEXT", "context_from_claims", "bind_policy"]


def _challenge(error: str | None, description: str | None) -> dict[str, str]:
    value = 'Bearer realm="fhir"'
    if error:
        value += f', error="{error}", error_description="{description}"'
    return {"WWW-Authenticate": value}


async def access_context(request: Request) -> AccessContext:
    settings = request.app.state.settings
    if settings.auth != "on":
        return DEV_CONTEXT
    smart = getattr(request.app.state, "smart", None)
    if smart is None:
        raise ServerError("SMART authorization is on but not started")
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        # RFC 6750 3.1: a request without credentials gets the challenge but no error code.
        raise Unauthorized("An access token is required (Authorization: Bearer ...)", headers=_challenge(None, None))
    try:
        claims = await smart.authenticate_bearer(token.strip())
    except InvalidToken as exc:
        raise Unauthorized(f"Invalid access token: {exc}", headers=_challenge("invalid_token", str(exc))) from exc
    access = context_from_claims(claims, smart.urls.issuer)
    if access.kind == "system" and access.client_id:  # an insurer's backend: bound to its Organization
        organization = await client_organization(request.app.state.db, access.client_id)
        if organization is not None:
            access = replace(access, organization=organization)
    return access


SmartContext = Annotated[AccessContext, Depends(access_context)]


async def bind_policy(request: Request) -> Policy:
    """Router dependency for every FHIR route: authenticate (401), keep the policy on the request."""
    access = await access_context(request)
    policy = Policy(access, request.app.state.settings.public_base)
    request.state.policy = policy
    return policy
