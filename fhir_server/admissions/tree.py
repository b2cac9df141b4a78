"""Organization/[id]/$tree: a department tree, the Organization and every Organization below it
through ``partOf`` (issue 15; the partOf rule in ``departments`` keeps the tree free of cycles).

One recursive query over the live Organizations (relative or absolute partOf references), the
caller's Organization search predicate applied to every row, at most ``MAX_DEPTH`` levels. Out: a
searchset Bundle, the root first, then level by level (by name, then id); each entry carries
its depth below the root as the extension ``DEPTH`` (valueInteger, the root 0).
"""

from __future__ import annotations

from typing import Any

import orjson
from psycopg import AsyncConnection

from ..errors import Forbidden, NotFound
from ..search.sqlfrag import Q, fmt
from ..smart_auth.policy import Policy
from .departments import MAX_DEPTH

__all__ = ["CAPABILITY_ENTRY", "DEPTH", "tree"]

CAPABILITY_ENTRY = {"name": "tree", "definition": "http://fhir-server.example.org/OperationDefinition/Organization-tree"}
DEPTH = "http://fhir-server.example.org/StructureDefinition/tree-depth"
_LIVE = "r.resource_type = 'Organization' AND r.version_id > 0 AND NOT r.deleted"
_TREE = ("WITH RECURSIVE tree(id, depth) AS (SELECT {}::text, 0 UNION"
         " SELECT r.id, t.depth + 1 FROM tree t JOIN resource r ON " + _LIVE +
         " AND (r.content->'partOf'->>'reference' = 'Organization/' || t.id"
         "  OR r.content->'partOf'->>'reference' LIKE '%%/Organization/' || t.id)"
         " WHERE t.depth < {})"
         " SELECT r.content::text, min(t.depth) FROM tree t JOIN resource r ON " + _LIVE + " AND r.id = t.id"
         " WHERE {} GROUP BY r.id, r.content ORDER BY 2, r.content->>'name', r.id")


async def tree(conn: AsyncConnection[Any], root: str, policy: Policy, base: str) -> dict[str, Any]:
    if not policy.allows("Organization", "s"):
        raise Forbidden("$tree needs a scope to search Organizations (e.g. user/Organization.rs)")
    access: Q = policy.predicate("Organization", "s") or fmt("true")
    statement = fmt(_TREE, root, MAX_DEPTH, access)
    rows = await (await conn.execute(statement.sql, statement.params)).fetchall()
    if not rows or rows[0][1] != 0:
        raise NotFound(f"Organization/{root} is not known")
    entries = []
    for text, depth in rows:
        content = orjson.loads(text)
        entries.append({"fullUrl": f"{base}/Organization/{content['id']}", "resource": content,
                        "search": {"mode": "match"}, "extension": [{"url": DEPTH, "valueInteger": depth}]})
    return {"resourceType": "Bundle", "type": "searchset", "total": len(entries),
            "link": [{"relation": "self", "url": f"{base}/Organization/{root}/$tree"}], "entry": entries}
