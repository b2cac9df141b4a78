"""Only the requester may change a request (issue 15): the ServiceRequest write rule.

http://hl7.org/fhir/R4/servicerequest.html (``requester``: Practitioner, PractitionerRole, ...).
A practitioner user (a ``user/`` token whose fhirUser is ``Practitioner/x``) may update, patch or
delete a ServiceRequest only when it is the stored version's requester, directly or through one of
its PractitionerRoles, and may create one only as its requester (nobody orders in a colleague's
name). Administrators and importers (``system/`` backends, the operator: ``fhir-server load``,
auth off) are exempt; patients and other users are left to their scopes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from psycopg import AsyncConnection

from ..errors import Forbidden
from ..rules import Change
from ..rules.context import writer
from ..scheduling.access import is_administrator

__all__ = ["guard_requester"]

RULE = "lab.requester"


def _requester(request: Mapping[str, Any] | None) -> str | None:
    ref = ((request or {}).get("requester") or {}).get("reference")
    return ref if isinstance(ref, str) else None


async def _is_requester(conn: AsyncConnection[Any], user: str, requester: str | None) -> bool:
    if requester is None:
        return False
    if requester == user:
        return True
    if not requester.startswith("PractitionerRole/"):
        return False
    cur = await conn.execute("SELECT 1 FROM resource WHERE resource_type = 'PractitionerRole' AND id = %s"
                             " AND NOT deleted AND content->'practitioner'->>'reference' = %s",
                             (requester.removeprefix("PractitionerRole/"), user))
    return await cur.fetchone() is not None


async def guard_requester(conn: AsyncConnection[Any], change: Change) -> None:
    policy = writer()
    if is_administrator(policy):
        return
    assert policy is not None
    user = policy.access.user or ""
    if not user.startswith("Practitioner/"):
        return
    stored = change.old if change.old is not None else change.new
    if await _is_requester(conn, user, _requester(stored)):
        return
    if change.old is None:
        raise Forbidden(f"Rule {RULE}: {user} may order only in their own name (ServiceRequest.requester)")
    raise Forbidden(f"Rule {RULE}: only the requester ({_requester(change.old) or 'none recorded'}) may change "
                    f"ServiceRequest/{change.id}")
