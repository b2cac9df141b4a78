"""Scopes as SQL: the access predicates that reads, searches and writes add inside their queries.

SMART App Launch 2.2, "Scopes and Launch Context"
(https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html). A ``Policy`` turns the
caller's ``AccessContext`` into, per resource type and interaction (c r u d s), either
``None`` (every row), a predicate on the ``resource r`` alias, or ``Forbidden`` (no scope
names the type and interaction). The predicate is ANDed into the query itself, so totals,
paging, includes, chains and ``_has`` never see rows the token may not see (design habit 9).

Row rules, one per scope context (a token's scopes are ORed across contexts):
- ``system/``: every row, narrowed only by granular filters;
- ``user/``: a Practitioner (or unnamed) user sees every row (hospital staff); a Patient user
  sees their own Patient compartment; a RelatedPerson user sees the compartment of the
  launch patient when there is one, else their own RelatedPerson compartment;
- ``patient/``: the launch patient's compartment (official Patient CompartmentDefinition);
  types outside it by their class (``type_classes``: public ones readable, Binary and a few
  others narrowed to the patient, Bundle and other free-form carriers never); writes stay in
  the compartment by its subject parameters (``patient_rows``); without a launch patient
  nothing is visible.
History versions are judged by their own content as well as the current row (``versions``).
Granular filters (``patient/Observation.rs?category=laboratory``) are parsed strictly: a
filter this server cannot apply denies rather than widening access.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection
from starlette.requests import Request

from ..errors import BadRequest, Forbidden, NotFound, ServerError
from ..search.compartment import compartment_predicate
from ..search.criteria import Context
from ..search.parse import parse_request
from ..search.query import build_scope
from ..search.sqlfrag import Q, fmt, join
from .context import DEV_CONTEXT, AccessContext
from .insurer_rows import insurer_rows
from .patient_rows import patient_rows, patient_versions
from .scopes import CONTEXTS

__all__ = ["Policy", "OPEN_POLICY", "INTERACTION_NAMES", "policy_of"]

INTERACTION_NAMES = {"c": "create", "r": "read", "u": "update", "d": "delete", "s": "search"}
NOTHING = fmt("false")


@dataclass(frozen=True)
class Policy:
    access: AccessContext
    base: str = ""

    @property
    def open(self) -> bool:
        return self.access.scopes.unrestricted

    def allows(self, rtype: str, interaction: str) -> bool:
        return self.access.scopes.allows(None, rtype, interaction)

    def predicate(self, rtype: str, interaction: str) -> Q | None:
        """Rows of ``rtype`` the caller may touch with ``interaction``; raises Forbidden if none."""
        if self.open:
            return None
        alternatives: list[Q] = []
        for context in CONTEXTS:
            if not self.access.scopes.allows(context, rtype, interaction):
                continue
            parts = [p for p in (self._context_rows(context, rtype, interaction),
                                 self._granular(context, rtype, interaction))
                     if p is not None]
            if not parts:
                return None
            alternatives.append(fmt("({})", join(" AND ", parts)))
        if not alternatives:
            raise Forbidden(f"The access token grants no scope to {INTERACTION_NAMES[interaction]} {rtype} "
                            f"resources")
        return alternatives[0] if len(alternatives) == 1 else fmt("({})", join(" OR ", alternatives))

    def readable(self, rtype: str, interaction: str = "r") -> Q | None:
        """Like ``predicate`` but a type without scope yields no rows instead of raising."""
        return self.predicate(rtype, interaction) if self.allows(rtype, interaction) else NOTHING

    @property
    def may_set_security_labels(self) -> bool:
        """Security labels (meta.security) steer who may see a resource: only the server's own
        staff and back ends set them — system/ scopes or a Practitioner user, never a patient app."""
        if self.open:
            return True
        kind = (self.access.user or "").split("/")[0]
        return any(s.context == "system" or (s.context == "user" and kind in ("", "Practitioner"))
                   for s in self.access.scopes.resource_scopes if s.interactions & {"c", "u"})

    def reads_everything(self, rtype: str) -> bool:
        """May the caller read every row of ``rtype`` through a system/ or user/ scope that nothing
        narrows? (Bulk access: a patient/ scope never qualifies, even for non-patient types.)"""
        if self.open:
            return True
        return any(self.access.scopes.allows(context, rtype, "r") and self._context_rows(context, rtype, "r") is None
                   and self._granular(context, rtype, "r") is None for context in ("system", "user"))

    def require_unrestricted(self, rtype: str, interaction: str, what: str) -> None:
        if not (self.reads_everything(rtype) if interaction == "r" else self.predicate(rtype, interaction) is None):
            raise Forbidden(f"{what} needs unrestricted access to {rtype} (system/ or user/ scopes)")

    async def check_visible(self, conn: AsyncConnection[Any], rtype: str, rid: str, interaction: str) -> None:
        """NotFound (existence must not leak) unless the resource is among the caller's rows."""
        predicate = self.predicate(rtype, interaction)
        if predicate is None:
            return
        if not await self.matches(conn, rtype, rid, predicate):
            raise NotFound(f"Resource {rtype}/{rid} is not known")

    async def check_written(self, conn: AsyncConnection[Any], rtype: str, rid: str, interaction: str) -> None:
        """After a write in the same transaction: Forbidden (and rollback) if the result left the caller's rows."""
        predicate = self.predicate(rtype, interaction)
        if predicate is not None and not await self.matches(conn, rtype, rid, predicate):
            raise Forbidden(f"{rtype}/{rid} would be outside what the access token may "
                            f"{INTERACTION_NAMES[interaction]} (patient compartment or scope filter)")

    async def matches(self, conn: AsyncConnection[Any], rtype: str, rid: str, predicate: Q) -> bool:
        statement = fmt("SELECT 1 FROM resource r WHERE r.resource_type = {} AND r.id = {} AND {}",
                        rtype, rid, predicate)
        return await (await conn.execute(statement.sql, statement.params)).fetchone() is not None

    @property
    def limited_to_records(self) -> bool:
        """True when every scope context of the token is limited to one patient's (or related
        person's) record: no system/ scope, no staff user/ scope."""
        return not self.open and all(self._owner(c) is not None for c in self.access.scopes.contexts())

    def versions(self, rtype: str, interaction: str = "r") -> Q | None:
        """History versions (alias ``h``) the caller may read, each judged by its own content
        (ANDed with the current-row predicate by the caller); None: every version."""
        if self.open:
            return None
        alternatives: list[Q] = []
        for context in CONTEXTS:
            if not self.access.scopes.allows(context, rtype, interaction):
                continue
            owner = self._owner(context)
            rows = None if owner is None else self._compartment_versions(*owner, rtype)
            if rows is None:
                return None
            alternatives.append(rows)
        if not alternatives:
            return NOTHING
        return alternatives[0] if len(alternatives) == 1 else fmt("({})", join(" OR ", alternatives))

    async def check_version_visible(self, conn: AsyncConnection[Any], rtype: str, rid: str, vid: int) -> None:
        """NotFound unless version ``vid`` is readable by its own content (after ``check_visible``)."""
        rows = self.versions(rtype)
        if rows is None:
            return
        statement = fmt("SELECT 1 FROM resource_history h WHERE h.resource_type = {} AND h.id = {}"
                        " AND h.version_id = {} AND {}", rtype, rid, vid, rows)
        if await (await conn.execute(statement.sql, statement.params)).fetchone() is None:
            raise NotFound(f"Version {vid} of {rtype}/{rid} is not known")

    def _owner(self, context: str) -> tuple[str, str | None] | None:
        """(compartment, owner id) a scope context is limited to; None: not limited to a record."""
        if context == "system":
            return None
        if context == "patient":
            return ("Patient", self.access.patient)
        kind, _, user_id = (self.access.user or "").partition("/")
        if kind == "Patient":
            return ("Patient", user_id)
        if kind == "RelatedPerson":
            return ("Patient", self.access.patient) if self.access.patient else ("RelatedPerson", user_id)
        return None

    def _context_rows(self, context: str, rtype: str, interaction: str) -> Q | None:
        if context == "system" and self.access.organization:
            return insurer_rows(self.access.organization, rtype, self.base)
        owner = self._owner(context)
        return None if owner is None else self._compartment(*owner, rtype, interaction)

    def _compartment(self, compartment: str, owner: str | None, rtype: str, interaction: str) -> Q | None:
        if not owner:
            return NOTHING
        if compartment == "Patient":
            return patient_rows(owner, rtype, interaction, self.base)
        # RelatedPerson compartment: only the listed types are shared, nothing else.
        return compartment_predicate(compartment, owner, rtype) or NOTHING

    @staticmethod
    def _compartment_versions(compartment: str, owner: str | None, rtype: str) -> Q | None:
        if not owner:
            return NOTHING
        if compartment == "Patient":
            return patient_versions(owner, rtype)
        return None  # RelatedPerson compartment: judged by the current row only

    def _granular(self, context: str, rtype: str, interaction: str) -> Q | None:
        filters = self.access.scopes.filters_for(rtype, interaction, context)
        if filters is None:
            return None
        ctx = Context(base=self.base or None, now=datetime.now(UTC))
        options = []
        for pairs in filters:
            try:
                scope = build_scope([rtype], parse_request(pairs).params, ctx, strict=True)
            except BadRequest as exc:
                raise Forbidden(f"A granular scope filter on {rtype} cannot be applied: {exc}") from exc
            options.append(fmt("({})", scope.where))
        return fmt("({})", join(" OR ", options)) if options else NOTHING


OPEN_POLICY = Policy(DEV_CONTEXT)


def policy_of(request: Request) -> Policy:
    policy = getattr(request.state, "policy", None)
    if isinstance(policy, Policy):
        return policy
    if request.app.state.settings.auth == "on":  # fail closed: a route without bind_policy is a bug
        raise ServerError(f"No access policy bound for {request.url.path}")
    return OPEN_POLICY
