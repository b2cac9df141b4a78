"""authlib grants, subclassed for SMART (habit 10: extend authlib, don't fork it).

- Authorization code + PKCE S256 only: SMART App Launch 2.2
  https://hl7.org/fhir/smart-app-launch/app-launch.html#request-authorization-code
  (``aud`` required and equal to the FHIR base; ``code_challenge_method=S256``, plain refused).
- Refresh with rotation and reuse detection: https://hl7.org/fhir/smart-app-launch/app-launch.html#refresh-access-token
  and RFC 9700 section 4.14.2.
- client_credentials for Backend Services, ``system/`` scopes only, no refresh token:
  https://hl7.org/fhir/smart-app-launch/backend-services.html
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidRequestError, InvalidScopeError
from authlib.oauth2.rfc7636 import CodeChallenge

from . import grant_store, storage
from .models import AuthorizationCode, Client, StoredToken, Subject
from .scopes import narrow_to_allowed, parse_scope

if TYPE_CHECKING:
    from .server import SmartAuthorizationServer

__all__ = ["S256CodeChallenge", "AuthorizationCodeGrant", "RefreshTokenGrant", "ClientCredentialsGrant"]

USER_AUTH_METHODS = ["private_key_jwt", "client_secret_basic", "client_secret_post", "none"]


class S256CodeChallenge(CodeChallenge):  # type: ignore[misc]
    """PKCE (RFC 7636) with S256 required for every client: no plain, no omission."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("Missing 'code_challenge': PKCE is required")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256")
        super().validate_code_challenge(grant, redirect_uri)


class _SmartGrant:
    server: SmartAuthorizationServer

    def call(self, coro: Any) -> Any:
        return self.server.bridge(coro)


class AuthorizationCodeGrant(_SmartGrant, grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = USER_AUTH_METHODS

    def validate_authorization_request(self) -> str:
        payload = self.request.payload
        if not payload.redirect_uri:
            # SMART makes redirect_uri required; without it there is nowhere safe to send errors.
            raise InvalidRequestError("Missing 'redirect_uri'", state=payload.state)
        redirect_uri = str(super().validate_authorization_request())
        self._check_aud(redirect_uri)
        self._check_launch(redirect_uri)
        return redirect_uri

    def _check_aud(self, redirect_uri: str) -> None:
        aud = (self.request.payload.data.get("aud") or "").rstrip("/")
        if aud != self.server.urls.issuer:
            raise InvalidRequestError("'aud' must be this FHIR server's base URL", redirect_uri=redirect_uri)

    def _check_launch(self, redirect_uri: str) -> None:
        launch = self.request.payload.data.get("launch")
        if launch and self.call(storage.get_launch(self.server.db, launch)) is None:
            raise InvalidRequestError("Unknown or expired 'launch'", redirect_uri=redirect_uri)

    def save_authorization_code(self, code: str, request: Any) -> None:
        subject: Subject = request.user
        data = request.payload.data
        subject.grant_id = self.call(grant_store.issue_code(
            self.server.db, code, client_id=request.client.client_id, redirect_uri=request.payload.redirect_uri,
            scope=request.scope, code_challenge=data["code_challenge"],
            code_challenge_method=data["code_challenge_method"], nonce=data.get("nonce"), subject=subject,
            lifetime=self.server.lifetimes.code))

    def query_authorization_code(self, code: str, client: Client) -> AuthorizationCode | None:
        found = self.call(grant_store.find_code(self.server.db, code))
        if found is None:
            return None
        record, used = found
        if used:
            # A code presented twice may have leaked: withdraw everything issued from it.
            self.call(grant_store.revoke_grant(self.server.db, record.grant_id))
            return None
        return record if record.client_id == client.client_id else None

    def authenticate_user(self, authorization_code: AuthorizationCode) -> Subject:
        if not self.call(grant_store.consume_code(self.server.db, authorization_code.code_hash)):
            self.call(grant_store.revoke_grant(self.server.db, authorization_code.grant_id))
            raise InvalidGrantError("Authorization code was already used")
        return authorization_code.subject

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        """Nothing to do: ``authenticate_user`` consumed the code atomically."""


class RefreshTokenGrant(_SmartGrant, grants.RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = USER_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotation: every refresh returns a new refresh token

    def authenticate_refresh_token(self, refresh_token: str) -> StoredToken | None:
        token: StoredToken | None = self.call(grant_store.find_refresh_token(self.server.db, refresh_token))
        if token is None:
            return None
        if token.rotated:
            self.call(grant_store.revoke_grant(self.server.db, token.grant_id))
            return None
        if token.revoked or token.is_expired():
            return None
        return token

    def _validate_token_scope(self, token: StoredToken) -> None:
        requested = self.request.payload.scope
        if requested and len(narrow_to_allowed(requested, token.get_scope())) != len(set(requested.split())):
            raise InvalidScopeError("Refresh may not add scopes beyond the original grant")

    def authenticate_user(self, refresh_token: StoredToken) -> Subject:
        return refresh_token.subject

    def create_token_response(self) -> Any:
        token: StoredToken = self.request.refresh_token
        # Claim before issuing: of two concurrent uses only one wins; the loser is a reuse.
        if not self.call(grant_store.claim_refresh_token(self.server.db, token.token_id)):
            self.call(grant_store.revoke_grant(self.server.db, token.grant_id))
            raise InvalidGrantError("Refresh token was already used")
        return super().create_token_response()

    def revoke_old_credential(self, refresh_token: StoredToken) -> None:
        """Nothing to do: ``create_token_response`` claimed (rotated) it first."""


class ClientCredentialsGrant(_SmartGrant, grants.ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["private_key_jwt"]  # Backend Services: asymmetric keys only

    def validate_token_request(self) -> None:
        super().validate_token_request()
        requested = self.request.payload.scope or ""
        system_only = [s for s in requested.split() if (p := parse_scope(s)) is not None and p.context == "system"]
        granted = narrow_to_allowed(" ".join(system_only), self.request.client.scope)
        if not granted:
            raise InvalidScopeError("Backend services need system/ scopes the client is registered for")
        self.request.scope = " ".join(granted)

    def create_token_response(self) -> Any:
        client = self.request.client
        grant_id = self.call(grant_store.create_system_grant(self.server.db, client.client_id, self.request.scope))
        self.request.user = Subject(grant_id=grant_id)
        token = self.generate_token(user=self.request.user, scope=self.request.scope, include_refresh_token=False)
        self.save_token(token)
        return 200, token, self.TOKEN_RESPONSE_HEADER
