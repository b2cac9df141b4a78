"""The Task status table, every pair of R4 task-status codes against the table written by hand."""

from __future__ import annotations

import pytest

from fhir_server.laboratory.refusal import RuleRefused
from fhir_server.laboratory.task_status import check_task_transition

CODES = ["draft", "requested", "received", "accepted", "rejected", "ready", "cancelled", "in-progress", "on-hold",
         "failed", "completed", "entered-in-error"]
# From the brief's table (R4 task.html state machine, cancelled only before work starts); every
# non-final status may also become entered-in-error, and so may the final ones but entered-in-error itself.
ALLOWED = {
    "draft": {"requested", "ready", "received", "accepted", "rejected", "cancelled"},
    "requested": {"ready", "received", "accepted", "rejected", "cancelled"},
    "received": {"accepted", "rejected", "cancelled"},
    "accepted": {"ready", "in-progress", "cancelled"},
    "ready": {"in-progress", "cancelled"},
    "in-progress": {"completed", "failed", "on-hold"},
    "on-hold": {"in-progress", "failed"},
    "rejected": set(), "cancelled": set(), "failed": set(), "completed": set(), "entered-in-error": set(),
}


@pytest.mark.parametrize("old", CODES)
def test_every_pair(old: str) -> None:
    for new in CODES:
        ok = new == old or new in ALLOWED[old] or (new == "entered-in-error" and old != "entered-in-error")
        if ok:
            check_task_transition("t", old, new)
        else:
            with pytest.raises(RuleRefused):
                check_task_transition("t", old, new)


def test_the_messages_name_the_rule_and_why() -> None:
    with pytest.raises(RuleRefused) as caught:
        check_task_transition("t1", "in-progress", "cancelled")
    assert caught.value.message == ("Rule lab.task-status: Task/t1 cannot move from in-progress to cancelled (work has"
                                    " started: stop the order through its ServiceRequest (status revoked), then fail"
                                    " the Task)")
    with pytest.raises(RuleRefused) as caught:
        check_task_transition("t1", "completed", "in-progress")
    assert caught.value.message == ("Rule lab.task-status: Task/t1 cannot move from completed to in-progress"
                                    " (completed is a final status)")
    with pytest.raises(RuleRefused) as caught:
        check_task_transition("t1", "requested", "completed")
    assert caught.value.message == ("Rule lab.task-status: Task/t1 cannot move from requested to completed (allowed"
                                    " from requested: accepted, cancelled, entered-in-error, ready, received,"
                                    " rejected)")


def test_creates_and_deletes_are_not_transitions() -> None:
    check_task_transition("t", None, "completed")
    check_task_transition("t", "in-progress", None)
