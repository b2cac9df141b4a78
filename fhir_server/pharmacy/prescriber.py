"""Who may prescribe, as data: http://hl7.org/fhir/R4/medicationrequest-definitions.html#MedicationRequest.requester

An active order (status ``active``, intent ``order`` or one of its children in
http://hl7.org/fhir/R4/codesystem-request-intent.html) needs a requester who may prescribe:

- ``Practitioner/x``: the Practitioner exists, is not ``active: false``, and has a PractitionerRole
  (``practitioner`` = Practitioner/x) that is not ``active: false``, whose ``period`` covers now and
  whose ``code`` holds one of the prescriber roles (FHIR_PRESCRIBER_ROLES, default
  http://terminology.hl7.org/CodeSystem/practitioner-role|doctor);
- ``PractitionerRole/y``: that role, as above, and its Practitioner (if named) not ``active: false``.

Who is held to it (FHIR_PRESCRIBER_CHECK): ``users`` (default) checks writes by user and patient
tokens, the clinicians and apps prescribing here; writes by back-end services (``system/`` scopes:
an interface importing another EHR's records), by ``fhir-server load`` and by a server with
authorization off are not checked, and the first such write of each process is logged. ``all``
checks every writer; ``off`` none.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from psycopg import AsyncConnection

from ..smart_auth.policy import Policy
from .records import coded, live, period_covers, reference_of
from .refusals import refused

__all__ = ["ORDER_INTENTS", "is_active_order", "applies_to", "check_prescriber"]

log = logging.getLogger(__name__)
ORDER_INTENTS = frozenset({"order", "original-order", "reflex-order", "filler-order", "instance-order"})
CHECKED_KINDS = frozenset({"user", "patient"})  # AccessContext.kind of tokens held to the rule in "users" mode
_LOGGED: list[bool] = []


def is_active_order(request: Mapping[str, Any] | None) -> bool:
    return request is not None and request.get("status") == "active" and request.get("intent") in ORDER_INTENTS


def applies_to(mode: str, policy: Policy | None) -> bool:
    """Is this writer held to the prescriber rule? (see the module text)"""
    if mode == "all":
        return True
    if mode == "off":
        return False
    checked = policy is not None and policy.access.kind in CHECKED_KINDS
    if not checked and policy is not None and not policy.open and not _LOGGED:  # a back-end token, not the operator
        _LOGGED.append(True)
        log.warning("MedicationRequest prescriber check not applied to writes by back-end services, fhir-server load "
                    "or an authorization-off server (FHIR_PRESCRIBER_CHECK=users); set it to 'all' to check them")
    return checked


def _prescribes(role: Mapping[str, Any], roles: tuple[str, ...]) -> bool:
    codes = {f"{system}|{code}" for system, code in coded(role.get("code"))}
    return role.get("active") is not False and period_covers(role.get("period")) and bool(codes & set(roles))


async def _practitioner_roles(conn: AsyncConnection[Any], practitioner_id: str) -> list[dict[str, Any]]:
    cur = await conn.execute("SELECT content FROM resource WHERE resource_type = 'PractitionerRole' AND version_id > 0"
                             " AND NOT deleted AND content->'practitioner'->>'reference' = %s",
                             (f"Practitioner/{practitioner_id}",))
    return [dict(row[0]) for row in await cur.fetchall()]


async def _check_practitioner(conn: AsyncConnection[Any], pid: str) -> None:
    practitioner = await live(conn, "Practitioner", pid)
    if practitioner is None:
        raise refused("prescriber", f"MedicationRequest.requester Practitioner/{pid} is not known on this server")
    if practitioner.get("active") is False:
        raise refused("prescriber", f"Practitioner/{pid} is not active: they may not prescribe")


async def check_prescriber(conn: AsyncConnection[Any], request: Mapping[str, Any], roles: tuple[str, ...]) -> None:
    ref = reference_of(request.get("requester"), "Practitioner", "PractitionerRole")
    if ref is None:
        raise refused("prescriber", "An active order needs a requester who may prescribe: a Practitioner or "
                      "PractitionerRole reference")
    if ref[0] == "PractitionerRole":
        role = await live(conn, "PractitionerRole", ref[1])
        if role is None or not _prescribes(role, roles):
            raise refused("prescriber", f"PractitionerRole/{ref[1]} is not an active prescriber role "
                          f"({', '.join(roles)})")
        practitioner = reference_of(role.get("practitioner"), "Practitioner")
        if practitioner is not None:
            await _check_practitioner(conn, practitioner[1])
        return
    await _check_practitioner(conn, ref[1])
    if not any(_prescribes(role, roles) for role in await _practitioner_roles(conn, ref[1])):
        raise refused("prescriber", f"Practitioner/{ref[1]} has no active PractitionerRole that may prescribe "
                      f"({', '.join(roles)})")
