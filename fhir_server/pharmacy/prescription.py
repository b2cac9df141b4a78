"""The MedicationRequest write rule: http://hl7.org/fhir/R4/medicationrequest.html

A write that makes an active order, or changes an active order's requester or medication, needs
a prescriber (prescriber.py; FHIR_PRESCRIBER_CHECK says which writers). Every write of a request
that dispenses were made against takes its row lock first (so a cancellation and a dispense are
ordered) and may not authorize less than was already dispensed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from psycopg import AsyncConnection

from ..rules import Change
from ..rules.context import writer
from .prescriber import applies_to, check_prescriber, is_active_order
from .prescription_lock import dispensed, lock_prescription
from .refusals import refused
from .settings import current
from .supply import authorized

__all__ = ["guard_request"]

_PRESCRIBED = ("requester", "medicationReference", "medicationCodeableConcept")


def _newly_prescribed(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> bool:
    if not is_active_order(new):
        return False
    return not is_active_order(old) or any((old or {}).get(k) != new.get(k) for k in _PRESCRIBED)


async def _check_not_below_dispensed(conn: AsyncConnection[Any], rid: str, new: Mapping[str, Any]) -> None:
    # Always the lock, even before the first dispense: a dispense running now either committed
    # (and is counted below) or waits, and then reads this version of the request.
    await lock_prescription(conn, rid)
    taken, fills = await dispensed(conn, rid)
    allowed = authorized(new)
    if fills > allowed.fills or (allowed.quantity is not None and taken > allowed.quantity):
        raise refused("authorized-quantity", f"MedicationRequest/{rid} cannot authorize less than was already "
                      f"dispensed ({taken} in {fills} fills)")


async def guard_request(conn: AsyncConnection[Any], change: Change) -> None:
    new = change.new
    if new is None:
        return
    settings = current()
    if _newly_prescribed(change.old, new) and applies_to(settings.prescriber_check, writer()):
        await check_prescriber(conn, new, settings.prescriber_roles)
    if change.old is not None and (change.old.get("dispenseRequest") != new.get("dispenseRequest")
                                   or change.old.get("status") != new.get("status")):
        await _check_not_below_dispensed(conn, change.id, new)
