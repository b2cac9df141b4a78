"""User administration shared by the CLI and the /admin/ API: list, add, change roles.

Roles are rows (migration 090); a user's roles cap the SMART scopes they may be granted
(``smart_auth/roles.py``). Removing a role revokes the user's grants, so tokens issued under
the wider cap stop working at once.
"""

from __future__ import annotations

import re
from typing import Any

import psycopg

from ..db import Database
from ..errors import Conflict, NotFound, Unprocessable
from ..smart_auth import roles, storage

__all__ = ["MIN_PASSWORD", "list_users", "add_user", "change_roles", "check_roles", "describe"]

MIN_PASSWORD = 12
FHIR_USER = re.compile(r"^(Practitioner|Patient|RelatedPerson)/[A-Za-z0-9.-]{1,64}$")
USERNAME = re.compile(r"^[A-Za-z0-9._@+-]{1,128}$")


async def describe(db: Database, username: str) -> dict[str, Any]:
    user = await storage.get_user(db, username)
    if user is None:
        raise NotFound(f"No user {username!r}")
    return {"username": user.username, "fhir_user": user.fhir_user, "active": user.active,
            "verified": user.verified, "roles": await roles.user_roles(db, username)}


async def list_users(db: Database) -> list[dict[str, Any]]:
    return [await describe(db, u.username) for u in await storage.list_users(db)]


async def check_roles(db: Database, names: list[str]) -> None:
    unknown = sorted(set(names) - set(await roles.known_roles(db)))
    if unknown:
        raise Unprocessable(f"Unknown role(s) {', '.join(unknown)}; the roles are "
                            f"{', '.join(await roles.known_roles(db))}")


async def add_user(db: Database, username: str, password: str, fhir_user: str, role_names: list[str]) -> dict[str, Any]:
    if not USERNAME.match(username):
        raise Unprocessable("username: 1-128 letters, digits and . _ @ + -")
    if not FHIR_USER.match(fhir_user):
        raise Unprocessable("fhir_user must be Practitioner/ID, Patient/ID or RelatedPerson/ID")
    if len(password) < MIN_PASSWORD:
        raise Unprocessable(f"The password must have at least {MIN_PASSWORD} characters")
    if not role_names:
        raise Unprocessable("Give the user at least one role")
    await check_roles(db, role_names)
    try:
        await storage.create_user(db, username, password, fhir_user, role_names)
    except psycopg.errors.UniqueViolation as exc:
        raise Conflict(f"User {username!r} already exists") from exc
    return await describe(db, username)


async def change_roles(db: Database, username: str, add: list[str], remove: list[str]) -> dict[str, Any]:
    await describe(db, username)  # 404 for an unknown user
    await check_roles(db, add + remove)
    await roles.set_roles(db, username, add, remove)
    return await describe(db, username)
