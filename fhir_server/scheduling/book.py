"""Appointment/$book (IHE ITI Scheduling, R4; after Argonaut Scheduling's $book).

In: an Appointment (or a Bundle / Parameters holding one) naming its Slot(s) and participants.
One transaction: the Appointment is stored ``booked`` (the Appointment write rule makes its Slots
busy and PostgreSQL refuses any overlap: 409), and one AppointmentResponse (``accepted``) is
stored per participant actor. Out: 200 with the booked Appointment.

- The Appointment's ``id`` names a held Appointment (``pending``, from $hold) with the same Slots,
  or a stored ``proposed``/``waitlist`` one: it is booked in place.
- The ``id`` names another live pending or booked Appointment: a reschedule. The old one is
  cancelled (``cancelationReason`` "rescheduled") and a new one booked in the same transaction;
  if the new booking fails, nothing changes.
"""

from __future__ import annotations

from typing import Any

from ..errors import Unprocessable
from ..fhir.datetimes import format_instant, now_instant
from ..resources import repository
from .model import StatusConflict, reference_id
from .rules import HOLD_EXPIRES
from .writes import Writes, content

__all__ = ["book", "CAPABILITY_ENTRY"]

CAPABILITY_ENTRY = {"name": "book", "definition": "http://fhir-server.example.org/OperationDefinition/Appointment-book"}
RESCHEDULED = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason",
                           "code": "pat-crs", "display": "Patient: Canceled via automated reminder system"}],
               "text": "rescheduled"}


def _booked(appointment: dict[str, Any]) -> dict[str, Any]:
    booked = {k: v for k, v in appointment.items() if k not in ("id", "meta")}
    booked["status"] = "booked"
    booked["extension"] = [e for e in booked.get("extension") or [] if e.get("url") != HOLD_EXPIRES]
    if not booked["extension"]:
        del booked["extension"]
    if not booked.get("created"):
        booked["created"] = format_instant(now_instant())
    return booked


def _slots(appointment: dict[str, Any]) -> list[str]:
    slots = [r[1] for s in appointment.get("slot") or [] if (r := reference_id(s, "Slot"))]
    if not slots:
        raise Unprocessable("$book needs the Appointment's slot: a reference to the Slot to book")
    return slots


async def _existing(writes: Writes, rid: str) -> dict[str, Any] | None:
    """The live Appointment ``rid`` names, read in the booking's transaction (None: there is none)."""
    if not await repository.is_live(writes.conn, "Appointment", rid):
        return None
    await writes.policy.check_visible(writes.conn, "Appointment", rid, "u")
    return content(await repository.read(writes.conn, "Appointment", rid))


async def _responses(writes: Writes, appointment: dict[str, Any]) -> None:
    """An AppointmentResponse per participant actor: the booking accepted on their behalf."""
    for participant in appointment.get("participant") or []:
        actor = participant.get("actor")
        if reference_id(actor) is None:
            continue
        await writes.create("AppointmentResponse", {
            "resourceType": "AppointmentResponse", "appointment": {"reference": f"Appointment/{appointment['id']}"},
            "start": appointment["start"], "end": appointment["end"], "actor": {"reference": actor["reference"]},
            "participantStatus": "accepted"}, on_behalf=True)


async def book(writes: Writes, appointment: dict[str, Any]) -> dict[str, Any]:
    """Book (or confirm a hold, or reschedule) inside ``writes``' transaction; the booked Appointment."""
    new_slots = _slots(appointment)
    rid = appointment.get("id")
    old = await _existing(writes, rid) if isinstance(rid, str) else None
    in_place = old is not None and (old.get("status") in ("proposed", "waitlist") or (
        old.get("status") == "pending" and [r[1] for s in old.get("slot") or [] if (r := reference_id(s, "Slot"))]
        == new_slots))
    if old is not None and in_place:
        booked = await writes.update("Appointment", old["id"], {**_booked(appointment), "id": old["id"]})
    else:
        if old is not None:
            await _cancel_for_reschedule(writes, old)
        booked = await writes.create("Appointment", _booked(appointment))
    await _responses(writes, booked)
    return booked


async def _cancel_for_reschedule(writes: Writes, old: dict[str, Any]) -> None:
    if old.get("status") not in ("pending", "booked"):
        raise StatusConflict(f"Appointment/{old['id']} is {old.get('status')}: only a pending or booked "
                             "Appointment can be rescheduled")
    cancelled = {**old, "status": "cancelled", "cancelationReason": RESCHEDULED}
    await writes.update("Appointment", old["id"], cancelled)

