"""The per-prescription row every dispense against it (and every write of it) locks FOR UPDATE, so
running totals are summed by one transaction at a time (table pharmacy_prescription, migration 100)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from psycopg import AsyncConnection

__all__ = ["lock_prescription", "dispensed"]


async def lock_prescription(conn: AsyncConnection[Any], request_id: str) -> None:
    # A concurrent first insert waits for the other transaction, then finds the row to lock.
    await conn.execute("INSERT INTO pharmacy_prescription (request_id) VALUES (%s) ON CONFLICT DO NOTHING",
                       (request_id,))
    await conn.execute("SELECT 1 FROM pharmacy_prescription WHERE request_id = %s FOR UPDATE", (request_id,))


async def dispensed(conn: AsyncConnection[Any], request_id: str, besides: str | None = None) -> tuple[Decimal, int]:
    """(quantity, fills) the counting dispenses against the request took, ``besides`` one dispense."""
    cur = await conn.execute("SELECT coalesce(sum(quantity), 0), count(*) FROM pharmacy_dispense"
                             " WHERE request_id = %s AND dispense_id IS DISTINCT FROM %s", (request_id, besides))
    row = await cur.fetchone()
    assert row is not None
    return Decimal(row[0]), int(row[1])
