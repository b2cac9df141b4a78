"""The write path's call into the write rules (fhir_server.rules, docs/rules.md).

``repository`` calls ``apply_rules`` right after it stored a version (resource, history and
index rows written, inside the caller's transaction), for every write that goes through it:
so REST, every patch format, conditional writes, bundle entries and ``fhir-server load``
alike, and nothing a rule writes outlives a rollback. The version being replaced is read
back from the history (one query, only for types that have rules).
"""

from __future__ import annotations

from typing import Any

import orjson
from psycopg import AsyncConnection

from .. import rules
from ..errors import ServerError

__all__ = ["apply_rules", "refuse_fast_path"]

# The stored method of a version -> the interaction a rule is shown.
_INTERACTIONS: dict[str, rules.Interaction] = {"POST": "create", "PUT": "update", "PATCH": "patch",
                                               "DELETE": "delete"}


async def apply_rules(conn: AsyncConnection[Any], method: str, rtype: str, rid: str, vid: int,
                      replaced: bool, new: dict[str, Any] | None) -> None:
    """Run the rules of ``rtype`` for version ``vid`` just written; ``replaced``: version
    ``vid - 1`` is a live version that this write replaces (shown to the rules as ``old``)."""
    old = await _stored(conn, rtype, rid, vid - 1) if replaced else None
    await rules.run(conn, rules.Change(_INTERACTIONS[method], rtype, rid, vid, old, new))


async def _stored(conn: AsyncConnection[Any], rtype: str, rid: str, vid: int) -> dict[str, Any] | None:
    cur = await conn.execute("SELECT content::text FROM resource_history"
                             " WHERE resource_type = %s AND id = %s AND version_id = %s", (rtype, rid, vid))
    row = await cur.fetchone()
    if row is None or row[0] is None:
        return None
    content: dict[str, Any] = orjson.loads(row[0])
    return content


def refuse_fast_path(rtype: str, path: str) -> None:
    """A fast path that cannot run rules must never store a type that has them: its callers ask
    ``rules.has_rules`` first; reaching here means one did not (a bug, not the client's error)."""
    raise ServerError(f"{path} cannot run the write rules of {rtype}: the general write path must be taken")
