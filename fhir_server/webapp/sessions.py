"""The app's sessions in PostgreSQL (migration 125): a random id in the cookie, its digest here.

A session is first a pending login (OAuth state, PKCE verifier, where to return), then a
signed-in user with their tokens. It ends at logout or when its access token expires (the
user signs in again and comes back to where they were).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..db import Database
from ..smart_auth.hashing import digest, random_token

__all__ = ["Session", "start_login", "pending_login", "sign_in", "current", "end", "LOGIN_MINUTES"]

LOGIN_MINUTES = 15  # a sign-in not finished within this is dropped


@dataclass(frozen=True)
class Session:
    id: str
    access_token: str
    refresh_token: str | None
    fhir_user: str | None
    patient: str | None
    display: str
    expires_at: datetime


async def start_login(db: Database, state: str, verifier: str, return_to: str) -> str:
    """A new session id for a sign-in in progress."""
    session_id = random_token()
    async with db.transaction() as conn:
        await conn.execute("DELETE FROM webapp_session WHERE expires_at < now()")
        await conn.execute(
            "INSERT INTO webapp_session (id_hash, oauth_state, code_verifier, return_to, expires_at)"
            " VALUES (%s, %s, %s, %s, now() + make_interval(mins => %s))",
            (digest(session_id), state, verifier, return_to, LOGIN_MINUTES))
    return session_id


async def pending_login(db: Database, session_id: str, state: str) -> tuple[str, str] | None:
    """(code verifier, return path) of this browser's sign-in with this state, or None."""
    async with db.connection() as conn:
        cur = await conn.execute(
            "SELECT code_verifier, return_to FROM webapp_session WHERE id_hash = %s AND oauth_state = %s"
            " AND access_token IS NULL AND expires_at > now()", (digest(session_id), state))
        row = await cur.fetchone()
    return (row[0], row[1]) if row else None


async def sign_in(db: Database, old_id: str, *, access_token: str, refresh_token: str | None, expires_in: int,
                  fhir_user: str | None, patient: str | None, display: str) -> str | None:
    """Turn the pending login into a signed-in session under a fresh id (no session fixation)."""
    fresh = random_token()
    async with db.transaction() as conn:
        cur = await conn.execute(
            "UPDATE webapp_session SET id_hash = %s, oauth_state = NULL, code_verifier = NULL, access_token = %s,"
            " refresh_token = %s, fhir_user = %s, patient = %s, display = %s,"
            " token_expires = now() + make_interval(secs => %s), expires_at = now() + make_interval(secs => %s)"
            " WHERE id_hash = %s AND access_token IS NULL",
            (digest(fresh), access_token, refresh_token, fhir_user, patient, display, expires_in, expires_in,
             digest(old_id)))
        return fresh if cur.rowcount == 1 else None


async def current(db: Database, session_id: str) -> Session | None:
    if not session_id:
        return None
    async with db.connection() as conn:
        cur = await conn.execute(
            "SELECT access_token, refresh_token, fhir_user, patient, display, expires_at FROM webapp_session"
            " WHERE id_hash = %s AND access_token IS NOT NULL AND expires_at > now()", (digest(session_id),))
        row = await cur.fetchone()
    return Session(session_id, row[0], row[1], row[2], row[3], row[4] or "", row[5]) if row else None


async def end(db: Database, session_id: str) -> None:
    async with db.transaction() as conn:
        await conn.execute("DELETE FROM webapp_session WHERE id_hash = %s", (digest(session_id),))
