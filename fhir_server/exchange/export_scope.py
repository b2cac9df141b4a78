"""Which resources an export includes (https://hl7.org/fhir/uv/bulkdata/export.html#endpoint---all-patients,
#endpoint---group-of-patients): every resource (system level), the resources in the Patient
compartment of any patient (Patient level) or of the Group's member patients (Group level),
further narrowed by ``_typeFilter`` searches (OR across filters of one type)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from psycopg import AsyncConnection

from ..definitions import definitions
from ..search.compartment import compartment_types
from ..search.criteria import Context
from ..search.parse import parse_request
from ..search.query import conditions
from ..search.sqlfrag import Q, fmt, join

__all__ = ["ExportScope", "scope_filter", "patient_compartment_types", "group_patient_ids", "membership"]


@dataclass(frozen=True)
class ExportScope:
    level: str  # system | patient | group
    group_id: str | None


@cache
def patient_compartment_types() -> frozenset[str]:
    return frozenset(compartment_types("Patient"))


@cache
def _patient_params() -> dict[str, tuple[str, ...]]:
    definition = definitions().compartments["Patient"]
    return {r["code"]: tuple(p for p in r.get("param", ()) if p != "{def}")
            for r in definition.get("resource", ()) if r.get("param")}


async def group_patient_ids(conn: AsyncConnection[Any], group_id: str) -> list[str]:
    """Patients that are members of the Group (Group.member.entity references to Patient)."""
    cur = await conn.execute(
        "SELECT m->'entity'->>'reference' FROM resource r, jsonb_array_elements(r.content->'member') m"
        " WHERE r.resource_type = 'Group' AND r.id = %s AND NOT r.deleted", (group_id,))
    refs = [row[0] for row in await cur.fetchall() if row[0]]
    return [ref.split("/", 1)[1] for ref in refs if ref.startswith("Patient/") and ref.count("/") == 1]


def membership(rtype: str, patient_ids: list[str] | None) -> Q:
    """Resources of ``rtype`` in the compartment of any patient, or of the listed ones."""
    if rtype == "Patient":
        return fmt("TRUE") if patient_ids is None else fmt("r.id = ANY({})", patient_ids)
    params = list(_patient_params().get(rtype, ()))
    target = fmt("TRUE") if patient_ids is None else fmt("i.target_id = ANY({})", patient_ids)
    return fmt("r.id IN (SELECT i.id FROM search_reference i WHERE i.resource_type = {} AND i.param = ANY({})"
               " AND i.target_type = 'Patient' AND {})", rtype, params, target)


def _type_filter(rtype: str, filters: list[list[tuple[str, str]]]) -> Q | None:
    if not filters:
        return None
    ctx = Context(base=None, now=datetime.now(UTC))
    blocks = [join(" AND ", conditions(rtype, parse_request(items).params, ctx)) for items in filters]
    return fmt("({})", join(" OR ", [fmt("({})", b) for b in blocks if b.params or b.sql]))


async def scope_filter(conn: AsyncConnection[Any], scope: ExportScope, rtype: str,
                       filters: list[list[tuple[str, str]]]) -> list[Q]:
    parts: list[Q] = []
    if scope.level == "patient":
        parts.append(membership(rtype, None))
    elif scope.level == "group":
        assert scope.group_id is not None
        parts.append(membership(rtype, await group_patient_ids(conn, scope.group_id)))
    type_filter = _type_filter(rtype, filters)
    if type_filter is not None:
        parts.append(type_filter)
    return parts
