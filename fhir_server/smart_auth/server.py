"""The SMART authorization server: an authlib ``AuthorizationServer`` subclass.

Wires authlib's RFC 6749 machinery (https://docs.authlib.org/en/latest/oauth2/specs/rfc6749.html)
to our storage, keys and grants: authorization code + PKCE S256, refresh with rotation,
client_credentials for Backend Services, private_key_jwt client authentication,
introspection and revocation. SMART App Launch 2.2: https://hl7.org/fhir/smart-app-launch/
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Callable
from typing import Any

import orjson
from authlib.oauth2.rfc6749 import AuthorizationServer, OAuth2Request

from ..db import Database
from . import grant_store
from .client_auth import JwksCache, PrivateKeyJwt
from .discovery import AuthUrls, urls_for
from .endpoints import SmartIntrospectionEndpoint, SmartRevocationEndpoint
from .grants import AuthorizationCodeGrant, ClientCredentialsGrant, RefreshTokenGrant, S256CodeChallenge
from .keys import InvalidToken, KeyStore
from .models import Client, StoredToken, Subject
from .requests import AsyncBridge
from .storage import get_client
from .tokens import Lifetimes, TokenMinter, check_access_claims

__all__ = ["SmartAuthorizationServer"]

log = logging.getLogger(__name__)


def _unverified_claims(token: str) -> dict[str, Any]:
    """Claims of a JWT we have just signed ourselves (no need to verify our own output)."""
    payload = token.split(".")[1]
    return dict(orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


class SmartAuthorizationServer(AuthorizationServer):  # type: ignore[misc]
    def __init__(self, db: Database, keys: KeyStore, public_base: str, lifetimes: Lifetimes,
                 loop: asyncio.AbstractEventLoop, jwks_cache: JwksCache | None = None) -> None:
        super().__init__(scopes_supported=None)
        self.db = db
        self.keys = keys
        self.urls: AuthUrls = urls_for(public_base)
        self.lifetimes = lifetimes
        self.bridge = AsyncBridge(loop)
        self.minter = TokenMinter(keys, self.urls.issuer, lifetimes)
        # Optional observer of authlib signals (e.g. for the audit trail): fn(name, **kwargs).
        self.signal_handler: Callable[..., None] | None = None
        self.register_token_generator("default", self.minter)
        self.register_client_auth_method("private_key_jwt", PrivateKeyJwt(self, jwks_cache or JwksCache()))
        self.register_grant(AuthorizationCodeGrant, [S256CodeChallenge(required=True)])
        self.register_grant(RefreshTokenGrant)
        self.register_grant(ClientCredentialsGrant)
        self.register_endpoint(SmartIntrospectionEndpoint)
        self.register_endpoint(SmartRevocationEndpoint)

    # -- authlib hooks (called in a worker thread) ----------------------------------------
    def query_client(self, client_id: str) -> Client | None:
        if not isinstance(client_id, str) or not client_id or len(client_id) > 200:
            return None
        return self.bridge(get_client(self.db, client_id))  # type: ignore[no-any-return]

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        subject: Subject = request.user
        claims = _unverified_claims(token["access_token"])
        refresh = token.get("refresh_token")
        self.bridge(grant_store.save_tokens(
            self.db, grant_id=subject.grant_id, client_id=request.client.client_id, access=claims,
            refresh_token=refresh, refresh_scope=token["scope"],
            refresh_lifetime=self.minter.refresh_lifetime(token["scope"])))

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        if isinstance(request, OAuth2Request):
            return request
        raise TypeError("adapt Starlette requests with smart_auth.requests.from_starlette first")

    def create_json_request(self, request: Any) -> Any:
        raise NotImplementedError("no JSON endpoints")

    def handle_response(self, status: int, body: Any, headers: Any) -> tuple[int, Any, list[tuple[str, str]]]:
        return status, body, list(headers or [])

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        if self.signal_handler is not None:
            self.signal_handler(name, *args, **kwargs)

    # -- token lookups shared by introspection, revocation and the FHIR API ---------------
    def lookup_access_token(self, token: str) -> StoredToken | None:
        """Our access token's stored record (expired or revoked ones too), or None if not ours."""
        try:
            _, claims = self.keys.verify(token)
            check_access_claims(claims, self.urls.issuer, check_time=False)
        except InvalidToken:
            return None
        stored: StoredToken | None = self.bridge(grant_store.find_access_token(self.db, claims["jti"]))
        if stored is not None:
            stored.claims = claims
        return stored
