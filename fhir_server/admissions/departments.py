"""The department tree: Organization.partOf never makes a cycle (issue 15).

http://hl7.org/fhir/R4/organization-definitions.html#Organization.partOf. On a write that sets
or changes ``partOf``, the rule walks the chain upwards from the written Organization in one
recursive query over the live resources (its own uncommitted version included) and refuses
(422) a chain that comes back to it. Two concurrent writes could each see no cycle and make one
together (A.partOf=B beside B.partOf=A), so every partOf change first takes one transaction-level
advisory lock: such writes run one after the other, and the second one's query (a new snapshot
under READ COMMITTED, taken after the lock) sees the first one's committed partOf. Writes that
leave partOf as it was take no lock.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from psycopg import AsyncConnection

from ..errors import Unprocessable
from .references import reference_id

__all__ = ["RULE", "check_part_of", "MAX_DEPTH"]

RULE = "admissions.organization-tree"
MAX_DEPTH = 64  # a deeper hierarchy is refused too: no hospital has one, and the walk stays bounded
_LOCK_KEY = "fhir_server.admissions.organization-tree"

_CHAIN = """
WITH RECURSIVE chain(id, depth) AS (
    SELECT %(parent)s::text, 1
  UNION ALL
    SELECT substring(r.content->'partOf'->>'reference' FROM '([^/]+)$'), c.depth + 1
    FROM chain c JOIN resource r ON r.resource_type = 'Organization' AND r.id = c.id
         AND r.version_id > 0 AND NOT r.deleted
    WHERE c.id <> %(self)s AND c.depth <= %(max)s AND r.content->'partOf'->>'reference' LIKE 'Organization/%%'
)
SELECT bool_or(id = %(self)s), max(depth) FROM chain
"""


def _parent(org: Mapping[str, Any] | None) -> str | None:
    return reference_id((org or {}).get("partOf"), "Organization")


async def check_part_of(conn: AsyncConnection[Any], org_id: str, old: Mapping[str, Any] | None,
                        new: Mapping[str, Any] | None) -> None:
    parent = _parent(new)
    if parent is None or parent == _parent(old) and old is not None:
        return
    if parent == org_id:
        raise Unprocessable(f"Department tree rule ({RULE}): Organization/{org_id} cannot be partOf itself")
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (_LOCK_KEY,))
    cur = await conn.execute(_CHAIN, {"parent": parent, "self": org_id, "max": MAX_DEPTH})
    row = await cur.fetchone()
    cycle, depth = (row[0], row[1]) if row else (False, 0)
    if cycle:
        raise Unprocessable(f"Department tree rule ({RULE}): Organization/{org_id} partOf Organization/{parent} "
                            "makes a cycle (the chain of partOf comes back to it)")
    if depth is not None and depth > MAX_DEPTH:
        raise Unprocessable(f"Department tree rule ({RULE}): the partOf chain above Organization/{org_id} is "
                            f"deeper than {MAX_DEPTH}")
