"""Grants, pending authorizations, authorization codes, tokens and assertion ids.

Single use is enforced by the database, not by read-then-write in Python: a code or
refresh token is claimed with ``UPDATE ... WHERE used_at IS NULL RETURNING``, so two
concurrent requests cannot both win. Presenting a used code or a rotated refresh token
revokes the whole grant (RFC 6749 section 4.1.2, https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2;
OAuth 2.0 Security BCP, RFC 9700 section 4.14.2,
https://www.rfc-editor.org/rfc/rfc9700#section-4.14.2).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from authlib.oauth2.rfc6749.errors import AccessDeniedError
from psycopg.types.json import Jsonb

from ..db import Database
from .hashing import digest, random_token
from .models import AuthorizationCode, StoredToken, Subject

__all__ = [
    "Pending", "create_pending", "get_pending", "delete_pending", "binding_in_use", "rebind_pending", "narrow_pending",
    "issue_code", "find_code", "consume_code", "revoke_grant", "create_system_grant",
    "save_tokens", "find_access_token", "find_refresh_token", "claim_refresh_token",
    "revoke_access_token", "access_token_active", "remember_assertion_jti", "purge_expired",
]


@dataclass(frozen=True)
class Pending:
    id: str
    params: dict[str, Any]
    username: str | None
    patient: str | None


def _epoch(value: datetime) -> int:
    return int(value.timestamp())


# -- pending authorizations ----------------------------------------------------------------
async def create_pending(db: Database, binding: str, params: dict[str, Any], lifetime: int = 600) -> str:
    pending_id = random_token()
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO smart_pending (id_hash, binding_hash, params, expires_at) VALUES (%s, %s, %s, now() + %s)",
            (digest(pending_id), digest(binding), Jsonb(params), timedelta(seconds=lifetime)))
    return pending_id


async def get_pending(db: Database, pending_id: str, binding: str) -> Pending | None:
    """The pending authorization, only for the browser that started it and only while fresh."""
    async with db.connection() as conn:
        cur = await conn.execute(
            "SELECT params, username, patient FROM smart_pending "
            "WHERE id_hash = %s AND binding_hash = %s AND expires_at > now()",
            (digest(pending_id), digest(binding)))
        row = await cur.fetchone()
    return Pending(pending_id, dict(row[0]), row[1], row[2]) if row else None


async def binding_in_use(db: Database, binding: str) -> bool:
    """Is a live pending authorization bound to this browser session id? (Unknown ids are not reused.)"""
    async with db.connection() as conn:
        cur = await conn.execute("SELECT 1 FROM smart_pending WHERE binding_hash = %s AND expires_at > now() LIMIT 1",
                                 (digest(binding),))
        return await cur.fetchone() is not None


async def rebind_pending(db: Database, pending_id: str, old: str, new: str, *, username: str | None = None,
                         patient: str | None = None) -> bool:
    """Move a pending authorization to a fresh session id (a privilege change: login, patient pick),
    only if it is still bound to ``old``; False when it is not (another request rotated it first).
    A login (``username`` given) sets the patient outright, even to none: after "switch user" the
    previous user's patient choice must not carry over to the new user."""
    async with db.transaction() as conn:
        cur = await conn.execute(
            "UPDATE smart_pending SET binding_hash = %s, username = COALESCE(%s, username),"
            " patient = CASE WHEN %s THEN %s ELSE COALESCE(%s, patient) END"
            " WHERE id_hash = %s AND binding_hash = %s AND expires_at > now()",
            (digest(new), username, username is not None, patient, patient, digest(pending_id), digest(old)))
        return cur.rowcount == 1


async def narrow_pending(db: Database, pending_id: str, allowed: str) -> None:
    """Replace the scopes on offer (after sign-in: cut to the user's role caps, roles.py)."""
    async with db.transaction() as conn:
        await conn.execute("UPDATE smart_pending SET params = jsonb_set(params, '{allowed}', to_jsonb(%s::text))"
                           " WHERE id_hash = %s", (allowed, digest(pending_id)))


async def delete_pending(db: Database, pending_id: str) -> bool:
    async with db.transaction() as conn:
        cur = await conn.execute("DELETE FROM smart_pending WHERE id_hash = %s", (digest(pending_id),))
        return cur.rowcount == 1


# -- grants and codes ----------------------------------------------------------------------
async def issue_code(db: Database, code: str, *, client_id: str, redirect_uri: str, scope: str,
                     code_challenge: str, code_challenge_method: str, nonce: str | None,
                     subject: Subject, lifetime: int = 60) -> str:
    """Record a new grant and its authorization code in one transaction; returns the grant id."""
    async with db.transaction() as conn:
        if subject.username is not None:
            # FOR SHARE: a deactivation (which locks the row, then revokes the user's grants) either
            # waits for this grant and revokes it, or is seen here and no grant is made.
            cur = await conn.execute("SELECT 1 FROM smart_user WHERE username = %s AND active FOR SHARE",
                                     (subject.username,))
            if await cur.fetchone() is None:
                raise AccessDeniedError("The account is disabled", redirect_uri=redirect_uri)
        cur = await conn.execute(
            "INSERT INTO smart_grant (client_id, username, fhir_user, patient, encounter, scope) "
            "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
            (client_id, subject.username, subject.fhir_user, subject.patient, subject.encounter, scope))
        row = await cur.fetchone()
        assert row is not None
        await conn.execute(
            "INSERT INTO smart_auth_code (code_hash, grant_id, client_id, redirect_uri, scope, code_challenge, "
            "code_challenge_method, nonce, expires_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, now() + %s)",
            (digest(code), row[0], client_id, redirect_uri, scope, code_challenge, code_challenge_method,
             nonce, timedelta(seconds=lifetime)))
    return str(row[0])


async def create_system_grant(db: Database, client_id: str, scope: str) -> str:
    async with db.transaction() as conn:
        cur = await conn.execute("INSERT INTO smart_grant (client_id, scope) VALUES (%s, %s) RETURNING id",
                                 (client_id, scope))
        row = await cur.fetchone()
    assert row is not None
    return str(row[0])


async def find_code(db: Database, code: str) -> tuple[AuthorizationCode, bool] | None:
    """(code, already_used) for an unexpired code of a live grant, else None."""
    async with db.connection() as conn:
        cur = await conn.execute(
            "SELECT c.code_hash, c.grant_id, c.client_id, c.redirect_uri, c.scope, c.code_challenge, "
            "c.code_challenge_method, c.nonce, c.used_at IS NOT NULL, g.username, g.fhir_user, g.patient, "
            "g.encounter FROM smart_auth_code c JOIN smart_grant g ON g.id = c.grant_id "
            "WHERE c.code_hash = %s AND c.expires_at > now()", (digest(code),))
        row = await cur.fetchone()
    if not row:
        return None
    grant_id = str(row[1])
    subject = Subject(grant_id, row[9], row[10], row[11], row[12], row[7])
    return AuthorizationCode(row[0], grant_id, row[2], row[3], row[4], row[5], row[6], row[7], subject), row[8]


async def consume_code(db: Database, code_hash: str) -> bool:
    async with db.transaction() as conn:
        cur = await conn.execute(
            "UPDATE smart_auth_code SET used_at = now() WHERE code_hash = %s AND used_at IS NULL", (code_hash,))
        return cur.rowcount == 1


async def revoke_grant(db: Database, grant_id: str) -> None:
    async with db.transaction() as conn:
        await conn.execute("UPDATE smart_grant SET revoked_at = now() WHERE id = %s AND revoked_at IS NULL",
                           (grant_id,))
        await conn.execute("UPDATE smart_access_token SET revoked_at = now() WHERE grant_id = %s "
                           "AND revoked_at IS NULL", (grant_id,))
        await conn.execute("UPDATE smart_refresh_token SET revoked_at = now() WHERE grant_id = %s "
                           "AND revoked_at IS NULL", (grant_id,))


# -- tokens --------------------------------------------------------------------------------
async def save_tokens(db: Database, *, grant_id: str, client_id: str, access: dict[str, Any],
                      refresh_token: str | None, refresh_scope: str, refresh_lifetime: int) -> None:
    """Store the access token's jti (and the refresh token's hash) of one token response."""
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO smart_access_token (jti, grant_id, client_id, scope, issued_at, expires_at) "
            "VALUES (%s, %s, %s, %s, to_timestamp(%s), to_timestamp(%s))",
            (access["jti"], grant_id, client_id, access["scope"], access["iat"], access["exp"]))
        if refresh_token:
            await conn.execute(
                "INSERT INTO smart_refresh_token (token_hash, grant_id, client_id, scope, expires_at) "
                "VALUES (%s, %s, %s, %s, now() + %s)",
                (digest(refresh_token), grant_id, client_id, refresh_scope, timedelta(seconds=refresh_lifetime)))


_TOKEN_SELECT = (
    "SELECT t.grant_id, t.client_id, t.scope, t.issued_at, t.expires_at, "
    "(t.revoked_at IS NOT NULL OR g.revoked_at IS NOT NULL), g.username, g.fhir_user, g.patient, g.encounter")


def _stored(kind: str, token_id: str, row: tuple[Any, ...], rotated: bool = False) -> StoredToken:
    grant_id = str(row[0])
    subject = Subject(grant_id, row[6], row[7], row[8], row[9])
    return StoredToken(kind, token_id, grant_id, row[1], row[2], _epoch(row[3]), _epoch(row[4]),
                       bool(row[5]), subject, rotated)


async def find_access_token(db: Database, jti: str) -> StoredToken | None:
    async with db.connection() as conn:
        cur = await conn.execute(
            f"{_TOKEN_SELECT} FROM smart_access_token t JOIN smart_grant g ON g.id = t.grant_id WHERE t.jti = %s",
            (jti,))
        row = await cur.fetchone()
    return _stored("access_token", jti, row) if row else None


async def access_token_active(db: Database, jti: str) -> bool:
    """The per-request revocation check: one primary-key lookup joined to its grant."""
    async with db.connection() as conn:
        cur = await conn.execute(
            "SELECT 1 FROM smart_access_token t JOIN smart_grant g ON g.id = t.grant_id WHERE t.jti = %s "
            "AND t.revoked_at IS NULL AND g.revoked_at IS NULL AND t.expires_at > now()", (jti,))
        return await cur.fetchone() is not None


async def find_refresh_token(db: Database, token: str) -> StoredToken | None:
    token_hash = digest(token)
    async with db.connection() as conn:
        cur = await conn.execute(
            f"{_TOKEN_SELECT}, t.rotated_at IS NOT NULL FROM smart_refresh_token t "
            "JOIN smart_grant g ON g.id = t.grant_id WHERE t.token_hash = %s", (token_hash,))
        row = await cur.fetchone()
    return _stored("refresh_token", token_hash, row, bool(row[10])) if row else None


async def claim_refresh_token(db: Database, token_hash: str) -> bool:
    """Mark a refresh token used; False if it was already rotated, revoked or expired."""
    async with db.transaction() as conn:
        cur = await conn.execute(
            "UPDATE smart_refresh_token SET rotated_at = now() WHERE token_hash = %s AND rotated_at IS NULL "
            "AND revoked_at IS NULL AND expires_at > now()", (token_hash,))
        return cur.rowcount == 1


async def revoke_access_token(db: Database, jti: str) -> None:
    async with db.transaction() as conn:
        await conn.execute("UPDATE smart_access_token SET revoked_at = now() WHERE jti = %s "
                           "AND revoked_at IS NULL", (jti,))


async def remember_assertion_jti(db: Database, client_id: str, jti: str, expires_at: int) -> bool:
    """Record a client assertion's jti; False when it was seen before (a replay)."""
    async with db.transaction() as conn:
        cur = await conn.execute(
            "INSERT INTO smart_assertion_jti (client_id, jti, expires_at) VALUES (%s, %s, to_timestamp(%s)) "
            "ON CONFLICT DO NOTHING", (client_id, jti, expires_at))
        return cur.rowcount == 1


async def purge_expired(db: Database) -> None:
    """Drop rows nobody can use any more (kept a day for reuse detection and forensics)."""
    statements = (
        "DELETE FROM smart_pending WHERE expires_at < now()",
        "DELETE FROM smart_launch WHERE expires_at < now() - interval '1 day'",
        "DELETE FROM smart_assertion_jti WHERE expires_at < now() - interval '1 hour'",
        "DELETE FROM smart_auth_code WHERE expires_at < now() - interval '1 day'",
        "DELETE FROM smart_access_token WHERE expires_at < now() - interval '1 day'",
        "DELETE FROM smart_refresh_token WHERE expires_at < now() - interval '1 day'",
    )
    async with db.transaction() as conn:
        for statement in statements:
            await conn.execute(statement)  # type: ignore[arg-type]  # constant SQL
