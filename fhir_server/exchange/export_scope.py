"""Which resources an export includes (https://hl7.org/fhir/uv/bulkdata/export.html#endpoint---all-patients,
#endpoint---group-of-patients): every resource (system level), the resources in the Patient
compartment of any patient (Patient level) or of the Group's member patients (Group level),
further narrowed by ``_typeFilter`` searches (OR across filters of one type)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection

from ..search.compartment import membership
from ..search.criteria import Context
from ..search.parse import parse_request
from ..search.query import conditions
from ..search.sqlfrag import Q, fmt, join

__all__ = ["ExportScope", "scope_filter", "group_patient_ids"]


@dataclass(frozen=True)
class ExportScope:
    level: str  # system | patient | group
    group_id: str | None


async def group_patient_ids(conn: AsyncConnection[Any], group_id: str) -> list[str]:
    """Patients that are members of the Group (Group.member.entity references to Patient)."""
    cur = await conn.execute(
        "SELECT m->'entity'->>'reference' FROM resource r, jsonb_array_elements(r.content->'member') m"
        " WHERE r.resource_type = 'Group' AND r.id = %s AND NOT r.deleted", (group_id,))
    refs = [row[0] for row in await cur.fetchall() if row[0]]
    return [ref.split("/", 1)[1] for ref in refs if ref.startswith("Patient/") and ref.count("/") == 1]


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
