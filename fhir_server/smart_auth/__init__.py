"""SMART on FHIR authorization server (SMART App Launch 2.2 and Backend Services).

https://hl7.org/fhir/smart-app-launch/ — discovery, authorization code + PKCE, EHR and
standalone launch, refresh rotation, client_credentials with private_key_jwt,
introspection, revocation; plus the pure enforcement building blocks (``scopes``) and the
``SmartContext`` dependency for the FHIR API.

Wiring (app.py): ``app.include_router(smart_auth.router)`` and, in the lifespan after the
database pool is open, ``await smart_auth.startup(app)``.
"""

from importlib import import_module
from typing import Any

# Names are imported on first use (PEP 562): importing ``smart_auth.policy`` or
# ``smart_auth.context`` -- as the resource layer and the load CLI do -- must not pull in
# FastAPI routes, JOSE and password hashing.
_WHERE = {
    "add_commands": "cli", "demo_setup": "cli",
    "DEV_CONTEXT": "context", "AccessContext": "context",
    "SmartContext": "dependencies", "access_context": "dependencies",
    "cors_headers": "discovery", "cors_preflight_response": "discovery", "security_component": "discovery",
    "smart_configuration": "discovery",
    "router": "routes",
    "ResourceScope": "scopes", "ScopeSet": "scopes", "parse_scope": "scopes", "parse_scopes": "scopes",
    "SmartAuth": "service", "startup": "service",
}

__all__ = [
    "router", "startup", "SmartAuth", "security_component", "smart_configuration", "cors_headers",
    "cors_preflight_response", "AccessContext", "SmartContext", "access_context", "DEV_CONTEXT",
    "ScopeSet", "ResourceScope", "parse_scope", "parse_scopes", "add_commands", "demo_setup",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
