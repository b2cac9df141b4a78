"""Token introspection (RFC 7662) and revocation (RFC 7009), as authlib endpoints.

- Introspection: https://www.rfc-editor.org/rfc/rfc7662 and SMART "Token Introspection"
  (https://hl7.org/fhir/smart-app-launch/token-introspection.html). Callers must
  authenticate, either as a confidential client (client_secret_basic, client_secret_post
  or private_key_jwt) or with ``Authorization: Bearer`` carrying a live access token of
  ours; an authenticated caller may introspect any token this server issued (the
  resource-server role). Any token that is invalid, expired, revoked, rotated or
  foreign yields exactly ``{"active": false}``.
- Revocation: https://www.rfc-editor.org/rfc/rfc7009. A client may revoke only its own
  tokens; anything else (unknown, foreign, already revoked) still answers 200. Revoking
  a refresh token revokes its whole grant, access tokens included (section 2.1).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749.errors import InvalidClientError
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint

from . import grant_store
from .models import Client, StoredToken

if TYPE_CHECKING:
    from .server import SmartAuthorizationServer

__all__ = ["SmartIntrospectionEndpoint", "SmartRevocationEndpoint"]

CONFIDENTIAL_METHODS = ["private_key_jwt", "client_secret_basic", "client_secret_post"]


def _query_token(server: SmartAuthorizationServer, token: str, hint: str | None) -> StoredToken | None:
    # JWT-shaped strings are access tokens; anything else may be a refresh token.
    if token.count(".") == 2:
        return server.lookup_access_token(token)
    return server.bridge(grant_store.find_refresh_token(server.db, token))


class SmartIntrospectionEndpoint(IntrospectionEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = CONFIDENTIAL_METHODS
    server: SmartAuthorizationServer

    def authenticate_endpoint_client(self, request: Any) -> Client:
        authorization = request.headers.get("Authorization") or ""
        if authorization[:7].lower() == "bearer ":
            token = self.server.lookup_access_token(authorization[7:].strip())
            if token is None or token.is_expired() or token.is_revoked():
                raise InvalidClientError(status_code=401, description="Bearer token is not active")
            client = self.server.query_client(token.client_id)
            if client is None:
                raise InvalidClientError(status_code=401, description="Bearer token's client is gone")
            request.client = client
            return client
        return super().authenticate_endpoint_client(request)  # type: ignore[no-any-return]

    def query_token(self, token_string: str, token_type_hint: str | None) -> StoredToken | None:
        return _query_token(self.server, token_string, token_type_hint)

    def check_permission(self, token: StoredToken, client: Client, request: Any) -> bool:
        return True  # any authenticated caller (see module docstring)

    def introspect_token(self, token: StoredToken) -> dict[str, Any]:
        subject = token.subject
        payload: dict[str, Any] = {
            "active": True, "scope": token.scope, "client_id": token.client_id,
            "sub": subject.username or token.client_id, "exp": token.expires_at, "iat": token.issued_at,
            "iss": self.server.urls.issuer,
        }
        if token.kind == "access_token":
            payload.update(token_type="Bearer", aud=self.server.urls.issuer)
        optional = {"patient": subject.patient, "encounter": subject.encounter,
                    "fhirUser": self.server.minter.fhir_user_url(subject.fhir_user)}
        payload.update({k: v for k, v in optional.items() if v})
        return payload


class SmartRevocationEndpoint(RevocationEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = [*CONFIDENTIAL_METHODS, "none"]
    server: SmartAuthorizationServer

    def authenticate_token(self, request: Any, client: Client) -> StoredToken | None:
        self.check_params(request, client)
        token = self.query_token(request.form["token"], request.form.get("token_type_hint"))
        if token is None or not token.check_client(client):
            return None  # RFC 7009 2.2: invalid tokens do not cause an error
        return token

    def query_token(self, token_string: str, token_type_hint: str | None) -> StoredToken | None:
        return _query_token(self.server, token_string, token_type_hint)

    def revoke_token(self, token: StoredToken, request: Any) -> None:
        if token.kind == "refresh_token":
            self.server.bridge(grant_store.revoke_grant(self.server.db, token.grant_id))
        else:
            self.server.bridge(grant_store.revoke_access_token(self.server.db, token.token_id))
