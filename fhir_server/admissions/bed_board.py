"""Location/[id]/$bed-board: the beds below a ward (or room, or any Location), with their
operationalStatus and occupant (issue 15).

The beds are the Locations with ``physicalType`` ``bd`` reached from the given Location through
``partOf`` (at most ``MAX_DEPTH`` levels), as the caller's Location search predicate lets them
see; the occupant is the Encounter of ``admissions_bed_occupancy``, named only when the caller
may read that Encounter. Out: Parameters, one ``bed`` per bed (by name, then id) with parts
``location`` (Reference), ``status`` (the v2-0116 code, absent when the bed has none) and
``encounter`` (Reference, only while occupied and visible).
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from ..errors import Forbidden, NotFound
from ..search.sqlfrag import Q, fmt
from ..smart_auth.policy import Policy
from .beds import PHYSICAL_TYPE
from .departments import MAX_DEPTH

__all__ = ["CAPABILITY_ENTRY", "bed_board"]

CAPABILITY_ENTRY = {"name": "bed-board",
                    "definition": "http://fhir-server.example.org/OperationDefinition/Location-bed-board"}
_LIVE = "r.resource_type = 'Location' AND r.version_id > 0 AND NOT r.deleted"
_BEDS = ("WITH RECURSIVE below(id, depth) AS (SELECT {}::text, 0 UNION"
         " SELECT r.id, b.depth + 1 FROM below b JOIN resource r ON " + _LIVE +
         " AND (r.content->'partOf'->>'reference' = 'Location/' || b.id"
         "  OR r.content->'partOf'->>'reference' LIKE '%%/Location/' || b.id)"
         " WHERE b.depth < {})"
         " SELECT r.id, r.content->>'name', r.content->'operationalStatus'->>'code', o.encounter_id, b.depth"
         " FROM below b JOIN resource r ON " + _LIVE + " AND r.id = b.id"
         " LEFT JOIN admissions_bed_occupancy o ON o.bed_id = r.id"
         " WHERE (b.depth = 0 OR r.content->'physicalType'->'coding' @> {}::jsonb) AND {}"
         " ORDER BY b.depth > 0, r.content->>'name', r.id")


async def _visible_encounters(conn: AsyncConnection[Any], policy: Policy, ids: list[str]) -> set[str]:
    if not ids or not policy.allows("Encounter", "r"):
        return set()
    access: Q = policy.predicate("Encounter", "r") or fmt("true")
    statement = fmt("SELECT r.id FROM resource r WHERE r.resource_type = 'Encounter' AND r.id = ANY({})"
                    " AND NOT r.deleted AND {}", ids, access)
    return {row[0] for row in await (await conn.execute(statement.sql, statement.params)).fetchall()}


def _bed(bed_id: str, code: str | None, encounter: str | None) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [{"name": "location", "valueReference": {"reference": f"Location/{bed_id}"}}]
    if code is not None:
        parts.append({"name": "status", "valueCode": code})
    if encounter is not None:
        parts.append({"name": "encounter", "valueReference": {"reference": f"Encounter/{encounter}"}})
    return {"name": "bed", "part": parts}


async def bed_board(conn: AsyncConnection[Any], root: str, policy: Policy) -> dict[str, Any]:
    if not policy.allows("Location", "s"):
        raise Forbidden("$bed-board needs a scope to search Locations (e.g. user/Location.rs)")
    access: Q = policy.predicate("Location", "s") or fmt("true")
    bed_type = f'[{{"system": "{PHYSICAL_TYPE}", "code": "bd"}}]'
    statement = fmt(_BEDS, root, MAX_DEPTH, bed_type, access)
    rows = await (await conn.execute(statement.sql, statement.params)).fetchall()
    if not rows or rows[0][4] != 0:
        raise NotFound(f"Location/{root} is not known")
    beds = [row for row in rows if row[4] > 0]
    visible = await _visible_encounters(conn, policy, [row[3] for row in beds if row[3] is not None])
    return {"resourceType": "Parameters", "parameter": [
        _bed(row[0], row[2], row[3] if row[3] in visible else None) for row in beds]}
