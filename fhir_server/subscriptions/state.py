"""The SQL of the delivery state: which subscription is due, its next event, the outcome of an attempt.

A worker takes one due subscription with ``FOR UPDATE SKIP LOCKED`` and keeps the row lock while it
delivers that subscription's lowest undelivered event, so one subscription's events go out one at a
time in event-number order, and two processes never send the same subscription at once. A process
killed mid-delivery releases the lock with its connection: the event is still undelivered and is
sent again (at least once; the event number lets the receiver drop the repeat).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection

from .model import Channel
from .notification import Event

__all__ = ["Due", "mark_failed", "mark_sent", "next_event", "take_due"]

_DUE = """
SELECT id, status, channel, topic, events_since_start, failures FROM subscription_state s
WHERE status IN ('requested', 'active', 'error') AND next_attempt_at <= now()
  AND (status = 'requested'
       OR EXISTS (SELECT 1 FROM subscription_event e WHERE e.subscription_id = s.id AND e.delivered_at IS NULL)
       OR (heartbeat_seconds IS NOT NULL
           AND coalesce(last_sent_at, '-infinity') < now() - make_interval(secs => heartbeat_seconds)))
ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED
"""
_NEXT = """
SELECT e.event_number, e.resource_type, e.resource_id, e.version_id, e.created_at, h.content
FROM subscription_event e
LEFT JOIN resource_history h ON h.resource_type = e.resource_type AND h.id = e.resource_id
                            AND h.version_id = e.version_id
WHERE e.subscription_id = %s AND e.delivered_at IS NULL ORDER BY e.event_number LIMIT 1
"""
_SENT = """
UPDATE subscription_state SET status = 'active', failures = 0, last_error = NULL, last_sent_at = now(),
       next_attempt_at = now() WHERE id = %s
"""
_FAILED = """
UPDATE subscription_state SET failures = failures + 1, last_error = %s, status = %s,
       next_attempt_at = now() + make_interval(secs => %s) WHERE id = %s
"""


@dataclass(frozen=True)
class Due:
    id: str
    status: str
    channel: Channel
    topic: str | None
    since: int
    failures: int


async def take_due(conn: AsyncConnection[Any]) -> Due | None:
    row = await (await conn.execute(_DUE)).fetchone()
    if row is None:
        return None
    return Due(row[0], row[1], Channel.from_json(row[2]), row[3], int(row[4]), int(row[5]))


async def next_event(conn: AsyncConnection[Any], sid: str) -> Event | None:
    row = await (await conn.execute(_NEXT, (sid,))).fetchone()
    return None if row is None else Event(int(row[0]), row[1], row[2], int(row[3]), row[4], row[5])


async def mark_sent(conn: AsyncConnection[Any], sid: str, event: Event | None) -> None:
    if event is not None:
        await conn.execute("UPDATE subscription_event SET delivered_at = now(), attempts = attempts + 1"
                           " WHERE subscription_id = %s AND event_number = %s", (sid, event.number))
    await conn.execute(_SENT, (sid,))


def backoff(failures: int, base: float, ceiling: float) -> float:
    """Seconds before the next attempt after ``failures`` consecutive failures (1, 2, 4, ... capped)."""
    return float(min(ceiling, base * 2 ** max(0, failures - 1)))


async def mark_failed(conn: AsyncConnection[Any], due: Due, event: Event | None, reason: str, status: str,
                      delay: float) -> None:
    if event is not None:
        await conn.execute("UPDATE subscription_event SET attempts = attempts + 1"
                           " WHERE subscription_id = %s AND event_number = %s", (due.id, event.number))
    await conn.execute(_FAILED, (reason, status, delay, due.id))
