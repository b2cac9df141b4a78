"""Who is calling: the access context of a request (client, user, launch patient, scopes).

Kept apart from ``dependencies`` (FastAPI, token verification) so that code which only
needs to reason about an access context -- policies, the load CLI -- imports neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .scopes import ScopeSet, parse_scopes

__all__ = ["AccessContext", "DEV_CONTEXT", "context_from_claims"]


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
    # The insurer Organization id a Backend Services client is bound to (smart_client_organization).
    organization: str | None = None

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
