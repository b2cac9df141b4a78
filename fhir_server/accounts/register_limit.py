"""Registrations per client address per window (``FHIR_REGISTER_MAX_PER_ADDRESS`` per
``FHIR_REGISTER_WINDOW_SECONDS``), counted in the sign-in throttle's table under the key
``register:<address>`` with the same single atomic upsert (smart_auth/throttle.py): every
attempt counts, concurrent ones cannot slip past the limit."""

from __future__ import annotations

from datetime import timedelta

from ..db import Database

__all__ = ["reserve"]

_UPSERT = (
    "INSERT INTO smart_login_throttle AS t (key, window_start, window_failures) VALUES (%(key)s, now(), 1)"
    " ON CONFLICT (key) DO UPDATE SET"
    " window_start = CASE WHEN t.window_start <= now() - %(window)s THEN now() ELSE t.window_start END,"
    " window_failures = CASE WHEN t.window_start <= now() - %(window)s THEN 1 ELSE t.window_failures + 1 END"
    " RETURNING window_failures, ceil(extract(epoch FROM window_start + %(window)s - now()))::int")


async def reserve(db: Database, address: str | None, limit: int, window_seconds: int) -> int | None:
    """Count one registration attempt; the seconds to wait when over the limit, else None."""
    key = f"register:{(address or 'unknown')[:256]}"
    async with db.transaction() as conn:
        cur = await conn.execute(_UPSERT, {"key": key, "window": timedelta(seconds=window_seconds)})
        row = await cur.fetchone()
    assert row is not None
    return max(int(row[1]), 1) if row[0] > limit else None
