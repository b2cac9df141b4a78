"""The per-app SMART authorization state (keys, authlib server, CSRF key) and ``startup``.

``startup(app)`` runs in the application lifespan after ``app.state.db`` exists: it loads
(or on first start generates) the signing keys, builds the authlib server bound to the
running event loop, and purges expired rows. Bearer tokens presented to the FHIR API are
checked by ``SmartAuth.authenticate_bearer`` (RFC 6750, https://www.rfc-editor.org/rfc/rfc6750).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.requests import Request

from ..db import Database
from . import grant_store
from .discovery import AuthUrls
from .hashing import dummy_hash
from .keys import InvalidToken, KeyStore
from .server import SmartAuthorizationServer
from .storage import server_secret
from .throttle import LoginLimits
from .tokens import Lifetimes, check_access_claims

__all__ = ["SmartAuth", "startup", "smart_of"]

log = logging.getLogger(__name__)


@dataclass
class SmartAuth:
    db: Database
    keys: KeyStore
    server: SmartAuthorizationServer
    csrf_key: bytes
    secure_cookies: bool
    limits: LoginLimits = field(default_factory=LoginLimits)
    hospital: str = "General Hospital"
    logo: tuple[bytes, str] | None = None  # (image bytes, media type), served at /auth/logo

    @property
    def urls(self) -> AuthUrls:
        return self.server.urls

    def csrf_token(self, pending_id: str, binding: str) -> str:
        """A signed token tying a form to one pending authorization in one browser."""
        message = f"{pending_id}|{binding}".encode()
        return hmac.new(self.csrf_key, message, hashlib.sha256).hexdigest()

    def csrf_ok(self, token: str, pending_id: str, binding: str) -> bool:
        return hmac.compare_digest(token, self.csrf_token(pending_id, binding))

    async def authenticate_bearer(self, token: str) -> dict[str, Any]:
        """Claims of a live, unrevoked access token for this server; raises InvalidToken."""
        try:
            _, claims = self.keys.verify(token)
        except InvalidToken:
            # Perhaps another process rotated keys since we loaded them.
            await self.keys.reload_if_stale(self.db)
            _, claims = self.keys.verify(token)
        check_access_claims(claims, self.urls.issuer)
        if not await grant_store.access_token_active(self.db, claims["jti"]):
            raise InvalidToken("token has been revoked")
        return claims


async def startup(app: Any) -> SmartAuth:
    """Load keys and build the authorization server into ``app.state.smart`` (idempotent)."""
    existing = getattr(app.state, "smart", None)
    if isinstance(existing, SmartAuth):
        return existing
    db: Database = app.state.db
    settings = app.state.settings
    keys = KeyStore(settings.key_passphrase)
    await keys.load(db)
    server = SmartAuthorizationServer(db, keys, settings.public_base, Lifetimes.from_settings(settings),
                                      asyncio.get_running_loop())
    smart = SmartAuth(db, keys, server, await server_secret(db, "csrf"),
                      settings.public_base.startswith("https://"), LoginLimits.from_settings(settings))
    smart.hospital, smart.logo = settings.hospital_name, _logo(settings.hospital_logo)
    await grant_store.purge_expired(db)
    await asyncio.to_thread(dummy_hash)  # made now: the first unknown-user login must cost what the others do
    app.state.smart = smart
    return smart


LOGO_TYPES = {".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


def _logo(path: Path | None) -> tuple[bytes, str] | None:
    """The hospital's logo file, read once; a missing or unsupported file is a start-up error."""
    if path is None:
        return None
    media = LOGO_TYPES.get(path.suffix.lower())
    if media is None:
        raise ValueError(f"FHIR_HOSPITAL_LOGO: {path} is not an .svg, .png or .jpg file")
    return path.read_bytes(), media


def smart_of(request: Request) -> SmartAuth:
    smart = getattr(request.app.state, "smart", None)
    if not isinstance(smart, SmartAuth):
        raise RuntimeError("SMART authorization is not started: await smart_auth.startup(app) in the lifespan")
    return smart
