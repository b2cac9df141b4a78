"""The MedicationDispense write rule: http://hl7.org/fhir/R4/medicationdispense.html

A counting dispense (dispense_status.py) names one ``authorizingPrescription``: an active
MedicationRequest for the same patient, inside its ``dispenseRequest.validityPeriod``, of the
same medication (unless substituted), within the quantity and fills it authorizes (supply.py);
when it names a ``location`` and a ``medicationReference`` it takes that lot's stock (stock.py),
never from an expired lot. What it takes is kept in ``pharmacy_dispense`` so a cancellation,
correction or deletion gives it back. The prescription's row lock orders concurrent dispenses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from psycopg import AsyncConnection

from ..rules import Change
from .batch import batch_of, check_not_expired
from .dispense_status import check_mdd1, check_transition, counts
from .medication import check_same_medication, medication_id
from .prescription_lock import dispensed, lock_prescription
from .records import instant_range, live, period_covers, reference_of
from .refusals import refused
from .stock import Lot, give_back, take
from .supply import authorized, quantity_of, same_unit

__all__ = ["guard_dispense", "Claim"]


@dataclass(frozen=True)
class Claim:
    request_id: str
    quantity: Decimal
    lot: Lot | None


async def _held(conn: AsyncConnection[Any], dispense_id: str) -> Claim | None:
    cur = await conn.execute("SELECT request_id, quantity, medication_id, location_id, lot FROM pharmacy_dispense"
                             " WHERE dispense_id = %s FOR UPDATE", (dispense_id,))
    row = await cur.fetchone()
    if row is None:
        return None
    lot = Lot(row[2], row[3], row[4]) if row[3] is not None else None
    return Claim(row[0], Decimal(row[1]), lot)


async def _release(conn: AsyncConnection[Any], dispense_id: str, held: Claim | None) -> None:
    if held is None:
        return
    if held.lot is not None:
        await give_back(conn, held.lot, held.quantity)
    await conn.execute("DELETE FROM pharmacy_dispense WHERE dispense_id = %s", (dispense_id,))


def _request_id(dispense: Mapping[str, Any]) -> str:
    refs = [reference_of(r, "MedicationRequest") for r in dispense.get("authorizingPrescription") or []]
    if len(refs) != 1 or refs[0] is None:
        raise refused("authorizing-prescription", "A MedicationDispense needs exactly one authorizingPrescription:"
                      " a MedicationRequest on this server")
    return refs[0][1]


async def _claim_of(conn: AsyncConnection[Any], dispense: Mapping[str, Any]) -> Claim:
    quantity = quantity_of(dispense, "MedicationDispense")
    location = reference_of(dispense.get("location"), "Location")
    mid = medication_id(dispense)
    lot = None
    if location is not None and mid is not None:
        lot = Lot(mid, location[1], (await batch_of(conn, mid, "MedicationDispense.medicationReference"))[0])
        if quantity is None:
            raise refused("stock", "A MedicationDispense from a location needs a quantity")
    return Claim(_request_id(dispense), quantity if quantity is not None else Decimal(0), lot)


def _moment(dispense: Mapping[str, Any]) -> datetime:
    when = (instant_range(dispense.get("whenHandedOver"), "whenHandedOver")
            or instant_range(dispense.get("whenPrepared"), "whenPrepared"))
    return when[0] if when else datetime.now(UTC)


def _check_request(dispense: Mapping[str, Any], request: Mapping[str, Any] | None, rid: str) -> Mapping[str, Any]:
    if request is None:
        raise refused("authorizing-prescription", f"MedicationRequest/{rid} is not known on this server")
    if request.get("status") != "active":
        raise refused("active-prescription", f"MedicationRequest/{rid} is {request.get('status')}: it cannot be "
                      "dispensed")
    period = (request.get("dispenseRequest") or {}).get("validityPeriod")
    if isinstance(period, Mapping) and not period_covers(period, _moment(dispense)):
        raise refused("validity-period", f"MedicationRequest/{rid} may be dispensed only within its "
                      f"dispenseRequest.validityPeriod ({period.get('start', '')} to {period.get('end', '')})")
    subject, prescribed_for = reference_of(dispense.get("subject")), reference_of(request.get("subject"))
    if subject is not None and subject != prescribed_for:
        raise refused("same-patient", f"MedicationRequest/{rid} is not for {'/'.join(subject)}")
    return request


async def _check_totals(conn: AsyncConnection[Any], request: Mapping[str, Any], claim: Claim,
                        dispense: Mapping[str, Any]) -> None:
    allowed, rid = authorized(request), claim.request_id
    taken, fills = await dispensed(conn, rid)
    repeats = f"1 + {allowed.fills - 1} repeats"
    if fills + 1 > allowed.fills:
        plural = "fill" if allowed.fills == 1 else "fills"
        raise refused("number-of-fills", f"MedicationRequest/{rid} authorizes {allowed.fills} {plural} ({repeats}); "
                      f"{fills} already dispensed")
    if allowed.quantity is None:
        return
    if quantity_of(dispense, "MedicationDispense") is None:
        raise refused("authorized-quantity", f"MedicationRequest/{rid} limits the quantity: the dispense needs one")
    if not same_unit(dispense.get("quantity"), allowed.unit):
        raise refused("authorized-quantity", f"The dispense quantity is not in the unit MedicationRequest/{rid} "
                      "prescribes")
    if taken + claim.quantity > allowed.quantity:
        raise refused("authorized-quantity", f"MedicationRequest/{rid} authorizes {allowed.quantity} in all "
                      f"({allowed.unit.get('value') if allowed.unit else ''} x ({repeats})); {taken} already "
                      f"dispensed, {claim.quantity} more asked")


async def _take(conn: AsyncConnection[Any], dispense_id: str, claim: Claim) -> None:
    if claim.lot is not None:
        check_not_expired(claim.lot.medication_id,
                          await batch_of(conn, claim.lot.medication_id, "MedicationDispense.medicationReference"))
        await take(conn, claim.lot, claim.quantity)
    lot = claim.lot
    await conn.execute("INSERT INTO pharmacy_dispense (dispense_id, request_id, quantity, medication_id, location_id,"
                       " lot) VALUES (%s, %s, %s, %s, %s, %s)",
                       (dispense_id, claim.request_id, claim.quantity, lot.medication_id if lot else None,
                        lot.location_id if lot else None, lot.lot if lot else None))


async def guard_dispense(conn: AsyncConnection[Any], change: Change) -> None:
    old, new = change.old, change.new
    held = await _held(conn, change.id)
    if new is not None:
        check_mdd1(new)
        check_transition(old.get("status") if old else None, new.get("status"))
    if not counts(new):
        await _release(conn, change.id, held)
        return
    assert new is not None
    claim = await _claim_of(conn, new)
    if held == claim and old is not None and old.get("status") == new.get("status"):
        return  # what it takes is unchanged (a note, a display): judged when it was taken
    await lock_prescription(conn, claim.request_id)
    request = _check_request(new, await live(conn, "MedicationRequest", claim.request_id), claim.request_id)
    await check_same_medication(conn, new, request, claim.request_id)
    await _release(conn, change.id, held)
    await _check_totals(conn, request, claim, new)
    await _take(conn, change.id, claim)
