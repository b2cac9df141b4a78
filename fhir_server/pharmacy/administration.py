"""The MedicationAdministration write rule: http://hl7.org/fhir/R4/medicationadministration.html

mad-1: a dosage has a dose or a rate. An administration that happened or is happening (every
status but not-done and entered-in-error) names in ``request`` an active MedicationRequest for
the same ``subject``; judged when it is recorded and whenever its status, request or subject change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from psycopg import AsyncConnection

from ..rules import Change
from .records import live, reference_of
from .refusals import refused

__all__ = ["guard_administration"]

NOT_GIVEN = frozenset({"not-done", "entered-in-error"})
_JUDGED = ("status", "request", "subject")


def check_mad1(administration: Mapping[str, Any]) -> None:
    dosage = administration.get("dosage")
    if isinstance(dosage, Mapping) and "dose" not in dosage and not any(k.startswith("rate") for k in dosage):
        raise refused("mad-1", "MedicationAdministration.dosage needs a dose or a rate")


async def _check_request(conn: AsyncConnection[Any], administration: Mapping[str, Any]) -> None:
    ref = reference_of(administration.get("request"), "MedicationRequest")
    if ref is None:
        raise refused("administration-request", "A MedicationAdministration needs a request: the MedicationRequest"
                      " it carries out")
    request = await live(conn, "MedicationRequest", ref[1])
    if request is None:
        raise refused("administration-request", f"MedicationRequest/{ref[1]} is not known on this server")
    if request.get("status") != "active":
        raise refused("active-prescription", f"MedicationRequest/{ref[1]} is {request.get('status')}: it cannot be "
                      "administered")
    if reference_of(administration.get("subject")) != reference_of(request.get("subject")):
        raise refused("same-patient", f"MedicationRequest/{ref[1]} is not for this administration's subject")


async def guard_administration(conn: AsyncConnection[Any], change: Change) -> None:
    old, new = change.old, change.new
    if new is None:
        return
    check_mad1(new)
    if new.get("status") in NOT_GIVEN:
        return
    if old is None or any(old.get(k) != new.get(k) for k in _JUDGED):
        await _check_request(conn, new)
