"""``private_key_jwt`` client authentication for SMART's asymmetric clients.

SMART App Launch 2.2, "Client Authentication: Asymmetric (public key)"
(https://hl7.org/fhir/smart-app-launch/client-confidential-asymmetric.html), on top of
authlib's RFC 7523 ``JWTBearerClientAssertion``:

- signature algorithms RS384 and ES384 only;
- ``iss`` = ``sub`` = client_id, ``aud`` = our token URL, ``exp`` no more than five minutes
  in the future, ``jti`` never seen before within the assertion's lifetime;
- keys from the JWKS registered inline, or fetched from the registered JWKS URL (cached;
  refetched when a ``kid`` is unknown); a ``jku`` header must equal the registered URL.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import httpx
from authlib.oauth2.rfc6749.errors import InvalidClientError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc7523.client import ASSERTION_TYPE
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from . import grant_store
from .discovery import ASSERTION_ALGS
from .models import Client

if TYPE_CHECKING:
    from .server import SmartAuthorizationServer

__all__ = ["PrivateKeyJwt", "JwksCache"]

MAX_ASSERTION_LIFETIME = 300  # "exp ... SHALL be no more than five minutes in the future"
CLOCK_SKEW = 60
JWKS_CACHE_SECONDS = 300
JWKS_MAX_BYTES = 256 * 1024


class JwksCache:
    """Client JWKS fetched by URL, cached per URL; thread-safe (authlib runs in threads)."""

    def __init__(self, transport: httpx.BaseTransport | None = None) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, dict[str, Any]]] = {}
        self._transport = transport

    def get(self, url: str, refresh: bool = False) -> dict[str, Any]:
        with self._lock:
            entry = self._entries.get(url)
        if entry and not refresh and time.monotonic() - entry[0] < JWKS_CACHE_SECONDS:
            return entry[1]
        jwks = self._fetch(url)
        with self._lock:
            self._entries[url] = (time.monotonic(), jwks)
        return jwks

    def _fetch(self, url: str) -> dict[str, Any]:
        try:
            with httpx.Client(timeout=5, follow_redirects=False, transport=self._transport) as http:
                response = http.get(url, headers={"Accept": "application/json"})
            response.raise_for_status()
            if len(response.content) > JWKS_MAX_BYTES:
                raise ValueError("JWKS too large")
            jwks = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise InvalidClientError(description="Could not fetch the client's registered JWKS") from exc
        if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
            raise InvalidClientError(description="The client's JWKS is not a JWK Set")
        return jwks


def _key_set(jwks: dict[str, Any]) -> KeySet:
    usable = [k for k in jwks.get("keys", []) if isinstance(k, dict) and k.get("kty") in ("RSA", "EC")
              and "d" not in k]  # never accept (or hold) a client's private key
    try:
        return KeySet.import_key_set({"keys": usable})
    except (JoseError, ValueError, TypeError) as exc:
        raise InvalidClientError(description="The client's JWKS holds no usable public key") from exc


class PrivateKeyJwt(JWTBearerClientAssertion):  # type: ignore[misc]
    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self, server: SmartAuthorizationServer, jwks_cache: JwksCache) -> None:
        super().__init__(validate_jti=True, leeway=CLOCK_SKEW)
        self.server = server
        self.jwks_cache = jwks_cache

    def get_audiences(self) -> list[str]:
        urls = self.server.urls
        return [urls.token, urls.introspect, urls.revoke]

    def resolve_client_public_key(self, client: Client) -> KeySet:
        if client.jwks is not None:
            return _key_set(client.jwks)
        if client.jwks_url:
            return _key_set(self.jwks_cache.get(client.jwks_url))
        raise InvalidClientError(description="The client has no registered public key")

    def __call__(self, query_client: Any, request: Any) -> Client | None:
        """Authenticate the client from ``client_assertion``; None when the request has none."""
        form = request.form
        assertion = form.get("client_assertion")
        if form.get("client_assertion_type") != ASSERTION_TYPE or not assertion:
            return None
        header = self._header(assertion)
        _, unverified = self.extract_assertion(assertion)
        client_id = unverified.get("sub")
        if not isinstance(client_id, str):
            raise InvalidClientError(description="Client assertion lacks 'sub'")
        client: Client | None = query_client(client_id)
        if client is None or not client.check_endpoint_auth_method(self.CLIENT_AUTH_METHOD, "token"):
            raise InvalidClientError(description="Unknown client or not registered for private_key_jwt")
        if header.get("jku") is not None and header["jku"] != client.jwks_url:
            raise InvalidClientError(description="'jku' is not the client's registered JWKS URL")
        claims = self._verified_claims(assertion, client)
        self._check_lifetime(claims)
        self.verify_claims(claims)
        request.client = client
        return client

    def _verified_claims(self, assertion: str, client: Client) -> dict[str, Any]:
        try:
            token = jwt.decode(assertion, self.resolve_client_public_key(client), algorithms=ASSERTION_ALGS)
        except JoseError:
            token = self._retry_with_fresh_jwks(assertion, client)
        return dict(token.claims)

    def _header(self, assertion: str) -> dict[str, Any]:
        try:
            header = dict(jws.extract_compact(assertion.encode("ascii")).headers())
        except (JoseError, UnicodeError, ValueError) as exc:
            raise InvalidClientError(description="Invalid JWT assertion") from exc
        if header.get("alg") not in ASSERTION_ALGS:
            raise InvalidClientError(description="Client assertions must be signed RS384 or ES384")
        return header

    def _retry_with_fresh_jwks(self, assertion: str, client: Client) -> Any:
        # A JWKS fetched by URL may predate the client's key rotation: fetch once more.
        if client.jwks is None and client.jwks_url:
            keys = _key_set(self.jwks_cache.get(client.jwks_url, refresh=True))
            try:
                return jwt.decode(assertion, keys, algorithms=ASSERTION_ALGS)
            except JoseError:
                pass
        raise InvalidClientError(description="Client assertion signature does not verify")

    @staticmethod
    def _check_lifetime(claims: dict[str, Any]) -> None:
        exp = claims.get("exp")
        if not isinstance(exp, int):
            raise InvalidClientError(description="Client assertion lacks 'exp'")
        if exp > int(time.time()) + MAX_ASSERTION_LIFETIME + CLOCK_SKEW:
            raise InvalidClientError(description="Client assertion 'exp' is more than five minutes ahead")

    def validate_jti(self, claims: dict[str, Any], jti: Any) -> bool:
        if not isinstance(jti, str) or not jti or len(jti) > 256:
            return False
        return bool(self.server.bridge(grant_store.remember_assertion_jti(
            self.server.db, str(claims["sub"]), jti, int(claims["exp"]))))
