"""Discovery: ``.well-known/smart-configuration``, OpenID configuration, the
CapabilityStatement ``rest.security`` element, and CORS for these endpoints.

- SMART configuration: https://hl7.org/fhir/smart-app-launch/conformance.html#using-well-known
- Capabilities: https://hl7.org/fhir/smart-app-launch/conformance.html#capabilities
- oauth-uris extension (what the Python ``fhirclient`` reads):
  https://hl7.org/fhir/smart-app-launch/STU1/capstat.html (SMART 1.0 "Declaring support for OAuth2 endpoints")
- OpenID Connect Discovery 1.0: https://openid.net/specs/openid-connect-discovery-1_0.html
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from starlette.responses import Response

from .keys import SIGNING_ALG

__all__ = [
    "AuthUrls", "urls_for", "smart_configuration", "openid_configuration", "security_component",
    "cors_headers", "cors_preflight_response", "CAPABILITIES", "SCOPES_SUPPORTED",
]

CAPABILITIES = [
    "launch-ehr", "launch-standalone", "client-public", "client-confidential-symmetric",
    "client-confidential-asymmetric", "context-ehr-patient", "context-ehr-encounter",
    "context-standalone-patient", "permission-offline", "permission-online", "permission-patient",
    "permission-user", "permission-v1", "permission-v2", "sso-openid-connect", "authorize-post",
]
SCOPES_SUPPORTED = [
    "openid", "fhirUser", "launch", "launch/patient", "launch/encounter", "offline_access", "online_access",
    "patient/*.cruds", "patient/*.rs", "user/*.cruds", "user/*.rs", "system/*.cruds", "system/*.rs",
    "patient/*.read", "patient/*.write", "user/*.read", "user/*.write", "system/*.read", "system/*.write",
]
ASSERTION_ALGS = ["RS384", "ES384"]
OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"


@dataclass(frozen=True)
class AuthUrls:
    issuer: str  # the FHIR base: SMART's `aud` and our tokens' `iss`
    authorize: str
    token: str
    introspect: str
    revoke: str
    jwks: str
    login: str
    patient: str
    consent: str


def urls_for(public_base: str) -> AuthUrls:
    """Absolute URLs of the auth endpoints, beside the FHIR base (…/fhir -> …/auth)."""
    base = public_base.rstrip("/")
    if base.endswith("/fhir"):
        root = base[: -len("/fhir")]
    else:
        parts = urlsplit(base)
        root = f"{parts.scheme}://{parts.netloc}"
    auth = f"{root}/auth"
    return AuthUrls(base, f"{auth}/authorize", f"{auth}/token", f"{auth}/introspect", f"{auth}/revoke",
                    f"{auth}/jwks", f"{auth}/login", f"{auth}/patient", f"{auth}/consent")


def smart_configuration(public_base: str) -> dict[str, Any]:
    urls = urls_for(public_base)
    return {
        "issuer": urls.issuer,
        "jwks_uri": urls.jwks,
        "authorization_endpoint": urls.authorize,
        "token_endpoint": urls.token,
        "introspection_endpoint": urls.introspect,
        "revocation_endpoint": urls.revoke,
        "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
        "token_endpoint_auth_methods_supported": [
            "none", "client_secret_basic", "client_secret_post", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGS,
        "scopes_supported": SCOPES_SUPPORTED,
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "capabilities": CAPABILITIES,
    }


def openid_configuration(public_base: str) -> dict[str, Any]:
    urls = urls_for(public_base)
    return {
        "issuer": urls.issuer,
        "authorization_endpoint": urls.authorize,
        "token_endpoint": urls.token,
        "jwks_uri": urls.jwks,
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [SIGNING_ALG],
        "scopes_supported": ["openid", "fhirUser"],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "nonce", "fhirUser"],
        "token_endpoint_auth_methods_supported": [
            "none", "client_secret_basic", "client_secret_post", "private_key_jwt"],
        "code_challenge_methods_supported": ["S256"],
    }


def security_component(base: str) -> dict[str, Any]:
    """``CapabilityStatement.rest.security`` announcing SMART and the OAuth endpoints."""
    urls = urls_for(base)
    return {
        "extension": [{
            "url": OAUTH_URIS,
            "extension": [
                {"url": "authorize", "valueUri": urls.authorize},
                {"url": "token", "valueUri": urls.token},
                {"url": "introspect", "valueUri": urls.introspect},
                {"url": "revoke", "valueUri": urls.revoke},
            ],
        }],
        "cors": True,
        "service": [{
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                        "code": "SMART-on-FHIR", "display": "SMART-on-FHIR"}],
            "text": "OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)",
        }],
        "description": "SMART App Launch 2.2 and Backend Services; discovery at "
                       f"{urls.issuer}/.well-known/smart-configuration",
    }


def cors_headers() -> dict[str, str]:
    """Headers for cross-origin reads of discovery, metadata, token, introspection and JWKS.

    ``*`` is safe here: these endpoints never rely on cookies (credentials travel in the
    body or the Authorization header), so no ambient authority crosses origins.
    """
    return {"Access-Control-Allow-Origin": "*",
            "Access-Control-Expose-Headers": "Content-Type, WWW-Authenticate, Location"}


def cors_preflight_response(methods: str = "GET, POST, OPTIONS") -> Response:
    """The answer to an OPTIONS preflight on one of those endpoints."""
    return Response(status_code=204, headers={
        **cors_headers(),
        "Access-Control-Allow-Methods": methods,
        "Access-Control-Allow-Headers": "Authorization, Content-Type, Accept",
        "Access-Control-Max-Age": "600",
    })
