"""The Subscription write rule: validation and the delivery state, on every write path (docs/rules.md).

http://hl7.org/fhir/R4/subscription.html. Every write of a Subscription (POST, PUT, PATCH, bundle
entries, ``fhir-server load``) is parsed (criteria and channel), its criteria checked by the search
layer (400 with the search layer's reason), its endpoint checked (endpoint.py), and its row in
``subscription_state`` written in the same transaction, with ``subscribed_type`` so the history trigger
captures changes of that type. A client's write makes the subscription ``requested`` (a handshake
follows) unless only unrelated elements changed; the dispatcher's own status writes pass ``serving``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from ..errors import BadRequest, Unprocessable
from ..rules import Change, register
from ..rules.context import writer
from ..search.service import find_ids
from .endpoint import check_endpoint, check_mailbox, check_phone
from .model import Subscription, parse_subscription
from .owner import owner_json

__all__ = ["guard_subscription", "serving"]

_SERVER_WRITE: ContextVar[bool] = ContextVar("subscription_server_write", default=False)

_UPSERT = """
INSERT INTO subscription_state AS s (id, status, resource_type, criteria, topic, channel, owner, start_txid,
                                     heartbeat_seconds, failures, last_error, next_attempt_at)
VALUES (%(id)s, %(status)s, %(type)s, %(criteria)s, %(topic)s, %(channel)s, %(owner)s,
        (SELECT txid FROM resource_history WHERE resource_type = 'Subscription' AND id = %(id)s
         AND version_id = %(version)s), %(heartbeat)s, 0, NULL, now())
ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, resource_type = EXCLUDED.resource_type,
    criteria = EXCLUDED.criteria, topic = EXCLUDED.topic, channel = EXCLUDED.channel,
    owner = CASE WHEN %(server)s THEN s.owner ELSE EXCLUDED.owner END,  -- the server's mirror keeps the owner
    heartbeat_seconds = EXCLUDED.heartbeat_seconds,
    failures = CASE WHEN %(reset)s THEN 0 ELSE s.failures END,
    last_error = CASE WHEN %(reset)s THEN NULL ELSE s.last_error END,
    next_attempt_at = CASE WHEN %(reset)s THEN now() ELSE s.next_attempt_at END
"""
_FORGET_TYPE = """
DELETE FROM subscribed_type t WHERE t.resource_type = %s
  AND NOT EXISTS (SELECT 1 FROM subscription_state s WHERE s.resource_type = t.resource_type AND s.status <> 'off')
"""


@contextmanager
def serving() -> Iterator[None]:
    """The dispatcher writes a status it decided (active after a handshake, error after failures)."""
    token = _SERVER_WRITE.set(True)
    try:
        yield
    finally:
        _SERVER_WRITE.reset(token)


async def _check_criteria(conn: AsyncConnection[Any], sub: Subscription) -> None:
    # The search layer parses and plans the criteria exactly as a search would (BadRequest: its reason);
    # an id no resource has keeps the probe to one index lookup.
    try:
        await find_ids(conn, sub.resource_type, [*sub.params, ("_id", "subscription-criteria-probe")], 1)
    except BadRequest as exc:
        raise BadRequest(f"Subscription.criteria cannot be evaluated: {exc.message}") from exc


async def _previous(conn: AsyncConnection[Any], rid: str) -> tuple[str, str, Any, str] | None:
    cur = await conn.execute("SELECT status, criteria, channel, resource_type FROM subscription_state WHERE id = %s"
                             " FOR UPDATE", (rid,))
    row = await cur.fetchone()
    return None if row is None else (row[0], row[1], row[2], row[3])


def _status(sub: Subscription, previous: tuple[str, str, Any, str] | None) -> tuple[str, bool]:
    """The delivery status to keep and whether the failure count starts again."""
    if sub.status == "off":
        return "off", False
    if _SERVER_WRITE.get():  # the resource mirrors the state the dispatcher already committed
        return (previous[0] if previous else sub.status), False
    unchanged = previous is not None and previous[0] != "off" and previous[1] == sub.criteria \
        and previous[2] == sub.channel.as_json() and previous[3] == sub.resource_type
    return (previous[0], False) if unchanged and previous else ("requested", True)


async def _lock_type(conn: AsyncConnection[Any], rtype: str) -> None:
    # Serialises the subscribed_type bookkeeping of one type (a create racing the last delete).
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('subscribed_type:' || %s))", (rtype,))


async def _write_state(conn: AsyncConnection[Any], change: Change, sub: Subscription) -> None:
    previous = await _previous(conn, change.id)
    status, reset = _status(sub, previous)
    for rtype in sorted({sub.resource_type, *([previous[3]] if previous else [])}):
        await _lock_type(conn, rtype)
    params = {"id": change.id, "status": status, "type": sub.resource_type, "criteria": sub.criteria,
              "topic": sub.topic, "channel": Jsonb(sub.channel.as_json()), "owner": Jsonb(owner_json(writer())),
              "version": change.version_id, "heartbeat": sub.heartbeat_seconds, "reset": reset,
              "server": _SERVER_WRITE.get()}
    await conn.execute(_UPSERT, params)
    if status != "off":
        await conn.execute("INSERT INTO subscribed_type VALUES (%s) ON CONFLICT DO NOTHING", (sub.resource_type,))
    for rtype in {sub.resource_type, *([previous[3]] if previous else [])}:
        await conn.execute(_FORGET_TYPE, (rtype,))


async def _forget(conn: AsyncConnection[Any], rid: str) -> None:
    cur = await conn.execute("DELETE FROM subscription_state WHERE id = %s RETURNING resource_type", (rid,))
    row = await cur.fetchone()
    if row is not None:
        await _lock_type(conn, row[0])
        await conn.execute(_FORGET_TYPE, (row[0],))


async def _check_destination(ctype: str, endpoint: str | None) -> None:
    if ctype == "email":
        await check_mailbox(endpoint)
    elif ctype == "sms":
        check_phone(endpoint)
    else:
        await check_endpoint(endpoint, writing=True)


async def guard_subscription(conn: AsyncConnection[Any], change: Change) -> None:
    if change.new is None:
        await _forget(conn, change.id)
        return
    sub = parse_subscription(change.new)
    if sub.channel.type == "websocket":
        raise Unprocessable("Subscription.channel.type 'websocket' is recognised but not delivered by this server"
                            " yet (rest-hook, email, sms)")
    await _check_criteria(conn, sub)
    if sub.status != "off":
        await _check_destination(sub.channel.type, sub.channel.endpoint)
    await _write_state(conn, change, sub)


register("Subscription", guard_subscription, order=100)
