"""History changes -> numbered events per subscription (the outbox rows), in commit-safe order.

The history trigger (migration 120) appends a ``subscription_change`` row inside each writer's
transaction, so a rolled-back write leaves none. A change is consumed only once every transaction
with a smaller xid has ended (``xid < pg_snapshot_xmin(pg_current_snapshot())``): no change with a
smaller xid can appear later, so the order events are numbered in is fixed and none is skipped. One
process matches at a time (a transaction-level advisory lock; the others skip), and the consumed
changes, the event rows and the subscriptions' counters commit together: a crash repeats the batch
whole or not at all.

Matching is the server's own search: the subscription's criteria plus ``_id`` plus the owner's Policy
predicate, run against the *current* version. It is exact when the changed version is still current
(the usual case: the matcher runs milliseconds after the commit). When a newer version was committed
in between, the newer version decides for both events (each still names its own version). Deletes
are not notified (a deleted resource matches no search).
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from ..errors import FhirError
from ..search.service import find_ids
from .owner import owner_policy

__all__ = ["MATCH_LOCK", "match_batch"]

MATCH_LOCK = 120_0001  # pg advisory lock key of the matcher (migration range 120)
_CHANGES = """
SELECT seq, resource_type, id, version_id, txid, deleted FROM subscription_change
WHERE xid < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY seq LIMIT %s
"""
_SUBSCRIPTIONS = """
SELECT id, criteria, owner, start_txid, resource_type FROM subscription_state
WHERE resource_type = ANY(%s) AND status <> 'off' ORDER BY id
"""
_NUMBER = """
UPDATE subscription_state SET events_since_start = events_since_start + 1
WHERE id = %s RETURNING events_since_start
"""
_EVENT = """
INSERT INTO subscription_event (subscription_id, event_number, resource_type, resource_id, version_id)
VALUES (%s, %s, %s, %s, %s)
"""


def _params(criteria: str) -> list[tuple[str, str]]:
    return [(k, v) for k, _, v in (part.partition("=") for part in criteria.split("&") if part)]


async def _matches(conn: AsyncConnection[Any], rtype: str, rid: str, criteria: str, owner: Any) -> bool:
    policy = owner_policy(owner)
    if not policy.allows(rtype, "r"):
        return False
    try:
        found = await find_ids(conn, rtype, [*_params(criteria), ("_id", rid)], 1, extra=policy.readable(rtype))
    except FhirError:  # criteria that no longer evaluate (e.g. a SearchParameter removed): no match
        return False
    return bool(found)


async def _subscriptions(conn: AsyncConnection[Any], types: list[str]) -> dict[str, list[tuple[str, str, Any, int]]]:
    cur = await conn.execute(_SUBSCRIPTIONS, (types,))
    by_type: dict[str, list[tuple[str, str, Any, int]]] = {}
    for sid, criteria, owner, start, rtype in await cur.fetchall():
        by_type.setdefault(rtype, []).append((sid, criteria, owner, start))
    return by_type


async def match_batch(conn: AsyncConnection[Any], limit: int = 500) -> int:
    """Consume up to ``limit`` settled changes in the caller's transaction; the events written."""
    cur = await conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (MATCH_LOCK,))
    if not (await cur.fetchone() or (False,))[0]:
        return 0
    cur = await conn.execute(_CHANGES, (limit,))
    changes = await cur.fetchall()
    if not changes:
        return 0
    subscriptions = await _subscriptions(conn, sorted({c[1] for c in changes}))
    written = 0
    for _seq, rtype, rid, version, txid, deleted in changes:
        for sid, criteria, owner, start in subscriptions.get(rtype, []):
            if deleted or txid <= start or not await _matches(conn, rtype, rid, criteria, owner):
                continue
            number = await (await conn.execute(_NUMBER, (sid,))).fetchone()
            await conn.execute(_EVENT, (sid, number[0] if number else 0, rtype, rid, version))
            written += 1
    await conn.execute("DELETE FROM subscription_change WHERE seq = ANY(%s)", ([c[0] for c in changes],))
    return written
