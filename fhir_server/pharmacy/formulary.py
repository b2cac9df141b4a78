"""The Medication write rule: a stocked lot keeps its identity. http://hl7.org/fhir/R4/medication.html

Stock is kept per Medication and lot number (stock.py), so a Medication with units on hand may not
change its ``batch.lotNumber`` or be deleted (422: record another lot as its own Medication, or
issue the units first); a corrected ``batch.expirationDate`` follows into its stock rows at once.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from ..rules import Change
from .records import instant_range
from .refusals import refused

__all__ = ["guard_medication"]


def _batch(medication: Any) -> tuple[str, Any]:
    batch = (medication or {}).get("batch") or {}
    expires = instant_range(batch.get("expirationDate"), "Medication.batch.expirationDate")
    return str(batch.get("lotNumber") or ""), expires[0].date() if expires else None


async def guard_medication(conn: AsyncConnection[Any], change: Change) -> None:
    if change.old is None:
        return  # no stock can name a Medication before it exists
    (old_lot, old_expiry), (new_lot, new_expiry) = _batch(change.old), _batch(change.new)
    if change.new is not None and old_lot == new_lot:
        if old_expiry != new_expiry:
            await conn.execute("UPDATE pharmacy_stock SET expiration_date = %s WHERE medication_id = %s",
                               (new_expiry, change.id))
        return
    cur = await conn.execute("SELECT coalesce(sum(quantity), 0) FROM pharmacy_stock WHERE medication_id = %s",
                             (change.id,))
    row = await cur.fetchone()
    if row is not None and row[0] > 0:
        what = "deleted" if change.new is None else "given another batch.lotNumber"
        raise refused("stocked-lot", f"Medication/{change.id} has {row[0]} units of lot {old_lot or '(none)'} in stock:"
                      f" it cannot be {what} (record another lot as its own Medication)")
