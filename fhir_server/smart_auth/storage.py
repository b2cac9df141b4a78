"""Registered clients, users, EHR launch contexts and server secrets in PostgreSQL.

Client registration follows the metadata of SMART App Launch "Client Authentication"
(https://hl7.org/fhir/smart-app-launch/client-confidential-asymmetric.html#registering-a-client-communicating-public-keys)
and RFC 7591 naming; launch contexts implement the EHR launch ``launch`` parameter
(https://hl7.org/fhir/smart-app-launch/app-launch.html#launch-app-ehr-launch).
All SQL is parameterised; every write goes through ``Database.transaction()``.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from ..db import Database
from .hashing import argv_safe, digest, dummy_hash, hash_password, random_token, verify_password
from .models import Client, LaunchContext, User
from .patient_card import PatientCard, card_of, display_name

__all__ = [
    "create_client", "get_client", "list_clients", "remove_client",
    "create_user", "insert_user", "authenticate_user", "get_user", "list_users", "remove_user",
    "create_launch", "get_launch", "search_patients", "patient_card", "person_name", "PICKER_PAGE",
    "patient_exists", "related_person_patient", "resource_exists",
    "server_secret", "client_organization", "bind_organization",
]

_CLIENT_COLUMNS = "client_id, name, auth_method, scope, redirect_uris, secret_hash, jwks, jwks_url"


def _client(row: tuple[Any, ...]) -> Client:
    return Client(client_id=row[0], name=row[1], auth_method=row[2], scope=row[3],
                  redirect_uris=tuple(row[4] or ()), secret_hash=row[5], jwks=row[6], jwks_url=row[7])


async def create_client(db: Database, *, name: str, auth_method: str, scope: str,
                        redirect_uris: list[str], jwks: dict[str, Any] | None = None,
                        jwks_url: str | None = None, client_id: str | None = None) -> tuple[str, str | None]:
    """Register a client; returns (client_id, client_secret or None). The secret is shown once."""
    client_id = client_id or argv_safe(secrets.token_urlsafe(18))
    secret = random_token() if auth_method == "client_secret" else None
    async with db.transaction() as conn:
        await conn.execute(
            f"INSERT INTO smart_client ({_CLIENT_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (client_id, name, auth_method, scope, redirect_uris, digest(secret) if secret else None,
             Jsonb(jwks) if jwks is not None else None, jwks_url))
    return client_id, secret


async def get_client(db: Database, client_id: str) -> Client | None:
    async with db.connection() as conn:
        cur = await conn.execute(f"SELECT {_CLIENT_COLUMNS} FROM smart_client WHERE client_id = %s", (client_id,))
        row = await cur.fetchone()
    return _client(row) if row else None


async def client_organization(db: Database, client_id: str) -> str | None:
    """The insurer Organization id a client is bound to (None: not bound)."""
    async with db.connection() as conn:
        cur = await conn.execute("SELECT organization_id FROM smart_client_organization WHERE client_id = %s",
                                 (client_id,))
        row = await cur.fetchone()
    return str(row[0]) if row else None


async def bind_organization(db: Database, client_id: str, organization_id: str) -> bool:
    """Bind (or re-bind) a client to an insurer Organization; False if the client is unknown."""
    async with db.transaction() as conn:
        cur = await conn.execute(
            "INSERT INTO smart_client_organization (client_id, organization_id) SELECT client_id, %s"
            " FROM smart_client WHERE client_id = %s ON CONFLICT (client_id) DO UPDATE SET"
            " organization_id = EXCLUDED.organization_id", (organization_id, client_id))
        return cur.rowcount == 1


async def list_clients(db: Database) -> list[Client]:
    async with db.connection() as conn:
        cur = await conn.execute(f"SELECT {_CLIENT_COLUMNS} FROM smart_client ORDER BY created_at, client_id")
        return [_client(row) for row in await cur.fetchall()]


async def remove_client(db: Database, client_id: str) -> bool:
    """Delete a client; its grants, codes and tokens go with it (so its tokens stop working)."""
    async with db.transaction() as conn:
        cur = await conn.execute("DELETE FROM smart_client WHERE client_id = %s", (client_id,))
        return cur.rowcount == 1


async def create_user(db: Database, username: str, password: str, fhir_user: str,
                      roles: Sequence[str] = ()) -> None:
    password_hash = await asyncio.to_thread(hash_password, password)
    async with db.transaction() as conn:
        await insert_user(conn, username, password_hash, fhir_user, roles)


async def insert_user(conn: AsyncConnection[Any], username: str, password_hash: str, fhir_user: str,
                      roles: Sequence[str] = (), *, email: str | None = None, verified: bool = True) -> None:
    """The user row and its roles, in the caller's transaction (registration adds its Patient too)."""
    await conn.execute(
        "INSERT INTO smart_user (username, password_hash, fhir_user, email, verified) VALUES (%s, %s, %s, %s, %s)",
        (username, password_hash, fhir_user, email, verified))
    if roles:
        await conn.execute("INSERT INTO smart_user_role (username, role) SELECT %s, r FROM unnest(%s::text[]) AS r",
                           (username, list(roles)))


async def get_user(db: Database, username: str) -> User | None:
    async with db.connection() as conn:
        cur = await conn.execute("SELECT username, fhir_user, active, verified FROM smart_user WHERE username = %s",
                                 (username,))
        row = await cur.fetchone()
    return User(row[0], row[1], row[2], row[3]) if row else None


async def authenticate_user(db: Database, username: str, password: str) -> User | None:
    async with db.connection() as conn:
        cur = await conn.execute(
            "SELECT username, fhir_user, password_hash, active, verified FROM smart_user WHERE username = %s",
            (username,))
        row = await cur.fetchone()
    # argon2 is CPU-bound: keep it off the event loop; verify a dummy hash for unknown users.
    ok = await asyncio.to_thread(verify_password, row[2] if row else dummy_hash(), password)
    return User(row[0], row[1], row[3], row[4]) if row and ok else None


async def list_users(db: Database) -> list[User]:
    async with db.connection() as conn:
        cur = await conn.execute("SELECT username, fhir_user, active, verified FROM smart_user ORDER BY username")
        return [User(r[0], r[1], r[2], r[3]) for r in await cur.fetchall()]


async def remove_user(db: Database, username: str) -> bool:
    async with db.transaction() as conn:
        cur = await conn.execute("DELETE FROM smart_user WHERE username = %s", (username,))
        return cur.rowcount == 1


async def create_launch(db: Database, patient: str | None, encounter: str | None = None,
                        fhir_user: str | None = None, lifetime: int = 3600) -> str:
    launch = random_token()
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO smart_launch (launch_hash, patient, encounter, fhir_user, expires_at) "
            "VALUES (%s, %s, %s, %s, now() + %s)",
            (digest(launch), patient, encounter, fhir_user, timedelta(seconds=lifetime)))
    return launch


async def get_launch(db: Database, launch: str) -> LaunchContext | None:
    async with db.connection() as conn:
        cur = await conn.execute(
            "SELECT patient, encounter, fhir_user FROM smart_launch WHERE launch_hash = %s AND expires_at > now()",
            (digest(launch),))
        row = await cur.fetchone()
    return LaunchContext(row[0], row[1], row[2]) if row else None


PICKER_PAGE = 20


async def search_patients(db: Database, text: str = "", page: int = 1,
                          size: int = PICKER_PAGE) -> tuple[list[PatientCard], bool]:
    """One page of the picker (by family name, then given, then id) and whether more follow.

    ``text`` matches a name part, an identifier value (both case-insensitive substrings) or an
    exact birth date; empty matches everyone. No cap on how many patients can be reached: paged."""
    where, args = "resource_type = 'Patient' AND NOT deleted", []
    needle = text.strip()
    if needle:
        like = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where += (" AND ((content->'name')::text ILIKE %s OR (SELECT string_agg(i->>'value', ' ')"
                  " FROM jsonb_array_elements(COALESCE(content->'identifier', '[]')) i) ILIKE %s"
                  " OR content->>'birthDate' = %s)")
        args += [like, like, needle]
    async with db.connection() as conn:
        cur = await conn.execute(
            f"SELECT id, content FROM resource WHERE {where} ORDER BY content #>> '{{name,0,family}}',"
            " content #>> '{name,0,given,0}', id LIMIT %s OFFSET %s",
            (*args, size + 1, (max(page, 1) - 1) * size))
        rows = await cur.fetchall()
    return [card_of(r[0], r[1]) for r in rows[:size]], len(rows) > size


async def patient_card(db: Database, patient_id: str) -> PatientCard | None:
    async with db.connection() as conn:
        cur = await conn.execute(
            "SELECT content FROM resource WHERE resource_type = 'Patient' AND id = %s AND NOT deleted", (patient_id,))
        row = await cur.fetchone()
    return card_of(patient_id, row[0]) if row else None


async def person_name(db: Database, reference: str) -> str:
    """The display name of a user's person record (Practitioner/1, Patient/2 ...), "" if none."""
    rtype, _, rid = reference.partition("/")
    async with db.connection() as conn:
        cur = await conn.execute(
            "SELECT content FROM resource WHERE resource_type = %s AND id = %s AND NOT deleted", (rtype, rid))
        row = await cur.fetchone()
    return display_name(row[0]) if row else ""


async def patient_exists(db: Database, patient_id: str) -> bool:
    async with db.connection() as conn:
        cur = await conn.execute(
            "SELECT 1 FROM resource WHERE resource_type = 'Patient' AND id = %s AND NOT deleted", (patient_id,))
        return await cur.fetchone() is not None


async def resource_exists(db: Database, resource_type: str, resource_id: str) -> bool:
    """Is there a current, not deleted ``resource_type/resource_id`` (what a user or launch may name)?"""
    async with db.connection() as conn:
        cur = await conn.execute(
            "SELECT 1 FROM resource WHERE resource_type = %s AND id = %s AND version_id > 0 AND NOT deleted",
            (resource_type, resource_id))
        return await cur.fetchone() is not None


async def related_person_patient(db: Database, related_person_id: str) -> str | None:
    """The Patient a RelatedPerson is related to (RelatedPerson.patient), if it is local."""
    async with db.connection() as conn:
        cur = await conn.execute(
            "SELECT content #>> '{patient,reference}' FROM resource "
            "WHERE resource_type = 'RelatedPerson' AND id = %s AND NOT deleted", (related_person_id,))
        row = await cur.fetchone()
    reference = row[0] if row else None
    if reference and reference.startswith("Patient/"):
        return str(reference.split("/", 1)[1])
    return None


async def server_secret(db: Database, name: str) -> bytes:
    """A named 256-bit secret, created on first use and shared by every server process."""
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO smart_secret (name, value) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                           (name, secrets.token_bytes(32)))
        cur = await conn.execute("SELECT value FROM smart_secret WHERE name = %s", (name,))
        row = await cur.fetchone()
    assert row is not None
    return bytes(row[0])
