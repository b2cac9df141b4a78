"""Patient self-registration: the Patient and its user account (role patient) in one transaction.

Duplicates (409, nothing written): an account with the same e-mail address, a Patient with the
same identifier, or a Patient with the same name, birth date and e-mail. Concurrent registrations
of the same person are serialised by transaction-scoped advisory locks on the e-mail and the
identifier (and the unique index on ``smart_user.email`` backs the e-mail rule). The Patient is
written through the resource layer (validated, indexed, versioned, audited); the account starts
unverified (``verification.py``) and cannot sign in until the link is opened.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson
import psycopg
from psycopg import AsyncConnection

from ..audit.trail import record_versions
from ..errors import Conflict, Unprocessable
from ..resources import interactions
from ..resources.service import ResourceService
from ..smart_auth.hashing import hash_password
from ..smart_auth.policy import OPEN_POLICY
from ..smart_auth.storage import insert_user
from .password_policy import password_problem

__all__ = ["Registration", "register", "verify_account"]

EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s.]{2,63}$")
PHONE = re.compile(r"^\+?[0-9 ()./-]{5,32}$")


@dataclass(frozen=True)
class Registration:
    given: str
    family: str
    birth_date: str
    email: str
    password: str
    phone: str = ""
    identifier_system: str = ""
    identifier_value: str = ""

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> Registration:
        def text(key: str) -> str:
            value = fields.get(key, "")
            return value.strip() if isinstance(value, str) else ""
        return cls(text("given"), text("family"), text("birth_date"), text("email").lower(),
                   fields.get("password") if isinstance(fields.get("password"), str) else "",  # type: ignore[arg-type]
                   text("phone"), text("identifier_system"), text("identifier_value"))

    def problems(self) -> list[str]:
        out = [f"{label} is required" for label, value in (("Given name", self.given), ("Family name", self.family),
                                                           ("Birth date", self.birth_date), ("E-mail", self.email))
               if not value]
        if self.email and not EMAIL.match(self.email):
            out.append("E-mail is not an e-mail address")
        if self.birth_date:
            try:
                if date.fromisoformat(self.birth_date) > date.today() or len(self.birth_date) != 10:
                    out.append("Birth date must be a past date (YYYY-MM-DD)")
            except ValueError:
                out.append("Birth date must be a date (YYYY-MM-DD)")
        if self.phone and not PHONE.match(self.phone):
            out.append("Phone must be digits (with + ( ) - . / or spaces)")
        if bool(self.identifier_system) != bool(self.identifier_value):
            out.append("An identifier needs both its system and its value")
        if len(self.given) > 100 or len(self.family) > 100:
            out.append("Names are limited to 100 characters")
        problem = password_problem(self.password)
        return out + ([problem] if problem else [])

    def lock_keys(self) -> list[str]:
        keys = [f"register-email:{self.email}"]
        if self.identifier_value:
            keys.append(f"register-id:{self.identifier_system}|{self.identifier_value}")
        return keys

    def patient(self) -> dict[str, Any]:
        telecom = [{"system": "email", "value": self.email, "use": "home"}]
        if self.phone:
            telecom.append({"system": "phone", "value": self.phone, "use": "mobile"})
        body: dict[str, Any] = {"resourceType": "Patient", "active": True,
                                "name": [{"use": "official", "family": self.family, "given": [self.given]}],
                                "telecom": telecom, "birthDate": self.birth_date}
        if self.identifier_value:
            body["identifier"] = [{"system": self.identifier_system, "value": self.identifier_value}]
        return body


async def _lock(conn: AsyncConnection[Any], keys: list[str]) -> None:
    for key in sorted(keys):  # one canonical order: two registrations cannot deadlock
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (key,))


async def _duplicate(conn: AsyncConnection[Any], reg: Registration) -> str | None:
    cur = await conn.execute("SELECT 1 FROM smart_user WHERE lower(email) = %s", (reg.email,))
    if await cur.fetchone():
        return "An account with this e-mail address already exists: sign in, or reset the password."
    if reg.identifier_value:
        ident = orjson.dumps([{"system": reg.identifier_system, "value": reg.identifier_value}]).decode()
        cur = await conn.execute("SELECT 1 FROM resource WHERE resource_type = 'Patient' AND version_id > 0"
                                 " AND NOT deleted AND content->'identifier' @> %s::jsonb", (ident,))
        if await cur.fetchone():
            return "A patient record with this identifier already exists: ask the hospital to link your account."
    email = orjson.dumps([{"system": "email", "value": reg.email}]).decode()
    cur = await conn.execute(
        "SELECT 1 FROM resource WHERE resource_type = 'Patient' AND version_id > 0 AND NOT deleted"
        " AND content->>'birthDate' = %s AND content->'telecom' @> %s::jsonb AND EXISTS ("
        " SELECT 1 FROM jsonb_array_elements(content->'name') n WHERE lower(n->>'family') = lower(%s)"
        " AND lower(n#>>'{given,0}') = lower(%s))", (reg.birth_date, email, reg.family, reg.given))
    if await cur.fetchone():
        return "A patient record with this name, birth date and e-mail already exists: ask the hospital."
    return None


async def register(service: ResourceService, reg: Registration) -> str:
    """Create the Patient and the unverified account; returns the Patient id. Raises 422 / 409."""
    problems = reg.problems()
    if problems:
        raise Unprocessable("; ".join(problems))
    password_hash = await asyncio.to_thread(hash_password, reg.password)
    try:
        async with service.db.transaction() as conn:
            await _lock(conn, reg.lock_keys())
            duplicate = await _duplicate(conn, reg)
            if duplicate:
                raise Conflict(duplicate)
            outcome = await interactions.create(conn, service.indexer, "Patient", reg.patient(), policy=OPEN_POLICY)
            await record_versions(service.trail, conn, OPEN_POLICY.access, "create", [outcome.version])
            patient_id = str(outcome.version.id)
            await insert_user(conn, reg.email, password_hash, f"Patient/{patient_id}", ["patient"], email=reg.email,
                              verified=False)
    except psycopg.errors.UniqueViolation as exc:  # the same username chosen at the same moment
        raise Conflict("An account with this e-mail address already exists.") from exc
    return patient_id


async def verify_account(conn: AsyncConnection[Any], patient_id: str) -> bool:
    """Mark the self-registered account of ``Patient/patient_id`` verified; False if there is none."""
    cur = await conn.execute("UPDATE smart_user SET verified = true WHERE fhir_user = %s AND email IS NOT NULL"
                             " RETURNING username", (f"Patient/{patient_id}",))
    return await cur.fetchone() is not None
