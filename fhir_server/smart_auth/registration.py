"""Client registration documents for ``fhir-server client add --from-file``.

The file is an RFC 7591 client metadata document (https://www.rfc-editor.org/rfc/rfc7591#section-2)
with the fields SMART App Launch uses for registration
(https://hl7.org/fhir/smart-app-launch/client-confidential-asymmetric.html#registering-a-client-communicating-public-keys):
``client_name``, ``redirect_uris``, ``scope``, ``token_endpoint_auth_method``, ``jwks`` or
``jwks_uri``. Its shape is checked with a JSON Schema, so an error names the failing field;
the meaning (URLs, scopes, public keys only) is checked by the same code as the flags.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

__all__ = ["REGISTRATION_SCHEMA", "Registration", "RegistrationError", "read_registration"]

# token_endpoint_auth_method (RFC 7591 section 2) -> the stored method (smart_auth.models.Client)
AUTH_METHODS = {"none": "none", "client_secret_basic": "client_secret", "client_secret_post": "client_secret",
                "private_key_jwt": "private_key_jwt"}

REGISTRATION_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["client_name", "scope", "token_endpoint_auth_method"],
    "properties": {
        "client_name": {"type": "string", "minLength": 1, "maxLength": 200},
        "client_id": {"type": "string", "pattern": "^[A-Za-z0-9._~-]{1,100}$"},
        "redirect_uris": {"type": "array", "items": {"type": "string", "minLength": 1}, "uniqueItems": True},
        "scope": {"type": "string", "minLength": 1},
        "token_endpoint_auth_method": {"enum": sorted(AUTH_METHODS)},
        "jwks_uri": {"type": "string", "minLength": 1},
        "jwks": {"type": "object", "required": ["keys"],
                 "properties": {"keys": {"type": "array", "minItems": 1, "items": {"type": "object"}}}},
        # Informational RFC 7591 fields a registration may carry; accepted and not stored.
        "grant_types": {"type": "array", "items": {"type": "string"}},
        "response_types": {"type": "array", "items": {"type": "string"}},
        "client_uri": {"type": "string"}, "logo_uri": {"type": "string"}, "contacts": {"type": "array"},
    },
    "additionalProperties": False,
    "not": {"required": ["jwks", "jwks_uri"]},  # RFC 7591: MUST NOT both be present
    "if": {"properties": {"token_endpoint_auth_method": {"const": "private_key_jwt"}}},
    "then": {"anyOf": [{"required": ["jwks"]}, {"required": ["jwks_uri"]}]},
    "else": {"required": ["redirect_uris"],
             "properties": {"redirect_uris": {"minItems": 1}, "jwks": False, "jwks_uri": False}},
}
_VALIDATOR = Draft202012Validator(REGISTRATION_SCHEMA)


class RegistrationError(ValueError):
    pass


@dataclass(frozen=True)
class Registration:
    name: str
    auth_method: str
    scope: str
    redirect_uris: list[str]
    jwks: dict[str, Any] | None
    jwks_url: str | None
    client_id: str | None


def _where(error: Any) -> str:
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return path.lstrip(".") or "(the document)"


def _message(error: Any) -> str:
    if error.validator == "additionalProperties":
        return f"unknown field: {error.message}"
    if error.validator == "not":
        return "give either jwks or jwks_uri, not both"
    if error.validator == "anyOf" and not error.absolute_path:
        return "private_key_jwt needs jwks or jwks_uri"
    if error.validator is None:  # a false schema: the else branch's "jwks": false, "jwks_uri": false
        return "jwks and jwks_uri are for private_key_jwt clients only"
    return str(error.message)


def read_registration(path: Path) -> Registration:
    """Parse and check one registration document; RegistrationError names the failing field."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RegistrationError(f"cannot read registration file {path}: {exc}") from exc
    errors = sorted(_VALIDATOR.iter_errors(document), key=lambda e: (len(e.absolute_path), list(e.absolute_path)))
    if errors:
        first = errors[0]
        raise RegistrationError(f"{path}: {_where(first)}: {_message(first)}")
    return Registration(
        name=document["client_name"], auth_method=AUTH_METHODS[document["token_endpoint_auth_method"]],
        scope=document["scope"], redirect_uris=list(document.get("redirect_uris", [])),
        jwks=document.get("jwks"), jwks_url=document.get("jwks_uri"), client_id=document.get("client_id"))
