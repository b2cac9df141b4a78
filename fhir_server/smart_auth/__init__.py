"""SMART on FHIR authorization server (SMART App Launch 2.2 and Backend Services).

https://hl7.org/fhir/smart-app-launch/ — discovery, authorization code + PKCE, EHR and
standalone launch, refresh rotation, client_credentials with private_key_jwt,
introspection, revocation; plus the pure enforcement building blocks (``scopes``) and the
``SmartContext`` dependency for the FHIR API.

Wiring (app.py): ``app.include_router(smart_auth.router)`` and, in the lifespan after the
database pool is open, ``await smart_auth.startup(app)``.
"""

from .cli import add_commands, demo_setup
from .dependencies import DEV_CONTEXT, AccessContext, SmartContext, access_context
from .discovery import (
    cors_headers,
    cors_preflight_response,
    security_component,
    smart_configuration,
)
from .routes import router
from .scopes import ResourceScope, ScopeSet, parse_scope, parse_scopes
from .service import SmartAuth, startup

__all__ = [
    "router", "startup", "SmartAuth", "security_component", "smart_configuration", "cors_headers",
    "cors_preflight_response", "AccessContext", "SmartContext", "access_context", "DEV_CONTEXT",
    "ScopeSet", "ResourceScope", "parse_scope", "parse_scopes", "add_commands", "demo_setup",
]
