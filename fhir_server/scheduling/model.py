"""What an Appointment books, as pure functions: its time, its actors, its Slots, its status moves.

http://hl7.org/fhir/R4/appointment.html (status codes, invariants app-1..app-4) and
http://hl7.org/fhir/R4/valueset-appointmentstatus.html. Nothing here touches the database.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..errors import BadRequest, FhirError, Unprocessable
from ..fhir.datetimes import parse_instant

__all__ = ["HOLDING", "TRANSITIONS", "Booking", "StatusConflict", "holds_time", "booking_of", "check_appointment",
           "check_transition", "reference_id", "slot_range"]

# The statuses whose Appointment occupies its actors' time (the issue's list; proposed, waitlist
# and the final states do not).
HOLDING = frozenset({"pending", "booked", "arrived", "checked-in"})

# Allowed status moves (a write that keeps the status is always allowed). Final states move only to
# entered-in-error (a record made by mistake).
TRANSITIONS: dict[str, frozenset[str]] = {
    "proposed": frozenset({"pending", "booked", "cancelled", "waitlist", "entered-in-error"}),
    "waitlist": frozenset({"proposed", "pending", "booked", "cancelled", "entered-in-error"}),
    "pending": frozenset({"booked", "cancelled", "entered-in-error"}),
    "booked": frozenset({"arrived", "checked-in", "noshow", "cancelled", "entered-in-error"}),
    "arrived": frozenset({"checked-in", "fulfilled", "noshow", "entered-in-error"}),
    "checked-in": frozenset({"fulfilled", "entered-in-error"}),
    "fulfilled": frozenset({"entered-in-error"}),
    "cancelled": frozenset({"entered-in-error"}),
    "noshow": frozenset({"entered-in-error"}),
    "entered-in-error": frozenset(),
}
_REFERENCE = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")


class StatusConflict(FhirError):
    """A status move the table does not allow: the resource is in the wrong state (409)."""

    status, code = 409, "business-rule"


@dataclass(frozen=True)
class Booking:
    """The time one Appointment holds: [start, end) for each actor and each Slot it uses."""

    start: datetime
    end: datetime
    actors: tuple[str, ...]  # "Practitioner/1", "Patient/7", ... (not information-only)
    slots: tuple[str, ...]  # Slot ids


def holds_time(appointment: Mapping[str, Any] | None) -> bool:
    return appointment is not None and appointment.get("status") in HOLDING


def reference_id(reference: Any, rtype: str | None = None) -> tuple[str, str] | None:
    """(type, id) of a literal reference (relative or absolute URL); None for contained/logical ones."""
    ref = reference.get("reference") if isinstance(reference, Mapping) else None
    if not isinstance(ref, str):
        return None
    match = _REFERENCE.search(ref)
    if match is None or (rtype is not None and match.group(1) != rtype):
        return None
    return match.group(1), match.group(2)


def _instant(appointment: Mapping[str, Any], name: str) -> datetime:
    value = appointment.get(name)
    try:
        return parse_instant(str(value), f"Appointment.{name}")
    except FhirError as exc:
        raise Unprocessable(f"Appointment.{name} '{value}' is not an instant with a time zone") from exc


def check_appointment(appointment: Mapping[str, Any]) -> None:
    """app-2, app-3 and app-4 (app-1 is on participant and checked by R4 validation), plus end after
    start. R4's app-4 text tests 'no-show' while the code is ``noshow``: a reason on a no-show is valid."""
    status = appointment.get("status")
    has_start, has_end = "start" in appointment, "end" in appointment
    if has_start != has_end:
        raise Unprocessable("Appointment: either start and end are both given, or neither (app-2)")
    if not has_start and status not in ("proposed", "cancelled", "waitlist"):
        raise Unprocessable(f"Appointment: a {status} Appointment needs start and end; only proposed, cancelled "
                            "and waitlist ones may lack them (app-3)")
    if "cancelationReason" in appointment and status not in ("cancelled", "noshow"):
        raise Unprocessable("Appointment.cancelationReason is only for cancelled or no-show Appointments (app-4)")
    if has_start and _instant(appointment, "end") <= _instant(appointment, "start"):
        raise Unprocessable("Appointment.end must be after Appointment.start")


def check_transition(old: str | None, new: str | None) -> None:
    if old == new or old is None or new is None:
        return
    if new not in TRANSITIONS.get(old, frozenset()):
        allowed = ", ".join(sorted(TRANSITIONS.get(old, frozenset()))) or "none"
        raise StatusConflict(f"Appointment status cannot move from {old} to {new} (allowed from {old}: {allowed})")


def booking_of(appointment: Mapping[str, Any]) -> Booking:
    """The Booking of a time-holding Appointment (checked by ``check_appointment`` first)."""
    actors: list[str] = []
    for participant in appointment.get("participant") or []:
        if not isinstance(participant, Mapping) or participant.get("required") == "information-only":
            continue
        target = reference_id(participant.get("actor"))
        if target is not None:
            actors.append(f"{target[0]}/{target[1]}")
    slots = []
    for reference in appointment.get("slot") or []:
        target = reference_id(reference)
        if target is None or target[0] != "Slot":
            raise Unprocessable(f"Appointment.slot {reference!r} is not a reference to a Slot on this server")
        slots.append(target[1])
    return Booking(_instant(appointment, "start"), _instant(appointment, "end"), tuple(dict.fromkeys(actors)),
                   tuple(dict.fromkeys(slots)))


def slot_range(slot: Mapping[str, Any]) -> tuple[datetime, datetime]:
    """[start, end) of a Slot; end must be after start (422 otherwise)."""
    try:
        start = parse_instant(str(slot.get("start")), "Slot.start")
        end = parse_instant(str(slot.get("end")), "Slot.end")
    except BadRequest as exc:
        raise Unprocessable(f"Slot: {exc.message}") from exc
    if end <= start:
        raise Unprocessable(f"Slot end {slot.get('end')} must be after its start {slot.get('start')}")
    return start, end
