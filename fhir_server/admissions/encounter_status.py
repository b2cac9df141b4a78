"""The Encounter status machine (http://hl7.org/fhir/R4/encounter.html#statemachine, issue 15).

Pure: the table and the check. A create may start in any status (an EHR or ``fhir-server load``
sends history: Synthea's Encounters arrive ``finished``); an update that keeps the status is
always allowed. ``unknown`` (the sender did not know) may move to any status, and nothing moves
to it. finished, cancelled and entered-in-error are terminal.
"""

from __future__ import annotations

from ..errors import Unprocessable

__all__ = ["RULE", "TRANSITIONS", "TERMINAL", "check_transition"]

RULE = "admissions.encounter-status"
TERMINAL = frozenset({"finished", "cancelled", "entered-in-error"})
_ERROR = "entered-in-error"  # reachable from every status: a record made by mistake
TRANSITIONS: dict[str, frozenset[str]] = {
    "planned": frozenset({"arrived", "cancelled", _ERROR}),
    "arrived": frozenset({"triaged", "in-progress", "cancelled", _ERROR}),
    "triaged": frozenset({"in-progress", "cancelled", _ERROR}),
    "in-progress": frozenset({"onleave", "finished", _ERROR}),
    "onleave": frozenset({"in-progress", "finished", _ERROR}),
    "finished": frozenset({_ERROR}),
    "cancelled": frozenset({_ERROR}),
    "entered-in-error": frozenset(),
    "unknown": frozenset({"planned", "arrived", "triaged", "in-progress", "onleave", "finished", "cancelled",
                          _ERROR}),
}


def check_transition(old: str | None, new: str | None) -> None:
    """422 naming the rule when ``old -> new`` is not in the table (None: a create or a delete)."""
    if old is None or new is None or old == new:
        return
    allowed = TRANSITIONS.get(old)
    if allowed is None or new not in allowed:
        listed = ", ".join(sorted(allowed or ())) or "none (terminal)"
        raise Unprocessable(f"Encounter status rule ({RULE}): status cannot move from {old} to {new} "
                            f"(allowed from {old}: {listed})")
