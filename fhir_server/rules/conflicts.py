"""Calling one rule: its database guarantees become 409 Conflict, never 500.

A rule's side table may carry a unique index or an exclusion constraint (SQLSTATE 23505 /
23P01, https://www.postgresql.org/docs/current/errcodes-appendix.html) that turns a race
into an error; that error is the rule's refusal, answered as 409 ``conflict``
(http://hl7.org/fhir/R4/http.html#concurrency) with the message the rule declared for the
constraint.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from psycopg import AsyncConnection
from psycopg.errors import ExclusionViolation, UniqueViolation

from ..errors import Conflict
from .change import Change

__all__ = ["Rule", "CreateTest", "Registration", "call_rule"]

Rule = Callable[[AsyncConnection[Any], Change], Awaitable[None]]
# For a create: does this new resource need the rule? False only when the rule provably does
# nothing for such a create (no refusal, no side row), so the bulk create paths may store it.
CreateTest = Callable[[Mapping[str, Any]], bool]


@dataclass(frozen=True)
class Registration:
    """A rule with its place in the order and its messages per constraint name."""

    resource_type: str  # a resource type, or "*" for every type
    rule: Rule
    name: str
    order: int
    seq: int  # registration sequence: breaks ties of ``order``
    conflicts: Mapping[str, str] = field(default_factory=dict)
    creates: CreateTest | None = None  # None: every create needs the rule

    def needed_by_create(self, resource: Mapping[str, Any]) -> bool:
        return self.creates is None or self.creates(resource)

    @property
    def sort_key(self) -> tuple[int, int]:
        return self.order, self.seq


async def call_rule(conn: AsyncConnection[Any], registration: Registration, change: Change) -> None:
    """Run one rule. In pipeline mode its statements are synced before it returns, so a
    violation of its side table surfaces here (and is mapped) rather than at a later statement."""
    try:
        if conn.pgconn.pipeline_status:
            async with conn.pipeline():  # nested block: leaving it syncs
                await registration.rule(conn, change)
        else:
            await registration.rule(conn, change)
    except (UniqueViolation, ExclusionViolation) as exc:
        raise conflict(registration, exc) from exc


def conflict(registration: Registration, exc: UniqueViolation | ExclusionViolation) -> Conflict:
    constraint = exc.diag.constraint_name or ""
    message = registration.conflicts.get(constraint)
    if message is None:  # a constraint the rule did not name: still the rule's refusal, said plainly
        message = f"Refused by write rule {registration.name}: {exc.diag.message_primary or 'conflict'}"
    return Conflict(message)
