"""The laboratory write rules (docs/rules.md), registered when imported (rules/loading.py).

Task (a lab order's fulfilment: ``task_status.py``), DiagnosticReport (``report_status.py``) and
ServiceRequest (only its requester changes it: ``requester.py``). They run inside every write's
transaction, after the row lock on the written resource is taken, so two racing status moves are
judged one after the other against the version each actually replaces.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from ..rules import Change, register
from ..rules.context import writer
from ..scheduling.access import is_administrator
from .report_status import check_report
from .requester import guard_requester
from .task_status import check_task_transition

__all__ = ["guard_task", "guard_report"]


async def guard_task(conn: AsyncConnection[Any], change: Change) -> None:
    if change.new is None:
        return
    old = change.old.get("status") if change.old is not None else None
    check_task_transition(change.id, old, change.new.get("status"))


async def guard_report(conn: AsyncConnection[Any], change: Change) -> None:
    if change.new is not None:
        check_report(change.id, change.old, change.new, importer=is_administrator(writer()))


register("Task", guard_task, order=50, name="lab.task-status")
register("DiagnosticReport", guard_report, order=50, name="lab.report-status")
register("ServiceRequest", guard_requester, order=50, name="lab.requester")
