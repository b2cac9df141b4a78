"""The ``Idempotency-Key`` request header on $book: a retried request returns the first answer.

The key (at most 255 characters, per caller: the token's client and user) is claimed in the
booking's own transaction (``INSERT ... ON CONFLICT DO NOTHING`` on the primary key, so two
concurrent retries serialise on it); the answer is stored with it and kept at least
``FHIR_IDEMPOTENCY_HOURS`` (default and minimum 24). A failed booking rolls its claim back with
it, so a retry of a refused request is tried again (and books at most once). The same key with a
different request body is refused (422). See draft-ietf-httpapi-idempotency-key-header.
"""

from __future__ import annotations

import hashlib
from typing import Any

from psycopg import AsyncConnection

from ..errors import BadRequest, Unprocessable
from ..smart_auth.policy import Policy

__all__ = ["HEADER", "key_of", "claim", "remember"]

HEADER = "Idempotency-Key"
MAX_KEY = 255


def key_of(header: str | None, policy: Policy) -> str | None:
    if header is None:
        return None
    if not header.strip() or len(header) > MAX_KEY:
        raise BadRequest(f"{HEADER} must be 1 to {MAX_KEY} characters")
    access = policy.access
    return f"{access.client_id or '-'}|{access.user or '-'}|{header.strip()}"


def request_hash(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


async def claim(conn: AsyncConnection[Any], key: str, digest: str, hours: int) -> tuple[int, bytes] | None:
    """None: the key is ours (a first request); else the (status, body) first answered for it."""
    await conn.execute("DELETE FROM scheduling_idempotency WHERE key IN (SELECT key FROM scheduling_idempotency"
                       " WHERE created_at < now() - make_interval(hours => %s) LIMIT 100)", (hours,))
    cur = await conn.execute("INSERT INTO scheduling_idempotency (key, request_hash) VALUES (%s, %s)"
                             " ON CONFLICT (key) DO NOTHING RETURNING 1", (key, digest))
    if await cur.fetchone() is not None:
        return None
    cur = await conn.execute("SELECT request_hash, status, body FROM scheduling_idempotency WHERE key = %s", (key,))
    row = await cur.fetchone()
    if row is None or row[1] is None:  # expired and purged in between: treat as new
        return None
    if row[0] != digest:
        raise Unprocessable(f"This {HEADER} was already used for a different request")
    return int(row[1]), bytes(row[2])


async def remember(conn: AsyncConnection[Any], key: str, status: int, body: bytes) -> None:
    await conn.execute("UPDATE scheduling_idempotency SET status = %s, body = %s WHERE key = %s", (status, body, key))
