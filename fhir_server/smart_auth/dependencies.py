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

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends
from starlette.requests import Request

from ..errors import ServerError, Unauthorized
from .keys import InvalidToken
from .scopes import ScopeSet, parse_scopes

__all__ = ["AccessContext", "access_context", "SmartContext", "DEV_CONTEXT", "context_from_claims"]


@dataclass(frozen=True)
class AccessContext:
    client_id: str | None
    user: str | None  # fhirUser as a relative reference, e.g. "Practitioner/123"
    patient: str | None  # patient id of the launch context
    encounter: str | None
    scopes: ScopeSet
    # Summary of the token: "system" (client_credentials), "patient" (only patient/ scopes),
    # "user" (any user/ scope), "dev" (auth off). Decide per scope with scopes.allows(context, ...).
    kind: str
    jti: str | None = None

    def can(self, resource_type: str, interaction: str) -> bool:
        """Does any granted scope (any context) allow ``interaction`` (c/r/u/d/s) on the type?"""
        return self.scopes.allows(None, resource_type, interaction)


DEV_CONTEXT = AccessContext(None, None, None, None, ScopeSet.everything(), "dev")


def _relative(fhir_user: Any, issuer: str) -> str | None:
    if not isinstance(fhir_user, str) or not fhir_user:
        return None
    prefix = issuer + "/"
    return fhir_user[len(prefix):] if fhir_user.startswith(prefix) else fhir_user


def context_from_claims(claims: dict[str, Any], issuer: str) -> AccessContext:
    scopes = parse_scopes(str(claims.get("scope", "")))
    contexts = scopes.contexts()
    if contexts and contexts <= {"system"}:
        kind = "system"
    elif contexts and contexts <= {"patient"}:
        kind = "patient"
    else:
        kind = "user"
    return AccessContext(client_id=claims.get("client_id"), user=_relative(claims.get("fhirUser"), issuer),
                         patient=claims.get("patient"), encounter=claims.get("encounter"), scopes=scopes,
                         kind=kind, jti=claims.get("jti"))


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
    return context_from_claims(claims, smart.urls.issuer)


SmartContext = Annotated[AccessContext, Depends(access_context)]
