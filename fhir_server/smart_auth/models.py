"""The objects authlib's grants and endpoints work with: clients, the authorizing subject,
authorization codes and stored tokens (authlib ``ClientMixin``,
``AuthorizationCodeMixin`` and ``TokenMixin``, RFC 6749 https://www.rfc-editor.org/rfc/rfc6749).

Plain dataclasses loaded by ``storage``; no I/O here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, ClientMixin, TokenMixin

from .hashing import digest_matches
from .scopes import narrow_to_allowed

__all__ = ["Client", "Subject", "AuthorizationCode", "StoredToken", "LaunchContext", "User"]

# Which grant types and token-endpoint authentication each kind of client may use.
GRANT_TYPES = {
    "none": {"authorization_code", "refresh_token"},
    "client_secret": {"authorization_code", "refresh_token"},
    "private_key_jwt": {"authorization_code", "refresh_token", "client_credentials"},
}
ENDPOINT_AUTH = {
    "none": {"none"},
    "client_secret": {"client_secret_basic", "client_secret_post"},
    "private_key_jwt": {"private_key_jwt"},
}


@dataclass(frozen=True)
class Client(ClientMixin):  # type: ignore[misc]
    client_id: str
    name: str
    auth_method: str  # none | client_secret | private_key_jwt
    scope: str
    redirect_uris: tuple[str, ...] = ()
    secret_hash: str | None = None
    jwks: dict[str, Any] | None = None
    jwks_url: str | None = None

    @property
    def confidential(self) -> bool:
        return self.auth_method != "none"

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        # Only an unambiguous registration may omit redirect_uri (RFC 6749 3.1.2.3).
        return self.redirect_uris[0] if len(self.redirect_uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        allowed = narrow_to_allowed(scope, self.scope)
        return " ".join(allowed) if allowed else None

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris  # exact string match, no prefix or pattern

    def check_client_secret(self, client_secret: str) -> bool:
        return self.secret_hash is not None and digest_matches(self.secret_hash, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ENDPOINT_AUTH[self.auth_method]

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in GRANT_TYPES[self.auth_method]


@dataclass(frozen=True)
class User:
    username: str
    fhir_user: str  # Practitioner/ID, Patient/ID or RelatedPerson/ID
    active: bool = True  # False: blacklisted (fhir-server user deactivate, /admin/)
    verified: bool = True  # False: a self-registered account whose e-mail is not verified yet

    @property
    def resource_type(self) -> str:
        return self.fhir_user.split("/", 1)[0]

    @property
    def resource_id(self) -> str:
        return self.fhir_user.split("/", 1)[1]


@dataclass(frozen=True)
class LaunchContext:
    patient: str | None
    encounter: str | None
    fhir_user: str | None


@dataclass
class Subject:
    """Who and what a token speaks for: the grant's user and launch context."""

    grant_id: str
    username: str | None = None
    fhir_user: str | None = None
    patient: str | None = None
    encounter: str | None = None
    nonce: str | None = None

    def get_user_id(self) -> str | None:
        return self.username


@dataclass
class AuthorizationCode(AuthorizationCodeMixin):  # type: ignore[misc]
    code_hash: str
    grant_id: str
    client_id: str
    redirect_uri: str
    scope: str
    code_challenge: str
    code_challenge_method: str
    nonce: str | None
    subject: Subject

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int | None:
        return None


@dataclass
class StoredToken(TokenMixin):  # type: ignore[misc]
    """An access token (kind "access_token", id = jti) or refresh token (id = hash)."""

    kind: str
    token_id: str
    grant_id: str
    client_id: str
    scope: str
    issued_at: int
    expires_at: int
    revoked: bool
    subject: Subject
    rotated: bool = False
    claims: dict[str, Any] = field(default_factory=dict)

    def check_client(self, client: Client) -> bool:
        return self.client_id == client.get_client_id()

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return max(0, self.expires_at - self.issued_at)

    def is_expired(self) -> bool:
        return self.expires_at <= int(time.time())

    def is_revoked(self) -> bool:
        return self.revoked or self.rotated
