"""MedicationDispense status and invariants (pure).

Statuses: http://hl7.org/fhir/R4/valueset-medicationdispense-status.html. The R4 text gives no
state machine; the one enforced (422 otherwise) is the pharmacy's: work moves forward
(preparation -> in-progress -> completed, with on-hold in between), ends once (completed,
stopped, cancelled, declined) and any record may be marked entered-in-error, after which it is
final. ``unknown`` may become anything. Cancelled, declined and entered-in-error dispenses take
nothing (their quantity and stock are given back); every other status counts.
mdd-1: whenHandedOver cannot be before whenPrepared.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .records import instant_range
from .refusals import refused

__all__ = ["RELEASING", "counts", "check_transition", "check_mdd1"]

RELEASING = frozenset({"cancelled", "declined", "entered-in-error"})
_ENDED = frozenset({"entered-in-error"})
NEXT: dict[str, frozenset[str]] = {
    "preparation": frozenset({"in-progress", "on-hold", "completed", "cancelled", "stopped", "declined",
                              "entered-in-error"}),
    "in-progress": frozenset({"on-hold", "completed", "stopped", "entered-in-error"}),
    "on-hold": frozenset({"preparation", "in-progress", "completed", "cancelled", "stopped", "declined",
                          "entered-in-error"}),
    "completed": _ENDED, "stopped": _ENDED, "cancelled": _ENDED, "declined": _ENDED,
    "entered-in-error": frozenset(),
}


def counts(dispense: Mapping[str, Any] | None) -> bool:
    return dispense is not None and dispense.get("status") not in RELEASING


def check_transition(old: str | None, new: str | None) -> None:
    if old is None or old == new or old == "unknown" or old not in NEXT:
        return
    if new not in NEXT[old]:
        raise refused("dispense-status", f"A MedicationDispense cannot go from {old} to {new}")


def check_mdd1(dispense: Mapping[str, Any]) -> None:
    handed = instant_range(dispense.get("whenHandedOver"), "whenHandedOver")
    prepared = instant_range(dispense.get("whenPrepared"), "whenPrepared")
    if handed is not None and prepared is not None and handed[1] <= prepared[0]:
        raise refused("mdd-1", "whenHandedOver cannot be before whenPrepared")
