"""Transaction-scoped advisory locks taken in one canonical order.

A unit of work that must hold several locks (a transaction bundle writing A and B, or
deciding several conditions) takes them all at once, ordered by lock number, before it
touches any row: two such units that need overlapping sets then queue on the first lock
they share instead of each holding what the other waits for (a deadlock, SQLSTATE 40P01).
https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from psycopg import AsyncConnection

__all__ = ["CONDITION_SPACE", "RESOURCE_SPACE", "lock_all", "resource_key"]

# hashtextextended seeds: a condition and a resource with the same text never share a lock.
CONDITION_SPACE = 7
RESOURCE_SPACE = 11

# Sorted by the lock number itself, so even two keys whose hashes collide keep one order.
_LOCK_ALL = ("SELECT count(pg_advisory_xact_lock(n)) FROM (SELECT DISTINCT hashtextextended(k, %s) AS n"
             " FROM unnest(%s::text[]) AS k ORDER BY n) AS ordered")


def resource_key(rtype: str, rid: str) -> str:
    return f"{rtype}/{rid}"


async def lock_all(conn: AsyncConnection[Any], keys: Iterable[str], space: int) -> None:
    """Take the advisory locks of ``keys`` in lock-number order, held until the transaction ends."""
    wanted = sorted(set(keys))
    if wanted:
        await (await conn.execute(_LOCK_ALL, (space, wanted))).fetchone()
