"""Deactivating (blacklisting) and reactivating a user.

Deactivation, in one transaction: ``smart_user.active`` is set false (locking the row, so a
sign-in that is issuing a grant right now either finishes first and is revoked here, or sees
the flag: ``grant_store.issue_code``), every grant of the user is revoked with its access and
refresh tokens, and a staff member's ``Practitioner.active`` becomes false through the resource
layer (validated, versioned, audited like a PATCH). The bound on access tokens already issued
is zero: every FHIR request checks its token's row (``grant_store.access_token_active``), so
a revoked token fails on its next use (401). Refresh tokens answer ``invalid_grant``; sign-in
says the account is disabled. Reactivation lifts the flag (old grants stay revoked) and sets
``Practitioner.active`` true again.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from ..audit.trail import record_versions
from ..errors import NotFound
from ..resources import interactions
from ..resources.service import ResourceService
from ..smart_auth.policy import OPEN_POLICY, Policy
from ..smart_auth.roles import revoke_user_grants

__all__ = ["set_active"]


async def set_active(service: ResourceService, username: str, active: bool,
                     policy: Policy = OPEN_POLICY) -> dict[str, Any]:
    async with service.db.transaction() as conn:
        cur = await conn.execute("UPDATE smart_user SET active = %s WHERE username = %s RETURNING fhir_user",
                                 (active, username))
        row = await cur.fetchone()
        if row is None:
            raise NotFound(f"No user {username!r}")
        if not active:
            await revoke_user_grants(conn, username)
        practitioner = await _set_practitioner(service, conn, str(row[0]), active, policy)
    return {"username": username, "active": active, "practitioner_active": practitioner}


async def _set_practitioner(service: ResourceService, conn: AsyncConnection[Any], fhir_user: str, active: bool,
                            policy: Policy) -> bool | None:
    """Practitioner.active follows the account (staff only); None when there is no such Practitioner."""
    rtype, _, rid = fhir_user.partition("/")
    if rtype != "Practitioner":
        return None
    cur = await conn.execute("SELECT content->'active' FROM resource WHERE resource_type = 'Practitioner'"
                             " AND id = %s AND version_id > 0 AND NOT deleted", (rid,))
    row = await cur.fetchone()
    if row is None:
        return None
    if row[0] is not active:  # jsonb true/false arrive as Python bools; no new version when unchanged
        outcome = await interactions.patch(conn, service.indexer, "Practitioner", rid, None,
                                           lambda content: {**content, "active": active}, policy=OPEN_POLICY)
        await record_versions(service.trail, conn, policy.access, "patch", [outcome.version])
    return active
