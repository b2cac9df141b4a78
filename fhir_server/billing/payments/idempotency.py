"""``Idempotency-Key`` on $pay (draft-ietf-httpapi-idempotency-key-header): a replay answers the
stored first response; the same key with another body is 422; a duplicate still in flight is 409.

The key (per caller: the token's client and user) is claimed in the payment's own transaction.
In flight: ``pg_try_advisory_xact_lock`` on the key, so a concurrent duplicate is told 409 at once
instead of waiting; after the first commits, its stored answer is replayed. A failed payment
rolls its claim back, so a retry is tried again. Kept at least ``FHIR_IDEMPOTENCY_HOURS``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from psycopg import AsyncConnection

from ...errors import BadRequest, Conflict, Unprocessable
from ...scheduling.idempotency import HEADER, key_of

__all__ = ["HEADER", "key_of", "required_key", "provider_key", "claim", "remember"]


def required_key(header: str | None, policy: Any) -> str:
    key = key_of(header, policy)
    if key is None:
        raise BadRequest(f"$pay needs an {HEADER} header (a retry with the same key never pays twice)")
    return key


def provider_key(key: str) -> str:
    """The key passed on to the provider: the caller-scoped key (so two callers' equal headers never
    collide in one provider account), hashed when longer than the provider's 255 characters."""
    return key if len(key) <= 255 else hashlib.sha256(key.encode()).hexdigest()


async def claim(conn: AsyncConnection[Any], key: str, raw: bytes, hours: int) -> tuple[int, bytes] | None:
    """None: the key is ours (a first request); else the (status, body) first answered for it."""
    digest = hashlib.sha256(raw).hexdigest()
    cur = await conn.execute("SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 115))", (key,))
    row = await cur.fetchone()
    if row is None or not row[0]:
        raise Conflict(f"A request with this {HEADER} is still in progress: retry later")
    await conn.execute("DELETE FROM billing_idempotency WHERE key IN (SELECT key FROM billing_idempotency"
                       " WHERE created_at < now() - make_interval(hours => %s) LIMIT 100)", (hours,))
    cur = await conn.execute("INSERT INTO billing_idempotency (key, request_hash) VALUES (%s, %s)"
                             " ON CONFLICT (key) DO NOTHING RETURNING 1", (key, digest))
    if await cur.fetchone() is not None:
        return None
    cur = await conn.execute("SELECT request_hash, status, body FROM billing_idempotency WHERE key = %s", (key,))
    stored = await cur.fetchone()
    if stored is None or stored[1] is None:
        raise Conflict(f"A request with this {HEADER} is still in progress: retry later")
    if stored[0] != digest:
        raise Unprocessable(f"This {HEADER} was already used for a different request")
    return int(stored[1]), bytes(stored[2])


async def remember(conn: AsyncConnection[Any], key: str, status: int, body: bytes) -> None:
    await conn.execute("UPDATE billing_idempotency SET status = %s, body = %s WHERE key = %s", (status, body, key))
