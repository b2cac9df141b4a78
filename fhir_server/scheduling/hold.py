"""Appointment/$hold (IHE ITI Scheduling, R4): hold a Slot for a while before booking it.

In: an Appointment (or a Bundle / Parameters holding one) naming its Slot. The Appointment is
stored ``pending`` with the extension ``HOLD_EXPIRES`` (valueInstant: now + ``FHIR_HOLD_MINUTES``,
default 10). Until then its rows in ``scheduling_busy`` refuse every overlapping booking, its Slot
is ``busy-tentative`` and $find does not offer it; after that the hold no longer holds time (the
next booking of that time removes its rows). $book with the held Appointment's id confirms it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ..errors import Unprocessable
from ..fhir.datetimes import format_instant, now_instant
from ..resources import repository
from .model import reference_id
from .rules import HOLD_EXPIRES
from .writes import Writes, content

__all__ = ["hold", "CAPABILITY_ENTRY"]

CAPABILITY_ENTRY = {"name": "hold", "definition": "http://fhir-server.example.org/OperationDefinition/Appointment-hold"}


async def hold(writes: Writes, appointment: dict[str, Any], minutes: int) -> dict[str, Any]:
    if not [s for s in appointment.get("slot") or [] if reference_id(s, "Slot")]:
        raise Unprocessable("$hold needs the Appointment's slot: a reference to the Slot to hold")
    expires = format_instant(now_instant() + timedelta(minutes=minutes))
    extensions = [e for e in appointment.get("extension") or [] if e.get("url") != HOLD_EXPIRES]
    held = {k: v for k, v in appointment.items() if k not in ("meta",)}
    held.update(status="pending", extension=[*extensions, {"url": HOLD_EXPIRES, "valueInstant": expires}])
    rid = appointment.get("id")
    if isinstance(rid, str) and await repository.is_live(writes.conn, "Appointment", rid):
        current = content(await repository.read(writes.conn, "Appointment", rid))
        if current.get("status") != "proposed":
            raise Unprocessable(f"Appointment/{rid} is {current.get('status')}: only a proposed Appointment "
                                "(or a new one) can be held")
        return await writes.update("Appointment", rid, held)
    held.pop("id", None)
    return await writes.create("Appointment", held)
