"""Task.status moves of a lab order, as a pure table (http://hl7.org/fhir/R4/task.html#statemachine,
http://hl7.org/fhir/R4/valueset-task-status.html).

The R4 Task state machine, narrowed as the Clinical Order Workflows IG describes for fulfilment
Tasks: ``cancelled`` only before work starts (an order in progress is stopped through its own
ServiceRequest, the Task then ends ``failed``); ``entered-in-error`` from any state; completed,
failed, cancelled, rejected and entered-in-error are terminal. A write that keeps the status is
always allowed (notes, owner, output); a create may start in any status (a record of work done
elsewhere).
"""

from __future__ import annotations

from .refusal import RuleRefused

__all__ = ["TASK_TRANSITIONS", "TERMINAL", "check_task_transition"]

RULE = "lab.task-status"
_BEFORE_WORK = frozenset({"received", "accepted", "rejected", "cancelled"})
TASK_TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"requested", "ready"} | _BEFORE_WORK),
    "requested": frozenset({"ready"} | _BEFORE_WORK),
    "received": frozenset({"accepted", "rejected", "cancelled"}),
    "accepted": frozenset({"ready", "in-progress", "cancelled"}),
    "ready": frozenset({"in-progress", "cancelled"}),
    "in-progress": frozenset({"completed", "failed", "on-hold"}),
    "on-hold": frozenset({"in-progress", "failed"}),
}
TERMINAL = frozenset({"completed", "failed", "cancelled", "rejected", "entered-in-error"})


def allowed_from(status: str) -> frozenset[str]:
    if status == "entered-in-error":
        return frozenset()
    return TASK_TRANSITIONS.get(status, frozenset()) | {"entered-in-error"}


def check_task_transition(task_id: str, old: str | None, new: str | None) -> None:
    """Refuse (422, naming the rule) a status move the table does not allow."""
    if old is None or new is None or old == new:
        return
    allowed = allowed_from(old)
    if new in allowed:
        return
    if new == "cancelled" and old in ("in-progress", "on-hold"):
        why = "work has started: stop the order through its ServiceRequest (status revoked), then fail the Task"
    elif old in TERMINAL:
        why = f"{old} is a final status"
    else:
        why = f"allowed from {old}: {', '.join(sorted(allowed))}"
    raise RuleRefused(f"Rule {RULE}: Task/{task_id} cannot move from {old} to {new} ({why})")
