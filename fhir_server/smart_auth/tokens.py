"""Minting and checking our tokens.

- Access token: a JWT (RFC 9068 shaped, https://www.rfc-editor.org/rfc/rfc9068) signed
  RS256 with iss/aud = the FHIR base, the SMART launch context as claims (patient,
  encounter, fhirUser) and a jti that is stored so revocation is checked on every use.
- id_token: OpenID Connect Core 1.0 section 2 (https://openid.net/specs/openid-connect-core-1_0.html#IDToken)
  with SMART's ``fhirUser`` claim, an absolute resource URL
  (https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html#scopes-for-requesting-identity-data).
- Token response: SMART App Launch "Obtain access token"
  (https://hl7.org/fhir/smart-app-launch/app-launch.html#response-5) and Backend Services
  (https://hl7.org/fhir/smart-app-launch/backend-services.html#response-1).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from .hashing import random_token
from .keys import InvalidToken, KeyStore
from .models import Client, Subject
from .scopes import parse_scopes

__all__ = ["Lifetimes", "TokenMinter", "check_access_claims", "MAX_ACCESS_LIFETIME", "SYSTEM_LIFETIME"]

MAX_ACCESS_LIFETIME = 3600  # SMART: access tokens last at most an hour here
SYSTEM_LIFETIME = 300  # Backend Services: "expires_in ... SHOULD be 300 seconds or less"
CLOCK_SKEW = 30


@dataclass(frozen=True)
class Lifetimes:
    access: int = MAX_ACCESS_LIFETIME
    offline_refresh: int = 30 * 24 * 3600
    online_refresh: int = 8 * 3600  # no session tracking: "online" means a working day at most
    code: int = 60

    @classmethod
    def from_settings(cls, settings: Any) -> Lifetimes:
        access = int(getattr(settings, "access_token_lifetime", MAX_ACCESS_LIFETIME))
        return cls(access=max(60, min(access, MAX_ACCESS_LIFETIME)),
                   offline_refresh=int(getattr(settings, "refresh_token_lifetime", cls.offline_refresh)))


class TokenMinter:
    """authlib's token generator (``register_token_generator("default", minter)``)."""

    def __init__(self, keys: KeyStore, issuer: str, lifetimes: Lifetimes) -> None:
        self.keys = keys
        self.issuer = issuer
        self.lifetimes = lifetimes

    def fhir_user_url(self, fhir_user: str | None) -> str | None:
        return f"{self.issuer}/{fhir_user}" if fhir_user else None

    def __call__(self, grant_type: str, client: Client, user: Subject | None = None, scope: str | None = None,
                 expires_in: int | None = None, include_refresh_token: bool = True) -> dict[str, Any]:
        scope = scope or ""
        system = grant_type == "client_credentials"
        lifetime = min(expires_in or self.lifetimes.access, SYSTEM_LIFETIME if system else self.lifetimes.access)
        subject = user if user is not None else Subject(grant_id="")
        now = int(time.time())
        claims = self._access_claims(client, subject, scope, now, lifetime)
        token: dict[str, Any] = {"access_token": self.keys.sign(claims), "token_type": "Bearer",
                                 "expires_in": lifetime, "scope": scope}
        if subject.patient:
            token["patient"] = subject.patient
        if subject.encounter:
            token["encounter"] = subject.encounter
        granted = parse_scopes(scope)
        if not system and granted.wants_id_token and subject.fhir_user:
            token["id_token"] = self._id_token(client, subject, now, lifetime)
        if not system and include_refresh_token and granted.wants_refresh_token:
            token["refresh_token"] = random_token()
        return token

    def refresh_lifetime(self, scope: str) -> int:
        scopes = parse_scopes(scope)
        return self.lifetimes.offline_refresh if scopes.has("offline_access") else self.lifetimes.online_refresh

    def _access_claims(self, client: Client, subject: Subject, scope: str, now: int,
                       lifetime: int) -> dict[str, Any]:
        claims: dict[str, Any] = {
            "iss": self.issuer, "aud": self.issuer, "sub": subject.username or client.client_id,
            "iat": now, "exp": now + lifetime, "jti": str(uuid.uuid4()), "scope": scope,
            "client_id": client.client_id,
        }
        optional = {"patient": subject.patient, "encounter": subject.encounter,
                    "fhirUser": self.fhir_user_url(subject.fhir_user)}
        claims.update({k: v for k, v in optional.items() if v})
        return claims

    def _id_token(self, client: Client, subject: Subject, now: int, lifetime: int) -> str:
        claims: dict[str, Any] = {
            "iss": self.issuer, "sub": subject.username, "aud": client.client_id, "iat": now,
            "exp": now + lifetime, "fhirUser": self.fhir_user_url(subject.fhir_user),
        }
        if subject.nonce:
            claims["nonce"] = subject.nonce
        return self.keys.sign(claims)


def check_access_claims(claims: dict[str, Any], issuer: str, now: int | None = None,
                        check_time: bool = True) -> None:
    """Raise InvalidToken unless these are the claims of a live access token for us.

    ``check_time=False`` skips exp/iat (introspection and revocation judge expiry themselves).
    """
    now = int(time.time()) if now is None else now
    if claims.get("iss") != issuer:
        raise InvalidToken("token was issued by another server")
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if issuer not in audiences:
        raise InvalidToken("token is for another audience")
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int) or not isinstance(iat, int):
        raise InvalidToken("token lacks exp or iat")
    if check_time and exp <= now:
        raise InvalidToken("token has expired")
    if check_time and iat > now + CLOCK_SKEW:
        raise InvalidToken("token is not valid yet")
    if not isinstance(claims.get("jti"), str) or not isinstance(claims.get("client_id"), str):
        raise InvalidToken("token lacks jti or client_id")  # e.g. an id_token (its aud is the client)
