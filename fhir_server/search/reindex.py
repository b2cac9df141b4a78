"""Rebuild search indexes for stored resources without downtime (``fhir-server reindex``).

http://hl7.org/fhir/R4/searchparameter.html (a new SearchParameter applies to existing data
only after re-indexing). Resources are processed in keyset batches, each in its own short
transaction that locks the batch's rows (``FOR UPDATE``, as the repository does for writes):
a concurrent update either commits first (and is then re-indexed from its new content) or
waits for the batch, so the index never describes a stale version. Reads continue throughout.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..db import Database
from .indexer import index_resource, load_custom_parameters
from .registry import registry

__all__ = ["reindex", "BATCH"]

BATCH = 500


async def _count(db: Database, types: list[str] | None) -> int:
    async with db.connection() as conn:
        cur = await conn.execute("SELECT count(*) FROM resource WHERE NOT deleted"
                                 " AND (%(t)s::text[] IS NULL OR resource_type = ANY(%(t)s))", {"t": types})
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def _batch(db: Database, types: list[str] | None, after: tuple[str, str]) -> tuple[int, tuple[str, str] | None]:
    async with db.transaction() as conn:
        cur = await conn.execute(
            "SELECT resource_type, id, content FROM resource WHERE NOT deleted"
            " AND (%(t)s::text[] IS NULL OR resource_type = ANY(%(t)s)) AND (resource_type, id) > (%(rt)s, %(id)s)"
            " ORDER BY resource_type, id LIMIT %(n)s FOR UPDATE", {"t": types, "rt": after[0], "id": after[1],
                                                                     "n": BATCH})
        rows: list[tuple[str, str, dict[str, Any]]] = await cur.fetchall()
        for rtype, rid, content in rows:
            await index_resource(conn, rtype, rid, content)
    return len(rows), ((rows[-1][0], rows[-1][1]) if rows else None)


async def reindex(db: Database, resource_types: list[str] | None,
                  progress: Callable[[int, int], None]) -> int:
    """Re-index every current resource (of ``resource_types``, or all); returns how many were done.

    ``progress(done, total)`` is called after each batch.
    """
    async with db.connection() as conn:
        registry().custom_loaded = False  # pick up SearchParameters written by other processes
        await load_custom_parameters(conn)
    total = await _count(db, resource_types)
    done, cursor = 0, ("", "")
    progress(0, total)
    while True:
        n, last = await _batch(db, resource_types, cursor)
        if last is None:
            break
        done += n
        cursor = last
        progress(done, max(total, done))
    return done
