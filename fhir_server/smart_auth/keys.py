"""Our token-signing keys: generated on first start, kept in PostgreSQL, rotated by adding.

Access tokens and id_tokens are JWS compact JWTs (RFC 7515/7519) signed RS256 with the
newest non-retired key; every non-retired key is published in the JWKS (RFC 7517,
https://www.rfc-editor.org/rfc/rfc7517) so tokens signed before a rotation keep verifying
until their key is retired. Keys are per database: every server process on the same
database signs and verifies with the same keys.

The private key is stored in the database as PKCS#8 PEM (never in the repository or on
disk beside it); protect the database and its backups accordingly.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

from ..db import Database
from .hashing import argv_safe

__all__ = ["KeyStore", "SigningKey", "InvalidToken", "SIGNING_ALG", "rotate_key", "retire_key", "list_keys"]

SIGNING_ALG = "RS256"
KEY_LOCK = 0x534D4B59  # "SMKY": serialises first-start key generation across processes
RELOAD_AFTER_SECONDS = 60


class InvalidToken(Exception):
    """A token that fails signature, format or claim checks (message safe to show)."""


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: RSAKey
    public_jwk: dict[str, Any]


def _generate(passphrase: str | None) -> tuple[str, str, dict[str, Any]]:
    key = RSAKey.generate_key(2048, private=True)
    kid = argv_safe(key.thumbprint())  # RFC 7638: stable, derived from the public key
    pem = key.as_pem(private=True, password=passphrase).decode("ascii")
    public = {**key.as_dict(private=False), "kid": kid, "alg": SIGNING_ALG, "use": "sig"}
    return kid, pem, public


async def _insert_new_key(conn: Any, passphrase: str | None) -> str:
    kid, pem, public = await asyncio.to_thread(_generate, passphrase)
    await conn.execute(
        "INSERT INTO smart_signing_key (kid, alg, private_pem, public_jwk) VALUES (%s, %s, %s, %s)",
        (kid, SIGNING_ALG, pem, _json(public)))
    return kid


def _json(value: Any) -> Any:
    from psycopg.types.json import Jsonb

    return Jsonb(value)


async def rotate_key(db: Database, passphrase: str | None = None) -> str:
    """Add a new key; it signs from now on (after each process reloads, within a minute)."""
    async with db.transaction() as conn:
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (KEY_LOCK,))
        return await _insert_new_key(conn, passphrase)


def _private_key(kid: str, pem: str, passphrase: str | None) -> RSAKey:
    """A stored key; encrypted ones need the passphrase (keys stored before it was set are plain)."""
    parameters: Any = {"kid": kid, "alg": SIGNING_ALG, "use": "sig"}
    if "ENCRYPTED" not in pem.split("\n", 1)[0]:
        return RSAKey.import_key(pem, parameters)
    if not passphrase:
        raise RuntimeError(f"signing key {kid} is encrypted: set FHIR_KEY_PASSPHRASE to the passphrase it was "
                           "stored with")
    try:
        return RSAKey.import_key(pem, parameters, password=passphrase)
    except ValueError as exc:
        raise RuntimeError(f"signing key {kid}: FHIR_KEY_PASSPHRASE does not decrypt it") from exc


async def retire_key(db: Database, kid: str) -> bool:
    """Stop publishing and trusting ``kid``: tokens it signed stop verifying."""
    async with db.transaction() as conn:
        cur = await conn.execute(
            "UPDATE smart_signing_key SET retired_at = now() WHERE kid = %s AND retired_at IS NULL", (kid,))
        return cur.rowcount == 1


async def list_keys(db: Database) -> list[dict[str, Any]]:
    async with db.connection() as conn:
        cur = await conn.execute(
            "SELECT kid, alg, created_at, retired_at FROM smart_signing_key ORDER BY created_at")
        return [{"kid": r[0], "alg": r[1], "created_at": r[2].isoformat(),
                 "retired_at": r[3].isoformat() if r[3] else None} for r in await cur.fetchall()]


class KeyStore:
    """The non-retired keys in memory; the newest signs."""

    def __init__(self, passphrase: str | None = None) -> None:
        self._passphrase = passphrase
        self._keys: list[SigningKey] = []
        self._public = KeySet([])
        self._loaded_at = 0.0

    async def load(self, db: Database) -> None:
        """Load the keys, generating the first one if the database has none."""
        async with db.transaction() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (KEY_LOCK,))
            rows = await self._select(conn)
            if not rows:
                await _insert_new_key(conn, self._passphrase)
                rows = await self._select(conn)
        self._install(rows)

    async def reload_if_stale(self, db: Database) -> None:
        if time.monotonic() - self._loaded_at > RELOAD_AFTER_SECONDS:
            await self.load(db)

    @staticmethod
    async def _select(conn: Any) -> list[tuple[Any, ...]]:
        cur = await conn.execute(
            "SELECT kid, private_pem, public_jwk FROM smart_signing_key WHERE retired_at IS NULL "
            "ORDER BY created_at DESC, kid")
        return list(await cur.fetchall())

    def _install(self, rows: list[tuple[Any, ...]]) -> None:
        keys = [SigningKey(kid, _private_key(kid, pem, self._passphrase), jwk) for kid, pem, jwk in rows]
        self._keys = keys
        self._public = KeySet([RSAKey.import_key(k.public_jwk) for k in keys])
        self._loaded_at = time.monotonic()

    @property
    def active(self) -> SigningKey:
        if not self._keys:
            raise RuntimeError("signing keys not loaded: call smart_auth.startup(app) in the lifespan")
        return self._keys[0]

    def knows(self, kid: str | None) -> bool:
        return any(k.kid == kid for k in self._keys)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.public_jwk for k in self._keys]}

    def sign(self, claims: dict[str, Any]) -> str:
        key = self.active
        return jwt.encode({"alg": SIGNING_ALG, "kid": key.kid, "typ": "JWT"}, claims, key.private,
                          algorithms=[SIGNING_ALG])

    def verify(self, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """Header and claims of a token we signed; signature only, claims are the caller's."""
        try:
            decoded = jwt.decode(token, self._public, algorithms=[SIGNING_ALG])
        except (JoseError, ValueError, TypeError) as exc:
            raise InvalidToken("token signature or format is invalid") from exc
        return dict(decoded.header), dict(decoded.claims)
