"""Appointment/[id]/$cancel: cancel a pending or booked Appointment, freeing its Slots.

In: optionally a Parameters with ``reason`` (valueString or valueCodeableConcept), stored as
``cancelationReason``. The same as a PATCH of ``status`` to ``cancelled`` (the Appointment write
rule frees its time and Slots), but refused (409) unless the Appointment is pending or booked.
http://hl7.org/fhir/R4/appointment.html#status
"""

from __future__ import annotations

from typing import Any

from .model import StatusConflict
from .rules import HOLD_EXPIRES
from .writes import Writes

__all__ = ["cancel", "CAPABILITY_ENTRY"]

CAPABILITY_ENTRY = {"name": "cancel", "definition": "http://fhir-server.example.org/OperationDefinition/Appointment-cancel"}


def _reason(value: Any) -> dict[str, Any] | None:
    if isinstance(value, str) and value.strip():
        return {"text": value.strip()}
    return value if isinstance(value, dict) else None


async def cancel(writes: Writes, rid: str, reason: Any) -> dict[str, Any]:
    def apply(current: dict[str, Any]) -> dict[str, Any]:
        if current.get("status") not in ("pending", "booked"):
            raise StatusConflict(f"Appointment/{rid} is {current.get('status')}: only a pending or booked "
                                 "Appointment can be cancelled")
        cancelled = {**current, "status": "cancelled"}
        cancelled["extension"] = [e for e in current.get("extension") or [] if e.get("url") != HOLD_EXPIRES]
        if not cancelled["extension"]:
            del cancelled["extension"]
        if _reason(reason) is not None:
            cancelled["cancelationReason"] = _reason(reason)
        return cancelled
    return await writes.patch("Appointment", rid, apply)
